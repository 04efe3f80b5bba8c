//! Whole developments of synthetic DNGs with known content: X-Trans, orientation, clipped
//! highlights, automatic white balance and defect correction.

mod common;
#[path = "common/dng_sdk.rs"]
mod dng_sdk;

use chiaro::color::matrix;
use chiaro::color::spaces::OutputSpace;
use chiaro::io::Pixels;
use chiaro::lab::metrics::cpsnr;
use chiaro::lab::synth::{Storage, SynthDng, mosaic, write_dng};
use chiaro::pipeline::{OutputSpec, Recipe, develop};
use chiaro::raw::{CfaPattern, ColorCalibration, RawImage};
use chiaro::stages::color::Color;
use chiaro::stages::defects::Defects;
use chiaro::stages::white_balance::{WbMode, WhiteBalance};

/// A camera whose RGB is linear sRGB: ColorMatrix = XYZ(D65) -> linear sRGB.
fn srgb_camera(neutral: [f64; 3]) -> ColorCalibration {
    let xyz_d65_to_srgb = matrix::invert(&chiaro::color::xy::rgb_to_xyz_from_primaries(
        [[0.64, 0.33], [0.30, 0.60], [0.15, 0.06]],
        chiaro::color::xy::D65_XY,
    ))
    .expect("invertible");
    ColorCalibration {
        color_matrix1: Some(xyz_d65_to_srgb),
        illuminant1: 21,
        as_shot_neutral: Some(neutral),
        ..Default::default()
    }
}

/// The 8-bit sRGB code values of a Kodak image, with its size.
fn kodak_srgb8(data: &std::path::Path, name: &str) -> (Vec<u8>, usize, usize) {
    let file = std::fs::File::open(data.join("kodak24").join(name)).expect("kodak image");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("png");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("frame");
    buf.truncate(info.buffer_size());
    (buf, info.width as usize, info.height as usize)
}

/// Linear-light RGB of a Kodak image, 0..1.
fn kodak_linear(data: &std::path::Path, name: &str) -> (Vec<f32>, usize, usize) {
    let (code, w, h) = kodak_srgb8(data, name);
    let rgb = code
        .iter()
        .map(|&v| chiaro::color::transfer::Transfer::Srgb.decode(f32::from(v) / 255.0))
        .collect();
    (rgb, w, h)
}

fn dng(
    width: usize,
    height: usize,
    cfa: CfaPattern,
    cfa_values: &[f32],
    color: ColorCalibration,
    orientation: u16,
) -> RawImage {
    let bytes = dng_bytes(width, height, cfa, cfa_values, color, orientation);
    chiaro::raw::dng::decode(&bytes, &chiaro::Limits::default()).expect("decodes")
}

/// The DNG file [`dng`] decodes.
fn dng_bytes(
    width: usize,
    height: usize,
    cfa: CfaPattern,
    cfa_values: &[f32],
    color: ColorCalibration,
    orientation: u16,
) -> Vec<u8> {
    let (black, white) = (256u16, 16383u16);
    let samples = cfa_values
        .iter()
        .map(|&v| (f32::from(black) + v.clamp(0.0, 1.0) * f32::from(white - black)).round() as u16)
        .collect();
    let s = SynthDng {
        width,
        height,
        cfa,
        samples,
        bits: 14,
        black,
        white,
        color,
        opcode_list2: None,
        opcode_list3: None,
        orientation,
        make: "chiaro".into(),
        model: "synthetic".into(),
        storage: Storage::LosslessJpeg { tile: 128 },
    };
    write_dng(&s).expect("writes")
}

fn linear_srgb(raw: &RawImage, recipe: Recipe) -> (Vec<f32>, usize, usize) {
    float_output(raw, &recipe.linear())
}

/// `raw` developed by `recipe` to float samples without a transfer function, with the size.
fn float_output(raw: &RawImage, recipe: &Recipe) -> (Vec<f32>, usize, usize) {
    let spec = OutputSpec {
        bits: 32,
        linear: true,
    };
    let dev = develop(raw, recipe, &spec, None).expect("develops");
    let Pixels::F32(rgb) = dev.image.pixels else {
        panic!("float output expected")
    };
    (rgb, dev.image.width, dev.image.height)
}

