//! Branch-free `log2` and `exp2` in plain arithmetic and bit operations, so loops over them
//! vectorise (the standard library's calls do not); accurate to about 1e-7 relative, far
//! below a 16-bit output step. No fused multiply-adds, so every CPU gives the same bits.
//!
//! `log2`: `x = m 2^e` with the mantissa `m` in `[sqrt(1/2), sqrt(2))`, then
//! `log2 m = (2 / ln 2) atanh(z)`, `z = (m - 1) / (m + 1)`, `|z| < 0.172`, by its odd series
//! to `z^9` (the next term is below 4e-10). `exp2`: `x = i + f` with `i` the nearest integer
//! and `|f| <= 1/2` (found by [`ROUNDER`]), `2^f` by its Taylor series to the 7th power
//! (remainder below 1e-8), `2^i` written into the exponent bits.

/// `log2(x)` for a normal, positive, finite `x` (other inputs give meaningless values).
#[inline(always)]
pub fn log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Centre the mantissa on 1.
    let high = m > std::f32::consts::SQRT_2;
    m = if high { m * 0.5 } else { m };
    e += i32::from(high);
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let series = z * (1.0 + z2 * (1.0 / 3.0 + z2 * (1.0 / 5.0 + z2 * (1.0 / 7.0 + z2 / 9.0))));
    e as f32 + series * (2.0 / std::f32::consts::LN_2)
}

/// Adding 1.5 * 2^23 to a float below 2^22 in magnitude rounds it to an integer (to even)
/// held in the low mantissa bits: rounding and conversion without float-to-int casts,
/// whose saturating semantics keep them scalar.
const ROUNDER: f32 = 12_582_912.0;

/// `2^x`, for `x` clamped to `-126..=126` (normal results).
#[inline(always)]
pub fn exp2(x: f32) -> f32 {
    let x = x.clamp(-126.0, 126.0);
    let shifted = x + ROUNDER;
    let i = shifted - ROUNDER;
    // The integer `i + 127` in the exponent field.
    let biased = shifted
        .to_bits()
        .wrapping_sub(ROUNDER.to_bits())
        .wrapping_add(127);
    let f = (x - i) * std::f32::consts::LN_2;
    let p = 1.0
        + f * (1.0
            + f * (0.5
                + f * (1.0 / 6.0
                    + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f * (1.0 / 720.0 + f / 5040.0))))));
    p * f32::from_bits(biased << 23)
}

/// `x^p` for a normal, positive `x`, relative error about 1e-7 (for `|p log2 x|` up to a few
/// tens).
#[inline(always)]
pub fn pow(x: f32, p: f32) -> f32 {
    exp2(p * log2(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_and_exp2_follow_the_standard_library() {
        let mut worst = (0.0f64, 0.0f64);
        for i in 0..200_000 {
            // Values across 60 octaves; the error relative to 1 + |log2 x| (the f32 spacing
            // of the result grows with it).
            let x = (f64::from(i) / 200_000.0 * 60.0 - 40.0).exp2() as f32;
            let want = f64::from(x).log2();
            let e = (f64::from(log2(x)) - want).abs() / (1.0 + want.abs());
            worst.0 = worst.0.max(e);
            let y = f64::from(i) / 200_000.0 * 40.0 - 20.0;
            let r = (f64::from(exp2(y as f32)) / (y as f32 as f64).exp2() - 1.0).abs();
            worst.1 = worst.1.max(r);
        }
        assert!(worst.0 < 1e-7, "log2 error {}", worst.0);
        assert!(worst.1 < 2e-7, "exp2 relative error {}", worst.1);
        assert_eq!(log2(1.0), 0.0);
        assert_eq!(exp2(0.0), 1.0);
        assert_eq!(log2(8.0), 3.0);
    }
}
