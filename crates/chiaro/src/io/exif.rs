//! EXIF metadata for output files.
//!
//! `fields` turns an [`ExifInfo`] into one list of TIFF/EXIF entries that every container
//! shares: JPEG and PNG embed it as a TIFF-structured blob ([`exif_blob`]), TIFF writes the same
//! entries straight into its own IFD0 and Exif sub-IFD. Only facts that are known are written.

use std::io::Cursor;

use ::exif::experimental::Writer;
use ::exif::{Context, In, Tag};

use super::Format;
use crate::error::{Error, Result};
use crate::raw::ExifInfo;

/// IFD0 (TIFF context) tag numbers.
pub(crate) const TAG_MAKE: u16 = 0x010F;
pub(crate) const TAG_MODEL: u16 = 0x0110;
pub(crate) const TAG_ORIENTATION: u16 = 0x0112;
pub(crate) const TAG_X_RESOLUTION: u16 = 0x011A;
pub(crate) const TAG_Y_RESOLUTION: u16 = 0x011B;
pub(crate) const TAG_RESOLUTION_UNIT: u16 = 0x0128;
pub(crate) const TAG_SOFTWARE: u16 = 0x0131;
pub(crate) const TAG_DATE_TIME: u16 = 0x0132;
pub(crate) const TAG_YCBCR_POSITIONING: u16 = 0x0213;
/// Exif IFD tag numbers.
pub(crate) const TAG_EXPOSURE_TIME: u16 = 0x829A;
pub(crate) const TAG_F_NUMBER: u16 = 0x829D;
pub(crate) const TAG_PHOTOGRAPHIC_SENSITIVITY: u16 = 0x8827;
pub(crate) const TAG_EXIF_VERSION: u16 = 0x9000;
pub(crate) const TAG_DATE_TIME_ORIGINAL: u16 = 0x9003;
pub(crate) const TAG_COMPONENTS_CONFIGURATION: u16 = 0x9101;
pub(crate) const TAG_FOCAL_LENGTH: u16 = 0x920A;
pub(crate) const TAG_FLASHPIX_VERSION: u16 = 0xA000;
pub(crate) const TAG_COLOR_SPACE: u16 = 0xA001;
pub(crate) const TAG_PIXEL_X_DIMENSION: u16 = 0xA002;
pub(crate) const TAG_PIXEL_Y_DIMENSION: u16 = 0xA003;
pub(crate) const TAG_LENS_MAKE: u16 = 0xA433;
pub(crate) const TAG_LENS_MODEL: u16 = 0xA434;

/// Longest string written, in bytes: keeps the blob far below the 64 KiB JPEG APP1 limit
/// whatever a source file put in its Make or LensModel.
const MAX_STRING: usize = 1024;

/// A value in one of the few TIFF types chiaro writes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// ASCII bytes without the terminating NUL.
    Ascii(Vec<u8>),
    Short(u16),
    Long(u32),
    /// Unsigned rational `numerator / denominator`.
    Rational(u32, u32),
    Undefined(Vec<u8>),
}

/// One entry: its tag number, whether it lives in the Exif sub-IFD (else IFD0), and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub tag: u16,
    pub exif_ifd: bool,
    pub value: Value,
}

/// What the container needs said about the image itself, beyond the camera's facts: the
/// tags EXIF 2.32 requires for it (resolution, pixel dimensions, colour space, ...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ImageFacts {
    pub width: u32,
    pub height: u32,
    pub format: Format,
    /// The embedded ICC profile is sRGB, so ColorSpace may say 1 (else 0xFFFF, uncalibrated).
    pub srgb: bool,
}

