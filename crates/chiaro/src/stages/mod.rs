//! The stages of a development, one module each, in pipeline order: black/white
//! normalisation and DNG opcodes (run by `pipeline::prepare`), defects, white balance,
//! demosaic, highlight reconstruction, colour (camera -> output space), exposure, tone
//! curve, look and 3D LUT (after the transfer function), orientation (fused into the executor's final store).
//!
//! Every recipe stage implements [`crate::pipeline::stage::Stage`] and is registered in
//! [`crate::pipeline::registry::Registry::builtin`].

pub mod awb;
pub mod black_level;
pub mod color;
pub mod defects;
pub mod demosaic;
pub mod encode;
pub mod exposure;
pub mod highlights;
pub mod lens;
pub mod look;
pub mod opcodes;
pub mod orientation;
pub mod resize;
pub mod sharpen;
pub mod tone;
pub mod white_balance;

/// Hermite smoothstep of `t` clamped to 0..1: 0 below 0, 1 above 1, with zero slope at both
/// ends (the soft transitions of the tone curve's highlight blend, looks and HDR gain).
#[inline(always)]
pub fn smoothstep(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `v` within `lo..=hi`; `v` itself when the range is empty or NaN (every sample behind it
/// NaN), where `f32::clamp` would panic.
#[inline(always)]
pub fn clamp_to(v: f32, lo: f32, hi: f32) -> f32 {
    if lo <= hi { v.max(lo).min(hi) } else { v }
}
