//! Colour science: matrices, white points, DNG camera calibration, output spaces.

pub mod dng;
pub mod matrix;
pub mod profile;
pub mod spaces;
pub mod temperature;
pub mod transfer;
pub mod xy;