/// The entries describing an output image, IFD0 ones first. The pixels are already rotated,
/// so Orientation is always 1. DateTime (IFD0, "file changed") repeats the capture time rather
/// than the wall clock, so that developing the same file twice gives byte-identical outputs.
pub(crate) fn fields(exif: &ExifInfo, software: &str, image: Option<ImageFacts>) -> Vec<Field> {
    let mut out = Vec::new();
    let mut push = |tag: u16, exif_ifd: bool, value: Option<Value>| {
        if let Some(value) = value {
            out.push(Field {
                tag,
                exif_ifd,
                value,
            });
        }
    };
    push(TAG_MAKE, false, ascii(exif.make.as_deref()));
    push(TAG_MODEL, false, ascii(exif.model.as_deref()));
    push(TAG_ORIENTATION, false, Some(Value::Short(1)));
    // PNG states resolution in its own pHYs chunk; leaving both out means "unspecified".
    if let Some(img) = image.filter(|i| i.format != Format::Png) {
        // 72 dpi: the conventional "no particular print size".
        push(TAG_X_RESOLUTION, false, Some(Value::Rational(72, 1)));
        push(TAG_Y_RESOLUTION, false, Some(Value::Rational(72, 1)));
        push(TAG_RESOLUTION_UNIT, false, Some(Value::Short(2)));
        if img.format == Format::Jpeg {
            // Centred chroma, as JPEG/JFIF samples it.
            push(TAG_YCBCR_POSITIONING, false, Some(Value::Short(1)));
        }
    }
    push(TAG_SOFTWARE, false, ascii(Some(software)));
    let date = exif.date_time.as_deref().and_then(exif_date);
    push(TAG_DATE_TIME, false, date.clone());

    let exposure = exif
        .exposure_time
        .and_then(exposure_rational)
        .map(|(n, d)| Value::Rational(n, d));
    let f_number = exif
        .f_number
        .and_then(rational)
        .map(|(n, d)| Value::Rational(n, d));
    // PhotographicSensitivity is a SHORT; higher ISOs saturate at 65535 as EXIF 2.3 prescribes.
    let iso = exif
        .iso
        .filter(|&i| i > 0)
        .map(|i| Value::Short(u16::try_from(i).unwrap_or(u16::MAX)));
    let focal = exif
        .focal_length
        .and_then(rational)
        .map(|(n, d)| Value::Rational(n, d));
    let mut exif_fields = vec![
        (TAG_EXPOSURE_TIME, exposure),
        (TAG_F_NUMBER, f_number),
        (TAG_PHOTOGRAPHIC_SENSITIVITY, iso),
        (TAG_DATE_TIME_ORIGINAL, date),
        (TAG_FOCAL_LENGTH, focal),
        (TAG_LENS_MAKE, ascii(exif.lens_make.as_deref())),
        (TAG_LENS_MODEL, ascii(exif.lens_model.as_deref())),
    ];
    if let Some(img) = image {
        let jpeg = img.format == Format::Jpeg;
        // Pixel dimensions describe compressed data; a TIFF has them in IFD0 already.
        let compressed = img.format != Format::Tiff;
        let color_space = if img.srgb { 1 } else { 0xFFFF };
        exif_fields.extend([
            (
                TAG_COMPONENTS_CONFIGURATION,
                jpeg.then(|| Value::Undefined(vec![1, 2, 3, 0])),
            ),
            (
                TAG_FLASHPIX_VERSION,
                Some(Value::Undefined(b"0100".to_vec())),
            ),
            (TAG_COLOR_SPACE, Some(Value::Short(color_space))),
            (
                TAG_PIXEL_X_DIMENSION,
                compressed.then_some(Value::Long(img.width)),
            ),
            (
                TAG_PIXEL_Y_DIMENSION,
                compressed.then_some(Value::Long(img.height)),
            ),
        ]);
    }
    if exif_fields.iter().any(|(_, v)| v.is_some()) {
        // ExifVersion is mandatory in an Exif IFD.
        push(
            TAG_EXIF_VERSION,
            true,
            Some(Value::Undefined(b"0232".to_vec())),
        );
        for (tag, value) in exif_fields {
            push(tag, true, value);
        }
    }
    out
}

/// A TIFF-structured EXIF blob (the JPEG APP1 payload after `Exif\0\0`, the PNG eXIf chunk):
/// IFD0 with Make, Model, Orientation = 1, Software and DateTime, and an Exif IFD with
/// DateTimeOriginal, ExposureTime, FNumber, PhotographicSensitivity, FocalLength, LensMake and
/// LensModel, each only when known.
pub fn exif_blob(exif: &ExifInfo, software: &str) -> Result<Vec<u8>> {
    blob(exif, software, None)
}

/// [`exif_blob`] plus the tags that describe the image itself, for JPEG and PNG outputs.
pub(crate) fn blob(exif: &ExifInfo, software: &str, image: Option<ImageFacts>) -> Result<Vec<u8>> {
    let fields: Vec<::exif::Field> = fields(exif, software, image)
        .into_iter()
        .map(|f| ::exif::Field {
            tag: Tag(
                if f.exif_ifd {
                    Context::Exif
                } else {
                    Context::Tiff
                },
                f.tag,
            ),
            ifd_num: In::PRIMARY,
            value: match f.value {
                Value::Ascii(s) => ::exif::Value::Ascii(vec![s]),
                Value::Short(v) => ::exif::Value::Short(vec![v]),
                Value::Long(v) => ::exif::Value::Long(vec![v]),
                Value::Rational(num, denom) => {
                    ::exif::Value::Rational(vec![::exif::Rational { num, denom }])
                }
                Value::Undefined(b) => ::exif::Value::Undefined(b, 0),
            },
        })
        .collect();
    let mut writer = Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut buf = Cursor::new(Vec::new());
    writer
        .write(&mut buf, false)
        .map_err(|e| Error::encode(format!("EXIF: {e}")))?;
    Ok(buf.into_inner())
}

/// A non-empty string as ASCII bytes, NULs dropped and the length capped (on a character
/// boundary). Non-ASCII UTF-8 is kept as is: readers in practice decode it as UTF-8.
fn ascii(s: Option<&str>) -> Option<Value> {
    let s = s?.trim();
    let mut end = s.len().min(MAX_STRING);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let bytes: Vec<u8> = s[..end].bytes().filter(|&b| b != 0).collect();
    (!bytes.is_empty()).then_some(Value::Ascii(bytes))
}

