//! Demosaic quality on the Kodak PhotoCD set, by the protocol most papers use.
//!
//! Each 768x512 8-bit sRGB image is taken as is (values / 255, no linearisation), sampled
//! through a CFA (RGGB, or X-Trans for the X-Trans table), demosaiced, rounded back to 8 bits
//! (clamped to 0..=255) and compared with the original. CPSNR is over all three channels with a
//! 10-pixel border left out, peak 255; the figure reported is the mean of the 24 per-image CPSNRs.
//!
//! Needs the images in `../shared/data/kodak24` next to the repository (`kodim01.png` ..
//! `kodim24.png`); skips visibly without the shared data.
//!
//! # References
//!
//! Kodak Lossless True Color Image Suite (PhotoCD PCD0992), <https://r0k.us/graphics/kodak/>.

mod common;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use chiaro::raw::cfa::CfaPattern;
use chiaro::stages::demosaic::{DemosaicMethod, demosaic};
use rayon::prelude::*;

const BORDER: usize = 10;

struct Image {
    name: String,
    width: usize,
    height: usize,
    /// Interleaved 8-bit RGB.
    rgb: Vec<u8>,
}

fn load(dir: &Path, i: usize) -> Image {
    let name = format!("kodim{i:02}.png");
    let path = dir.join(&name);
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let size = reader
        .output_buffer_size()
        .unwrap_or_else(|| panic!("{name}: too large"));
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let (width, height) = (info.width as usize, info.height as usize);
    let channels = info.line_size / width;
    assert!(
        channels >= 3,
        "{name}: expected RGB, got {channels} channels"
    );
    let mut rgb = Vec::with_capacity(3 * width * height);
    for row in buf.chunks_exact(info.line_size).take(height) {
        for px in row[..width * channels].chunks_exact(channels) {
            rgb.extend_from_slice(&px[..3]);
        }
    }
    Image {
        name,
        width,
        height,
        rgb,
    }
}

fn mosaic(img: &Image, pattern: &CfaPattern) -> Vec<f32> {
    let w = img.width;
    (0..w * img.height)
        .map(|i| f32::from(img.rgb[3 * i + pattern.color(i / w, i % w) as usize]) / 255.0)
        .collect()
}

/// CPSNR in dB of `out` (0..1 floats) against the 8-bit original.
fn cpsnr(img: &Image, out: &[f32]) -> f64 {
    let (w, h) = (img.width, img.height);
    let mut se = 0.0f64;
    let mut n = 0usize;
    for y in BORDER..h - BORDER {
        for x in BORDER..w - BORDER {
            for c in 0..3 {
                let i = 3 * (y * w + x) + c;
                let v = (out[i] * 255.0).round().clamp(0.0, 255.0) as f64;
                let d = v - f64::from(img.rgb[i]);
                se += d * d;
                n += 1;
            }
        }
    }
    let mse = (se / n as f64).max(1e-12);
    10.0 * (255.0 * 255.0 / mse).log10()
}

/// Mean CPSNR per method over the 24 images (and each image's scores, for the table).
fn scores(
    dir: &Path,
    pattern: &CfaPattern,
    methods: &[DemosaicMethod],
) -> (Vec<f64>, Vec<(String, Vec<f64>)>) {
    scores_in(dir, pattern, methods, false)
}

/// [`scores`], demosaicing in linear light when `linear`: the sRGB values are decoded before
/// mosaicking and the result encoded again before the 8-bit comparison, as the pipeline
/// demosaics linear data.
fn scores_in(
    dir: &Path,
    pattern: &CfaPattern,
    methods: &[DemosaicMethod],
    linear: bool,
) -> (Vec<f64>, Vec<(String, Vec<f64>)>) {
    use chiaro::color::transfer::Transfer;
    let per_image: Vec<(String, Vec<f64>)> = (1..=24)
        .into_par_iter()
        .map(|i| {
            let img = load(dir, i);
            let mut cfa = mosaic(&img, pattern);
            if linear {
                cfa.iter_mut().for_each(|v| *v = Transfer::Srgb.decode(*v));
            }
            let s = methods
                .iter()
                .map(|&m| {
                    let mut out = demosaic(m, &cfa, img.width, img.height, pattern)
                        .unwrap_or_else(|e| panic!("{}: {m}: {e}", img.name));
                    if linear {
                        out.iter_mut()
                            .for_each(|v| *v = Transfer::Srgb.encode(v.clamp(0.0, 1.0)));
                    }
                    cpsnr(&img, &out)
                })
                .collect();
            (img.name, s)
        })
        .collect();
    let means = (0..methods.len())
        .map(|k| per_image.iter().map(|(_, s)| s[k]).sum::<f64>() / per_image.len() as f64)
        .collect();
    (means, per_image)
}

