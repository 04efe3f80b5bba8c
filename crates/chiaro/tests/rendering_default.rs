//! The default rendering as a photographer judges it, on the shared raws: raw white reaches
//! display white, the phone DNG's grey card, white and black patches land where a camera JPEG
//! puts them with colour at least as rich as the scene, and `--exposure auto` brings an
//! underexposed chart shot to a normal brightness.
//!
//! The output (8-bit sRGB, as `chiaro develop` writes it) is decoded and measured with the
//! independent colorimetry of `common::colorimetry` (the shared colour tables and the sRGB
//! transfer function of IEC 61966-2-1 written out here), not with the library's own.

mod common;

use common::colorimetry::{Tables, mul_vec, srgb_to_linear, xy_to_xyz, xyz_to_lab};

use chiaro::io::Pixels;
use chiaro::pipeline::{OutputSpec, Recipe, develop};
use chiaro::stages::exposure::Exposure;

struct Output {
    /// Linear sRGB decoded from the 8-bit code values.
    rgb: Vec<f64>,
    width: usize,
    height: usize,
}

fn develop_8bit(path: &std::path::Path, recipe: &Recipe) -> Output {
    let raw = chiaro::raw::read_file(path, &chiaro::Limits::default()).expect("decodes");
    let spec = OutputSpec {
        bits: 8,
        linear: false,
    };
    let dev = develop(&raw, recipe, &spec, None).expect("develops");
    let Pixels::U8(codes) = dev.image.pixels else {
        panic!("8-bit output expected")
    };
    Output {
        rgb: codes
            .iter()
            .map(|&c| srgb_to_linear(f64::from(c) / 255.0))
            .collect(),
        width: dev.image.width,
        height: dev.image.height,
    }
}

/// CIELAB (D50) of the mean of a box of the output.
fn box_lab(o: &Output, t: &Tables, (y0, y1, x0, x1): (usize, usize, usize, usize)) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for y in y0..y1 {
        for px in o.rgb[(y * o.width + x0) * 3..(y * o.width + x1) * 3].chunks_exact(3) {
            for (s, v) in sum.iter_mut().zip(px) {
                *s += v;
            }
        }
    }
    let n = ((y1 - y0) * (x1 - x0)) as f64;
    let xyz = mul_vec(&t.rgb_to_xyz_d50("sRGB"), &sum.map(|s| s / n));
    xyz_to_lab(xyz, xy_to_xyz(t.illuminant("D50")))
}

fn chroma(lab: &[f64; 3]) -> f64 {
    lab[1].hypot(lab[2])
}

#[test]
fn phone_dng_renders_card_white_and_black_like_a_camera_jpeg_with_full_colour() {
    let data = common::require_data!();
    let t = Tables::load(&data);
    let dir = data.join("raw");
    let o = develop_8bit(
        &dir.join("phone_synth_lgg4_4200k_4032x3024.dng"),
        &Recipe::default(),
    );
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("phone_synth_lgg4_4200k_4032x3024.truth.json"))
            .expect("truth"),
    )
    .expect("json");
    let (w, h) = (o.width, o.height);
    // The card above and below the chart (which spans rows 1102..1922 with its margin).
    let card = [
        box_lab(&o, &t, (h / 2 - 740, h / 2 - 660, w / 2 - 40, w / 2 + 40)),
        box_lab(&o, &t, (h / 2 + 660, h / 2 + 740, w / 2 - 40, w / 2 + 40)),
    ];
    let boxes = truth["chart_boxes_yyxx"].as_array().expect("boxes");
    let patches: Vec<[f64; 3]> = boxes
        .iter()
        .map(|b| {
            let v: Vec<usize> = (0..4)
                .map(|i| b[i].as_u64().expect("box") as usize)
                .collect();
            box_lab(&o, &t, (v[0], v[1], v[2], v[3]))
        })
        .collect();
    let want: Vec<[f64; 3]> = truth["chart_lab_d50"]
        .as_array()
        .expect("lab")
        .iter()
        .map(|v| common::triple(v, "chart_lab_d50"))
        .collect();
    for c in card {
        assert!((45.0..=62.0).contains(&c[0]), "grey card at L* {:.1}", c[0]);
    }
    assert!(
        patches[18][0] >= 88.0,
        "white patch at L* {:.1}",
        patches[18][0]
    );
    assert!(
        patches[23][0] <= 28.0,
        "black patch at L* {:.1}",
        patches[23][0]
    );
    let mean = |v: &[[f64; 3]]| v[..18].iter().map(chroma).sum::<f64>() / 18.0;
    let ratio = mean(&patches) / mean(&want);
    assert!(
        (1.0..=1.3).contains(&ratio),
        "colour patches' mean chroma {ratio:.3} times the scene's"
    );
}

#[test]
fn canon_dng_reaches_display_white_and_auto_exposure_lifts_its_chart_to_mid_grey() {
    let data = common::require_data!();
    let t = Tables::load(&data);
    let path = data.join("raw/canon550d_colorchart.dng");
    let o = develop_8bit(&path, &Recipe::default());
    // The brightest channel's 99.99th percentile, in code values.
    let mut top: Vec<f64> = o
        .rgb
        .chunks_exact(3)
        .map(|p| p[0].max(p[1]).max(p[2]))
        .collect();
    top.sort_by(f64::total_cmp);
    let p = top[(top.len() as f64 * 0.9999) as usize];
    let code = 255.0 * (1.055 * p.powf(1.0 / 2.4) - 0.055);
    assert!(code >= 250.0, "99.99th percentile {code:.1} of 255");

    // The chart's neutral 5 (middle grey) patch: the fourth of the bottom row.
    let n5 = (913, 943, 1017, 1047);
    let as_shot = box_lab(&o, &t, n5)[0];
    let mut recipe = Recipe::default();
    recipe.set(Exposure {
        ev: 0.0,
        baseline: true,
        auto: true,
    });
    let auto = box_lab(&develop_8bit(&path, &recipe), &t, n5)[0];
    assert!(
        as_shot < 25.0,
        "the shot is underexposed: N5 at L* {as_shot:.1}"
    );
    assert!(
        (40.0..=65.0).contains(&auto),
        "auto exposure puts N5 at L* {auto:.1}"
    );
}
