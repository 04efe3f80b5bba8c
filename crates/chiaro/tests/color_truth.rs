//! The DNG colour path against exact ground truth: ColorChecker scenes synthesised through
//! real phone profiles (LG G4 and Galaxy S7 DCPs), from tungsten to D65, with and without
//! ForwardMatrix, written as DNGs and developed by the full reader + pipeline to linear sRGB.

mod common;

use chiaro::color::matrix::{self, Mat3};
use chiaro::color::spaces::OutputSpace;
use chiaro::color::temperature::temperature_to_xy;
use chiaro::color::xy::{D50_XY, bradford, xy_to_xyz};
use chiaro::io::Pixels;
use chiaro::lab::metrics::{ciede2000, xyz_d50_to_lab};
use chiaro::lab::synth::{Storage, SynthDng, write_dng};
use chiaro::pipeline::{OutputSpec, Recipe, develop};
use chiaro::raw::{CfaPattern, ColorCalibration};
use chiaro::stages::color::Color;
use chiaro::stages::demosaic::{Demosaic, DemosaicMethod};
use chiaro::stages::highlights::{HighlightMode, Highlights};
use chiaro::stages::white_balance::{WbMode, WhiteBalance};

const PATCH: usize = 16;

fn profile(name: &str) -> ColorCalibration {
    let path = common::shared_data().join("calibration/dcp").join(name);
    let bytes = std::fs::read(&path).expect("dcp");
    chiaro::raw::dcp::parse(&bytes)
        .expect("valid dcp")
        .calibration
}

/// The DNG forward model written out literally (DNG 1.7 chapter 6) for a known white:
/// XYZ(D50) of a scene colour -> camera RGB, and the camera neutral.
fn forward(cal: &ColorCalibration, white_temperature: f64, white_xy: [f64; 2]) -> (Mat3, [f64; 3]) {
    let t =
        |code| chiaro::color::temperature::illuminant_temperature(code).expect("known illuminant");
    let (t1, t2) = (t(cal.illuminant1), t(cal.illuminant2));
    let g = ((1.0 / white_temperature - 1.0 / t2) / (1.0 / t1 - 1.0 / t2)).clamp(0.0, 1.0);
    let mix = |a: Option<Mat3>, b: Option<Mat3>| Some(matrix::lerp(&b?, &a?, g));
    let cm = mix(cal.color_matrix1, cal.color_matrix2).expect("two colour matrices");
    let w = matrix::mul_vec(&cm, &xy_to_xyz(white_xy));
    let m = w.iter().copied().fold(0.0, f64::max);
    let neutral = w.map(|v| v / m);
    let xyz_to_camera = match mix(cal.forward_matrix1, cal.forward_matrix2) {
        Some(fm) => {
            // FM maps white-balanced camera RGB to XYZ D50 with (1,1,1) -> D50 white.
            let one = matrix::mul_vec(&fm, &[1.0; 3]);
            let d50 = xy_to_xyz(D50_XY);
            let fm = matrix::mul(
                &matrix::diag(&[d50[0] / one[0], d50[1] / one[1], d50[2] / one[2]]),
                &fm,
            );
            matrix::mul(
                &matrix::diag(&neutral),
                &matrix::invert(&fm).expect("invertible"),
            )
        }
        None => {
            let pcs_to_camera = matrix::mul(&cm, &bradford(D50_XY, white_xy));
            let reach = matrix::mul_vec(&pcs_to_camera, &xy_to_xyz(D50_XY));
            matrix::scale(
                &pcs_to_camera,
                1.0 / reach.iter().copied().fold(0.0, f64::max),
            )
        }
    };
    (xyz_to_camera, neutral)
}

/// Mean and worst CIEDE2000 of the developed chart.
fn chart_error(cal: &ColorCalibration, temperature: f64) -> (f64, f64) {
    let chart = common::colorchecker_xyz_d50();
    let white_xy = temperature_to_xy(temperature, 0.0);
    let (xyz_to_camera, neutral) = forward(cal, temperature, white_xy);
    let cfa = CfaPattern::bayer("RGGB").expect("valid");
    let (w, h) = (6 * PATCH, 4 * PATCH);
    let (black, white) = (8192u16, 65535u16);
    let mut samples = vec![0u16; w * h];
    for y in 0..h {
        for x in 0..w {
            let cam = matrix::mul_vec(&xyz_to_camera, &chart[(y / PATCH) * 6 + x / PATCH]);
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
    let to_xyz = OutputSpace::Srgb.to_xyz_d50();
    let errors: Vec<f64> = (0..24)
        .map(|i| {
            let (cx, cy) = ((i % 6) * PATCH + PATCH / 2, (i / 6) * PATCH + PATCH / 2);
            let srgb = common::box_mean(rgb, w, cx, cy, 8);
            let got = xyz_d50_to_lab(matrix::mul_vec(&to_xyz, &srgb));
            let e = ciede2000(got, xyz_d50_to_lab(chart[i]));
            if e > 0.5 {
                println!(
                    "patch {i}: got {got:?} want {:?} srgb {srgb:?}",
                    xyz_d50_to_lab(chart[i])
                );
            }
            e
        })
        .collect();
    (
        errors.iter().sum::<f64>() / 24.0,
        errors.iter().copied().fold(0.0, f64::max),
    )
}

fn check(dcp: &str, with_forward_matrix: bool) {
    let mut cal = profile(dcp);
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
        let (mean, worst) = chart_error(&cal, temperature);
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
    check("LG Mobile LG-H815.dcp", true);
}

#[test]
fn chart_through_lg_g4_profile_color_matrix_only_matches_truth() {
    check("LG Mobile LG-H815.dcp", false);
}

#[test]
fn chart_through_galaxy_s7_profile_with_forward_matrix_matches_truth() {
    check("samsung SM-G930V.dcp", true);
}

#[test]
fn chart_through_galaxy_s7_profile_color_matrix_only_matches_truth() {
    check("samsung SM-G930V.dcp", false);
}
