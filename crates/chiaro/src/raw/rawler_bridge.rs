//! Camera formats other than DNG (CR2, CR3, NEF, ARW, RAF, ORF, RW2, ...) through `rawler`
//! (LGPL-2.1, behind the default-on `rawler` feature).
//!
//! rawler's README says it is not panic-free on untrusted input, so every call runs inside
//! `catch_unwind` and a panic becomes a decode error. Its allocations happen inside rawler,
//! so limits are checked on the decoded size; a hostile header can still make rawler
//! allocate before we see it, which is why the CLI runs this in a worker process
//! ([`super::isolate`]) with a memory limit, after chiaro's structural checks.

use std::path::Path;

use rawler::decoders::RawDecodeParams;
use rawler::imgop::xyz::Illuminant;
use rawler::rawimage::{RawImageData, RawPhotometricInterpretation};
use rawler::rawsource::RawSource;

use super::{BlackLevel, CfaPattern, ColorCalibration, ExifInfo, OpcodeLists, RawImage};
use crate::color::matrix;
use crate::error::{Error, Result};
use crate::image::Rect;
use crate::limits::Limits;

/// Decodes a camera raw with rawler and converts it to chiaro's [`RawImage`].
pub fn decode(_path: &Path, bytes: &[u8], limits: &Limits) -> Result<RawImage> {
    let source = RawSource::new_from_slice(bytes);
    let params = RawDecodeParams::default();
    let decoded = super::isolate::guarded(|| {
        let image = rawler::decode(&source, &params)?;
        let meta = rawler::get_decoder(&source)
            .and_then(|d| d.raw_metadata(&source, &params))
            .ok();
        Ok::<_, rawler::RawlerError>((image, meta))
    });
    let (img, meta) = match decoded {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(classify(&e.to_string())),
        Err(_) => {
            return Err(Error::decode(
                "the camera-raw decoder failed on this file (internal panic caught)",
            ));
        }
    };
    convert(img, meta, limits)
}

fn classify(msg: &str) -> Error {
    // rawler's messages may span lines; errors here are one line each.
    let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    let msg = msg.as_str();
    let lower = msg.to_ascii_lowercase();
    // rawler turns its own caught panics into a message that sends users to its tracker;
    // say what happened in chiaro's words instead.
    if lower.contains("caught a panic") {
        return Error::decode(
            "camera raw: the decoder failed on this file (internal panic caught); it is damaged or not supported",
        );
    }
    if lower.contains("unsupported")
        || lower.contains("couldn't find")
        || lower.contains("not supported")
        || lower.contains("unknown camera")
    {
        Error::unsupported(format!("camera raw: {msg}"))
    } else {
        Error::decode(format!("camera raw: {msg}"))
    }
}

fn rect(r: &rawler::imgop::Rect) -> Rect {
    Rect::new(r.p.x, r.p.y, r.d.w, r.d.h)
}

