//! Output encoding: the transfer function of the output space, as a per-sample kernel the
//! executor places before the first stage that takes encoded values, or at the end.
//!
//! The power laws are evaluated as `exp2(p * log2(x))` with short polynomials on the float's
//! exponent and mantissa ([`crate::fastmath`]), branch-free, so the per-row loop vectorises
//! (a table lookup per sample cannot). Accuracy: within 2e-6 of [`Transfer::encode`], a
//! seventh of a 16-bit step.
//!
//! # Units
//! In: display-referred linear RGB (0..1; values outside are clamped). Out: encoded code
//! values 0..1 (sRGB, Rec.709, gamma).
//!
//! # References
//! IEC 61966-2-1 (sRGB), ITU-R BT.709-6 (the OETF).

use crate::color::transfer::Transfer;
use crate::fastmath;
use crate::pipeline::stage::{PointKernel, RowAt};

/// Encodes linear light by one transfer function: `scale * x^power - offset` above `toe`,
/// `slope * x` at or below it.
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    power: f32,
    scale: f32,
    offset: f32,
    toe: f32,
    slope: f32,
}

impl Encoder {
    pub fn new(t: Transfer) -> Self {
        let (power, scale, offset, toe, slope) = match t {
            Transfer::Linear => (1.0, 1.0, 0.0, 0.0, 1.0),
            Transfer::Srgb => (1.0 / 2.4, 1.055, 0.055, 0.003_130_8, 12.92),
            Transfer::Rec709 => (0.45, 1.099_296_8, 0.099_296_8, 0.018_053_97, 4.5),
            Transfer::Gamma(g) => (1.0 / g as f32, 1.0, 0.0, 0.0, 0.0),
        };
        Encoder {
            power,
            scale,
            offset,
            toe,
            slope,
        }
    }

    /// Encodes one value (clamped to 0..1 first).
    #[inline(always)]
    pub fn encode(&self, v: f32) -> f32 {
        let x = v.clamp(0.0, 1.0);
        // Keep log2 on normal floats; 0 itself is handled below.
        let p = self.scale * fastmath::pow(x.max(f32::MIN_POSITIVE), self.power) - self.offset;
        let encoded = if x <= self.toe { self.slope * x } else { p };
        if x > 0.0 { encoded } else { 0.0 }
    }
}

impl Encoder {
    /// The inverse of [`Encoder::encode`]: linear light (0..1) of a code value (clamped to
    /// 0..1 first), as fast and as accurate.
    #[inline(always)]
    pub fn decode(&self, v: f32) -> f32 {
        let v = v.clamp(0.0, 1.0);
        let base = ((v + self.offset) / self.scale).max(f32::MIN_POSITIVE);
        let p = fastmath::pow(base, 1.0 / self.power);
        let linear = if v <= self.toe * self.slope {
            v / self.slope
        } else {
            p
        };
        if v > 0.0 { linear } else { 0.0 }
    }
}

impl PointKernel for Encoder {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        encode_row(self, row);
    }
}

/// [`Encoder::encode`] over a row, compiled for the widest vectors the CPU has (runtime
/// dispatch). No fused multiply-adds are formed, so every version gives the same bits.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn encode_row(enc: &Encoder, row: &mut [f32]) {
    row.iter_mut().for_each(|v| *v = enc.encode(*v));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the transfer in f64 (the formulas of the standards).
    fn reference(t: Transfer, x: f64) -> f64 {
        match t {
            Transfer::Linear => x,
            Transfer::Srgb if x <= 0.003_130_8 => 12.92 * x,
            Transfer::Srgb => 1.055 * x.powf(1.0 / 2.4) - 0.055,
            Transfer::Rec709 if x < 0.018_053_97 => 4.5 * x,
            Transfer::Rec709 => 1.099_296_8 * x.powf(0.45) - 0.099_296_8,
            Transfer::Gamma(g) => x.powf(1.0 / g),
        }
    }

    #[test]
    fn encoder_matches_the_standard_curves_within_a_seventh_of_a_16_bit_step() {
        for t in [
            Transfer::Srgb,
            Transfer::Rec709,
            Transfer::Gamma(1.8),
            Transfer::Gamma(2.2),
        ] {
            let enc = Encoder::new(t);
            let worst = (0..=1_000_000)
                .map(|i| i as f64 / 1_000_000.0)
                .chain((1..200).map(|i| 2f64.powi(-i / 5)))
                .map(|x| (f64::from(enc.encode(x as f32)) - reference(t, x)).abs())
                .fold(0.0f64, f64::max);
            assert!(worst < 2e-6, "{t:?}: {worst}");
            assert!((enc.encode(2.0) - 1.0).abs() < 1e-6);
            assert_eq!(enc.encode(-1.0), 0.0);
            assert_eq!(enc.encode(f32::NAN.max(0.0)), 0.0);
        }
    }

    /// The decoder against the standards' inverse curves in f64.
    #[test]
    fn decoder_inverts_the_standard_curves() {
        let inverse = |t: Transfer, v: f64| match t {
            Transfer::Srgb if v <= 0.040_45 => v / 12.92,
            Transfer::Srgb => ((v + 0.055) / 1.055).powf(2.4),
            Transfer::Rec709 if v < 0.081_242_86 => v / 4.5,
            Transfer::Rec709 => ((v + 0.099_296_8) / 1.099_296_8).powf(1.0 / 0.45),
            Transfer::Gamma(g) => v.powf(g),
            Transfer::Linear => v,
        };
        for t in [Transfer::Srgb, Transfer::Rec709, Transfer::Gamma(1.8)] {
            let enc = Encoder::new(t);
            let worst = (0..=100_000)
                .map(|i| i as f64 / 100_000.0)
                .map(|v| (f64::from(enc.decode(v as f32)) - inverse(t, v)).abs())
                .fold(0.0f64, f64::max);
            assert!(worst < 2e-6, "{t:?}: {worst}");
            assert_eq!(enc.decode(-0.5), 0.0);
            assert!((enc.decode(1.5) - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn dispatched_rows_equal_the_scalar_encoder() {
        let enc = Encoder::new(Transfer::Srgb);
        let mut row: Vec<f32> = (0..10_007)
            .map(|i| (i as f32 * 0.618).fract() * 1.2 - 0.1)
            .collect();
        let want: Vec<f32> = row.iter().map(|&v| enc.encode(v)).collect();
        encode_row(&enc, &mut row);
        assert!(
            row.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
