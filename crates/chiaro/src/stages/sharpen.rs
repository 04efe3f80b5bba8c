//! Capture sharpening: an unsharp mask of log luminance, applied to linear RGB as a gain.
//!
//! Demosaicing and the lens leave a picture softer than its pixels; a small-radius unsharp
//! mask restores the fine contrast. It works on `log2` of the luminance (so the result is
//! the same at any exposure, never negative, and a halo is as many stops above a bright edge
//! as below a dark one) and multiplies all three channels by the same gain (so colours keep
//! their hue and saturation and no colour fringes appear):
//!
//! `d = L - gauss_radius(L)`, `L' = L + amount * d`, and `L'` is kept within `halo` stops
//! of the range of `L` over the pixel's 3x3 neighbourhood, which bounds the overshoot at
//! strong edges (**no output pixel is brighter than its brightest neighbour, or darker than
//! its darkest, by more than `halo` stops**) while fine texture, whose sharpened peaks pass
//! their neighbours by less, is sharpened in full. In deep shadows, where it would only
//! sharpen noise, nothing is done: the amount fades in over the two stops above `floor`.
//!
//! # Units
//! In and out: linear scene-referred RGB of the output space (the luminance weights are
//! the space's Y row). `radius`: the Gaussian's sigma in pixels; `amount`: the fraction of
//! the detail added (0 = off); `halo` and the fade: stops; `floor`: linear luminance,
//! 1 = raw white.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fastmath;
use crate::pipeline::stage::{
    AreaKernel, Kernel, PlanContext, Proxy, Signal, Stage, TileMut, TileView,
};

/// The `sharpen` stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sharpen {
    pub radius: f32,
    pub amount: f32,
    pub halo: f32,
    pub floor: f32,
}

impl Default for Sharpen {
    /// Modest capture sharpening: sigma 0.7 px, half the detail added, halos within 0.1
    /// stop, nothing below 1/1024 of raw white.
    fn default() -> Self {
        Sharpen {
            radius: 0.7,
            amount: 0.5,
            halo: 0.1,
            floor: 1.0 / 1024.0,
        }
    }
}

impl Stage for Sharpen {
    fn name(&self) -> &'static str {
        "sharpen"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::SceneRgb, Signal::SceneRgb)
    }
    fn order(&self) -> u32 {
        550
    }
    fn validate(&self) -> Result<()> {
        let bad = |name: &str, v: f32, range: &str| {
            Err(Error::parameter(format!(
                "sharpen: {name} {v} outside {range}"
            )))
        };
        if !(0.2..=5.0).contains(&self.radius) {
            return bad("radius", self.radius, "0.2..=5 px");
        }
        if !(0.0..=4.0).contains(&self.amount) {
            return bad("amount", self.amount, "0..=4");
        }
        if !(0.0..=2.0).contains(&self.halo) {
            return bad("halo", self.halo, "0..=2 stops");
        }
        if !(0.0..=1.0).contains(&self.floor) || self.floor == 0.0 {
            return bad("floor", self.floor, "above 0, at most 1");
        }
        Ok(())
    }
    fn memory_factor(&self) -> f32 {
        2.0
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        if self.amount == 0.0 {
            return Ok(None);
        }
        let rgb_to_xyz = match ctx.space {
            crate::color::spaces::OutputSpace::Camera => ctx.color.map(|c| c.wb_camera_to_xyz_d50),
            s => Some(s.to_xyz_d50()),
        };
        let y = rgb_to_xyz.map_or([1.0 / 3.0; 3], |m| m[1]);
        let sum: f64 = y.iter().map(|v| v.max(0.0)).sum();
        let weights = y.map(|v| (v.max(0.0) / sum.max(1e-9)) as f32);
        Ok(Some(Kernel::Area(Box::new(SharpenKernel::new(
            *self, weights,
        )))))
    }
}

/// The planned mask.
struct SharpenKernel {
    p: Sharpen,
    /// Luminance weights of R, G, B.
    weights: [f32; 3],
    /// Normalised Gaussian taps `-r..=r`.
    taps: Vec<f32>,
    r: usize,
}