/// A flat grey 16-bit RGGB DNG of a linear-sRGB camera, with the given opcode lists.
fn flat_dng(
    w: usize,
    h: usize,
    dn: u16,
    list2: Option<Vec<u8>>,
    list3: Option<Vec<u8>>,
) -> RawImage {
    let s = SynthDng {
        width: w,
        height: h,
        cfa: CfaPattern::bayer("RGGB").expect("pattern"),
        samples: vec![dn; w * h],
        bits: 16,
        black: 0,
        white: 65535,
        color: srgb_camera([1.0; 3]),
        opcode_list2: list2,
        opcode_list3: list3,
        orientation: 1,
        make: "chiaro".into(),
        model: "flat".into(),
        storage: Storage::Uncompressed,
    };
    chiaro::raw::dng::decode(&write_dng(&s).expect("writes"), &chiaro::Limits::default())
        .expect("decodes")
}

/// The 16-bit display development of `raw` by `recipe`.
fn render16(raw: &RawImage, recipe: &Recipe) -> Vec<u16> {
    let spec = OutputSpec {
        bits: 16,
        linear: false,
    };
    let dev = develop(raw, recipe, &spec, None).expect("develops");
    let Pixels::U16(px) = dev.image.pixels else {
        panic!("16-bit output expected")
    };
    px
}

fn crop(rgb: &[f32], w: usize, h: usize, border: usize) -> Vec<f32> {
    (border..h - border)
        .flat_map(|y| rgb[(y * w + border) * 3..(y * w + w - border) * 3].to_vec())
        .collect()
}

#[test]
fn xtrans_dng_develops_close_to_the_scene() {
    let data = common::require_data!();
    let (scene, w, h) = kodak_linear(&data, "kodim19.png");
    let cfa = CfaPattern::xtrans();
    let raw = dng(
        w,
        h,
        cfa,
        &mosaic(&scene, w, h, &cfa),
        srgb_camera([1.0; 3]),
        1,
    );
    let (out, ow, oh) = linear_srgb(&raw, Recipe::default());
    assert_eq!((ow, oh), (w, h));
    // CPSNR in gamma-encoded 8-bit units, as demosaic benchmarks report it.
    let enc = |v: &[f32]| {
        v.iter()
            .map(|&x| chiaro::color::transfer::Transfer::Srgb.encode(x.clamp(0.0, 1.0)) * 255.0)
            .collect::<Vec<_>>()
    };
    let psnr = cpsnr(
        &enc(&crop(&out, w, h, 10)),
        &enc(&crop(&scene, w, h, 10)),
        255.0,
    );
    println!("X-Trans Markesteijn through the pipeline: {psnr:.2} dB");
    assert!(psnr > 30.0, "{psnr}");
}

#[test]
fn linear_raw_dng_develops_to_the_scene() {
    let data = common::require_data!();
    let (scene, w, h) = kodak_linear(&data, "kodim03.png");
    let (black, white) = (512u16, 65535u16);
    let samples = scene
        .iter()
        .map(|&v| (f32::from(black) + v * 0.8 * f32::from(white - black)).round() as u16)
        .collect();
    let s = SynthDng {
        width: w,
        height: h,
        cfa: CfaPattern::bayer("RGGB").expect("valid"),
        samples,
        bits: 16,
        black,
        white,
        color: srgb_camera([1.0; 3]),
        opcode_list2: None,
        opcode_list3: None,
        orientation: 1,
        make: "chiaro".into(),
        model: "linear".into(),
        storage: Storage::LinearRaw,
    };
    let raw = chiaro::raw::dng::decode(&write_dng(&s).expect("writes"), &chiaro::Limits::default())
        .expect("decodes");
    assert!(!raw.is_cfa());
    let (out, ow, oh) = linear_srgb(&raw, Recipe::default());
    assert_eq!((ow, oh), (w, h));
    let want: Vec<f32> = scene.iter().map(|v| v * 0.8).collect();
    let psnr = cpsnr(&out, &want, 1.0);
    println!("LinearRaw round trip: {psnr:.1} dB");
    assert!(psnr > 60.0, "{psnr}");
}

#[test]
fn orientation_tag_rotates_the_output() {
    let (w, h) = (48, 24);
    let cfa = CfaPattern::bayer("RGGB").expect("valid");
    // Left half bright, right half dark.
    let values: Vec<f32> = (0..w * h)
        .map(|i| if i % w < w / 2 { 0.5 } else { 0.05 })
        .collect();
    let raw = dng(w, h, cfa, &values, srgb_camera([1.0; 3]), 6);
    let (out, ow, oh) = linear_srgb(&raw, Recipe::default());
    assert_eq!((ow, oh), (h, w));
    // Rotated 90 degrees clockwise: the bright left half is now the top half.
    let g = |x: usize, y: usize| out[(y * ow + x) * 3 + 1];
    assert!(g(ow / 2, 4) > 0.3 && g(ow / 2, oh - 5) < 0.1);
}

