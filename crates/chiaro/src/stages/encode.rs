//! Output encoding: the transfer function of the output space, as a per-sample kernel the
//! executor places before the first stage that takes encoded values, or at the end.
//!
//! # Units
//! In: display-referred linear RGB (0..1; values outside are clamped). Out: encoded code
//! values 0..1 (sRGB, Rec.709, gamma).

use crate::color::transfer::Transfer;
use crate::pipeline::stage::{PointKernel, RowAt};

/// Transfer encoding by table with linear interpolation (accurate to ~1e-6, well below a
/// 16-bit step, and much cheaper than `powf` per sample).
pub struct EncodeLut {
    /// (value, slope to the next entry) at `i / LUT_N`; a fixed-size array so the clamped
    /// index needs no bounds check in the per-sample loop.
    table: Box<[[f32; 2]; LUT_N + 1]>,
    /// The first 16 intervals (v < 1/1024) are computed exactly: a pure power law is
    /// infinitely steep at 0, where linear interpolation would be off by several 16-bit steps.
    transfer: Transfer,
}

const LUT_N: usize = 1 << 14;

impl EncodeLut {
    pub fn new(t: Transfer) -> Self {
        let mut table = Box::new([[0.0f32; 2]; LUT_N + 1]);
        for (i, e) in table.iter_mut().enumerate() {
            let (a, b) = (
                t.encode(i as f32 / LUT_N as f32),
                t.encode((i + 1) as f32 / LUT_N as f32),
            );
            *e = [a, b - a];
        }
        EncodeLut { table, transfer: t }
    }

    #[inline]
    pub fn encode(&self, v: f32) -> f32 {
        let x = v.clamp(0.0, 1.0) * LUT_N as f32;
        if x < 16.0 {
            return self.transfer.encode(v.max(0.0));
        }
        let i = (x as usize).min(LUT_N);
        let [a, slope] = self.table[i];
        a + (x - i as f32) * slope
    }
}

impl PointKernel for EncodeLut {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        row.iter_mut().for_each(|v| *v = self.encode(*v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_lut_matches_the_transfer_within_half_a_16_bit_step() {
        for t in [Transfer::Srgb, Transfer::Rec709, Transfer::Gamma(1.8)] {
            let lut = EncodeLut::new(t);
            let worst = (0..=100_000)
                .map(|i| i as f32 / 100_000.0)
                .map(|x| (lut.encode(x) - t.encode(x)).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 0.5 / 65535.0, "{t:?}: {worst}");
            assert_eq!(lut.encode(2.0), t.encode(1.0));
            assert_eq!(lut.encode(-1.0), 0.0);
        }
    }
}
