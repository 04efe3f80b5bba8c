//! Full-reference comparison of two RGB images (`chiaro lab compare`): PSNR per channel,
//! colour PSNR, SSIM per channel and CIEDE2000 mean and 95th percentile.
//!
//! # Units
//! Images are read as code values 0..1 (8- and 16-bit PNG or TIFF, float TIFF as stored).
//! PSNR and SSIM work on those values (peak 1). CIEDE2000 needs colours: the values are
//! taken as sRGB-encoded ([`Encoding::Srgb`], what 8- and 16-bit outputs hold) or as linear
//! sRGB ([`Encoding::Linear`], a `--linear` float TIFF), converted to XYZ and CIELAB (D50).
//!
//! # References
//! Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from
//! error visibility to structural similarity", IEEE TIP 13(4), 2004 (SSIM: 11x11 Gaussian
//! window, sigma 1.5, K1 = 0.01, K2 = 0.03, over the window positions inside the image).

use std::path::Path;

use super::metrics::{ciede2000, xyz_d50_to_lab};
use crate::color::matrix;
use crate::color::spaces::OutputSpace;
use crate::color::transfer::Transfer;
use crate::error::{Error, Result};
use crate::limits::{Limits, read_file_bounded};

/// An RGB image of code values, interleaved.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
    /// Bits per sample of the file it was read from: 8, 16, or 32 (float).
    pub bits: u32,
}

/// How the code values encode colour, for CIEDE2000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// sRGB primaries and transfer function.
    Srgb,
    /// sRGB primaries, linear light.
    Linear,
}

/// The figures of one comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub width: usize,
    pub height: usize,
    /// PSNR in dB of R, G and B (peak 1; infinite for identical channels).
    pub psnr: [f64; 3],
    /// PSNR over all three channels together.
    pub cpsnr: f64,
    /// Mean SSIM of R, G and B.
    pub ssim: [f64; 3],
    pub ssim_mean: f64,
    /// CIEDE2000 over the pixels: mean and 95th percentile.
    pub de2000_mean: f64,
    pub de2000_p95: f64,
    /// Largest absolute difference of any sample.
    pub max_abs: f64,
}

/// Reads a PNG (8 or 16 bits, grey or RGB, alpha dropped) or TIFF (8 or 16 bits or float
/// RGB) into code values 0..1.
pub fn read_image(path: &Path, limits: &Limits) -> Result<RgbImage> {
    let bytes = read_file_bounded(path, limits).map_err(|e| e.with_path(path))?;
    let image = if bytes.starts_with(b"\x89PNG") {
        read_png(&bytes, limits)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        read_tiff(&bytes, limits)
    } else {
        Err(Error::unsupported("not a PNG or TIFF image"))
    };
    image.map_err(|e| e.with_path(path))
}

fn read_png(bytes: &[u8], limits: &Limits) -> Result<RgbImage> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder
        .read_info()
        .map_err(|e| Error::decode(format!("PNG: {e}")))?;
    let (w, h) = {
        let info = reader.info();
        (info.width as usize, info.height as usize)
    };
    limits.check_image(w, h, 4)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| Error::limits("PNG too large"))?;
    let mut buf = crate::limits::try_vec::<u8>(size, limits)?;
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| Error::decode(format!("PNG: {e}")))?;
    let channels = info.color_type.samples();
    let wide = info.bit_depth == png::BitDepth::Sixteen;
    let sample = |i: usize| -> f32 {
        if wide {
            f32::from(u16::from_be_bytes([buf[2 * i], buf[2 * i + 1]])) / 65535.0
        } else {
            f32::from(buf[i]) / 255.0
        }
    };
    let stride = info.line_size / if wide { 2 } else { 1 };
    Ok(RgbImage {
        width: w,
        height: h,
        data: rgb_from(w, h, channels, stride, sample),
        bits: if wide { 16 } else { 8 },
    })
}

