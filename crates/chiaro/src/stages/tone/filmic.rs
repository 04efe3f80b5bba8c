//! The default filmic tone curve for display output.
//!
//! A film-like rational curve (J. Hable's filmic operator, GDC 2010) with a toe and a
//! shoulder, applied to the max-RGB norm of each pixel and scaled back onto its channels, so
//! hues and saturation are kept and no channel clips. The curve is normalised so scene
//! `white` maps to display 1 and the exposure bias is solved so scene middle grey (0.18)
//! lands on display `grey_out`.
//!
//! # Units
//! In: scene-linear RGB of the output space (0.18 = middle grey). Out: display-linear RGB in
//! 0..1 (the output transfer function encodes it afterwards).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};

/// Parameters of the curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filmic {
    /// Scene-linear value that maps to display white. 1.0 is the raw white level after white
    /// balance, so the default 2.0 leaves one stop for reconstructed highlights.
    pub white: f32,
    /// Display-linear value of scene middle grey (0.18); 0.18 keeps mid-tones as exposed.
    pub grey_out: f32,
    /// Toe strength, 0.01..1: larger values deepen the shadows.
    pub toe: f32,
    /// Shoulder strength: larger values compress highlights more softly.
    pub shoulder: f32,
}

impl Default for Filmic {
    fn default() -> Self {
        Filmic {
            white: 2.0,
            grey_out: 0.18,
            toe: 0.20,
            shoulder: 0.15,
        }
    }
}

/// A prepared curve: parameters resolved to the constants of the rational function.
#[derive(Debug, Clone, Copy)]
pub struct FilmicCurve {
    bias: f32,
    inv_white: f32,
    p: Filmic,
}

impl Filmic {
    pub fn validate(&self) -> Result<()> {
        let ok =
            self.white > 0.5 && self.white < 1000.0 && self.grey_out > 0.01 && self.grey_out < 0.8;
        // A zero toe makes the curve 0/0 at black and lifts the shadows: keep it positive.
        if !ok || !(0.01..=1.0).contains(&self.toe) || !(0.0..=1.0).contains(&self.shoulder) {
            return Err(Error::parameter(format!(
                "filmic parameters out of range: {self:?}"
            )));
        }
        Ok(())
    }

    /// Solves the exposure bias so 0.18 maps to `grey_out` (bisection on a monotone curve).
    pub fn prepare(&self) -> FilmicCurve {
        let mut curve = FilmicCurve {
            bias: 1.0,
            inv_white: 1.0,
            p: *self,
        };
        let (mut lo, mut hi) = (0.01f32, 100.0f32);
        for _ in 0..60 {
            let mid = (lo * hi).sqrt();
            curve.bias = mid;
            curve.inv_white = 1.0 / curve.raw(mid * self.white);
            if curve.map(0.18) < self.grey_out {
                lo = mid
            } else {
                hi = mid
            }
        }
        curve
    }
}

impl FilmicCurve {
    /// Hable's rational curve with shoulder A, linear B, toe D and fixed C, E, F.
    #[inline(always)]
    fn raw(&self, x: f32) -> f32 {
        let (a, b, c, d, e, f) = (self.p.shoulder, 0.50, 0.10, self.p.toe, 0.02, 0.30);
        (x * (a * x + c * b) + d * e) / (x * (a * x + b) + d * f) - e / f
    }

    /// Maps a scene-linear value to display-linear 0..1.
    #[inline(always)]
    pub fn map(&self, x: f32) -> f32 {
        (self.raw(x.max(0.0) * self.bias) * self.inv_white).clamp(0.0, 1.0)
    }

    /// Tone-maps one row of interleaved RGB by its max-RGB norm.
    #[inline(always)]
    pub fn apply_row(&self, row: &mut [f32]) {
        // Branch-free (black and below stay 0 through `k = 0`), so the loop over pixels
        // vectorises with interleaved loads and stores.
        for px in row.chunks_exact_mut(3) {
            let n = px[0].max(px[1]).max(px[2]);
            let k = if n > 0.0 { self.map(n) / n } else { 0.0 };
            for v in px.iter_mut() {
                let t = *v * k;
                *v = if t > 0.0 { t } else { 0.0 };
            }
        }
    }
}

/// The `tone-curve` stage: scene-referred to display-referred RGB by the filmic curve.
impl Stage for Filmic {
    fn name(&self) -> &'static str {
        "tone-curve"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::SceneRgb, Signal::DisplayRgb)
    }
    fn order(&self) -> u32 {
        700
    }
    fn validate(&self) -> Result<()> {
        Filmic::validate(self)
    }
    fn plan(&self, _: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        Ok(Some(Kernel::Point(Box::new(self.prepare()))))
    }
}

impl PointKernel for FilmicCurve {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        tone_row(self, row);
    }
}

/// [`FilmicCurve::apply_row`] compiled for the widest vectors the CPU has (runtime
/// dispatch); no fused multiply-adds are formed, so every version gives the same bits.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn tone_row(curve: &FilmicCurve, row: &mut [f32]) {
    curve.apply_row(row);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_rows_equal_the_scalar_curve() {
        let curve = Filmic::default().prepare();
        let row: Vec<f32> = (0..3 * 4001)
            .map(|i| (i as f32 * 0.7548).fract() * 3.0 - 0.2)
            .collect();
        let (mut a, mut b) = (row.clone(), row);
        curve.apply_row(&mut a);
        tone_row(&curve, &mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn filmic_keeps_grey_maps_white_to_one_and_is_monotone() {
        let c = Filmic::default().prepare();
        assert!((c.map(0.18) - 0.18).abs() < 1e-3);
        assert!((c.map(2.0) - 1.0).abs() < 1e-4);
        assert_eq!(c.map(50.0), 1.0);
        let mut last = -1.0;
        for i in 0..1000 {
            let v = c.map(i as f32 / 100.0);
            assert!(v >= last);
            last = v;
        }
    }

    #[test]
    fn filmic_sends_black_negative_and_nan_pixels_to_zero() {
        let c = Filmic::default().prepare();
        let mut px = [
            0.0,
            0.0,
            0.0,
            -0.5,
            -0.1,
            -2.0,
            f32::NAN,
            0.3,
            0.2,
            0.4,
            -0.2,
            0.1,
        ];
        c.apply_row(&mut px);
        assert_eq!(&px[..6], &[0.0; 6]);
        // NaN never leaks out; a negative channel beside positive ones clips to 0.
        assert!(px.iter().all(|v| v.is_finite() && *v >= 0.0), "{px:?}");
        assert_eq!(px[10], 0.0);
        assert!(px[9] > 0.0 && px[11] > 0.0);
    }

    #[test]
    fn filmic_preserves_channel_ratios() {
        let c = Filmic::default().prepare();
        let mut px = [2.0, 1.0, 0.5];
        c.apply_row(&mut px);
        assert!((px[0] / px[1] - 2.0).abs() < 1e-4 && (px[1] / px[2] - 2.0).abs() < 1e-4);
        assert!(px[0] <= 1.0);
    }
}
