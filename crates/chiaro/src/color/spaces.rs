//! Output colour spaces: primaries, white, transfer and the matrix from XYZ (D50).

use serde::{Deserialize, Serialize};

use super::matrix::{self, Mat3};
use super::transfer::Transfer;
use super::xy::{D50_XY, D65_XY, bradford, rgb_to_xyz_from_primaries};
use crate::error::{Error, Result};

/// The colour space of an output image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputSpace {
    #[default]
    Srgb,
    /// Adobe RGB (1998): D65, gamma 563/256 (Adobe RGB (1998) Color Image Encoding, 2005).
    AdobeRgb,
    DisplayP3,
    Rec2020,
    Prophoto,
    /// CIE XYZ relative to D50, linear.
    Xyz,
    /// Demosaiced, white-balanced camera RGB: no colour matrix, linear.
    Camera,
}

impl OutputSpace {
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "srgb" => OutputSpace::Srgb,
            "adobe-rgb" | "adobergb" | "adobe" | "adobe-rgb-1998" => OutputSpace::AdobeRgb,
            "display-p3" | "p3" => OutputSpace::DisplayP3,
            "rec2020" | "rec-2020" | "bt2020" => OutputSpace::Rec2020,
            "prophoto" | "romm" => OutputSpace::Prophoto,
            "xyz" => OutputSpace::Xyz,
            "camera" => OutputSpace::Camera,
            _ => {
                return Err(Error::parameter(format!(
                    "unknown colour space '{name}' (srgb, adobe-rgb, display-p3, rec2020, prophoto, xyz, camera)"
                )));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            OutputSpace::Srgb => "sRGB",
            OutputSpace::AdobeRgb => "Adobe RGB (1998)",
            OutputSpace::DisplayP3 => "Display P3",
            OutputSpace::Rec2020 => "Rec.2020",
            OutputSpace::Prophoto => "ProPhoto RGB",
            OutputSpace::Xyz => "XYZ D50",
            OutputSpace::Camera => "camera RGB",
        }
    }

    /// The encoding of display-referred output (linear output always uses `Linear`).
    pub fn transfer(self) -> Transfer {
        match self {
            OutputSpace::Srgb | OutputSpace::DisplayP3 => Transfer::Srgb,
            OutputSpace::Rec2020 => Transfer::Rec709,
            OutputSpace::Prophoto => Transfer::Gamma(1.8),
            // 2 51/256, a pure power law: the encoding has no linear toe.
            OutputSpace::AdobeRgb => Transfer::Gamma(563.0 / 256.0),
            OutputSpace::Xyz | OutputSpace::Camera => Transfer::Linear,
        }
    }

    /// Primaries and white of the RGB spaces.
    fn primaries(self) -> Option<([[f64; 2]; 3], [f64; 2])> {
        Some(match self {
            OutputSpace::Srgb => ([[0.64, 0.33], [0.30, 0.60], [0.15, 0.06]], D65_XY),
            OutputSpace::AdobeRgb => ([[0.64, 0.33], [0.21, 0.71], [0.15, 0.06]], D65_XY),
            OutputSpace::DisplayP3 => ([[0.680, 0.320], [0.265, 0.690], [0.150, 0.060]], D65_XY),
            OutputSpace::Rec2020 => ([[0.708, 0.292], [0.170, 0.797], [0.131, 0.046]], D65_XY),
            OutputSpace::Prophoto => (
                [[0.7347, 0.2653], [0.1596, 0.8404], [0.0366, 0.0001]],
                D50_XY,
            ),
            OutputSpace::Xyz | OutputSpace::Camera => return None,
        })
    }

    /// Linear RGB of this space -> XYZ relative to D50 (Bradford-adapted as ICC v4 does).
    /// For `Camera` the caller supplies the camera matrix instead.
    pub fn to_xyz_d50(self) -> Mat3 {
        match self.primaries() {
            Some((p, w)) => matrix::mul(&bradford(w, D50_XY), &rgb_to_xyz_from_primaries(p, w)),
            None => matrix::IDENTITY,
        }
    }

    /// XYZ relative to D50 -> linear RGB of this space.
    pub fn from_xyz_d50(self) -> Mat3 {
        matrix::invert(&self.to_xyz_d50()).unwrap_or(matrix::IDENTITY)
    }
}

/// What an output's ICC profile describes: RGB colourants (adapted to D50) and the tone
/// curve. Plain data, so the pipeline states it and `io::icc` serialises it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputProfile {
    /// RGB of the output to XYZ relative to D50 (columns are the colourants).
    pub rgb_to_xyz_d50: Mat3,
    pub transfer: Transfer,
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_white_maps_to_d50_in_every_space() {
        for s in [
            OutputSpace::Srgb,
            OutputSpace::AdobeRgb,
            OutputSpace::DisplayP3,
            OutputSpace::Rec2020,
            OutputSpace::Prophoto,
        ] {
            let w = matrix::mul_vec(&s.to_xyz_d50(), &[1.0; 3]);
            assert!(
                (w[0] - 0.9642).abs() < 2e-3
                    && (w[1] - 1.0).abs() < 1e-9
                    && (w[2] - 0.8249).abs() < 2e-3,
                "{s:?} {w:?}"
            );
        }
        assert!(OutputSpace::from_name("Display-P3").is_ok());
        assert_eq!(
            OutputSpace::from_name("Adobe-RGB").expect("known"),
            OutputSpace::AdobeRgb
        );
        assert!(OutputSpace::from_name("adobe-wide").is_err());
    }
}