fn read_tiff(bytes: &[u8], limits: &Limits) -> Result<RgbImage> {
    use tiff::decoder::{Decoder, DecodingResult};
    let err = |e: tiff::TiffError| Error::decode(format!("TIFF: {e}"));
    let mut dec = Decoder::new(std::io::Cursor::new(bytes)).map_err(err)?;
    let (w, h) = dec.dimensions().map_err(err)?;
    let (w, h) = (w as usize, h as usize);
    limits.check_image(w, h, 4)?;
    // 8 and 16 bits or float, chunky: other depths come back packed, planar files as their
    // first plane only, and neither would fill the buffer indexed below.
    let channels = match dec.colortype().map_err(err)? {
        tiff::ColorType::Gray(8 | 16 | 32) => 1,
        tiff::ColorType::RGB(8 | 16 | 32) => 3,
        tiff::ColorType::RGBA(8 | 16 | 32) => 4,
        other => return Err(Error::unsupported(format!("TIFF colour type {other:?}"))),
    };
    let image = dec.read_image().map_err(err)?;
    let len = match &image {
        DecodingResult::U8(v) => v.len(),
        DecodingResult::U16(v) => v.len(),
        DecodingResult::F32(v) => v.len(),
        _ => 0,
    };
    if len != w * h * channels {
        return Err(Error::unsupported(
            "TIFF layout (planar or packed samples are not read)",
        ));
    }
    let bits = match &image {
        DecodingResult::U8(_) => 8,
        DecodingResult::U16(_) => 16,
        _ => 32,
    };
    let data = match image {
        DecodingResult::U8(v) => {
            rgb_from(w, h, channels, w * channels, |i| f32::from(v[i]) / 255.0)
        }
        DecodingResult::U16(v) => {
            rgb_from(w, h, channels, w * channels, |i| f32::from(v[i]) / 65535.0)
        }
        DecodingResult::F32(v) => rgb_from(w, h, channels, w * channels, |i| v[i]),
        _ => return Err(Error::unsupported("TIFF sample type (8, 16 bits or float)")),
    };
    Ok(RgbImage {
        width: w,
        height: h,
        data,
        bits,
    })
}

/// Interleaved RGB from `channels` samples per pixel (grey replicated, alpha dropped).
fn rgb_from(
    w: usize,
    h: usize,
    channels: usize,
    stride: usize,
    sample: impl Fn(usize) -> f32,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let i = y * stride + x * channels;
            if channels < 3 {
                out.extend([sample(i); 3]);
            } else {
                out.extend([sample(i), sample(i + 1), sample(i + 2)]);
            }
        }
    }
    out
}

/// Compares `a` (the reference) with `b`.
pub fn compare(a: &RgbImage, b: &RgbImage, encoding: Encoding) -> Result<Comparison> {
    if (a.width, a.height) != (b.width, b.height) || a.data.len() != b.data.len() {
        return Err(Error::parameter(format!(
            "the images differ in size: {}x{} and {}x{}",
            a.width, a.height, b.width, b.height
        )));
    }
    if a.width == 0 || a.height == 0 || a.data.len() != a.width * a.height * 3 {
        return Err(Error::parameter("empty or malformed image"));
    }
    let mut se = [0.0f64; 3];
    let mut max_abs = 0.0f64;
    for (i, (&x, &y)) in a.data.iter().zip(&b.data).enumerate() {
        let d = f64::from(x) - f64::from(y);
        se[i % 3] += d * d;
        max_abs = max_abs.max(d.abs());
    }
    let n = (a.width * a.height) as f64;
    let psnr_of = |mse: f64| {
        if mse == 0.0 {
            f64::INFINITY
        } else {
            -10.0 * mse.log10()
        }
    };
    let psnr = se.map(|s| psnr_of(s / n));
    let cpsnr = psnr_of(se.iter().sum::<f64>() / (3.0 * n));
    // The channels in parallel: SSIM is most of a comparison's time.
    let (s0, (s1, s2)) = rayon::join(
        || ssim_channel(a, b, 0),
        || rayon::join(|| ssim_channel(a, b, 1), || ssim_channel(a, b, 2)),
    );
    let ssim = [s0, s1, s2];
    let to_xyz = OutputSpace::Srgb.to_xyz_d50();
    let mut de: Vec<f64> = a
        .data
        .chunks_exact(3)
        .zip(b.data.chunks_exact(3))
        .map(|(p, q)| ciede2000(lab(p, encoding, &to_xyz), lab(q, encoding, &to_xyz)))
        .collect();
    de.sort_by(f64::total_cmp);
    Ok(Comparison {
        width: a.width,
        height: a.height,
        psnr,
        cpsnr,
        ssim,
        ssim_mean: ssim.iter().sum::<f64>() / 3.0,
        de2000_mean: de.iter().sum::<f64>() / de.len() as f64,
        de2000_p95: de[((de.len() - 1) as f64 * 0.95).round() as usize],
        max_abs,
    })
}

