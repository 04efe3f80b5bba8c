//! Headerless sensor dumps: `name.raw` beside a `name.toml` sidecar that describes it.
//!
//! ```toml
//! width = 768
//! height = 512
//! dtype = "u16le"        # u8, u16le or u16be
//! bits = 14              # significant bits per sample
//! cfa = "RGGB"           # Bayer order of the top-left 2x2 sites, or "XTRANS"
//! black = 600            # one value, or four for the 2x2 sites
//! white = 15520
//! color_matrix_d65 = [..]  # optional: XYZ (D65) -> camera, row-major, as a DNG ColorMatrix
//! wb_gains = [r, g, b]     # optional: as-shot white-balance multipliers
//! orientation = 6          # optional: EXIF orientation code 1..8 (6: turn clockwise)
//! make = "Nikon"           # optional: the camera and shot, as EXIF would give them
//! model = "D750"           #   (lens corrections look them up in lensfun's database)
//! lens = "AF-S Nikkor 24-120mm f/4G ED VR"
//! focal_length = 50.0      #   mm
//! f_number = 8.0
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{BlackLevel, CfaPattern, ColorCalibration, ExifInfo, OpcodeLists, RawImage};
use crate::color::matrix;
use crate::error::{Error, Result};
use crate::image::Rect;
use crate::limits::{Limits, try_vec};

