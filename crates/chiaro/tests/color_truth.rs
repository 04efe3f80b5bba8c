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
#[path = "common/dng_sdk.rs"]
mod dng_sdk;

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

/// The weight of calibration 1 for a white of `temperature` kelvin: linear in inverse
/// temperature between the calibration illuminants' correlated colour temperatures
/// (computed from the table chromaticities), clamped to 0..1.
fn weight1(t: &Tables, cal: &ColorCalibration, temperature: f64) -> f64 {
    let cct = |code| t.cct(t.illuminant(cie_illuminant(code)));
    let (t1, t2) = (cct(cal.illuminant1), cct(cal.illuminant2));
    ((1.0 / temperature - 1.0 / t2) / (1.0 / t1 - 1.0 / t2)).clamp(0.0, 1.0)
}

/// The DNG forward model written out literally (DNG 1.7 chapter 6) for a known white:
/// XYZ(D50) of a scene colour -> camera RGB, and the camera neutral.
fn forward(
    t: &Tables,
    cal: &ColorCalibration,
    white_temperature: f64,
    white_xy: [f64; 2],
) -> (M3, V3) {
    // Weight g for calibration 1, 1 - g for calibration 2.
    let g = weight1(t, cal, white_temperature);
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

/// The scene `chart` (XYZ relative to D50, six patches a row) photographed under a
/// black body of `temperature` through the forward model of `cal`, as a DNG (with `cal`'s
/// profile tables, if any).
fn chart_dng(t: &Tables, cal: &ColorCalibration, temperature: f64, chart: &[V3]) -> Vec<u8> {
    let white_xy = t.planck_xy(temperature);
    let (xyz_to_camera, neutral) = forward(t, cal, temperature, white_xy);
    let cfa = CfaPattern::bayer("RGGB").expect("valid");
    let (w, h) = (6 * PATCH, chart.len().div_ceil(6) * PATCH);
    let (black, white) = (8192u16, 65535u16);
    let mut samples = vec![0u16; w * h];
    for y in 0..h {
        for x in 0..w {
            let xyz = chart.get((y / PATCH) * 6 + x / PATCH).unwrap_or(&[0.0; 3]);
            let cam = cm::mul_vec(&xyz_to_camera, xyz);
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
        opcode_list3: None,
        orientation: 1,
        make: "chiaro".into(),
        model: "synthetic chart".into(),
        storage: Storage::Uncompressed,
    };
    write_dng(&dng).expect("writes")
}

/// The mean of the centre of each of `n` patches (six a row) of an interleaved RGB image.
fn patch_means(rgb: &[f32], n: usize) -> Vec<V3> {
    (0..n)
        .map(|i| {
            let (cx, cy) = ((i % 6) * PATCH + PATCH / 2, (i / 6) * PATCH + PATCH / 2);
            common::box_mean(rgb, 6 * PATCH, cx, cy, 8)
        })
        .collect()
}

/// [`chart_dng`] developed by `recipe` to linear float: each patch's mean.
fn develop_chart(
    t: &Tables,
    cal: &ColorCalibration,
    temperature: f64,
    chart: &[V3],
    recipe: &Recipe,
) -> Vec<V3> {
    let bytes = chart_dng(t, cal, temperature, chart);
    let raw = chiaro::raw::dng::decode(&bytes, &chiaro::Limits::default()).expect("decodes");
    let dev = develop(
        &raw,
        recipe,
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
    patch_means(rgb, chart.len())
}

/// The scene-referred stages to linear `space`, with the file's white balance.
fn scene_recipe(space: OutputSpace) -> Vec<Box<dyn chiaro::pipeline::Stage>> {
    vec![
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
            space,
            profile: None,
        }),
    ]
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
    let recipe = Recipe {
        version: 1,
        stages: scene_recipe(OutputSpace::Srgb),
    };
    let patches = develop_chart(t, cal, temperature, &chart, &recipe);
    // Linear sRGB -> XYZ D50 from the table's primaries and white and its Bradford matrix.
    let to_xyz = t.rgb_to_xyz_d50("sRGB");
    let d50 = xy_to_xyz(t.illuminant("D50"));
    let lab = |xyz| xyz_to_lab(xyz, d50);
    let errors: Vec<f64> = patches
        .iter()
        .zip(&chart)
        .enumerate()
        .map(|(i, (srgb, truth))| {
            let got = lab(cm::mul_vec(&to_xyz, srgb));
            let want = lab(*truth);
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

/// Hexcone HSV of linear RGB, hue in degrees 0..360.
fn hsv([r, g, b]: V3) -> (f64, f64, f64) {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let c = max - min;
    let hue = if c <= 0.0 {
        0.0
    } else if max == r {
        60.0 * (g - b) / c
    } else if max == g {
        60.0 * ((b - r) / c + 2.0)
    } else {
        60.0 * ((r - g) / c + 4.0)
    };
    (
        hue.rem_euclid(360.0),
        if max > 0.0 { c / max } else { 0.0 },
        max,
    )
}

/// Linear RGB of a hexcone HSV: each channel's distance from the hue, `k = (n + h/60) mod 6`,
/// `v - v s max(0, min(k, 4 - k, 1))` (n = 5, 3, 1 for R, G, B).
fn rgb_of_hsv(hue: f64, s: f64, v: f64) -> V3 {
    [5.0, 3.0, 1.0].map(|n: f64| {
        let k = (n + hue / 60.0).rem_euclid(6.0);
        v - v * s * k.min(4.0 - k).clamp(0.0, 1.0)
    })
}

fn srgb_encode(v: f64) -> f64 {
    if v <= 0.0031308 {
        12.92 * v
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// A hue/saturation/value map as the DNG 1.7 spec describes it ("Applying the Hue/
/// Saturation/Value Mapping Table"): the table entry at the pixel's hue, saturation and
/// (optionally sRGB-encoded) value, interpolated linearly along each axis with the hue
/// axis wrapping, shifts the hue (degrees), scales the saturation and the value.
struct SpecMap {
    dims: [usize; 3],
    srgb_value: bool,
    /// The value is capped at 1 after its scale (the DNG SDK does for its LookTable, which
    /// sees pixels pinned to 0..1; the spec text leaves it open).
    capped: bool,
    /// Value outermost, then hue, then saturation.
    data: Vec<V3>,
}

impl SpecMap {
    fn apply(&self, rgb: V3) -> V3 {
        let [hn, sn, vn] = self.dims;
        let (hue, sat, val) = hsv(rgb);
        let encoded = self.srgb_value && vn > 1;
        let v_axis = if encoded {
            srgb_encode(val.min(1.0))
        } else {
            val.min(1.0)
        };
        // Each axis: the two neighbouring divisions and their weights.
        let hx = hue / 360.0 * hn as f64;
        let h0 = hx.floor();
        let hue_at = [
            (h0 as usize % hn, 1.0 - (hx - h0)),
            ((h0 as usize + 1) % hn, hx - h0),
        ];
        let around = |x: f64, n: usize| {
            let x = (x * (n - 1) as f64).clamp(0.0, (n - 1) as f64);
            let i = (x.floor() as usize).min(n.saturating_sub(2));
            [
                (i, 1.0 - (x - i as f64)),
                ((i + 1).min(n - 1), x - i as f64),
            ]
        };
        let sat_at = around(sat, sn);
        let val_at = if vn > 1 {
            around(v_axis, vn)
        } else {
            [(0, 1.0), (0, 0.0)]
        };
        let mut e = [0.0; 3];
        for (vi, wv) in val_at {
            for (hi, wh) in hue_at {
                for (si, ws) in sat_at {
                    let d = self.data[(vi * hn + hi) * sn + si];
                    for k in 0..3 {
                        e[k] += wv * wh * ws * d[k];
                    }
                }
            }
        }
        let hue = (hue + e[0]).rem_euclid(360.0);
        let sat = (sat * e[1]).clamp(0.0, 1.0);
        let val = if encoded {
            let enc = (v_axis * e[2]).clamp(0.0, 1.0);
            let dec = if enc <= 0.04045 {
                enc / 12.92
            } else {
                ((enc + 0.055) / 1.055).powf(2.4)
            };
            val * dec / val.min(1.0)
        } else {
            val * e[2]
        };
        rgb_of_hsv(hue, sat, if self.capped { val.min(1.0) } else { val })
    }
}

/// The natural cubic spline through `p` (C2, zero curvature at both ends, as ProfileToneCurve
/// asks), from its knot slopes: the C1 Hermite segments joined with equal curvature give
/// `h[i] s[i-1] + 2 (h[i-1] + h[i]) s[i] + h[i-1] s[i+1] = 3 (h[i] d[i-1] + h[i-1] d[i])`,
/// the ends `2 s + s' = 3 d`; solved by the Thomas algorithm.
fn spline_slopes(p: &[(f64, f64)]) -> Vec<f64> {
    let n = p.len();
    let h: Vec<f64> = (0..n - 1).map(|i| p[i + 1].0 - p[i].0).collect();
    let d: Vec<f64> = (0..n - 1).map(|i| (p[i + 1].1 - p[i].1) / h[i]).collect();
    let (mut lower, mut diag, mut upper, mut rhs) =
        (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    (diag[0], upper[0], rhs[0]) = (2.0, 1.0, 3.0 * d[0]);
    (lower[n - 1], diag[n - 1], rhs[n - 1]) = (1.0, 2.0, 3.0 * d[n - 2]);
    for i in 1..n - 1 {
        (lower[i], diag[i], upper[i]) = (h[i], 2.0 * (h[i - 1] + h[i]), h[i - 1]);
        rhs[i] = 3.0 * (h[i] * d[i - 1] + h[i - 1] * d[i]);
    }
    for i in 1..n {
        let f = lower[i] / diag[i - 1];
        diag[i] -= f * upper[i - 1];
        rhs[i] -= f * rhs[i - 1];
    }
    let mut s = vec![0.0; n];
    s[n - 1] = rhs[n - 1] / diag[n - 1];
    for i in (0..n - 1).rev() {
        s[i] = (rhs[i] - upper[i] * s[i + 1]) / diag[i];
    }
    s
}

fn spline_at(p: &[(f64, f64)], s: &[f64], x: f64) -> f64 {
    let i = (1..p.len()).find(|&i| x <= p[i].0).unwrap_or(p.len() - 1);
    let h = p[i].0 - p[i - 1].0;
    let t = (x - p[i - 1].0) / h;
    let (a, b) = (p[i - 1].1, p[i].1);
    // Hermite basis.
    a * (1.0 + 2.0 * t) * (1.0 - t).powi(2)
        + s[i - 1] * h * t * (1.0 - t).powi(2)
        + b * t * t * (3.0 - 2.0 * t)
        - s[i] * h * t * t * (1.0 - t)
}

/// A synthetic camera profile with every kind of table, and a chart to develop through it.
struct ProfileCase {
    t: Tables,
    cal: ColorCalibration,
    /// XYZ D50 of the patches.
    chart: Vec<V3>,
    hsm_dims: [usize; 3],
    look_dims: [usize; 3],
    hsm1: Vec<V3>,
    hsm2: Vec<V3>,
    look: Vec<V3>,
    curve: Vec<(f64, f64)>,
    /// Kelvin of the scene's light, between the calibrations' (so both maps count).
    temperature: f64,
    /// Exposure added after the HueSatMap, EV.
    ev: f32,
}

impl ProfileCase {
    fn new(data: &std::path::Path) -> Self {
        use chiaro::color::profile::{HsvMap, ProfileCurve, ProfileTables};
        let t = Tables::load(data);
        let mut cal = profile(data, "LG Mobile LG-H815.dcp");
        // Tables whose entries differ (a hash of the index): hue shifts up to +-15 degrees,
        // saturation and value scales around 1. At zero saturation, where the hue is
        // undefined, the entries change nothing (the DNG SDK forces their value scale to 1).
        let table = |[hn, sn, vn]: [usize; 3], seed: f64| -> Vec<V3> {
            (0..hn * sn * vn)
                .map(|i| {
                    let f = |k: f64| ((i as f64 + seed) * k).fract();
                    if i % sn == 0 {
                        [0.0, 1.0, 1.0]
                    } else {
                        [
                            30.0 * f(0.7548) - 15.0,
                            0.75 + 0.5 * f(0.5698),
                            0.85 + 0.3 * f(0.6180),
                        ]
                    }
                })
                .collect()
        };
        let flat = |d: &[V3]| -> Vec<f64> { d.iter().flatten().copied().collect() };
        let (hsm_dims, look_dims) = ([8, 4, 3], [10, 5, 4]);
        let (hsm1, hsm2, look) = (
            table(hsm_dims, 1.0),
            table(hsm_dims, 7.5),
            table(look_dims, 3.3),
        );
        let curve = vec![
            (0.0, 0.0),
            (0.04, 0.07),
            (0.12, 0.22),
            (0.25, 0.43),
            (0.5, 0.72),
            (0.75, 0.9),
            (1.0, 1.0),
        ];
        let flat_curve: Vec<f64> = curve.iter().flat_map(|&(x, y)| [x, y]).collect();
        cal.profile = ProfileTables {
            hue_sat_map1: HsvMap::new(hsm_dims, true, &flat(&hsm1)),
            hue_sat_map2: HsvMap::new(hsm_dims, true, &flat(&hsm2)),
            look_table: HsvMap::new(look_dims, false, &flat(&look)),
            tone_curve: ProfileCurve::new(&flat_curve),
            baseline_exposure_offset: 0.0,
        };
        // The chart at 45 % of its reflectance, plus a wheel of saturated ProPhoto colours.
        let prophoto_to_xyz = t.rgb_to_xyz_d50("ProPhoto RGB");
        let mut chart: Vec<V3> = common::colorchecker_xyz_d50(data)
            .iter()
            .map(|xyz| xyz.map(|v| 0.45 * v))
            .collect();
        for k in 0..12 {
            let rgb = rgb_of_hsv(30.0 * f64::from(k) + 7.0, 0.55 + 0.03 * f64::from(k), 0.35);
            chart.push(cm::mul_vec(&prophoto_to_xyz, &rgb));
        }
        // Bright colours the exposure pushes past white: pinned before the LookTable.
        for k in 0..6 {
            let rgb = rgb_of_hsv(60.0 * f64::from(k) + 20.0, 0.5, 0.8);
            chart.push(cm::mul_vec(&prophoto_to_xyz, &rgb));
        }
        ProfileCase {
            t,
            cal,
            chart,
            hsm_dims,
            look_dims,
            hsm1,
            hsm2,
            look,
            curve,
            temperature: 4200.0,
            ev: 0.6,
        }
    }

    /// The file's white balance, colour with its tables to linear ProPhoto, the exposure,
    /// the profile's LookTable and tone curve.
    fn recipe(&self) -> Recipe {
        use chiaro::stages::exposure::Exposure;
        use chiaro::stages::tone::curve::ToneCurve;
        let mut stages = scene_recipe(OutputSpace::Prophoto);
        stages.push(Box::new(Exposure {
            ev: self.ev,
            baseline: false,
            auto: false,
        }));
        stages.push(Box::new(ToneCurve::default()));
        Recipe { version: 2, stages }
    }

    fn develop(&self) -> Vec<V3> {
        let (t, cal) = (&self.t, &self.cal);
        develop_chart(t, cal, self.temperature, &self.chart, &self.recipe())
    }
}

/// Largest channel difference between two sets of patches.
fn worst_difference(a: &[V3], b: &[V3]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| (0..3).map(move |k| (x[k] - y[k]).abs()))
        .fold(0.0, f64::max)
}

/// A profile's tables (two HueSatMaps, a LookTable, a tone curve), rendered by chiaro, match
/// a reference written in this file from the DNG 1.7 text, in the order the DNG SDK applies
/// them: camera RGB -> XYZ D50 (the matrices) -> linear ProPhoto, the HueSatMap blended
/// between the calibrations by the matrices' weight, the exposure, the LookTable, and the
/// ProfileToneCurve (natural cubic spline) on each pixel's largest and smallest channel with
/// the middle one kept in proportion (the SDK's RGB tone; the spec leaves this open). Six
/// bright patches pass white after the exposure, where the SDK pins before the LookTable.
#[test]
fn chart_through_a_profiles_tables_matches_the_spec_reference() {
    let data = common::require_data!();
    let case = ProfileCase::new(&data);
    let got = case.develop();
    let g = weight1(&case.t, &case.cal, case.temperature);
    let hsm = SpecMap {
        dims: case.hsm_dims,
        srgb_value: true,
        capped: false,
        data: case
            .hsm1
            .iter()
            .zip(&case.hsm2)
            .map(|(a, b)| [0, 1, 2].map(|k| g * a[k] + (1.0 - g) * b[k]))
            .collect(),
    };
    let look = SpecMap {
        dims: case.look_dims,
        srgb_value: false,
        capped: true,
        data: case.look.clone(),
    };
    let slopes = spline_slopes(&case.curve);
    let tone = |x: f64| spline_at(&case.curve, &slopes, x.clamp(0.0, 1.0));
    let gain = 2f64.powf(f64::from(case.ev));
    let xyz_to_prophoto = cm::inv(&case.t.rgb_to_xyz_d50("ProPhoto RGB"));
    let reference = |xyz: &V3| -> V3 {
        let rgb = hsm.apply(cm::mul_vec(&xyz_to_prophoto, xyz));
        // Pinned to white before the LookTable (the SDK pins before its exposure ramp and
        // clips at its white) and again before the curve.
        let rgb = look
            .apply(rgb.map(|v| (v * gain).clamp(0.0, 1.0)))
            .map(|v| v.clamp(0.0, 1.0));
        let (hi, lo) = (
            rgb[0].max(rgb[1]).max(rgb[2]),
            rgb[0].min(rgb[1]).min(rgb[2]),
        );
        let (thi, tlo) = (tone(hi), tone(lo));
        rgb.map(|c| {
            if hi > lo {
                tlo + (thi - tlo) * (c - lo) / (hi - lo)
            } else {
                thi
            }
        })
    };
    let want: Vec<V3> = case.chart.iter().map(reference).collect();
    // Without the maps: the matrices and the curve only.
    let plain: Vec<V3> = case
        .chart
        .iter()
        .map(|xyz| cm::mul_vec(&xyz_to_prophoto, xyz).map(|v| tone((v * gain).min(1.0))))
        .collect();
    let (worst, moved) = (
        worst_difference(&got, &want),
        worst_difference(&want, &plain),
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if worst_difference(&[*g], &[*w]) > 5e-4 {
            println!("patch {i}: got {g:?}, spec {w:?}");
        }
    }
    println!(
        "profile tables: worst channel error {worst:.2e} (the tables move patches by up to {moved:.3})"
    );
    assert!(moved > 0.05, "the tables should change the chart");
    assert!(worst < 5e-4, "worst channel error {worst:.2e}");
}

/// The same chart and profile rendered by Adobe's DNG SDK (`dng_validate`, linear ProPhoto
/// with the profile's tone curve, BaselineExposure cancelled, the same extra exposure): a
/// peer beside the spec reference. The written DNG asks for no default black render, so the
/// SDK adds no shadow ramp of its own.
#[test]
fn chart_through_a_profiles_tables_matches_the_dng_sdk() {
    let data = common::require_data!();
    let Some(sdk) = dng_sdk::binary(&data) else {
        common::record_skip(
            "chart_through_a_profiles_tables_matches_the_dng_sdk (no dng_validate)",
        );
        return;
    };
    let case = ProfileCase::new(&data);
    let got = case.develop();
    let file = chart_dng(&case.t, &case.cal, case.temperature, &case.chart);
    let ev = case.ev.to_string();
    let rgb = dng_sdk::render(&sdk, &file, &["-16", "-cs8", "-noBaseline", "-ev", &ev]);
    let peer = patch_means(&rgb, case.chart.len());
    // Where a white-balanced camera channel passes white the SDK clips it at the colour
    // matrix and chiaro keeps it for highlight reconstruction (a difference by design):
    // those patches are left out. Patches that pass white only after the exposure stay.
    let white_xy = case.t.planck_xy(case.temperature);
    let (xyz_to_camera, neutral) = forward(&case.t, &case.cal, case.temperature, white_xy);
    let below_white: Vec<usize> = (0..case.chart.len())
        .filter(|&i| {
            let cam = cm::mul_vec(&xyz_to_camera, &case.chart[i]);
            (0..3).all(|c| cam[c] / neutral[c] < 0.999)
        })
        .collect();
    assert!(
        below_white.len() >= 38,
        "{} patches compared",
        below_white.len()
    );
    let pick = |v: &[V3]| below_white.iter().map(|&i| v[i]).collect::<Vec<V3>>();
    let (got, peer) = (pick(&got), pick(&peer));
    let worst = worst_difference(&got, &peer);
    let mean = got
        .iter()
        .zip(&peer)
        .map(|(a, b)| worst_difference(&[*a], &[*b]))
        .sum::<f64>()
        / got.len() as f64;
    println!(
        "profile tables beside the DNG SDK: worst channel difference {worst:.4}, mean {mean:.4}"
    );
    // The SDK works in 16-bit integers between some steps and interpolates its curve from a
    // table: a few thousandths.
    assert!(
        worst < 5e-3 && mean < 1.5e-3,
        "worst {worst:.4}, mean {mean:.4}"
    );
}