#[test]
fn clipped_highlights_develop_to_neutral_white() {
    let (w, h) = (32, 32);
    let cfa = CfaPattern::bayer("RGGB").expect("valid");
    let raw = dng(
        w,
        h,
        cfa,
        &vec![1.0; w * h],
        srgb_camera([0.5, 1.0, 0.7]),
        1,
    );
    let px = render16(&raw, &Recipe::default());
    let (r, g, b) = (px[3 * 500], px[3 * 500 + 1], px[3 * 500 + 2]);
    assert!(g > 60000, "{r} {g} {b}");
    assert!(
        r.abs_diff(g) < 600 && b.abs_diff(g) < 600,
        "not neutral: {r} {g} {b}"
    );
}

#[test]
fn auto_white_balance_finds_a_warm_illuminant() {
    let data = common::require_data!();
    let (scene, w, h) = kodak_linear(&data, "kodim08.png");
    let cfa = CfaPattern::bayer("RGGB").expect("valid");
    // A warm light: camera neutral (0.55, 1, 0.45); the as-shot tag is deliberately wrong.
    let light = [0.55f32, 1.0, 0.45];
    let lit: Vec<f32> = scene
        .iter()
        .enumerate()
        .map(|(i, &v)| v * light[i % 3] * 0.9)
        .collect();
    let raw = dng(
        w,
        h,
        cfa,
        &mosaic(&lit, w, h, &cfa),
        srgb_camera([1.0, 1.0, 1.0]),
        1,
    );
    let mut recipe = Recipe::default();
    recipe.set(WhiteBalance {
        mode: WbMode::Auto(Default::default()),
    });
    let dev = develop(
        &raw,
        &recipe,
        &OutputSpec {
            bits: 8,
            linear: false,
        },
        None,
    )
    .expect("develops");
    let n = dev.info.color.neutral;
    println!("auto neutral {n:?}, true {light:?}");
    // Grey world is a first estimate: within 15 % of the true light on a natural image.
    for c in 0..3 {
        assert!(
            (n[c] - f64::from(light[c])).abs() / f64::from(light[c]) < 0.15,
            "{n:?}"
        );
    }
}

#[test]
fn defects_stage_removes_hot_pixels_from_the_d750_dump() {
    let dir = common::require_data!().join("raw");
    let clean = chiaro::raw::read_file(
        &dir.join("nikon_d750_rose_768x512_rggb14.raw"),
        &chiaro::Limits::default(),
    )
    .expect("clean");
    let bad = chiaro::raw::read_file(
        &dir.join("nikon_d750_rose_768x512_rggb14_badpixels.raw"),
        &chiaro::Limits::default(),
    )
    .expect("bad");
    let mut recipe = Recipe::default();
    recipe.set(Color {
        space: OutputSpace::Srgb,
        profile: None,
    });
    let plain = linear_srgb(&clean, recipe.clone()).0;
    let with_defects = linear_srgb(&bad, recipe.clone()).0;
    recipe.set(Defects { threshold: 8.0 });
    let corrected = linear_srgb(&bad, recipe).0;
    let before = cpsnr(&with_defects, &plain, 1.0);
    let after = cpsnr(&corrected, &plain, 1.0);
    println!("defects: {before:.2} dB before, {after:.2} dB after correction");
    assert!(after > before + 6.0, "{before} -> {after}");
}