fn print_table(
    title: &str,
    methods: &[DemosaicMethod],
    means: &[f64],
    rows: &[(String, Vec<f64>)],
) {
    println!("\n{title}: CPSNR in dB (8-bit, {BORDER} px border left out)");
    print!("{:<12}", "image");
    for m in methods {
        print!("{:>13}", m.name());
    }
    println!();
    for (name, s) in rows {
        print!("{name:<12}");
        for v in s {
            print!("{v:>13.2}");
        }
        println!();
    }
    print!("{:<12}", "mean");
    for v in means {
        print!("{v:>13.2}");
    }
    println!();
}

/// Each method's mean CPSNR is at least its floor.
fn assert_floors(methods: &[DemosaicMethod], means: &[f64], floors: &[f64]) {
    for ((m, mean), floor) in methods.iter().zip(means).zip(floors) {
        assert!(
            mean >= floor,
            "{m}: mean CPSNR {mean:.2} dB below the floor {floor} dB"
        );
    }
}

#[test]
fn kodak_cpsnr_meets_floors_per_method() {
    let kodak = common::require_data!().join("kodak24");
    use DemosaicMethod::*;
    let methods = [Bilinear, Malvar, Rcd, Mlri, RcdFit];
    // Measured: 30.24, 35.78, 40.49, 38.77, 40.44 dB.
    let floors = [30.0, 35.5, 40.3, 38.5, 40.3];
    let rggb = CfaPattern::bayer("RGGB").expect("valid pattern");
    let (means, rows) = scores(&kodak, &rggb, &methods);
    print_table("Kodak, RGGB", &methods, &means, &rows);
    assert_floors(&methods, &means, &floors);
}

#[test]
fn kodak_cpsnr_when_demosaicing_in_linear_light() {
    let kodak = common::require_data!().join("kodak24");
    use DemosaicMethod::*;
    let methods = [Bilinear, Malvar, Rcd, Mlri, RcdFit];
    // Measured: 29.86, 31.58, 35.08, 36.36, 38.01 dB. The order changes from the sRGB domain:
    // methods that add another channel's Laplacian at full strength lose most in linear
    // light, where one channel is often a scaled copy of another; rcd-fit fits the scale.
    let floors = [29.6, 31.3, 34.8, 36.1, 37.8];
    let rggb = CfaPattern::bayer("RGGB").expect("valid pattern");
    let (means, rows) = scores_in(&kodak, &rggb, &methods, true);
    print_table(
        "Kodak, RGGB, demosaiced in linear light",
        &methods,
        &means,
        &rows,
    );
    assert_floors(&methods, &means, &floors);
}

#[test]
fn kodak_xtrans_methods_beat_bilinear() {
    let kodak = common::require_data!().join("kodak24");
    use DemosaicMethod::*;
    let methods = [Bilinear, XtransFast, Markesteijn];
    let xtrans = CfaPattern::xtrans();
    let (means, rows) = scores(&kodak, &xtrans, &methods);
    print_table("Kodak, X-Trans", &methods, &means, &rows);
    // Measured: bilinear 29.56, xtrans-fast 37.56, Markesteijn 38.50 dB.
    assert_floors(&methods, &means, &[29.3, 37.3, 38.3]);
    assert!(
        means[2] > means[1] && means[1] > means[0] + 2.0,
        "expected Markesteijn > xtrans-fast > bilinear + 2 dB: {means:?}"
    );
}
