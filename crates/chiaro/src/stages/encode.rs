//! Output encoding: the transfer function of the output space, as a per-sample kernel the
//! executor places before the first stage that takes encoded values, or at the end.
//!
//! The power laws are evaluated as `exp2(p * log2(x))` with short polynomials on the float's
//! exponent and mantissa, branch-free, so the per-row loop vectorises (a table lookup per
//! sample cannot). Accuracy: within 2e-6 of [`Transfer::encode`], a seventh of a 16-bit step.
//!
//! # Units
//! In: display-referred linear RGB (0..1; values outside are clamped). Out: encoded code
//! values 0..1 (sRGB, Rec.709, gamma).
//!
//! # References
//! IEC 61966-2-1 (sRGB), ITU-R BT.709-6 (the OETF); the polynomials are truncated series:
//! `log2(m) = 2/ln 2 * atanh((m - 1)/(m + 1))` for m in [0.707, 1.414), and `2^f` by its
//! Taylor series for f in [-0.5, 0.5], each cut at the first term that keeps the bound.

use crate::color::transfer::Transfer;
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
        let p = self.scale * pow(x.max(f32::MIN_POSITIVE), self.power) - self.offset;
        let encoded = if x <= self.toe { self.slope * x } else { p };
        if x > 0.0 { encoded } else { 0.0 }
    }
}

/// `x^p` for normal positive `x`, relative error below 1e-6.
#[inline(always)]
fn pow(x: f32, p: f32) -> f32 {
    exp2(p * log2(x))
}

/// log2 of a normal positive float.
#[inline(always)]
fn log2(x: f32) -> f32 {
    let bits = x.to_bits();
    // Split x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += i32::from(big);
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    // 2/ln2 * (t + t^3/3 + t^5/5): |t| <= 0.172, so the next term is below 2e-6 / 2.9 and
    // moves x^p by under 8e-7 (p <= 0.56).
    let series = t * (1.0 + t2 * (1.0 / 3.0 + t2 * 0.2));
    e as f32 + series * (2.0 * std::f32::consts::LOG2_E)
}

/// 2^y for y in about -126..127.
#[inline(always)]
fn exp2(y: f32) -> f32 {
    let y = y.clamp(-126.0, 127.0);
    // Round to nearest by the 1.5 * 2^23 trick: after the add, the integer sits in the low
    // mantissa bits, so neither `round` (a library call without SSE4.1) nor a saturating
    // float-to-int conversion is needed, and the loop vectorises on any x86-64.
    const MAGIC: f32 = 12_582_912.0;
    let shifted = y + MAGIC;
    let i = shifted - MAGIC;
    let int_bits = shifted.to_bits().wrapping_sub(MAGIC.to_bits());
    let f = (y - i) * std::f32::consts::LN_2;
    // e^f, |f| <= ln2 / 2, Taylor to f^6 (relative remainder below 2e-7).
    let poly = 1.0
        + f * (1.0
            + f * (0.5
                + f * (1.0 / 6.0 + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f * (1.0 / 720.0))))));
    poly * f32::from_bits(int_bits.wrapping_add(127) << 23)
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