/// Angle in degrees between two RGB vectors (the usual white-balance error measure).
fn angle(a: [f64; 3], b: [f64; 3]) -> f64 {
    let dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let n = |v: [f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    (dot / (n(a) * n(b))).clamp(-1.0, 1.0).acos().to_degrees()
}

#[test]
fn auto_white_balance_beats_the_wrong_as_shot_white_on_the_canon_chart() {
    let raw = chiaro::raw::read_file(
        &common::require_data!().join("raw/canon550d_colorchart.dng"),
        &chiaro::Limits::default(),
    )
    .expect("decodes");
    let mut recipe = Recipe::default();
    recipe.set(Color {
        space: OutputSpace::Camera,
        profile: None,
    });
    let dev = develop(
        &raw,
        &recipe.clone().linear(),
        &OutputSpec {
            bits: 32,
            linear: true,
        },
        None,
    )
    .expect("develops");
    let Pixels::F32(cam) = &dev.image.pixels else {
        panic!("float output expected")
    };
    // The chart's grey patches (bottom row of the lower chart) give the true illuminant.
    let mut truth = [0.0; 3];
    for x in [704, 814, 924, 1034, 1144] {
        let m = common::box_mean(cam, dev.image.width, x, 930, 20);
        for c in 0..3 {
            truth[c] += m[c] * dev.info.color.neutral[c];
        }
    }
    recipe.set(WhiteBalance {
        mode: WbMode::Auto(Default::default()),
    });
    let auto = develop(
        &raw,
        &recipe,
        &OutputSpec {
            bits: 8,
            linear: false,
        },
        None,
    )
    .expect("develops")
    .info
    .color
    .neutral;
    let as_shot = dev.info.color.neutral;
    let (e_auto, e_shot) = (angle(auto, truth), angle(as_shot, truth));
    println!(
        "canon chart: true neutral {truth:?}; auto {auto:?} ({e_auto:.2} deg); as-shot {as_shot:?} ({e_shot:.2} deg)"
    );
    // Mixed daylight and tungsten: statistics-based estimators stay near 10 degrees here
    // (see stages::awb); the as-shot white is about 14 degrees off.
    assert!(
        e_auto < 12.0 && e_auto < e_shot - 2.0,
        "auto {e_auto:.2} deg vs as-shot {e_shot:.2} deg"
    );
}

/// A profile embedded in a DNG (its IFD0 tables) develops the file exactly as the same
/// profile given as a `.dcp`, and its tables change the picture.
#[test]
fn embedded_profile_equals_the_same_profile_from_a_dcp_file() {
    let data = common::require_data!();
    let dcp_path = data.join("calibration/dcp/NIKON D750.dcp");
    let dcp = chiaro::raw::dcp::parse(&std::fs::read(&dcp_path).expect("dcp")).expect("parses");
    assert!(
        dcp.calibration.profile.look_table.is_some(),
        "the D750 profile has a LookTable"
    );
    // A colourful scene: a Kodak image, mosaicked.
    let (rgb, w, h) = kodak_linear(&data, "kodim23.png");
    let cfa = CfaPattern::bayer("RGGB").expect("pattern");
    let values: Vec<f32> = mosaic(&rgb, w, h, &cfa).iter().map(|v| v * 0.8).collect();
    let neutral = Some([0.5, 1.0, 0.7]);
    let mut embedded = dcp.calibration.clone();
    embedded.as_shot_neutral = neutral;
    let mut plain = embedded.clone();
    plain.profile = Default::default();
    let with_tables = dng(w, h, cfa, &values, embedded, 1);
    assert_eq!(
        with_tables.color().profile,
        dcp.calibration.profile,
        "tables read back"
    );
    let without = dng(w, h, cfa, &values, plain, 1);
    let a = render16(&with_tables, &Recipe::default());
    let mut by_file = Recipe::default();
    by_file.set(Color {
        space: OutputSpace::Srgb,
        profile: Some(dcp_path),
    });
    let b = render16(&without, &by_file);
    let c = render16(&without, &Recipe::default());
    assert_eq!(a, b, "embedded and external profiles differ");
    let moved = a.iter().zip(&c).filter(|(x, y)| x != y).count();
    assert!(
        moved > a.len() / 2,
        "the tables change only {moved} of {} samples",
        a.len()
    );
}

/// A real camera profile (the D750's, with its 3D sRGB-encoded LookTable and tone curve)
/// embedded in a DNG renders as Adobe's DNG SDK renders it (`dng_validate`, linear ProPhoto
/// with the profile's tone curve): compared over 16x16 blocks flat enough that the two
/// demosaicers cannot differ. The scene is dim enough that no white-balanced channel passes
/// white, where the SDK clips and chiaro keeps the light for highlight reconstruction.
#[test]
fn embedded_real_profile_renders_as_the_dng_sdk_does() {
    let data = common::require_data!();
    let Some(sdk) = dng_sdk::binary(&data) else {
        common::record_skip("embedded_real_profile_renders_as_the_dng_sdk_does (no dng_validate)");
        return;
    };
    let dcp_path = data.join("calibration/dcp/NIKON D750.dcp");
    let dcp = chiaro::raw::dcp::parse(&std::fs::read(&dcp_path).expect("dcp")).expect("parses");
    let (rgb, w, h) = kodak_linear(&data, "kodim23.png");
    let cfa = CfaPattern::bayer("RGGB").expect("pattern");
    let values: Vec<f32> = mosaic(&rgb, w, h, &cfa).iter().map(|v| v * 0.4).collect();
    let mut color = dcp.calibration.clone();
    color.as_shot_neutral = Some([0.5, 1.0, 0.7]);
    let bytes = dng_bytes(w, h, cfa, &values, color, 1);
    let raw = chiaro::raw::dng::decode(&bytes, &chiaro::Limits::default()).expect("decodes");
    let mut recipe = Recipe::default();
    recipe.set(Color {
        space: OutputSpace::Prophoto,
        profile: None,
    });
    recipe.set(chiaro::stages::exposure::Exposure {
        ev: 0.0,
        baseline: false,
        auto: false,
    });
    let (ours, _, _) = float_output(&raw, &recipe);
    let theirs = dng_sdk::render(&sdk, &bytes, &["-16", "-cs8", "-noBaseline"]);
    assert_eq!(theirs.len(), ours.len(), "same size");
    // 16x16 blocks, 8 px in from the border; the flat ones (every channel's spread < 0.01).
    let (b, border) = (16, 8);
    let (mut diffs, mut flat) = (Vec::new(), 0);
    for by in 0..(h - 2 * border) / b {
        for bx in 0..(w - 2 * border) / b {
            let (mut sum, mut sq, mut peer) = ([0.0f64; 3], [0.0f64; 3], [0.0f64; 3]);
            for y in border + by * b..border + (by + 1) * b {
                for x in border + bx * b..border + (bx + 1) * b {
                    for c in 0..3 {
                        let i = (y * w + x) * 3 + c;
                        let v = f64::from(ours[i]);
                        sum[c] += v;
                        sq[c] += v * v;
                        peer[c] += f64::from(theirs[i]);
                    }
                }
            }
            let n = (b * b) as f64;
            let spread = (0..3)
                .map(|c| (sq[c] / n - (sum[c] / n).powi(2)).max(0.0).sqrt())
                .fold(0.0, f64::max);
            if spread < 0.01 {
                flat += 1;
                diffs.push(
                    (0..3)
                        .map(|c| (sum[c] - peer[c]).abs() / n)
                        .fold(0.0, f64::max),
                );
            }
        }
    }
    let mean = diffs.iter().sum::<f64>() / diffs.len().max(1) as f64;
    let worst = diffs.iter().copied().fold(0.0, f64::max);
    println!(
        "D750 profile beside the DNG SDK: {flat} flat blocks, mean {mean:.5}, worst {worst:.5}"
    );
    assert!(flat > 100, "only {flat} flat blocks");
    assert!(
        mean < 1e-3 && worst < 3e-3,
        "mean {mean:.5}, worst {worst:.5}"
    );
}

/// Mean CIE L* (D65 white) of 8-bit sRGB code values, from the colour tables' sRGB
/// primaries and the sRGB decoding formula.
fn mean_lightness(t: &common::colorimetry::Tables, rgb8: &[u8]) -> f64 {
    use common::colorimetry::srgb_to_linear;
    let y_row = t.space_rgb_to_xyz("sRGB")[1];
    let lut: Vec<f64> = (0..256)
        .map(|v| srgb_to_linear(f64::from(v) / 255.0))
        .collect();
    let sum: f64 = rgb8
        .chunks_exact(3)
        .map(|p| {
            let y: f64 = (0..3).map(|c| y_row[c] * lut[usize::from(p[c])]).sum();
            if y > 216.0 / 24389.0 {
                116.0 * y.cbrt() - 16.0
            } else {
                y * 24389.0 / 27.0
            }
        })
        .sum();
    sum / (rgb8.len() / 3) as f64
}

/// Automatic exposure on a validation set of its own, which it was not tuned on: the 24
/// Kodak images taken as scenes (their decoded sRGB as camera RGB), shot 0, 1.5 and 3 EV
/// under the photographer's exposure. Developed with `auto`, each should come out about as
/// light as the photographer's own picture, whatever the shot's exposure. (The figures go to
/// the README; the bounds only keep them from getting worse.)
#[test]
fn auto_exposure_matches_the_photographers_lightness_on_kodak() {
    let data = common::require_data!();
    let t = common::colorimetry::Tables::load(&data);
    let mut recipe = Recipe::default();
    recipe.set(chiaro::stages::exposure::Exposure {
        ev: 0.0,
        baseline: false,
        auto: true,
    });
    let spec = OutputSpec {
        bits: 8,
        linear: false,
    };
    let cfa = CfaPattern::bayer("RGGB").expect("pattern");
    let (mut errors, mut spreads) = (Vec::new(), Vec::new());
    for i in 1..=24 {
        let name = format!("kodim{i:02}.png");
        let (rgb, w, h) = kodak_linear(&data, &name);
        let want = mean_lightness(&t, &kodak_srgb8(&data, &name).0);
        let mut got = Vec::new();
        for under in [0.0f32, 1.5, 3.0] {
            let gain = (-under).exp2();
            let values: Vec<f32> = mosaic(&rgb, w, h, &cfa).iter().map(|v| v * gain).collect();
            let raw = dng(w, h, cfa, &values, srgb_camera([1.0; 3]), 1);
            let dev = develop(&raw, &recipe, &spec, None).expect("develops");
            let Pixels::U8(px) = dev.image.pixels else {
                panic!("8-bit output expected")
            };
            got.push(mean_lightness(&t, &px));
        }
        println!("{name}: photographer L* {want:.1}, auto {got:.1?}");
        errors.extend(got.iter().map(|g| g - want));
        let (lo, hi) = got
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &g| (a.min(g), b.max(g)));
        spreads.push(hi - lo);
    }
    let mean_abs = errors.iter().map(|e| e.abs()).sum::<f64>() / errors.len() as f64;
    let bias = errors.iter().sum::<f64>() / errors.len() as f64;
    let worst = errors.iter().map(|e| e.abs()).fold(0.0, f64::max);
    let spread = spreads.iter().copied().fold(0.0, f64::max);
    println!(
        "auto exposure on Kodak: mean |dL*| {mean_abs:.1}, bias {bias:+.1}, worst {worst:.1}; \
         largest spread over the three exposures {spread:.1}"
    );
    // Measured when this test was written: mean 7.9, bias +4.1, worst 20.9 (low-key scenes
    // lifted towards grey, as key-to-grey metering does), spread 5.4 (where the shot at the
    // photographer's exposure clips highlights that the darker shots keep).
    assert!(
        mean_abs < 9.0 && bias.abs() < 6.0,
        "mean {mean_abs:.1}, bias {bias:+.1}"
    );
    assert!(
        spread < 6.5,
        "the result depends on the shot's exposure: {spread:.1} L*"
    );
}

