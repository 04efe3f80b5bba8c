//! The tone curve: scene-referred light to display-referred light, raw white to display white.
//!
//! A normalised Naka-Rushton (Michaelis-Menten) response with a contrast exponent `c`:
//!
//! `g(t) = h(k t) / h(k)`, `h(u) = u^c / (u^c + 1)`, `t = x / white`,
//!
//! so `g(0) = 0`, `g(1) = 1` (scene `white`, by default the raw white level, is display
//! white), the log-log slope is `c` in the deep shadows and `c / (1 + k^c)` at white, and `k`
//! is solved so scene `grey_in` lands on display `grey_out`. The defaults place 18 % grey as a
//! camera's saturation-based ISO exposes it (ISO 12232: the saturating exposure is 7.8 times
//! grey's, so grey sits at 0.128 of raw white) on L* 50, the standard output sensitivity's
//! code value 118 of 255; the contrast 1.5 gives the mid-tone and highlight slopes of Adobe's
//! default raw tone curve (about 1.3 at its grey and 0.3 at white; DNG SDK
//! `dng_tone_curve_acr3_default`), a camera-JPEG contrast.
//!
//! The curve maps each pixel's max-RGB norm and scales the pixel's channels by the same
//! factor, so hue and channel ratios are kept and no channel clips. Near white the pixel is
//! blended towards the neutral of its norm, so highlights roll into pure white without a hue
//! shift, and everything at or above `white` (clipped raw highlights after reconstruction) is
//! exactly white. A camera profile's tone curve is applied the DNG SDK's way instead, per
//! channel in linear ProPhoto (`ProfileCurveKernel`).
//!
//! # Units
//! In: scene-linear RGB of the output space (1 = the raw white level after white balance and
//! exposure). Out: display-linear RGB in 0..1 (the output transfer function encodes it).

use serde::{Deserialize, Serialize};

use crate::color::profile::ProPhotoMaps;
use crate::error::{Error, Result};
use crate::fastmath;
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};
use crate::stages::smoothstep;

/// Scene value of 18 % grey as a saturation-based ISO exposes it: 10/78 of the exposure that
/// saturates (ISO 12232), 2.96 EV below raw white.
pub const SCENE_GREY: f32 = 10.0 / 78.0;

/// Display-linear L* 50 (CIE 1976: `((50 + 16) / 116)^3`).
pub const DISPLAY_GREY: f32 = 0.184_186;

/// Parameters of the `tone-curve` stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToneCurve {
    /// Scene-linear value shown as display white, 0.05..1000; 1 = the raw white level.
    pub white: f32,
    /// Scene-linear value shown as `grey_out`, above 0 and below `white`.
    pub grey_in: f32,
    /// Display-linear value of `grey_in`, 0.01..0.8 (0.184 = L* 50).
    pub grey_out: f32,
    /// Contrast `c`, 0.5..4: the log-log slope in the shadows (1 keeps them linear).
    pub contrast: f32,
    /// Display value of a pixel's max-RGB norm from which it blends towards white, 0.5..=1
    /// (1: no blend below white).
    pub desaturate: f32,
    /// Use a camera profile's ProfileToneCurve, when the colour stage has one, instead of
    /// this curve (DNG 1.7: the profile's curve replaces the default one). It is applied as
    /// the DNG SDK applies it, per channel in linear ProPhoto RGB (see
    /// `ProfileCurveKernel`); `white` still scales its input, `desaturate` is not used.
    pub profile: bool,
}

impl Default for ToneCurve {
    fn default() -> Self {
        ToneCurve {
            white: 1.0,
            grey_in: SCENE_GREY,
            grey_out: DISPLAY_GREY,
            contrast: 1.5,
            desaturate: 0.95,
            profile: true,
        }
    }
}

/// Intervals of the curve's lookup table over `t = 0..1`.
const LUT_SIZE: usize = 4096;

/// A prepared curve: `k` solved, or another curve tabulated.
#[derive(Debug, Clone)]
pub struct PreparedCurve {
    inv_white: f32,
    desaturate: f32,
    shape: Shape,
}