fn convert(
    img: rawler::RawImage,
    meta: Option<rawler::decoders::RawMetadata>,
    limits: &Limits,
) -> Result<RawImage> {
    let (width, height, spp) = (img.width, img.height, img.cpp);
    limits.check_image(width, height, spp)?;
    let cfa = match &img.photometric {
        RawPhotometricInterpretation::Cfa(c) => {
            let (pw, ph) = (c.cfa.width, c.cfa.height);
            if pw == 0 || ph == 0 || pw > 6 || ph > 6 {
                return Err(Error::unsupported(format!("{pw}x{ph} CFA pattern")));
            }
            let colors: Vec<u8> = (0..ph * pw)
                .map(|i| c.cfa.color_at(i / pw, i % pw).min(255) as u8)
                .collect();
            CfaPattern::new(pw, ph, &colors)?
        }
        RawPhotometricInterpretation::LinearRaw if spp == 3 => CfaPattern::bayer("RGGB")?,
        _ => return Err(Error::unsupported("monochrome or non-RGB sensor data")),
    };
    if spp != 1 && spp != 3 {
        return Err(Error::unsupported(format!("{spp} components per pixel")));
    }
    let data = match img.data {
        RawImageData::Integer(d) => d,
        RawImageData::Float(_) => return Err(Error::unsupported("floating-point raw data")),
    };
    if data.len() != width * height * spp {
        return Err(Error::decode(
            "decoded sample count does not match the image size",
        ));
    }
    let bl = &img.blacklevel;
    let levels = bl.as_vec();
    let (bw, bh) = (bl.width.max(1), bl.height.max(1));
    let values: Vec<f32> = if levels.len() == bw * bh * bl.cpp.max(1) {
        levels.iter().step_by(bl.cpp.max(1)).copied().collect()
    } else {
        vec![levels.first().copied().unwrap_or(0.0)]
    };
    let (repeat_rows, repeat_cols) = if values.len() == bw * bh {
        (bh, bw)
    } else {
        (1, 1)
    };
    let white_all = img.whitelevel.as_vec();
    let white: Vec<f32> = (0..spp)
        .map(|s| {
            white_all
                .get(s)
                .or(white_all.first())
                .copied()
                .unwrap_or(65535.0)
        })
        .collect();
    let active_area = img
        .active_area
        .as_ref()
        .map(rect)
        .filter(|r| r.fits_in(width, height))
        .unwrap_or(Rect::new(0, 0, width, height));
    let default_crop = img
        .crop_area
        .as_ref()
        .map(rect)
        .and_then(|c| {
            let r = Rect::new(
                c.x.checked_sub(active_area.x)?,
                c.y.checked_sub(active_area.y)?,
                c.width,
                c.height,
            );
            r.fits_in(active_area.width, active_area.height)
                .then_some(r)
        })
        .unwrap_or(Rect::new(0, 0, active_area.width, active_area.height));

    let mut color = ColorCalibration::default();
    let mut mats: Vec<(Illuminant, Vec<f32>)> = img
        .color_matrix
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    mats.sort_by_key(|(k, _)| *k as u16);
    let to_mat = |v: &[f32]| {
        matrix::from_slice(&v.iter().take(9).map(|&x| f64::from(x)).collect::<Vec<_>>())
    };
    if let Some((ill, m)) = mats.first() {
        color.color_matrix1 = to_mat(m);
        color.illuminant1 = *ill as u16;
    }
    if let Some((ill, m)) = mats.get(1) {
        color.color_matrix2 = to_mat(m);
        color.illuminant2 = *ill as u16;
    }
    let wb = img.wb_coeffs;
    if wb[..3].iter().all(|v| v.is_finite() && *v > 0.0) {
        color.as_shot_neutral = Some([0, 1, 2].map(|c| 1.0 / f64::from(wb[c])));
    }

    let exif = meta
        .map(|m| {
            let e = &m.exif;
            let rat = |r: &Option<rawler::formats::tiff::Rational>| {
                r.as_ref()
                    .filter(|r| r.d != 0)
                    .map(|r| f64::from(r.n) / f64::from(r.d))
            };
            ExifInfo {
                make: Some(m.make.clone()).filter(|s| !s.is_empty()),
                model: Some(m.model.clone()).filter(|s| !s.is_empty()),
                lens_make: e.lens_make.clone(),
                lens_model: e
                    .lens_model
                    .clone()
                    .or_else(|| m.lens.as_ref().map(|l| l.lens_model.clone())),
                date_time: e.date_time_original.clone(),
                exposure_time: rat(&e.exposure_time),
                f_number: rat(&e.fnumber),
                iso: e.iso_speed.or(e.iso_speed_ratings.map(u32::from)),
                focal_length: rat(&e.focal_length),
            }
        })
        .unwrap_or_else(|| ExifInfo {
            make: Some(img.clean_make.clone()),
            model: Some(img.clean_model.clone()),
            ..Default::default()
        });

    let orientation = match img.orientation.to_u16() {
        o @ 1..=8 => o,
        _ => 1,
    };
    let image = RawImage {
        width,
        height,
        samples_per_pixel: spp,
        data,
        cfa,
        linearization: None,
        black: BlackLevel {
            repeat_rows,
            repeat_cols,
            values,
            delta_h: vec![],
            delta_v: vec![],
        },
        white,
        active_area,
        default_crop,
        orientation,
        color,
        opcodes: OpcodeLists::default(),
        noise_profile: vec![],
        exif,
        format: format!("camera raw via rawler ({})", img.camera.make),
        warnings: vec![],
    };
    image.validate()?;
    Ok(image)
}