/// The source position a WarpRectilinear, WarpRectilinear2 or WarpFisheye plane gives
/// output pixel `(x, y)` of a `w` x `h` image, written from the DNG 1.7 text: the radial
/// ratio `f = sum k_i r^i` (`1 / f` with `reciprocal`) with `r` pinned to the valid range, the
/// tangential terms `kt0, kt1`, centre `(cx, cy)` relative to the image, distances
/// normalised by the farthest corner. WarpFisheye: the source radius is
/// `t (kr0 + kr1 t^2 + kr2 t^4 + kr3 t^6)` of `t = atan(r)`, no tangential terms.
struct Lens {
    radial: [f64; 15],
    tangential: [f64; 2],
    valid: [f64; 2],
    reciprocal: bool,
    fisheye: bool,
}

impl Lens {
    fn source(&self, c: (f64, f64), w: usize, h: usize, x: f64, y: f64) -> (f64, f64) {
        let (xc, yc) = (c.0 * w as f64, c.1 * h as f64);
        let m = [
            (0.0, 0.0),
            (w as f64, 0.0),
            (0.0, h as f64),
            (w as f64, h as f64),
        ]
        .iter()
        .map(|&(a, b): &(f64, f64)| ((a - xc).powi(2) + (b - yc).powi(2)).sqrt())
        .fold(0.0, f64::max);
        let (dx, dy) = ((x - xc) / m, (y - yc) / m);
        let r2 = (dx * dx + dy * dy).min(1.0);
        if self.fisheye {
            let r = r2.sqrt();
            let t = r.atan();
            let k = &self.radial;
            let rs = t * (k[0] + k[1] * t.powi(2) + k[2] * t.powi(4) + k[3] * t.powi(6));
            let f = if r > 1e-9 { rs / r } else { k[0] };
            return (xc + m * f * dx, yc + m * f * dy);
        }
        let r = r2.sqrt().clamp(self.valid[0], self.valid[1]);
        let poly: f64 = (0..15).map(|i| self.radial[i] * r.powi(i as i32)).sum();
        let f = if self.reciprocal { 1.0 / poly } else { poly };
        let [kt0, kt1] = self.tangential;
        (
            xc + m * (f * dx + 2.0 * kt0 * dx * dy + kt1 * (r2 + 2.0 * dx * dx)),
            yc + m * (f * dy + 2.0 * kt1 * dx * dy + kt0 * (r2 + 2.0 * dy * dy)),
        )
    }

