//! The raw image and its readers.
//!
//! [`RawImage`] keeps the sensor samples exactly as stored (`u16` sensor DN) together with
//! everything the pipeline needs to develop them: CFA layout, black and white levels, areas,
//! orientation and the DNG colour calibration. Readers: [`dng`] (chiaro's own hardened DNG
//! reader, the phone path), [`sidecar`] (headerless dumps with a TOML sidecar) and, behind
//! the `rawler` feature, [`rawler_bridge`] for other camera formats.
//!
//! Files for a third-party decoder are first walked by chiaro's hardened structure readers
//! ([`tiff`] for every TIFF-family signature, [`bmff`] for CR3), which refuse loops,
//! impossible counts and out-of-range offsets. [`read_file_isolated`] then decodes them in
//! a worker process with memory and time limits ([`isolate`]), so that a decoder that
//! aborts or runs away costs one file, not the program.

pub mod bmff;
pub mod cfa;
pub mod dcp;
pub mod dng;
pub mod isolate;
pub mod preview;
#[cfg(feature = "rawler")]
pub mod rawler_bridge;
pub mod sidecar;
pub mod tiff;

use std::path::Path;

pub use crate::color::dng::ColorCalibration;
pub use cfa::{CfaColor, CfaPattern};
pub use isolate::{WorkerCommand, read_file_isolated};

use crate::error::{Error, Result};
use crate::image::Rect;
use crate::limits::Limits;
use crate::raw::dng::opcodes::Opcode;

/// Black level: a repeating pattern plus optional per-row and per-column deltas (DNG 1.7
/// BlackLevel, BlackLevelRepeatDim, BlackLevelDeltaH/V), in sensor DN.
#[derive(Debug, Clone, PartialEq)]
pub struct BlackLevel {
    pub repeat_rows: usize,
    pub repeat_cols: usize,
    /// `repeat_rows * repeat_cols` values, row-major.
    pub values: Vec<f32>,
    /// One delta per column of the active area (may be empty).
    pub delta_h: Vec<f32>,
    /// One delta per row of the active area (may be empty).
    pub delta_v: Vec<f32>,
}

impl BlackLevel {
    pub fn uniform(v: f32) -> Self {
        BlackLevel {
            repeat_rows: 1,
            repeat_cols: 1,
            values: vec![v],
            delta_h: vec![],
            delta_v: vec![],
        }
    }
    /// Black level at active-area row `y`, column `x`.
    #[inline]
    pub fn at(&self, y: usize, x: usize) -> f32 {
        let mut b = self.values[(y % self.repeat_rows) * self.repeat_cols + x % self.repeat_cols];
        if let Some(d) = self.delta_h.get(x) {
            b += d;
        }
        if let Some(d) = self.delta_v.get(y) {
            b += d;
        }
        b
    }
    /// Mean black level over the repeat pattern (for reporting).
    pub fn mean(&self) -> f32 {
        self.values.iter().sum::<f32>() / self.values.len().max(1) as f32
    }
}

/// EXIF facts carried from the source into outputs and reports.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ExifInfo {
    pub make: Option<String>,
    pub model: Option<String>,
    pub lens_make: Option<String>,
    pub lens_model: Option<String>,
    /// DateTimeOriginal as `YYYY:MM:DD HH:MM:SS`.
    pub date_time: Option<String>,
    pub exposure_time: Option<f64>,
    pub f_number: Option<f64>,
    pub iso: Option<u32>,
    pub focal_length: Option<f64>,
}

/// DNG opcode lists: list 1 runs on stored values, list 2 on normalised CFA data, list 3 on
/// demosaiced camera RGB (DNG 1.7 spec, chapter 7).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpcodeLists {
    pub list1: Vec<Opcode>,
    pub list2: Vec<Opcode>,
    pub list3: Vec<Opcode>,
}