impl SharpenKernel {
    fn new(p: Sharpen, weights: [f32; 3]) -> Self {
        let r = (3.0 * p.radius).ceil() as usize;
        let raw: Vec<f32> = (-(r as i32)..=r as i32)
            .map(|i| (-(i * i) as f32 / (2.0 * p.radius * p.radius)).exp())
            .collect();
        let sum: f32 = raw.iter().sum();
        SharpenKernel {
            p,
            weights,
            taps: raw.iter().map(|t| t / sum).collect(),
            r,
        }
    }
}

impl AreaKernel for SharpenKernel {
    fn halo(&self) -> usize {
        self.r
    }

    fn run(&self, src: &TileView<'_>, dst: &mut TileMut<'_>) -> Result<()> {
        let (s, d) = (src.rect, dst.rect);
        let (sw, sh) = (s.width, s.height);
        let [wr, wg, wb] = self.weights;
        // log2 luminance of the whole source tile.
        let tiny = f32::MIN_POSITIVE.max(1e-12);
        let logs: Vec<f32> = src
            .data
            .chunks_exact(3)
            .map(|p| fastmath::log2((wr * p[0] + wg * p[1] + wb * p[2]).max(tiny)))
            .collect();
        let at = |x: isize, y: isize| {
            let (x, y) = (x.clamp(0, sw as isize - 1), y.clamp(0, sh as isize - 1));
            logs[y as usize * sw + x as usize]
        };
        // Horizontal blur of the rows the vertical pass needs, at the output's columns.
        let (x0, y0) = ((d.x - s.x) as isize, (d.y - s.y) as isize);
        let r = self.r as isize;
        let rows = d.height + 2 * self.r;
        let mut across = vec![0.0f32; rows * d.width];
        for (j, row) in across.chunks_exact_mut(d.width).enumerate() {
            let y = y0 - r + j as isize;
            for (i, v) in row.iter_mut().enumerate() {
                let x = x0 + i as isize;
                *v = self
                    .taps
                    .iter()
                    .enumerate()
                    .map(|(k, t)| t * at(x + k as isize - r, y))
                    .sum();
            }
        }
        let floor = fastmath::log2(self.p.floor);
        let out_ch = dst.channels;
        for j in 0..d.height {
            for i in 0..d.width {
                let (x, y) = (x0 + i as isize, y0 + j as isize);
                let blurred: f32 = self
                    .taps
                    .iter()
                    .enumerate()
                    .map(|(k, t)| t * across[(j + k) * d.width + i])
                    .sum();
                let l = at(x, y);
                let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        let v = at(x + dx, y + dy);
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
                let fade = crate::stages::smoothstep((blurred - floor) / 2.0);
                let sharpened = crate::stages::clamp_to(
                    l + self.p.amount * fade * (l - blurred),
                    lo - self.p.halo,
                    hi + self.p.halo,
                );
                let gain = fastmath::exp2(sharpened - l);
                let si = ((y as usize) * sw + x as usize) * 3;
                let o = (j * d.width + i) * out_ch;
                for c in 0..3 {
                    dst.data[o + c] = src.data[si + c] * gain;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Rect;

    /// Runs the mask over a whole `w` x `h` grey image (the frame is the tile).
    fn sharpen(p: Sharpen, grey: &[f32], w: usize, h: usize) -> Vec<f32> {
        let k = SharpenKernel::new(p, [0.25, 0.5, 0.25]);
        let data: Vec<f32> = grey.iter().flat_map(|&v| [v; 3]).collect();
        let src = TileView {
            data: &data,
            rect: Rect::new(0, 0, w, h),
            channels: 3,
            frame: (w, h),
        };
        let mut out = vec![0.0; data.len()];
        let mut dst = TileMut {
            data: &mut out,
            rect: Rect::new(0, 0, w, h),
            channels: 3,
        };
        k.run(&src, &mut dst).expect("runs");
        out.chunks_exact(3).map(|p| p[1]).collect()
    }

    #[test]
    fn sharpen_keeps_a_flat_field_flat() {
        let out = sharpen(Sharpen::default(), &[0.3; 40 * 30], 40, 30);
        assert!(out.iter().all(|&v| (v - 0.3).abs() < 1e-5));
    }

    /// A faint grating's contrast (in stops) grows by the unsharp mask's response
    /// `1 + amount (1 - exp(-2 pi^2 sigma^2 f^2))` (the Gaussian's transfer function).
    #[test]
    fn sharpen_boosts_fine_detail_by_the_masks_response() {
        let (w, h, period) = (96, 8, 8.0f64);
        let p = Sharpen {
            halo: 2.0,
            ..Sharpen::default()
        };
        let amp = 0.05; // stops
        let grey: Vec<f32> = (0..w * h)
            .map(|i| {
                let x = (i % w) as f64;
                0.2 * 2f64.powf(amp * (2.0 * std::f64::consts::PI * x / period).cos()) as f32
            })
            .collect();
        let out = sharpen(p, &grey, w, h);
        let stops = |v: &[f32]| {
            let row = &v[4 * w + 16..4 * w + 80];
            let (lo, hi) = row
                .iter()
                .fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
            f64::from((hi / lo).log2()) / 2.0
        };
        let (before, after) = (stops(&grey), stops(&out));
        // The sampled Gaussian's response at f = 1/8, sigma 0.7.
        let f = 1.0 / period;
        let sigma = f64::from(p.radius);
        let want =
            1.0 + 0.5 * (1.0 - (-2.0 * std::f64::consts::PI.powi(2) * sigma * sigma * f * f).exp());
        assert!(
            (after / before / want - 1.0).abs() < 0.02,
            "gain {} vs {want}",
            after / before
        );
    }

    /// A strong edge: without the halo bound the mask overshoots by about amount / 2 of the
    /// step; with it no pixel passes its 3x3 neighbourhood's range by more than `halo`.
    #[test]
    fn sharpen_halos_stay_within_the_bound() {
        let (w, h) = (40, 6);
        let grey: Vec<f32> = (0..w * h)
            .map(|i| if i % w < 20 { 0.02 } else { 0.64 })
            .collect();
        let bounded = sharpen(Sharpen::default(), &grey, w, h);
        let free = sharpen(
            Sharpen {
                halo: 2.0,
                ..Sharpen::default()
            },
            &grey,
            w,
            h,
        );
        let over = |v: &[f32]| {
            v.iter()
                .map(|&x| {
                    (f64::from(x) / 0.64)
                        .log2()
                        .max((0.02 / f64::from(x)).log2())
                })
                .fold(0.0f64, f64::max)
        };
        assert!(over(&free) > 0.5, "unbounded overshoot {}", over(&free));
        assert!(
            over(&bounded) <= 0.1 + 1e-4,
            "bounded overshoot {}",
            over(&bounded)
        );
    }

    #[test]
    fn sharpen_keeps_colour_ratios() {
        let k = SharpenKernel::new(Sharpen::default(), [0.3, 0.6, 0.1]);
        let (w, h) = (12, 12);
        let data: Vec<f32> = (0..w * h)
            .flat_map(|i| {
                let v = if (i % w + i / w) % 3 == 0 { 0.5 } else { 0.2 };
                [v, 0.5 * v, 0.25 * v]
            })
            .collect();
        let src = TileView {
            data: &data,
            rect: Rect::new(0, 0, w, h),
            channels: 3,
            frame: (w, h),
        };
        let mut out = vec![0.0; data.len()];
        let mut dst = TileMut {
            data: &mut out,
            rect: Rect::new(0, 0, w, h),
            channels: 3,
        };
        k.run(&src, &mut dst).expect("runs");
        assert!(out != data, "something was sharpened");
        for p in out.chunks_exact(3) {
            assert!((p[1] / p[0] - 0.5).abs() < 1e-5 && (p[2] / p[0] - 0.25).abs() < 1e-5);
        }
    }
}