/// The curve's shape `g` on `t = 0..1`.
#[derive(Debug, Clone)]
enum Shape {
    /// The Naka-Rushton curve rewritten as `g(t) = (1 + a) / (1 + a t^-c)`, `a = k^-c`,
    /// evaluated directly with vectorisable `log2`/`exp2` ([`crate::fastmath`]).
    NakaRushton { a: f32, c: f32 },
    /// Any other shape (a camera profile's): `g` at `t = i / LUT_SIZE`, `i = 0..=LUT_SIZE`,
    /// interpolated linearly.
    Table(Box<[f32; LUT_SIZE + 1]>),
}

impl ToneCurve {
    pub fn validate(&self) -> Result<()> {
        let in_range = |v: f32, lo: f32, hi: f32| v.is_finite() && v >= lo && v <= hi;
        let ok = in_range(self.white, 0.05, 1000.0)
            && self.grey_in > 0.0
            && self.grey_in < self.white
            && in_range(self.grey_out, 0.01, 0.8)
            && in_range(self.contrast, 0.5, 4.0)
            && in_range(self.desaturate, 0.5, 1.0);
        if !ok {
            return Err(Error::parameter(format!(
                "tone curve parameters out of range (white 0.05..1000, 0 < grey_in < white, \
                 grey_out 0.01..0.8, contrast 0.5..4, desaturate 0.5..1): {self:?}"
            )));
        }
        self.solve_k().map(|_| ())
    }

    /// `g(t)` for a given `k`, in f64.
    fn g(&self, k: f64, t: f64) -> f64 {
        let c = f64::from(self.contrast);
        let h = |u: f64| {
            let p = u.powf(c);
            p / (p + 1.0)
        };
        h(k * t) / h(k)
    }