/// A decoded raw frame.
#[derive(Debug, Clone)]
pub struct RawImage {
    /// Width of the stored sample grid in sensor sites.
    pub(crate) width: usize,
    pub(crate) height: usize,
    /// Samples per site: 1 for a CFA mosaic, 3 for linear (demosaiced) raw.
    pub(crate) samples_per_pixel: usize,
    /// Sensor samples, row-major, interleaved when `samples_per_pixel > 1`, in sensor DN.
    pub(crate) data: Vec<u16>,
    /// CFA layout anchored at the top-left of `data` (ignored when samples_per_pixel is 3).
    pub(crate) cfa: CfaPattern,
    /// Optional linearisation table: stored value -> linear DN.
    pub(crate) linearization: Option<Vec<u16>>,
    pub(crate) black: BlackLevel,
    /// White (saturation) level per sample plane, in linear DN.
    pub(crate) white: Vec<f32>,
    /// The area of `data` that holds image pixels (DNG ActiveArea).
    pub(crate) active_area: Rect,
    /// The crop to show, relative to the active area (DNG DefaultCropOrigin/Size).
    pub(crate) default_crop: Rect,
    /// EXIF orientation code 1..=8.
    pub(crate) orientation: u16,
    pub(crate) color: ColorCalibration,
    pub(crate) opcodes: OpcodeLists,
    /// DNG NoiseProfile: (scale, offset) pairs per plane, variance = scale * x + offset.
    pub(crate) noise_profile: Vec<(f64, f64)>,
    pub(crate) exif: ExifInfo,
    /// Name of the reader that produced this image (for `info`).
    pub(crate) format: String,
    /// Problems that did not stop the decode (skipped optional opcodes, ...).
    pub(crate) warnings: Vec<String>,
}

impl RawImage {
    // Read access for callers outside the reader (fields are set by the readers only).
    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }
    pub fn samples_per_pixel(&self) -> usize {
        self.samples_per_pixel
    }
    pub fn data(&self) -> &[u16] {
        &self.data
    }
    /// Takes the samples out without a copy, leaving the image without them (for a caller
    /// that hands them to another owner, as Python's numpy arrays; [`RawImage::with_data`]
    /// pairs the metadata with samples again).
    pub fn take_data(&mut self) -> Vec<u16> {
        std::mem::take(&mut self.data)
    }
    /// This image's metadata with `data` as its samples (`width * height *
    /// samples_per_pixel` of them, in the layout [`RawImage::data`] has). The metadata is
    /// cloned; take the samples out first so they are not cloned with it.
    pub fn with_data(&self, data: Vec<u16>) -> Result<RawImage> {
        let n = self.width * self.height * self.samples_per_pixel;
        if data.len() != n {
            return Err(Error::parameter(format!(
                "a {}x{} raw of {} sample(s) per site needs {n} samples, got {}",
                self.width,
                self.height,
                self.samples_per_pixel,
                data.len()
            )));
        }
        let mut raw = self.clone();
        raw.data = data;
        Ok(raw)
    }
    pub fn cfa(&self) -> &CfaPattern {
        &self.cfa
    }
    pub fn linearization(&self) -> Option<&[u16]> {
        self.linearization.as_deref()
    }
    pub fn black(&self) -> &BlackLevel {
        &self.black
    }
    pub fn white(&self) -> &[f32] {
        &self.white
    }
    pub fn active_area(&self) -> Rect {
        self.active_area
    }
    pub fn default_crop(&self) -> Rect {
        self.default_crop
    }
    pub fn orientation(&self) -> u16 {
        self.orientation
    }
    pub fn color(&self) -> &ColorCalibration {
        &self.color
    }
    pub fn opcodes(&self) -> &OpcodeLists {
        &self.opcodes
    }
    pub fn noise_profile(&self) -> &[(f64, f64)] {
        &self.noise_profile
    }
    pub fn exif(&self) -> &ExifInfo {
        &self.exif
    }
    pub fn format(&self) -> &str {
        &self.format
    }
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Checks the invariants the pipeline relies on; readers call it before returning.
    pub fn validate(&self) -> Result<()> {
        let spp = self.samples_per_pixel;
        if spp != 1 && spp != 3 {
            return Err(Error::unsupported(format!("{spp} samples per pixel")));
        }
        if self.data.len() != self.width * self.height * spp {
            return Err(Error::decode("sample count does not match the image size"));
        }
        if !self.active_area.fits_in(self.width, self.height) {
            return Err(Error::decode(format!(
                "active area {:?} lies outside the {}x{} image",
                self.active_area, self.width, self.height
            )));
        }
        if !self
            .default_crop
            .fits_in(self.active_area.width, self.active_area.height)
        {
            return Err(Error::decode(format!(
                "default crop {:?} lies outside the active area",
                self.default_crop
            )));
        }
        if self.white.len() != spp {
            return Err(Error::decode(
                "white level count does not match samples per pixel",
            ));
        }
        let b = &self.black;
        if b.repeat_rows == 0
            || b.repeat_cols == 0
            || b.values.len() != b.repeat_rows * b.repeat_cols
        {
            return Err(Error::decode("black level pattern is malformed"));
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !finite(&b.values) || !finite(&b.delta_h) || !finite(&b.delta_v) {
            return Err(Error::decode("black level is not a finite number"));
        }
        // The darkest white must stay above the highest black anywhere in the image, or
        // normalisation would divide by zero or invert pixels.
        let max = |v: &[f32]| v.iter().copied().fold(0.0f32, f32::max);
        let highest_black = max(&b.values) + max(&b.delta_h) + max(&b.delta_v);
        for (&w, c) in self.white.iter().zip(0..) {
            if !w.is_finite() || w <= highest_black {
                return Err(Error::decode(format!(
                    "white level {w} of plane {c} is not above the black level {highest_black}"
                )));
            }
        }
        if !(1..=8).contains(&self.orientation) {
            return Err(Error::decode(format!(
                "orientation {} is not 1..8",
                self.orientation
            )));
        }
        Ok(())
    }

    /// True when the samples are a CFA mosaic that needs demosaicing.
    pub fn is_cfa(&self) -> bool {
        self.samples_per_pixel == 1
    }
}