    /// A WarpRectilinear plane: `kr0 + kr1 r^2 + kr2 r^4 + kr3 r^6`.
    fn rectilinear(kr: [f64; 4], kt: [f64; 2]) -> Self {
        let mut radial = [0.0; 15];
        (0..4).for_each(|i| radial[2 * i] = kr[i]);
        Lens {
            radial,
            tangential: kt,
            valid: [0.0, 1.0],
            reciprocal: false,
            fisheye: false,
        }
    }
}

/// A grid of dots photographed through a lens with barrel distortion and lateral chromatic
/// aberration (a different magnification per colour), stored as a DNG whose OpcodeList3
/// carries the matching warp: developed, every dot of every colour sits on the ideal grid.
/// Three lenses: one as WarpRectilinear (and the same polynomial as WarpRectilinear2, which
/// must give the same pixels), one only WarpRectilinear2 can state (odd terms, the
/// reciprocal form, a valid range short of the corners), and a fisheye as WarpFisheye. Without the opcode the same file
/// shows the distortion; Adobe's DNG SDK, reading the same files, must also put the dots back,
/// or the test and chiaro share a misreading of the spec.
#[test]
fn dng_warps_put_a_distorted_dot_grid_back_on_its_grid() {
    use chiaro::raw::dng::opcodes::{Opcode, WarpPlane, WarpRectilinear, serialize_list};
    let (w, h, spacing, sigma) = (480usize, 320usize, 32.0f64, 1.6f64);
    let centre = (0.52, 0.47);
    let v1 = [1.0008, 1.0, 0.9992]
        .map(|k0| Lens::rectilinear([k0, -0.05, 0.004, 0.0], [0.0006, -0.0004]));
    let v2 = [1.0006, 1.0, 0.9994].map(|k0| {
        let mut radial = [0.0; 15];
        radial[..4].copy_from_slice(&[k0, 0.012, 0.04, -0.006]);
        Lens {
            radial,
            tangential: [-0.0003, 0.0005],
            valid: [0.0, 0.9],
            reciprocal: true,
            fisheye: false,
        }
    });
    // A fisheye capture developed to a rectilinear picture (WarpFisheye).
    let v3 = [1.0006, 1.0, 0.9994].map(|k0| {
        let mut radial = [0.0; 15];
        radial[..2].copy_from_slice(&[k0, 0.25]);
        Lens {
            radial,
            tangential: [0.0; 2],
            valid: [0.0, 1.0],
            reciprocal: false,
            fisheye: true,
        }
    });
    // The ideal scene: dots on a grid.
    let scene = |x: f64, y: f64| common::dot_scene(spacing, sigma, x, y);
    let cfa = CfaPattern::bayer("RGGB").expect("pattern");
    let (black, white) = (1024u16, 65535u16);
    // The capture: pixel q of colour c shows the scene at the point the correction maps to
    // q, found by fixed-point iteration of the (near-identity) warp.
    let capture = |lens: &[Lens; 3]| -> Vec<u16> {
        let mut samples = vec![0u16; w * h];
        for y in 0..h {
            for x in 0..w {
                let c = cfa.color(y, x) as usize;
                let source = |ux, uy| lens[c].source(centre, w, h, ux, uy);
                let (ux, uy) = common::before_map(source, x as f64, y as f64, 40);
                let v = scene(ux, uy);
                samples[y * w + x] =
                    (f64::from(black) + v * f64::from(white - black)).round() as u16;
            }
        }
        samples
    };
    let opcode = |lens: &[Lens; 3], second: bool| {
        Opcode::WarpRectilinear(WarpRectilinear {
            planes: lens
                .iter()
                .map(|l| WarpPlane {
                    radial: l.radial,
                    tangential: l.tangential,
                    valid: l.valid,
                })
                .collect(),
            cx: centre.0,
            cy: centre.1,
            reciprocal: lens[0].reciprocal,
            second,
            fisheye: lens[0].fisheye,
        })
    };
    let develop_dots = |samples: &[u16], list3: Option<Vec<u8>>| {
        let s = SynthDng {
            width: w,
            height: h,
            cfa,
            samples: samples.to_vec(),
            bits: 16,
            black,
            white,
            color: srgb_camera([1.0; 3]),
            opcode_list2: None,
            opcode_list3: list3,
            orientation: 1,
            make: "chiaro".into(),
            model: "dot grid".into(),
            storage: Storage::Uncompressed,
        };
        let bytes = write_dng(&s).expect("writes");
        let raw = chiaro::raw::dng::decode(&bytes, &chiaro::Limits::default()).expect("decodes");
        (linear_srgb(&raw, Recipe::default()).0, bytes)
    };
    // Each dot's centroid per channel, against its ideal place.
    let displacement = |rgb: &[f32]| common::dot_displacement(rgb, w, h, spacing, 0.1);
    let sdk = common::shared_data().and_then(|d| dng_sdk::binary(&d));
    let through_sdk = |file: &[u8]| {
        let sdk = sdk.as_ref()?;
        Some(dng_sdk::render(
            sdk,
            file,
            &["-16", "-cs7", "-linear", "-noBaseline"],
        ))
    };
    for (name, lens, second) in [
        ("WarpRectilinear", &v1, false),
        ("WarpRectilinear2", &v2, true),
        ("WarpFisheye", &v3, false),
    ] {
        let samples = capture(lens);
        let (corrected, file) =
            develop_dots(&samples, Some(serialize_list(&[opcode(lens, second)])));
        let (rms, worst) = displacement(&corrected);
        let (rms0, worst0) = displacement(&develop_dots(&samples, None).0);
        println!(
            "{name} dot grid: corrected RMS {rms:.3} px, worst {worst:.3}; uncorrected \
             {rms0:.2} / {worst0:.2}"
        );
        assert!(
            rms0 > 2.0,
            "{name}: the test lens should distort visibly: {rms0:.2} px"
        );
        assert!(
            rms <= 0.3 && worst <= 0.8,
            "{name}: RMS {rms:.3} px, worst {worst:.3} px"
        );
        if name == "WarpRectilinear" {
            let (again, _) = develop_dots(&samples, Some(serialize_list(&[opcode(lens, true)])));
            assert_eq!(
                again, corrected,
                "WarpRectilinear2 of the same polynomial differs"
            );
        }
        match through_sdk(&file) {
            Some(theirs) => {
                let (rms_sdk, worst_sdk) = displacement(&theirs);
                println!(
                    "{name} dot grid through the DNG SDK: RMS {rms_sdk:.3} px, worst {worst_sdk:.3}"
                );
                assert!(
                    rms_sdk <= 0.3 && worst_sdk <= 0.8,
                    "{name} through the SDK: RMS {rms_sdk:.3}, worst {worst_sdk:.3}"
                );
            }
            None => println!("note: no ../shared dng_validate; the DNG SDK check was left out"),
        }
    }
}