    /// `k` such that `g(grey_in / white) = grey_out`: `g` rises with `k` from `t^c` (k -> 0)
    /// to 1 (k -> infinity), so bisection on `log k` finds it when `grey_out > t^c`.
    fn solve_k(&self) -> Result<f64> {
        let t = f64::from(self.grey_in / self.white);
        let want = f64::from(self.grey_out);
        let (mut lo, mut hi) = (-30.0f64, 30.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.g(mid.exp(), t) < want {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let k = (0.5 * (lo + hi)).exp();
        if (self.g(k, t) - want).abs() > 1e-6 {
            return Err(Error::parameter(format!(
                "tone curve: grey_in {} cannot map to grey_out {} with contrast {} (the \
                 curve's darkest reach there is {:.4})",
                self.grey_in,
                self.grey_out,
                self.contrast,
                t.powf(f64::from(self.contrast))
            )));
        }
        Ok(k)
    }

    /// Solves the curve for its parameters.
    pub fn prepare(&self) -> Result<PreparedCurve> {
        self.validate()?;
        let k = self.solve_k()?;
        let c = f64::from(self.contrast);
        Ok(PreparedCurve {
            inv_white: 1.0 / self.white,
            desaturate: self.desaturate,
            // Bounded so that `1 + a` stays finite where `k` is at its floor (a curve that
            // is `t^c`, where `a` is infinite in the limit).
            shape: Shape::NakaRushton {
                a: k.powf(-c).min(1e30) as f32,
                c: self.contrast,
            },
        })
    }

    /// A prepared curve with this white and highlight blend whose shape is `g` on 0..1.
    fn tabulate(&self, g: impl Fn(f64) -> f64) -> PreparedCurve {
        PreparedCurve {
            inv_white: 1.0 / self.white,
            desaturate: self.desaturate,
            shape: Shape::Table(Box::new(std::array::from_fn(|i| {
                g(i as f64 / LUT_SIZE as f64) as f32
            }))),
        }
    }

    /// The curve at scene value `x`, exactly (f64), for tests and reports.
    pub fn exact(&self, x: f64) -> Result<f64> {
        let k = self.solve_k()?;
        Ok(self.g(k, (x / f64::from(self.white)).clamp(0.0, 1.0)))
    }
}

impl PreparedCurve {
    /// Maps a scene-linear value to display-linear 0..1.
    #[inline(always)]
    pub fn map(&self, x: f32) -> f32 {
        let t = (x * self.inv_white).clamp(0.0, 1.0);
        match &self.shape {
            Shape::NakaRushton { a, c } => naka_rushton(*a, *c, t),
            Shape::Table(lut) => table(lut, t),
        }
    }

    /// The scene value that maps to display `y` (bisection on the monotone curve): the
    /// inverse of [`Self::map`] on 0..1 (display 1 gives the curve's white).
    pub fn inverse(&self, y: f32) -> f32 {
        let (mut lo, mut hi) = (0.0f32, 1.0 / self.inv_white);
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if self.map(mid) < y {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    /// Tone-maps one row of interleaved RGB by its max-RGB norm, blending the brightest
    /// pixels towards white ([`tone_row`] dispatches it to the CPU's widest vectors).
    #[inline(always)]
    pub fn apply_row(&self, row: &mut [f32]) {
        let iw = self.inv_white;
        match &self.shape {
            Shape::NakaRushton { a, c } => {
                self.apply_row_with(row, |n| naka_rushton(*a, *c, (n * iw).min(1.0)));
            }
            Shape::Table(lut) => self.apply_row_with(row, |n| table(lut, (n * iw).min(1.0))),
        }
    }

    /// [`Self::apply_row`] with the curve `g` of a positive norm. In blocks of [`BLOCK`]
    /// pixels, three passes: the norms (a strided read), each norm's curve value, gain and
    /// blend weight (contiguous and branch-free, so it vectorises), and the channels scaled
    /// and blended (strided again).
    #[inline(always)]
    fn apply_row_with(&self, row: &mut [f32], g: impl Fn(f32) -> f32) {
        let d = self.desaturate;
        let inv_span = 1.0 / (1.0 - d).max(f32::MIN_POSITIVE);
        for block in row.chunks_mut(3 * BLOCK) {
            let mut norm = [0.0f32; BLOCK];
            for (n, px) in norm.iter_mut().zip(block.chunks_exact(3)) {
                *n = px[0].max(px[1]).max(px[2]);
            }
            let mut gain = [0.0f32; BLOCK];
            let mut target = [0.0f32; BLOCK];
            let mut weight = [0.0f32; BLOCK];
            for i in 0..BLOCK {
                let n = norm[i];
                // Black, negative and NaN-only pixels become 0 through `lit`.
                let lit = n > 0.0;
                let n_safe = if lit { n } else { 1.0 };
                let y = if lit { g(n_safe) } else { 0.0 };
                gain[i] = y / n_safe;
                target[i] = y;
                // Smoothstep weight of the blend towards the neutral `y`: 0 below `d`, 1 at
                // white (also when `d` is 1).
                let s = smoothstep((y - d) * inv_span);
                weight[i] = if y >= 1.0 { 1.0 } else { s };
            }
            for (i, px) in block.chunks_exact_mut(3).enumerate() {
                let (k, y, w) = (gain[i], target[i], weight[i]);
                for v in px.iter_mut() {
                    let t = *v * k;
                    let t = if t > 0.0 { t } else { 0.0 };
                    *v = t + w * (y - t);
                }
            }
        }
    }
}

/// `(1 + a) / (1 + a t^-c)` at `t` in 0..=1 (0 at 0; `t` below 2^-100 is taken as 2^-100,
/// where the curve is 0 to f32 precision).
#[inline(always)]
fn naka_rushton(a: f32, c: f32, t: f32) -> f32 {
    let lit = t > 0.0;
    let t = t.max(7.9e-31);
    let p = fastmath::exp2(-c * fastmath::log2(t));
    let y = (1.0 + a) / (1.0 + a * p);
    if lit { y } else { 0.0 }
}

/// The table at `t` in 0..=1 (linear interpolation; a NaN `t` casts to index 0 and gives
/// NaN).
#[inline(always)]
fn table(lut: &[f32; LUT_SIZE + 1], t: f32) -> f32 {
    let f = t * LUT_SIZE as f32;
    // Through i32, which vectors convert to directly.
    let i = (f as i32).clamp(0, LUT_SIZE as i32 - 1) as usize;
    let frac = f - i as f32;
    let (lo, hi) = (lut[i], lut[i + 1]);
    lo + (hi - lo) * frac
}

/// Pixels a row is tone-mapped in at a time (stack buffers of this size).
const BLOCK: usize = 64;

/// [`PreparedCurve::apply_row`] compiled for the widest vectors the CPU has (runtime
/// dispatch); no fused multiply-adds are formed, so every version gives the same bits.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn tone_row(curve: &PreparedCurve, row: &mut [f32]) {
    curve.apply_row(row);
}

/// The `tone-curve` stage: scene-referred to display-referred RGB.
impl Stage for ToneCurve {
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
        ToneCurve::validate(self)
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        let prophoto = ctx.profile_look.take();
        let kernel: Box<dyn PointKernel> = match (self.profile, &ctx.profile_curve, prophoto) {
            (true, Some(c), Some(prophoto)) => {
                self.validate()?;
                Box::new(ProfileCurveKernel {
                    prophoto: ProPhotoMaps {
                        bounded: true,
                        ..prophoto
                    },
                    curve: self.tabulate(|t| f64::from(c.map(t as f32))),
                })
            }
            (_, _, prophoto) => Box::new(CurveKernel {
                look: prophoto.filter(|p| !p.maps.is_empty()),
                curve: self.prepare()?,
            }),
        };
        Ok(Some(Kernel::Point(kernel)))
    }
}

/// The planned stage: a camera profile's LookTable, if any, then this curve.
struct CurveKernel {
    look: Option<ProPhotoMaps>,
    curve: PreparedCurve,
}

impl PointKernel for CurveKernel {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        if let Some(l) = &self.look {
            l.apply_row(row);
        }
        tone_row(&self.curve, row);
    }
}

/// The planned stage with a camera profile's tone curve, applied as the DNG SDK renders
/// one: in linear ProPhoto RGB each channel pinned to 0..`white` (the SDK pins before its
/// exposure ramp and LookTable), the LookTable (its values capped at 1, as the SDK caps
/// them), then the curve on the largest and the
/// smallest channel with the middle one placed between them in the same proportion as
/// before (`RefBaselineRGBTone`), which keeps the hexcone hue.
struct ProfileCurveKernel {
    prophoto: ProPhotoMaps,
    curve: PreparedCurve,
}

impl PointKernel for ProfileCurveKernel {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        let pin = |rgb| pin_to_white(&self.curve, rgb);
        self.prophoto
            .apply_row_between(row, pin, |rgb| rgb_tone(&self.curve, rgb));
    }
}