/// Reads any supported raw file: DNG by chiaro's own reader, `name.raw` with a `name.toml`
/// sidecar, other formats through rawler (feature `rawler`) in this process, after the
/// structural checks. Errors name the file. [`read_file_isolated`] is the same with the
/// third-party decoder in a worker process.
pub fn read_file(path: &Path, limits: &Limits) -> Result<RawImage> {
    read_file_inner(path, limits, |bytes| other_format(bytes, limits))
        .map_err(|e| e.with_path(path))
}

/// Reads the file; formats chiaro does not decode itself go to `third_party` as bytes that
/// have passed the structural checks.
pub(crate) fn read_file_inner(
    path: &Path,
    limits: &Limits,
    third_party: impl FnOnce(&[u8]) -> Result<RawImage>,
) -> Result<RawImage> {
    if sidecar::sidecar_path(path).is_some_and(|p| p.exists()) {
        return sidecar::read(path, limits);
    }
    let bytes = crate::limits::read_file_bounded(path, limits)?;
    if bytes.is_empty() {
        return Err(Error::decode("the file is empty"));
    }
    if tiff::signature(&bytes).is_some() {
        // TIFF-based: our hardened walker sees loops and absurd structures first, so they
        // never reach a third-party decoder (rawler follows IFD loops without end). A
        // DNGVersion tag, even a damaged one, makes the file ours.
        let tiff = tiff::TiffFile::parse(&bytes)?;
        if tiff::TiffFile::has_tag(&tiff.chain[0], tiff::tag::DNG_VERSION) {
            return dng::decode(&bytes, limits);
        }
        tiff::TiffFile::parse_strict(&bytes)?;
    } else if bmff::is_bmff(&bytes) {
        bmff::check(&bytes)?;
    } else if let Some(what) = not_a_raw(&bytes) {
        return Err(Error::unsupported(format!("not a camera raw: {what}")));
    }
    let other = third_party(&bytes);
    match sidecar::sidecar_path(path) {
        Some(side) => other.map_err(|e| {
            Error::new(
                e.kind(),
                format!(
                    "{}; a headerless dump needs its sidecar {}",
                    e.message(),
                    side.display()
                ),
            )
        }),
        None => other,
    }
}

