//! The DNG colour path against exact ground truth: ColorChecker scenes synthesised through
//! real phone profiles (LG G4 and Galaxy S7 DCPs), from tungsten to D65, with and without
//! ForwardMatrix, written as DNGs and developed by the full reader + pipeline to linear sRGB.
//!
//! The truth takes none of the library's colour constants or matrix code: the Bradford
//! matrix, the white points and the sRGB primaries come from the tables in
//! `../shared/data/color/`, the scene whites from Planck's law through the CIE 1931 observer,
//! and the matrices are built and inverted in `common::colorimetry`, so an error in the
//! library's constants shows here instead of cancelling out (`color_constants.rs` checks the
//! constants themselves against the same tables).

mod common;

use common::colorimetry::{self as cm, M3, Tables, V3, xy_to_xyz, xyz_to_lab};

use chiaro::color::spaces::OutputSpace;
use chiaro::io::Pixels;
use chiaro::lab::metrics::ciede2000;
use chiaro::lab::synth::{Storage, SynthDng, write_dng};
use chiaro::pipeline::{OutputSpec, Recipe, develop};
use chiaro::raw::{CfaPattern, ColorCalibration};
use chiaro::stages::color::Color;
use chiaro::stages::demosaic::{Demosaic, DemosaicMethod};
use chiaro::stages::highlights::{HighlightMode, Highlights};
use chiaro::stages::white_balance::{WbMode, WhiteBalance};

const PATCH: usize = 16;

/// The matrix part of a profile (its HueSatMap, LookTable and tone curve left out: these
/// tests check the chapter 6 matrices).
fn profile(data: &std::path::Path, name: &str) -> ColorCalibration {
    let path = data.join("calibration/dcp").join(name);
    let bytes = std::fs::read(&path).expect("dcp");
    let mut cal = chiaro::raw::dcp::parse(&bytes)
        .expect("valid dcp")
        .calibration;
    cal.profile = Default::default();
    cal
}

/// The CIE illuminant an EXIF LightSource code names (EXIF 2.3 table; the profiles used here
/// are calibrated for A and D65).
fn cie_illuminant(code: u16) -> &'static str {
    match code {
        17 => "A",
        18 => "B",
        19 => "C",
        20 => "D55",
        21 => "D65",
        22 => "D75",
        23 => "D50",
        _ => panic!("calibration illuminant {code} is not a CIE standard illuminant"),
    }
}

/// The DNG forward model written out literally (DNG 1.7 chapter 6) for a known white:
/// XYZ(D50) of a scene colour -> camera RGB, and the camera neutral. The calibration
/// illuminants' temperatures are their correlated colour temperatures computed from the
/// table chromaticities.
fn forward(
    t: &Tables,
    cal: &ColorCalibration,
    white_temperature: f64,
    white_xy: [f64; 2],
) -> (M3, V3) {
    let temperature = |code| t.cct(t.illuminant(cie_illuminant(code)));
    let (t1, t2) = (temperature(cal.illuminant1), temperature(cal.illuminant2));
    let g = ((1.0 / white_temperature - 1.0 / t2) / (1.0 / t1 - 1.0 / t2)).clamp(0.0, 1.0);
    // Weight g for calibration 1, 1 - g for calibration 2.
    let mix = |a: Option<M3>, b: Option<M3>| Some(cm::lerp(&b?, &a?, g));
    let color_matrix = mix(cal.color_matrix1, cal.color_matrix2).expect("two colour matrices");
    let w = cm::mul_vec(&color_matrix, &xy_to_xyz(white_xy));
    let m = w.iter().copied().fold(0.0, f64::max);
    let neutral = w.map(|v| v / m);
    let d50 = xy_to_xyz(t.illuminant("D50"));
    let xyz_to_camera = match mix(cal.forward_matrix1, cal.forward_matrix2) {
        Some(fm) => {
            // FM maps white-balanced camera RGB to XYZ D50 with (1,1,1) -> D50 white.
            let one = cm::mul_vec(&fm, &[1.0; 3]);
            let fm = cm::mul(
                &cm::diag(&[d50[0] / one[0], d50[1] / one[1], d50[2] / one[2]]),
                &fm,
            );
            cm::mul(&cm::diag(&neutral), &cm::inv(&fm))
        }
        None => {
            // XYZ D50 -> XYZ under the scene white (Bradford) -> camera, scaled so that the
            // D50 white reaches 1 in its largest channel.
            let pcs_to_camera = cm::mul(&color_matrix, &t.bradford(t.illuminant("D50"), white_xy));
            let reach = cm::mul_vec(&pcs_to_camera, &d50);
            let s = 1.0 / reach.iter().copied().fold(0.0, f64::max);
            pcs_to_camera.map(|row| row.map(|v| v * s))
        }
    };
    (xyz_to_camera, neutral)
}

