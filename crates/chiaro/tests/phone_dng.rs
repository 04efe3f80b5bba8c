//! The 12 MP phone DNG with exact ground truth (lossless JPEG tiles, four per-plane GainMap
//! opcodes, dual-illuminant LG G4 profile with ForwardMatrix; see its `.truth.json`):
//! the grey card is flat and neutral after the GainMap and the chart matches its truth.

mod common;

use chiaro::color::matrix;
use chiaro::color::spaces::OutputSpace;
use chiaro::io::Pixels;
use chiaro::lab::metrics::{ciede2000, xyz_d50_to_lab};
use chiaro::pipeline::{OutputSpec, Recipe, develop};

struct Developed {
    rgb: Vec<f32>,
    width: usize,
    height: usize,
    truth: serde_json::Value,
}

fn develop_phone(data: &std::path::Path) -> Developed {
    let dir = data.join("raw");
    let raw = chiaro::raw::read_file(
        &dir.join("phone_synth_lgg4_4200k_4032x3024.dng"),
        &chiaro::Limits::default(),
    )
    .expect("decodes");
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("phone_synth_lgg4_4200k_4032x3024.truth.json"))
            .expect("truth"),
    )
    .expect("json");
    let recipe = Recipe::default().linear();
    let dev = develop(
        &raw,
        &recipe,
        &OutputSpec {
            bits: 32,
            linear: true,
        },
        None,
    )
    .expect("develops");
    let Pixels::F32(rgb) = dev.image.pixels else {
        panic!("float output expected")
    };
    Developed {
        rgb,
        width: dev.image.width,
        height: dev.image.height,
        truth,
    }
}

/// XYZ (D50) of the mean of an output box (linear sRGB).
fn box_xyz(d: &Developed, y0: usize, y1: usize, x0: usize, x1: usize) -> [f64; 3] {
    let srgb = common::rect_mean(&d.rgb, d.width, y0, y1, x0, x1);
    matrix::mul_vec(&OutputSpace::Srgb.to_xyz_d50(), &srgb)
}

/// True when a 96 px block lies on the grey card (outside the chart and the four photos,
/// each with its 40 px margin).
fn on_card(y: usize, x: usize) -> bool {
    let overlaps = |top: usize, left: usize, bottom: usize, right: usize| {
        let m = 40;
        y + 96 > top.saturating_sub(m)
            && y < bottom + m
            && x + 96 > left.saturating_sub(m)
            && x < right + m
    };
    let photos = [(120, 120), (120, 3144), (2392, 120), (2392, 3144)];
    // The truth boxes are the 100 px centres of 200 px patches: the chart reaches 50 px beyond.
    !overlaps(1102 - 50, 1366 - 50, 1922 + 50, 2666 + 50)
        && !photos
            .iter()
            .any(|&(py, px)| overlaps(py, px, py + 512, px + 768))
}

#[test]
fn phone_dng_grey_card_is_flat_neutral_and_chart_matches_truth() {
    let data = common::require_data!();
    let d = develop_phone(&data);
    assert_eq!((d.width, d.height), (4032, 3024));

    let mut lum = Vec::new();
    let mut chroma = Vec::new();
    for by in 0..d.height / 96 {
        for bx in 0..d.width / 96 {
            let (y, x) = (by * 96, bx * 96);
            if on_card(y, x) {
                let xyz = box_xyz(&d, y, y + 96, x, x + 96);
                let lab = xyz_d50_to_lab(xyz);
                lum.push(xyz[1]);
                chroma.push((lab[1] * lab[1] + lab[2] * lab[2]).sqrt());
            }
        }
    }
    assert!(lum.len() > 600, "{} card blocks", lum.len());
    let (lo, hi) = lum
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let mean_chroma = chroma.iter().sum::<f64>() / chroma.len() as f64;
    println!(
        "grey card: {} blocks, brightest/darkest {:.4}, mean chroma {mean_chroma:.3}",
        lum.len(),
        hi / lo
    );
    assert!(
        hi / lo <= 1.015,
        "card not flat: brightest/darkest {:.4}",
        hi / lo
    );
    assert!(
        mean_chroma <= 1.0,
        "card not neutral: mean chroma {mean_chroma:.3}"
    );

    let boxes = d.truth["chart_boxes_yyxx"].as_array().expect("boxes");
    let labs = d.truth["chart_lab_d50"].as_array().expect("lab");
    let measured: Vec<[f64; 3]> = boxes
        .iter()
        .map(|b| {
            let v: Vec<usize> = b
                .as_array()
                .expect("box")
                .iter()
                .map(|v| v.as_u64().expect("int") as usize)
                .collect();
            // Inner part of each box, away from demosaic blending at patch edges.
            box_xyz(&d, v[0] + 10, v[1] - 10, v[2] + 10, v[3] - 10)
        })
        .collect();
    let wanted: Vec<[f64; 3]> = labs
        .iter()
        .map(|l| [0, 1, 2].map(|i| l[i].as_f64().expect("number")))
        .collect();
    // The file's scene exposure is not recorded (no BaselineExposure), so, as chart tools do,
    // one global exposure factor is fitted on the six neutral patches before comparing.
    let y_of_l = |l: f64| ((l + 16.0) / 116.0).powi(3);
    let exposure = (18..24)
        .map(|i| y_of_l(wanted[i][0]) / measured[i][1])
        .sum::<f64>()
        / 6.0;
    let errors: Vec<f64> = measured
        .iter()
        .zip(&wanted)
        .map(|(xyz, want)| ciede2000(xyz_d50_to_lab(xyz.map(|v| v * exposure)), *want))
        .collect();
    let raw_mean = measured
        .iter()
        .zip(&wanted)
        .map(|(xyz, want)| ciede2000(xyz_d50_to_lab(*xyz), *want))
        .sum::<f64>()
        / 24.0;
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    println!(
        "chart: exposure factor {exposure:.4}; mean dE00 {mean:.3}, worst {:.3} (without exposure fit {raw_mean:.3})",
        errors.iter().copied().fold(0.0, f64::max)
    );
    assert!(
        (0.5..2.0).contains(&exposure),
        "exposure factor {exposure} is implausible"
    );
    assert!(mean <= 1.0, "chart mean dE00 {mean:.3}");
}
