//! DNG camera profiles (`.dcp`, DNG 1.7 spec section 4.2): the colour tags of a DNG in a
//! TIFF-structured file of their own, so a camera can be developed with another profile.
//!
//! Read today: the calibration illuminants, ColorMatrix1/2 and ForwardMatrix1/2 (the
//! matrix part of the profile). HueSatMap, LookTable and the tone curve are not applied yet.

use super::ColorCalibration;
use super::tiff::{TiffFile, tag};
use crate::error::{Error, Result};

const PROFILE_NAME: u16 = 50936;

/// The matrix part of a camera profile.
#[derive(Debug, Clone, PartialEq)]
pub struct DcpProfile {
    pub name: Option<String>,
    pub unique_camera_model: Option<String>,
    pub calibration: ColorCalibration,
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