/// A warp that would move pixels farther than the executor lets a tile reach (a broken or
/// hostile opcode) is left out with a warning instead of multiplying the work.
#[test]
fn an_excessive_warp_is_left_out_with_a_warning() {
    use chiaro::raw::dng::opcodes::{Opcode, WarpPlane, WarpRectilinear, serialize_list};
    let (w, h) = (1200, 800);
    let warp = Opcode::WarpRectilinear(WarpRectilinear {
        planes: vec![WarpPlane::rectilinear([3.0, 0.0, 0.0, 0.0], [0.0; 2])],
        cx: 0.5,
        cy: 0.5,
        reciprocal: false,
        second: false,
        fisheye: false,
    });
    let raw = flat_dng(w, h, 2000, None, Some(serialize_list(&[warp])));
    let spec = OutputSpec {
        bits: 8,
        linear: false,
    };
    let dev = develop(&raw, &Recipe::default(), &spec, None).expect("develops");
    assert!(
        dev.info
            .warnings
            .iter()
            .any(|m| m.contains("WarpRectilinear") && m.contains("not applied")),
        "{:?}",
        dev.info.warnings
    );
}

/// TrimBounds in OpcodeList2 and OpcodeList3 crop the picture to their common rectangle.
#[test]
fn trim_bounds_crop_the_picture() {
    use chiaro::raw::dng::opcodes::{Opcode, serialize_list};
    let (w, h) = (64, 48);
    let trim = |top, left, bottom, right| {
        Some(serialize_list(&[Opcode::TrimBounds {
            top,
            left,
            bottom,
            right,
        }]))
    };
    let raw = flat_dng(w, h, 3000, trim(4, 8, 40, 60), trim(0, 2, 44, 56));
    let (_, ow, oh) = linear_srgb(&raw, Recipe::default());
    // Rows 4..40, columns 8..56.
    assert_eq!((ow, oh), (48, 36));
}