/// What a file that is plainly not a camera raw is, by its first bytes: an image format
/// (PNG, JPEG, GIF, WebP, BMP) or text (a sidecar, a recipe). Camera raws are binary and
/// none starts with these signatures.
fn not_a_raw(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(512)];
    let image = [
        (&b"\x89PNG\r\n\x1a\n"[..], "it is a PNG image"),
        (&[0xFF, 0xD8, 0xFF][..], "it is a JPEG image"),
        (&b"GIF8"[..], "it is a GIF image"),
        (&b"BM"[..], "it is a BMP image"),
    ];
    if let Some((_, what)) = image.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some(what);
    }
    if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        return Some("it is a WebP image");
    }
    let text = head
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace() || b >= 0x80);
    (text && std::str::from_utf8(head).is_ok()).then_some(
        "it is a text file (a headerless NAME.raw is read with its NAME.toml; give the .raw)",
    )
}

/// Camera formats other than DNG, decoded in this process.
pub(crate) fn other_format(bytes: &[u8], limits: &Limits) -> Result<RawImage> {
    #[cfg(feature = "rawler")]
    {
        rawler_bridge::decode(Path::new(""), bytes, limits)
    }
    #[cfg(not(feature = "rawler"))]
    {
        let _ = (bytes, limits);
        Err(Error::unsupported(
            "not a DNG; other camera formats need chiaro built with the `rawler` feature",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_text_are_named_not_sent_to_a_raw_decoder() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(not_a_raw(png), Some("it is a PNG image"));
        assert_eq!(
            not_a_raw(&[0xFF, 0xD8, 0xFF, 0xE1, 0, 0]),
            Some("it is a JPEG image")
        );
        assert!(not_a_raw(b"width = 1920\nheight = 1080\n").is_some_and(|w| w.contains("text")));
        // Binary data (a raw's own bytes) is left to the decoders.
        assert_eq!(
            not_a_raw(&[0x46, 0x55, 0x4A, 0x49, 0x00, 0x01, 0xFE, 0x7F]),
            None
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("photo.png");
        std::fs::write(&path, png).expect("writes");
        let e = read_file(&path, &Limits::default()).expect_err("not a raw");
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
        assert!(
            e.to_string().contains("photo.png") && e.to_string().contains("PNG"),
            "{e}"
        );
    }

    fn raw(black: BlackLevel, white: f32) -> RawImage {
        RawImage {
            width: 4,
            height: 2,
            samples_per_pixel: 1,
            data: vec![0; 8],
            cfa: CfaPattern::xtrans(),
            linearization: None,
            black,
            white: vec![white],
            active_area: Rect::new(0, 0, 4, 2),
            default_crop: Rect::new(0, 0, 4, 2),
            orientation: 1,
            color: ColorCalibration::default(),
            opcodes: OpcodeLists::default(),
            noise_profile: vec![],
            exif: ExifInfo::default(),
            format: "test".into(),
            warnings: vec![],
        }
    }

    #[test]
    fn white_must_clear_the_highest_black_anywhere() {
        assert!(raw(BlackLevel::uniform(100.0), 1000.0).validate().is_ok());
        assert!(
            raw(BlackLevel::uniform(f32::NAN), 1000.0)
                .validate()
                .is_err()
        );
        assert!(
            raw(BlackLevel::uniform(100.0), f32::INFINITY)
                .validate()
                .is_err()
        );
        let mut b = BlackLevel::uniform(100.0);
        b.delta_v = vec![0.0, 950.0];
        assert!(
            raw(b, 1000.0).validate().is_err(),
            "row 1 black 1050 is above white"
        );
        let b = BlackLevel {
            repeat_rows: 1,
            repeat_cols: 2,
            values: vec![10.0, 1200.0],
            delta_h: vec![],
            delta_v: vec![],
        };
        assert!(raw(b, 1000.0).validate().is_err());
    }
}