/// Each channel pinned to 0..`white` of the curve (NaN to 0).
#[inline]
fn pin_to_white(curve: &PreparedCurve, rgb: [f32; 3]) -> [f32; 3] {
    let white = 1.0 / curve.inv_white;
    rgb.map(|c| if c > 0.0 { c.min(white) } else { 0.0 })
}

/// `RefBaselineRGBTone` on one pixel: channels pinned to 0..`white` (NaN to 0), the curve
/// on the largest and the smallest, the middle one interpolated between them.
fn rgb_tone(curve: &PreparedCurve, rgb: [f32; 3]) -> [f32; 3] {
    let v = pin_to_white(curve, rgb);
    let (hi, lo) = (v[0].max(v[1]).max(v[2]), v[0].min(v[1]).min(v[2]));
    let (thi, tlo) = (curve.map(hi), curve.map(lo));
    if hi <= lo {
        return [thi; 3];
    }
    v.map(|c| tlo + (thi - tlo) * (c - lo) / (hi - lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lstar(y: f64) -> f64 {
        if y > 216.0 / 24389.0 {
            116.0 * y.cbrt() - 16.0
        } else {
            y * 24389.0 / 27.0
        }
    }

    #[test]
    fn profile_curve_maps_the_extreme_channels_and_keeps_the_hexcone_hue() {
        use crate::color::profile::{ProfileCurve, rgb_to_hsv};
        let shape = ProfileCurve::new(&[0.0, 0.0, 0.25, 0.5, 1.0, 1.0]).expect("curve");
        let c = ToneCurve::default().tabulate(|t| f64::from(shape.map(t as f32)));
        for rgb in [
            [0.6f32, 0.3, 0.1],
            [0.05, 0.2, 0.4],
            [0.3, 0.8, 0.3],
            [0.9, 0.1, 0.5],
        ] {
            let out = rgb_tone(&c, rgb);
            let (hi, lo) = (
                rgb[0].max(rgb[1]).max(rgb[2]),
                rgb[0].min(rgb[1]).min(rgb[2]),
            );
            let (ohi, olo) = (
                out[0].max(out[1]).max(out[2]),
                out[0].min(out[1]).min(out[2]),
            );
            assert!((ohi - shape.map(hi)).abs() < 1e-4 && (olo - shape.map(lo)).abs() < 1e-4);
            let (h0, h1) = (rgb_to_hsv(rgb).0, rgb_to_hsv(out).0);
            assert!((h0 - h1).abs() < 1e-4, "{rgb:?} -> {out:?}");
        }
        // Greys follow the curve; channels above white are pinned there, below 0 to 0.
        let g = rgb_tone(&c, [0.25; 3]);
        assert!(g.iter().all(|&v| (v - 0.5).abs() < 1e-4));
        assert_eq!(rgb_tone(&c, [3.0, 1.0, -0.5]), [1.0, 1.0, 0.0]);
    }

    #[test]
    fn dispatched_rows_equal_the_scalar_curve() {
        let c = ToneCurve::default();
        // The solved curve and a tabulated one (a profile's).
        let curves = [c.prepare().expect("valid"), c.tabulate(|t| t.sqrt())];
        let row: Vec<f32> = (0..3 * 4001)
            .map(|i| (i as f32 * 0.7548).fract() * 3.0 - 0.2)
            .chain([f32::NAN, 0.5, 0.2, 1e-35, 0.0, 1e-8])
            .collect();
        for curve in &curves {
            let (mut a, mut b) = (row.clone(), row.clone());
            curve.apply_row(&mut a);
            tone_row(curve, &mut b);
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            assert!(a.iter().all(|v| (0.0..=1.0).contains(v)), "in 0..1");
        }
    }

    #[test]
    fn default_curve_puts_saturation_iso_grey_on_lstar_50_and_raw_white_on_white() {
        let c = ToneCurve::default();
        let p = c.prepare().expect("valid");
        // 18 % grey exposed by ISO 12232's saturation-based speed (2.96 EV under clipping).
        let grey = 0.18 / (0.18 * 7.8);
        assert!((lstar(f64::from(p.map(grey as f32))) - 50.0).abs() < 0.05);
        assert_eq!(p.map(1.0), 1.0);
        assert_eq!(p.map(7.0), 1.0);
        assert_eq!(p.map(0.0), 0.0);
        let mut last = -1.0;
        for i in 0..=2000 {
            let v = p.map(i as f32 / 1000.0);
            assert!(v >= last, "monotone at {i}");
            last = v;
        }
    }

    #[test]
    fn a_curve_at_the_floor_of_k_stays_finite() {
        // grey_out equal to (grey_in / white)^c: k at its floor, the curve t^c.
        let c = ToneCurve {
            grey_in: 0.5,
            grey_out: 0.125,
            contrast: 3.0,
            ..ToneCurve::default()
        };
        let p = c.prepare().expect("valid");
        for x in [1e-6f32, 0.1, 0.5, 0.9, 1.0] {
            let y = p.map(x);
            assert!(y.is_finite() && (y - x.powi(3)).abs() < 1e-3, "{x} -> {y}");
        }
    }

    #[test]
    fn prepared_curve_follows_the_exact_curve() {
        for contrast in [1.0, 1.5, 3.0] {
            let c = ToneCurve {
                contrast,
                ..ToneCurve::default()
            };
            let p = c.prepare().expect("valid");
            for i in 0..5000 {
                let x = (i as f64 / 5000.0).powi(2);
                let exact = c.exact(x).expect("solves");
                let err = (f64::from(p.map(x as f32)) - exact).abs();
                assert!(err < 2e-6, "contrast {contrast} at {x}: {err}");
            }
        }
    }

    #[test]
    fn slopes_are_the_contrast_in_the_shadows_and_gentle_at_white() {
        let c = ToneCurve::default();
        let log_slope = |x: f64| {
            let (a, b) = (
                c.exact(x * 0.99).expect("solves"),
                c.exact(x * 1.01).expect("solves"),
            );
            (b / a).ln() / (1.01f64 / 0.99).ln()
        };
        assert!((log_slope(1e-4) - 1.5).abs() < 0.01);
        let mid = log_slope(f64::from(SCENE_GREY));
        assert!((1.15..1.45).contains(&mid), "{mid}");
        let top = log_slope(0.98);
        assert!((0.2..0.45).contains(&top), "{top}");
    }

    #[test]
    fn inverse_undoes_the_curve() {
        let p = ToneCurve::default().prepare().expect("valid");
        for i in 1..1000 {
            let x = i as f32 / 1000.0;
            assert!((p.inverse(p.map(x)) - x).abs() < 2e-4 * x.max(0.05), "{x}");
        }
    }

    #[test]
    fn clipped_highlights_of_any_hue_become_pure_white() {
        for desaturate in [0.8, 0.95, 1.0] {
            let p = ToneCurve {
                desaturate,
                ..ToneCurve::default()
            }
            .prepare()
            .expect("valid");
            let mut px = [1.4, 0.6, 0.2, 0.3, 1.0, 0.9, 2.0, 2.0, 2.0];
            p.apply_row(&mut px);
            assert!(px.iter().all(|&v| v == 1.0), "{desaturate}: {px:?}");
        }
    }

    #[test]
    fn mid_tones_keep_their_channel_ratios() {
        let p = ToneCurve::default().prepare().expect("valid");
        let mut px = [0.2, 0.1, 0.05];
        p.apply_row(&mut px);
        assert!((px[0] / px[1] - 2.0).abs() < 1e-5 && (px[1] / px[2] - 2.0).abs() < 1e-5);
        assert!(px[0] < 0.85);
    }

    #[test]
    fn near_white_pixels_lose_chroma_but_keep_their_hue_order() {
        let p = ToneCurve::default().prepare().expect("valid");
        let mut px = [0.9, 0.5, 0.3];
        p.apply_row(&mut px);
        let y = p.map(0.9);
        assert!(y > ToneCurve::default().desaturate, "in the blend: {y}");
        assert!((px[0] - y).abs() < 1e-6);
        // Closer to neutral than the ratio-kept values, same order.
        assert!(px[1] > y * 0.5 / 0.9 && px[2] > y * 0.3 / 0.9);
        assert!(px[0] > px[1] && px[1] > px[2]);
    }

    #[test]
    fn black_negative_and_nan_pixels_become_zero() {
        let p = ToneCurve::default().prepare().expect("valid");
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
        p.apply_row(&mut px);
        assert_eq!(&px[..6], &[0.0; 6]);
        assert!(px.iter().all(|v| v.is_finite() && *v >= 0.0), "{px:?}");
        assert_eq!(px[10], 0.0);
        assert!(px[9] > 0.0 && px[11] > 0.0);
    }

    #[test]
    fn unreachable_or_out_of_range_parameters_are_errors() {
        let bad = [
            ToneCurve {
                white: 0.0,
                ..ToneCurve::default()
            },
            ToneCurve {
                grey_in: 2.0,
                ..ToneCurve::default()
            },
            ToneCurve {
                contrast: 9.0,
                ..ToneCurve::default()
            },
            // 0.128^0.5 = 0.36: a grey_out of 0.2 is below the curve's reach at contrast 0.5.
            ToneCurve {
                contrast: 0.5,
                grey_out: 0.2,
                ..ToneCurve::default()
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }
}
