//! DNG camera profiles (`.dcp`, DNG 1.7 spec section 4.2): the colour tags of a DNG in a
//! TIFF-structured file of their own, so a camera can be developed with another profile.
//!
//! Read: the calibration illuminants, ColorMatrix1/2 and ForwardMatrix1/2 (the matrix part),
//! the HueSatMap of each calibration and the LookTable with their encodings, the
//! ProfileToneCurve and BaselineExposureOffset ([`crate::color::profile`] applies them).

use super::ColorCalibration;
use super::tiff::{Ifd, TiffFile, tag};
use crate::color::profile::{HsvMap, MAX_ENTRIES, ProfileCurve, ProfileTables};
use crate::error::{Error, Result};

const PROFILE_NAME: u16 = 50936;
pub(crate) const HUE_SAT_MAP_DIMS: u16 = 50937;
pub(crate) const HUE_SAT_MAP_DATA1: u16 = 50938;
pub(crate) const HUE_SAT_MAP_DATA2: u16 = 50939;
pub(crate) const TONE_CURVE: u16 = 50940;
pub(crate) const LOOK_TABLE_DIMS: u16 = 50981;
pub(crate) const LOOK_TABLE_DATA: u16 = 50982;
pub(crate) const HUE_SAT_MAP_ENCODING: u16 = 51107;
pub(crate) const LOOK_TABLE_ENCODING: u16 = 51108;
pub(crate) const BASELINE_EXPOSURE_OFFSET: u16 = 51109;

/// A camera profile: its matrices and tables in `calibration` (`calibration.profile`).
#[derive(Debug, Clone, PartialEq)]
pub struct DcpProfile {
    pub name: Option<String>,
    pub unique_camera_model: Option<String>,
    pub calibration: ColorCalibration,
}

/// The profile tables of an IFD (a `.dcp`'s, or a DNG's IFD0 for its embedded profile).
pub(crate) fn read_tables(tiff: &TiffFile, ifd: &Ifd) -> Result<ProfileTables> {
    let tone_curve = match tiff.numbers_capped(ifd, TONE_CURVE, 2 * 8192)? {
        Some(flat) => Some(ProfileCurve::new(&flat).ok_or_else(|| {
            Error::decode("ProfileToneCurve: not pairs from (0, 0) to (1, 1) with rising x")
        })?),
        None => None,
    };
    Ok(ProfileTables {
        hue_sat_map1: hsv_map(
            tiff,
            ifd,
            HUE_SAT_MAP_DIMS,
            HUE_SAT_MAP_DATA1,
            HUE_SAT_MAP_ENCODING,
        )?,
        hue_sat_map2: hsv_map(
            tiff,
            ifd,
            HUE_SAT_MAP_DIMS,
            HUE_SAT_MAP_DATA2,
            HUE_SAT_MAP_ENCODING,
        )?,
        look_table: hsv_map(
            tiff,
            ifd,
            LOOK_TABLE_DIMS,
            LOOK_TABLE_DATA,
            LOOK_TABLE_ENCODING,
        )?,
        tone_curve,
        baseline_exposure_offset: tiff
            .number(ifd, BASELINE_EXPOSURE_OFFSET)?
            .filter(|v| v.is_finite())
            .map_or(0.0, |v| v.clamp(-10.0, 10.0)),
    })
}

/// An HSV map whose dimensions and data live in the given tags (`None` when absent);
/// malformed maps are errors.
fn hsv_map(
    tiff: &TiffFile,
    ifd: &Ifd,
    dims: u16,
    data: u16,
    encoding: u16,
) -> Result<Option<HsvMap>> {
    let (Some(d), Some(flat)) = (
        tiff.uints(ifd, dims)?,
        tiff.numbers_capped(ifd, data, 3 * MAX_ENTRIES)?,
    ) else {
        return Ok(None);
    };
    let dims: [usize; 3] = match d.as_slice() {
        [h, s, v] => [*h, *s, *v].map(|x| usize::try_from(x).unwrap_or(usize::MAX)),
        [h, s] => [*h as usize, *s as usize, 1],
        _ => {
            return Err(Error::decode(format!(
                "tag {dims}: three dimensions expected"
            )));
        }
    };
    let srgb = tiff.uint(ifd, encoding)? == Some(1);
    HsvMap::new(dims, srgb, &flat).map(Some).ok_or_else(|| {
        Error::decode(format!(
            "tag {data}: a {dims:?} map does not fit its {} values",
            flat.len()
        ))
    })
}

/// Parses a `.dcp` file.
pub fn parse(bytes: &[u8]) -> Result<DcpProfile> {
    if bytes.len() < 4 || !(bytes.starts_with(b"IIRC") || bytes.starts_with(b"MMCR")) {
        return Err(Error::decode(
            "not a DNG camera profile (magic IIRC/MMCR missing)",
        ));
    }
    let tiff = TiffFile::parse(bytes)?;
    let ifd = &tiff.chain[0];
    let mat = |t| -> Result<Option<crate::color::matrix::Mat3>> {
        Ok(tiff
            .numbers(ifd, t)?
            .and_then(|v| crate::color::matrix::from_slice(&v)))
    };
    let ill =
        |t| -> Result<u16> { Ok(tiff.uint(ifd, t)?.unwrap_or(0).min(u64::from(u16::MAX)) as u16) };
    let calibration = ColorCalibration {
        color_matrix1: mat(tag::COLOR_MATRIX1)?,
        color_matrix2: mat(tag::COLOR_MATRIX2)?,
        forward_matrix1: mat(tag::FORWARD_MATRIX1)?,
        forward_matrix2: mat(tag::FORWARD_MATRIX2)?,
        illuminant1: ill(tag::CALIBRATION_ILLUMINANT1)?,
        illuminant2: ill(tag::CALIBRATION_ILLUMINANT2)?,
        ..Default::default()
    };
    if !calibration.has_matrix() {
        return Err(Error::decode("camera profile has no ColorMatrix"));
    }
    let mut calibration = calibration;
    calibration.profile = read_tables(&tiff, ifd)?;
    Ok(DcpProfile {
        name: tiff.text(ifd, PROFILE_NAME),
        unique_camera_model: tiff.text(ifd, tag::UNIQUE_CAMERA_MODEL),
        calibration,
    })
}

impl DcpProfile {
    /// Replaces the matrix part of a raw's calibration by this profile's, keeping the
    /// shot's as-shot white, analog balance and baseline exposure.
    pub fn apply_to(&self, cal: &mut ColorCalibration) {
        let p = &self.calibration;
        cal.color_matrix1 = p.color_matrix1;
        cal.color_matrix2 = p.color_matrix2;
        cal.forward_matrix1 = p.forward_matrix1;
        cal.forward_matrix2 = p.forward_matrix2;
        cal.illuminant1 = p.illuminant1;
        cal.illuminant2 = p.illuminant2;
        cal.camera_calibration1 = None;
        cal.camera_calibration2 = None;
        cal.profile = p.profile.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_profiles_are_rejected() {
        assert!(parse(b"II*\0\x08\0\0\0").is_err());
        assert!(parse(b"IIRC").is_err());
        assert!(parse(b"").is_err());
    }
}
