//! Colour science: matrices, white points, DNG camera calibration, output spaces.

pub mod matrix;
pub mod transfer;
pub mod dcp;
pub mod dng;
pub mod spaces;
pub mod temperature;
pub mod xy;
