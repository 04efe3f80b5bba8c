//! Colour science: matrices, white points, DNG camera calibration, output spaces.

pub mod matrix;
pub mod transfer;