/// Accepts only the EXIF date form `YYYY:MM:DD HH:MM:SS` (19 characters), so a malformed
/// source date is dropped rather than copied into the output.
fn exif_date(s: &str) -> Option<Value> {
    let b = s.trim().as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    let shape_ok = b.len() == 19
        && digits.iter().all(|&i| b[i].is_ascii_digit())
        && b[4] == b':'
        && b[7] == b':'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':';
    shape_ok.then(|| Value::Ascii(b.to_vec()))
}

/// Exposure times shorter than a second are written as `1/n` (the way cameras and viewers
/// show them) when that is within 0.1 % of the value; anything else as a decimal rational.
fn exposure_rational(t: f64) -> Option<(u32, u32)> {
    if t.is_finite() && t > 0.0 && t < 1.0 {
        let n = (1.0 / t).round();
        if n >= 1.0 && n <= u32::MAX as f64 && ((1.0 / n) - t).abs() <= 1e-3 * t {
            return Some((1, n as u32));
        }
    }
    rational(t)
}

/// A non-negative finite value as a reduced decimal rational with up to six decimals.
fn rational(x: f64) -> Option<(u32, u32)> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    for decimals in 0..=6 {
        let den = 10u64.pow(decimals);
        let num = (x * den as f64).round();
        if num > u32::MAX as f64 {
            return None;
        }
        let exact = (num / den as f64 - x).abs() <= 1e-9 * x.max(1.0);
        if exact || decimals == 6 {
            let num = num as u64;
            let g = gcd(num, den);
            let (n, d) = (num / g, den / g);
            return Some((u32::try_from(n).ok()?, u32::try_from(d).ok()?));
        }
    }
    None
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ExifInfo {
        ExifInfo {
            make: Some("Acme".into()),
            model: Some("Model X".into()),
            lens_make: None,
            lens_model: Some("50mm f/1.8".into()),
            date_time: Some("2024:05:06 07:08:09".into()),
            exposure_time: Some(1.0 / 250.0),
            f_number: Some(2.8),
            iso: Some(400),
            focal_length: Some(50.0),
        }
    }

    #[test]
    fn rationals_are_reduced_and_exposures_use_one_over_n() {
        assert_eq!(exposure_rational(1.0 / 250.0), Some((1, 250)));
        assert_eq!(exposure_rational(1.0 / 3.0), Some((1, 3)));
        assert_eq!(exposure_rational(2.5), Some((5, 2)));
        assert_eq!(exposure_rational(0.3), Some((3, 10)));
        assert_eq!(rational(2.8), Some((14, 5)));
        assert_eq!(rational(50.0), Some((50, 1)));
        assert_eq!(rational(f64::NAN), None);
        assert_eq!(rational(-1.0), None);
    }

    #[test]
    fn malformed_dates_and_empty_strings_are_dropped() {
        assert!(exif_date("2024:05:06 07:08:09").is_some());
        assert!(exif_date("2024-05-06T07:08:09").is_none());
        assert!(exif_date("").is_none());
        assert_eq!(ascii(Some("  ")), None);
        assert_eq!(ascii(Some("a\0b")), Some(Value::Ascii(b"ab".to_vec())));
    }

    #[test]
    fn unknown_facts_leave_no_exif_ifd() {
        let f = fields(&ExifInfo::default(), "chiaro", None);
        assert!(f.iter().all(|f| !f.exif_ifd));
        assert!(
            f.iter()
                .any(|f| f.tag == TAG_ORIENTATION && f.value == Value::Short(1))
        );
    }

    #[test]
    fn blob_parses_back_with_kamadak_exif() {
        let blob = exif_blob(&info(), "chiaro 0.1").expect("blob");
        let exif = ::exif::Reader::new().read_raw(blob).expect("parse");
        let ascii_of = |tag: Tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
            Some(::exif::Value::Ascii(v)) => v.first().cloned().unwrap_or_default(),
            other => panic!("{tag}: {other:?}"),
        };
        assert_eq!(ascii_of(Tag::Make), b"Acme");
        assert_eq!(ascii_of(Tag::Software), b"chiaro 0.1");
        assert_eq!(ascii_of(Tag::DateTimeOriginal), b"2024:05:06 07:08:09");
        assert_eq!(ascii_of(Tag::LensModel), b"50mm f/1.8");
        let orientation = exif
            .get_field(Tag::Orientation, In::PRIMARY)
            .expect("orientation");
        assert_eq!(orientation.value.get_uint(0), Some(1));
        let iso = exif
            .get_field(Tag::PhotographicSensitivity, In::PRIMARY)
            .expect("iso");
        assert_eq!(iso.value.get_uint(0), Some(400));
        match &exif
            .get_field(Tag::ExposureTime, In::PRIMARY)
            .expect("t")
            .value
        {
            ::exif::Value::Rational(r) => assert_eq!((r[0].num, r[0].denom), (1, 250)),
            other => panic!("{other:?}"),
        }
        assert!(exif.get_field(Tag::LensMake, In::PRIMARY).is_none());
    }
}