/// Mean and worst CIEDE2000 of the developed chart.
fn chart_error(
    data: &std::path::Path,
    t: &Tables,
    cal: &ColorCalibration,
    temperature: f64,
) -> (f64, f64) {
    // Patch XYZ relative to the chart's D50 (xy 0.345703, 0.358539, the ICC D50; 4e-6 from
    // the CIE D50 of the PCS, far below what the limits can see).
    let chart = common::colorchecker_xyz_d50(data);
    let white_xy = t.planck_xy(temperature);
    let (xyz_to_camera, neutral) = forward(t, cal, temperature, white_xy);
    let cfa = CfaPattern::bayer("RGGB").expect("valid");
    let (w, h) = (6 * PATCH, 4 * PATCH);
    let (black, white) = (8192u16, 65535u16);
    let mut samples = vec![0u16; w * h];
    for y in 0..h {
        for x in 0..w {
            let cam = cm::mul_vec(&xyz_to_camera, &chart[(y / PATCH) * 6 + x / PATCH]);
            // Below-black values stay representable (a high black level keeps them), as on a real sensor with noise.
            let v = cam[cfa.color(y, x) as usize];
            samples[y * w + x] = (f64::from(black) + v * f64::from(white - black))
                .round()
                .clamp(0.0, 65535.0) as u16;
        }
    }
    let dng = SynthDng {
        width: w,
        height: h,
        cfa,
        samples,
        bits: 16,
        black,
        white,
        color: ColorCalibration {
            as_shot_neutral: Some(neutral),
            ..cal.clone()
        },
        opcode_list2: None,
        orientation: 1,
        make: "chiaro".into(),
        model: "synthetic chart".into(),
        storage: Storage::Uncompressed,
    };
    let bytes = write_dng(&dng).expect("writes");
    let raw = chiaro::raw::dng::decode(&bytes, &chiaro::Limits::default()).expect("decodes");
    let recipe = Recipe {
        version: 1,
        stages: vec![
            Box::new(WhiteBalance {
                mode: WbMode::AsShot,
            }),
            Box::new(Demosaic {
                method: DemosaicMethod::Rcd,
            }),
            Box::new(Highlights {
                mode: HighlightMode::None,
            }),
            Box::new(Color {
                space: OutputSpace::Srgb,
                profile: None,
            }),
        ],
    };
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
    let Pixels::F32(rgb) = &dev.image.pixels else {
        panic!("float output expected")
    };
    // Linear sRGB -> XYZ D50 from the table's primaries and white and its Bradford matrix.
    let to_xyz = t.rgb_to_xyz_d50("sRGB");
    let d50 = xy_to_xyz(t.illuminant("D50"));
    let lab = |xyz| xyz_to_lab(xyz, d50);
    let errors: Vec<f64> = (0..24)
        .map(|i| {
            let (cx, cy) = ((i % 6) * PATCH + PATCH / 2, (i / 6) * PATCH + PATCH / 2);
            let srgb = common::box_mean(rgb, w, cx, cy, 8);
            let got = lab(cm::mul_vec(&to_xyz, &srgb));
            let want = lab(chart[i]);
            let e = ciede2000(got, want);
            if e > 0.5 {
                println!("patch {i}: got {got:?} want {want:?} srgb {srgb:?}");
            }
            e
        })
        .collect();
    (
        errors.iter().sum::<f64>() / 24.0,
        errors.iter().copied().fold(0.0, f64::max),
    )
}

fn check(data: &std::path::Path, dcp: &str, with_forward_matrix: bool) {
    let t = Tables::load(data);
    let mut cal = profile(data, dcp);
    if !with_forward_matrix {
        cal.forward_matrix1 = None;
        cal.forward_matrix2 = None;
    } else {
        assert!(
            cal.forward_matrix1.is_some(),
            "{dcp} should carry ForwardMatrix"
        );
    }
    for temperature in [
        2500.0, 2850.0, 3400.0, 4200.0, 5000.0, 5500.0, 6500.0, 7500.0,
    ] {
        let (mean, worst) = chart_error(data, &t, &cal, temperature);
        println!(
            "{dcp} fm={with_forward_matrix} {temperature} K: mean dE00 {mean:.3}, worst {worst:.3}"
        );
        assert!(
            mean <= 0.5 && worst <= 2.0,
            "{dcp} fm={with_forward_matrix} at {temperature} K: mean {mean:.3} worst {worst:.3}"
        );
    }
}

#[test]
fn chart_through_lg_g4_profile_with_forward_matrix_matches_truth() {
    let data = common::require_data!();
    check(&data, "LG Mobile LG-H815.dcp", true);
}

#[test]
fn chart_through_lg_g4_profile_color_matrix_only_matches_truth() {
    let data = common::require_data!();
    check(&data, "LG Mobile LG-H815.dcp", false);
}

#[test]
fn chart_through_galaxy_s7_profile_with_forward_matrix_matches_truth() {
    let data = common::require_data!();
    check(&data, "samsung SM-G930V.dcp", true);
}

#[test]
fn chart_through_galaxy_s7_profile_color_matrix_only_matches_truth() {
    let data = common::require_data!();
    check(&data, "samsung SM-G930V.dcp", false);
}
