//! Image-quality lab: metrics and synthetic test data with known ground truth.

pub mod metrics;
pub mod synth;