/// CIELAB (D50) of one pixel.
fn lab(p: &[f32], encoding: Encoding, to_xyz: &[[f64; 3]; 3]) -> [f64; 3] {
    let linear = |v: f32| match encoding {
        Encoding::Srgb => f64::from(Transfer::Srgb.decode(v)),
        Encoding::Linear => f64::from(v),
    };
    let xyz = matrix::mul_vec(to_xyz, &[linear(p[0]), linear(p[1]), linear(p[2])]);
    xyz_d50_to_lab(xyz)
}

/// Mean SSIM of channel `c` over the 11x11 window positions inside the image (the whole
/// image, as one window, when it is smaller).
fn ssim_channel(a: &RgbImage, b: &RgbImage, c: usize) -> f64 {
    const RADIUS: usize = 5;
    const SIGMA: f64 = 1.5;
    let (c1, c2) = ((0.01f64).powi(2), (0.03f64).powi(2));
    let (w, h) = (a.width, a.height);
    let x = |i: usize| f64::from(a.data[3 * i + c]);
    let y = |i: usize| f64::from(b.data[3 * i + c]);
    let ssim = |mx: f64, my: f64, vx: f64, vy: f64, cov: f64| {
        ((2.0 * mx * my + c1) * (2.0 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    };
    if w <= 2 * RADIUS || h <= 2 * RADIUS {
        let n = (w * h) as f64;
        let (mx, my) = (
            (0..w * h).map(x).sum::<f64>() / n,
            (0..w * h).map(y).sum::<f64>() / n,
        );
        let var = |f: &dyn Fn(usize) -> f64, m: f64| {
            (0..w * h).map(|i| (f(i) - m).powi(2)).sum::<f64>() / n
        };
        let cov = (0..w * h).map(|i| (x(i) - mx) * (y(i) - my)).sum::<f64>() / n;
        return ssim(mx, my, var(&x, mx), var(&y, my), cov);
    }
    let k: Vec<f64> = (0..=2 * RADIUS)
        .map(|i| (-((i as f64 - RADIUS as f64).powi(2)) / (2.0 * SIGMA * SIGMA)).exp())
        .collect();
    let total: f64 = k.iter().sum();
    let k: Vec<f64> = k.iter().map(|v| v / total).collect();
    // Separable Gaussian moments: rows first (valid positions only), then columns.
    let ow = w - 2 * RADIUS;
    let moments = |f: &dyn Fn(usize) -> f64| -> Vec<f64> {
        let mut rows = vec![0.0f64; ow * h];
        for yy in 0..h {
            for xx in 0..ow {
                rows[yy * ow + xx] = (0..k.len()).map(|t| k[t] * f(yy * w + xx + t)).sum();
            }
        }
        let oh = h - 2 * RADIUS;
        let mut out = vec![0.0f64; ow * oh];
        for yy in 0..oh {
            for xx in 0..ow {
                out[yy * ow + xx] = (0..k.len()).map(|t| k[t] * rows[(yy + t) * ow + xx]).sum();
            }
        }
        out
    };
    let mx = moments(&x);
    let my = moments(&y);
    let mxx = moments(&|i| x(i) * x(i));
    let myy = moments(&|i| y(i) * y(i));
    let mxy = moments(&|i| x(i) * y(i));
    let sum: f64 = (0..mx.len())
        .map(|i| {
            let (ux, uy) = (mx[i], my[i]);
            ssim(ux, uy, mxx[i] - ux * ux, myy[i] - uy * uy, mxy[i] - ux * uy)
        })
        .sum();
    sum / mx.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(w: usize, h: usize, v: [f32; 3]) -> RgbImage {
        RgbImage {
            width: w,
            height: h,
            data: (0..w * h).flat_map(|_| v).collect(),
            bits: 32,
        }
    }

    #[test]
    fn a_uniform_offset_of_a_hundredth_is_40_db() {
        let (a, b) = (flat(20, 16, [0.5; 3]), flat(20, 16, [0.51; 3]));
        let r = compare(&a, &b, Encoding::Srgb).expect("compares");
        // MSE 1e-4 at peak 1 (f32 storage moves it in the seventh digit).
        assert!(r.psnr.iter().all(|p| (p - 40.0).abs() < 1e-3), "{r:?}");
        assert!((r.cpsnr - 40.0).abs() < 1e-3);
        assert!((r.max_abs - 0.01).abs() < 1e-6);
        let same = compare(&a, &a, Encoding::Srgb).expect("compares");
        assert!(same.cpsnr.is_infinite() && same.de2000_mean == 0.0);
        assert!(same.ssim.iter().all(|&s| (s - 1.0).abs() < 1e-12));
    }

    #[test]
    fn ssim_of_flat_images_is_the_luminance_term() {
        // With no variance SSIM reduces to (2 mx my + C1) / (mx^2 + my^2 + C1).
        let (mx, my) = (0.3f64, 0.6f64);
        let c1 = 1e-4;
        let want = (2.0 * mx * my + c1) / (mx * mx + my * my + c1);
        for (w, h) in [(30, 20), (7, 5)] {
            let r = compare(
                &flat(w, h, [0.3; 3]),
                &flat(w, h, [0.6; 3]),
                Encoding::Linear,
            )
            .expect("compares");
            assert!(
                r.ssim.iter().all(|s| (s - want).abs() < 1e-6),
                "{w}x{h}: {r:?}"
            );
        }
    }

    #[test]
    fn white_against_black_is_100_de2000() {
        // L* 100 against 0 with no chroma: the lightness weight is 1 at L* 50.
        let r = compare(&flat(4, 4, [1.0; 3]), &flat(4, 4, [0.0; 3]), Encoding::Srgb)
            .expect("compares");
        assert!((r.de2000_mean - 100.0).abs() < 1e-3, "{r:?}");
        assert!((r.de2000_p95 - 100.0).abs() < 1e-3);
    }

    #[test]
    fn images_of_different_sizes_are_a_parameter_error() {
        let e = compare(&flat(4, 4, [0.0; 3]), &flat(4, 5, [0.0; 3]), Encoding::Srgb)
            .expect_err("sizes differ");
        assert_eq!(e.kind(), crate::ErrorKind::Parameter);
    }

    #[test]
    fn written_images_read_back() {
        use crate::io::{EncodeOptions, Format, OutputImage, Pixels, write_atomic};
        use crate::raw::ExifInfo;
        let dir = tempfile::tempdir().expect("temp dir");
        let (w, h) = (5, 3);
        let v16: Vec<u16> = (0..w * h * 3).map(|i| (i * 4099 % 65536) as u16).collect();
        for (format, name) in [(Format::Png, "a.png"), (Format::Tiff, "a.tif")] {
            let opts = EncodeOptions {
                format,
                quality: 90,
                icc_profile: Vec::new(),
                exif: ExifInfo::default(),
                software: "test".into(),
                compression: None,
            };
            let img = OutputImage {
                width: w,
                height: h,
                pixels: Pixels::U16(v16.clone()),
            };
            let path = dir.path().join(name);
            let bytes = crate::io::encode(&img, &opts).expect("encodes");
            write_atomic(&path, &bytes, crate::io::Placement::default()).expect("writes");
            let back = read_image(&path, &Limits::default()).expect("reads");
            assert_eq!((back.width, back.height), (w, h));
            let want: Vec<f32> = v16.iter().map(|&v| f32::from(v) / 65535.0).collect();
            assert_eq!(back.data, want, "{name}");
        }
        let junk = dir.path().join("junk.png");
        std::fs::write(&junk, b"not an image").expect("written");
        let e = read_image(&junk, &Limits::default()).expect_err("junk");
        assert!(e.to_string().contains("junk.png"), "{e}");
    }
}