/// The sidecar of `path` when `path` ends in `.raw`.
pub fn sidecar_path(path: &Path) -> Option<PathBuf> {
    path.extension()
        .filter(|e| e.eq_ignore_ascii_case("raw"))
        .map(|_| path.with_extension("toml"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sidecar {
    width: usize,
    height: usize,
    dtype: String,
    bits: u32,
    cfa: String,
    #[serde(default)]
    black: Levels,
    white: Option<f64>,
    color_matrix_d65: Option<Vec<f64>>,
    wb_gains: Option<[f64; 3]>,
    #[serde(default)]
    offset: usize,
    orientation: Option<u16>,
    #[allow(dead_code)]
    source: Option<String>,
    make: Option<String>,
    model: Option<String>,
    lens: Option<String>,
    focal_length: Option<f64>,
    f_number: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Levels {
    One(f64),
    PerSite(Vec<f64>),
}

impl Default for Levels {
    fn default() -> Self {
        Levels::One(0.0)
    }
}

/// Reads a headerless dump described by its sidecar.
pub fn read(path: &Path, limits: &Limits) -> Result<RawImage> {
    let side_path =
        sidecar_path(path).ok_or_else(|| Error::parameter("headerless input must end in .raw"))?;
    let text =
        std::fs::read_to_string(&side_path).map_err(|e| Error::io(e).with_path(&side_path))?;
    let s: Sidecar = toml::from_str(&text).map_err(|e| {
        Error::parameter(format!("sidecar {}: {}", side_path.display(), e.message()))
    })?;
    let samples = limits.check_image(s.width, s.height, 1)?;
    let bytes_per = match s.dtype.as_str() {
        "u8" => 1,
        "u16le" | "u16be" => 2,
        d => {
            return Err(Error::unsupported(format!(
                "sidecar dtype '{d}' (u8, u16le, u16be)"
            )));
        }
    };
    if !(1..=16).contains(&s.bits) || (bytes_per == 1 && s.bits > 8) {
        return Err(Error::parameter(format!(
            "{} bits do not fit dtype {}",
            s.bits, s.dtype
        )));
    }
    let bytes = std::fs::read(path)?;
    let need = samples * bytes_per;
    let body = bytes
        .get(s.offset..)
        .filter(|b| b.len() >= need)
        .ok_or_else(|| {
            Error::decode(format!(
                "file holds {} bytes, the sidecar needs {need}",
                bytes.len()
            ))
        })?;
    let mut data = try_vec::<u16>(samples, limits)?;
    match s.dtype.as_str() {
        "u8" => data
            .iter_mut()
            .zip(body)
            .for_each(|(d, &b)| *d = u16::from(b)),
        "u16le" => data
            .iter_mut()
            .zip(body.chunks_exact(2))
            .for_each(|(d, b)| *d = u16::from_le_bytes([b[0], b[1]])),
        _ => data
            .iter_mut()
            .zip(body.chunks_exact(2))
            .for_each(|(d, b)| *d = u16::from_be_bytes([b[0], b[1]])),
    }
    let cfa = if s.cfa.eq_ignore_ascii_case("xtrans") || s.cfa.eq_ignore_ascii_case("x-trans") {
        CfaPattern::xtrans()
    } else {
        CfaPattern::bayer(&s.cfa)?
    };
    let black = match &s.black {
        Levels::One(b) => BlackLevel::uniform(*b as f32),
        Levels::PerSite(v) if v.len() == 4 => BlackLevel {
            repeat_rows: 2,
            repeat_cols: 2,
            values: v.iter().map(|&b| b as f32).collect(),
            delta_h: vec![],
            delta_v: vec![],
        },
        Levels::PerSite(v) => {
            return Err(Error::parameter(format!(
                "black has {} values; give 1 or 4",
                v.len()
            )));
        }
    };
    let white = s.white.unwrap_or(((1u32 << s.bits) - 1) as f64) as f32;
    let color_matrix1 = match &s.color_matrix_d65 {
        Some(m) => Some(
            matrix::from_slice(m)
                .ok_or_else(|| Error::parameter("color_matrix_d65 needs 9 finite values"))?,
        ),
        None => None,
    };
    let as_shot_neutral = match s.wb_gains {
        Some(g) if g.iter().all(|&v| v > 0.0 && v.is_finite()) => Some(g.map(|v| 1.0 / v)),
        Some(_) => return Err(Error::parameter("wb_gains must be positive")),
        None => None,
    };
    let orientation = match s.orientation {
        None => 1,
        Some(o @ 1..=8) => o,
        Some(o) => {
            return Err(Error::parameter(format!(
                "orientation {o}: an EXIF orientation code is 1..8"
            )));
        }
    };
    let image = RawImage {
        width: s.width,
        height: s.height,
        samples_per_pixel: 1,
        data,
        cfa,
        linearization: None,
        black,
        white: vec![white],
        active_area: Rect::new(0, 0, s.width, s.height),
        default_crop: Rect::new(0, 0, s.width, s.height),
        orientation,
        color: ColorCalibration {
            color_matrix1,
            illuminant1: 21,
            as_shot_neutral,
            ..Default::default()
        },
        opcodes: OpcodeLists::default(),
        noise_profile: vec![],
        exif: ExifInfo {
            make: s.make,
            model: s.model,
            lens_model: s.lens,
            focal_length: s.focal_length.filter(|f| f.is_finite() && *f > 0.0),
            f_number: s.f_number.filter(|f| f.is_finite() && *f > 0.0),
            ..ExifInfo::default()
        },
        format: "headerless + TOML sidecar".into(),
        warnings: vec![],
    };
    image.validate()?;
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sidecar_orientation_is_read_and_checked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let raw = dir.path().join("dump.raw");
        std::fs::write(&raw, [10u8; 8]).expect("raw");
        let side = |extra: &str| {
            std::fs::write(
                raw.with_extension("toml"),
                format!(
                    "width = 4\nheight = 2\ndtype = \"u8\"\nbits = 8\ncfa = \"RGGB\"\nwhite = 255\n{extra}"
                ),
            )
            .expect("sidecar")
        };
        side("");
        assert_eq!(
            read(&raw, &Limits::default()).expect("reads").orientation,
            1
        );
        side("orientation = 6\n");
        assert_eq!(
            read(&raw, &Limits::default()).expect("reads").orientation,
            6
        );
        side("orientation = 9\n");
        let e = read(&raw, &Limits::default()).expect_err("9 is no orientation");
        assert!(e.to_string().contains("1..8"), "{e}");
    }
}
