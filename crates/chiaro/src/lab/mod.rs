//! Image-quality lab: metrics and synthetic test data with known ground truth.

pub mod awb;
pub mod compare;
pub mod demosaicing;
pub mod metrics;
pub mod rng;
pub mod saturated;
#[cfg(any(test, feature = "test-support"))]
pub mod synth;
