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
        let mut scratch = SCRATCH.take();
        self.sharpen_tile(src, dst, &mut scratch);
        SCRATCH.set(scratch);
        Ok(())
    }
}

/// A thread's tile buffers, kept from tile to tile.
#[derive(Default)]
struct Scratch {
    cols: Vec<usize>,
    logs: Vec<f32>,
    across: Vec<f32>,
    lo: Vec<f32>,
    hi: Vec<f32>,
    gain: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::default();
}

/// `v` resized to `n` samples; the caller overwrites every one.
fn sized<T: Copy + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    v.resize(n, T::default());
    &mut v[..n]
}

impl SharpenKernel {
    fn sharpen_tile(&self, src: &TileView<'_>, dst: &mut TileMut<'_>, b: &mut Scratch) {
        let (s, d) = (src.rect, dst.rect);
        let (sw, sh) = (s.width, s.height);
        let [wr, wg, wb] = self.weights;
        let r = self.r;
        // log2 luminance over the output grown by r, edge pixels repeated past the source
        // tile (which reaches the frame's edge where it stops short of r).
        let (pw, ph) = (d.width + 2 * r, d.height + 2 * r);
        let (x0, y0) = (
            (d.x - s.x) as isize - r as isize,
            (d.y - s.y) as isize - r as isize,
        );
        let cols = sized(&mut b.cols, pw);
        for (i, c) in cols.iter_mut().enumerate() {
            *c = (x0 + i as isize).clamp(0, sw as isize - 1) as usize;
        }
        let logs = sized(&mut b.logs, pw * ph);
        for (j, row) in logs.chunks_exact_mut(pw).enumerate() {
            let sy = (y0 + j as isize).clamp(0, sh as isize - 1) as usize;
            let line = &src.data[sy * sw * 3..(sy + 1) * sw * 3];
            for (v, &sx) in row.iter_mut().zip(cols.iter()) {
                let p = &line[sx * 3..sx * 3 + 3];
                *v = wr * p[0] + wg * p[1] + wb * p[2];
            }
            log_row(row);
        }
        // Gaussian across, then down; 3x3 range across, then down.
        let w = d.width;
        let across = sized(&mut b.across, w * ph);
        let wide_lo = sized(&mut b.lo, w * ph);
        let wide_hi = sized(&mut b.hi, w * ph);
        for j in 0..ph {
            let row = &logs[j * pw..(j + 1) * pw];
            blur_across(&self.taps, row, &mut across[j * w..(j + 1) * w]);
            let centre = &row[r - 1..];
            range3(
                [centre, &centre[1..], &centre[2..]],
                &mut wide_lo[j * w..(j + 1) * w],
                &mut wide_hi[j * w..(j + 1) * w],
            );
        }
        let floor = fastmath::log2(self.p.floor);
        let gain = sized(&mut b.gain, w);
        for j in 0..d.height {
            blur_down(&self.taps, across, j, w, gain);
            let centre = &logs[(j + r) * pw + r..(j + r) * pw + r + w];
            let lo3 = three_rows(wide_lo, j + r - 1, w);
            let hi3 = three_rows(wide_hi, j + r - 1, w);
            gain_row(&self.p, floor, centre, lo3, hi3, gain);
            let sy = (d.y - s.y + j) * sw + d.x - s.x;
            let line = &src.data[sy * 3..(sy + w) * 3];
            let out = &mut dst.data[j * w * 3..(j + 1) * w * 3];
            scale_pixels(out, line, gain);
        }
    }
}

/// Turns a row's blurred log luminance (in `gain`) into the gain the mask gives each pixel,
/// compiled for the widest vectors the CPU has (runtime dispatch).
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn gain_row(
    p: &Sharpen,
    floor: f32,
    centre: &[f32],
    lo3: [&[f32]; 3],
    hi3: [&[f32]; 3],
    gain: &mut [f32],
) {
    let n = gain.len();
    let (centre, lo0, lo1, lo2) = (&centre[..n], &lo3[0][..n], &lo3[1][..n], &lo3[2][..n]);
    let (hi0, hi1, hi2) = (&hi3[0][..n], &hi3[1][..n], &hi3[2][..n]);
    for i in 0..n {
        let lo = lo0[i].min(lo1[i]).min(lo2[i]) - p.halo;
        let hi = hi0[i].max(hi1[i]).max(hi2[i]) + p.halo;
        let (l, b) = (centre[i], gain[i]);
        let fade = crate::stages::smoothstep((b - floor) * 0.5);
        // The range always holds `l`, so `max`/`min` clamp without `clamp`'s panic on NaN.
        let sharpened = (l + p.amount * fade * (l - b)).max(lo).min(hi);
        gain[i] = fastmath::exp2(sharpened - l);
    }
}

/// `out[i] = sum_k taps[k] * row[i + k]`.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn blur_across(taps: &[f32], row: &[f32], out: &mut [f32]) {
    out.fill(0.0);
    for (k, &t) in taps.iter().enumerate() {
        for (o, &v) in out.iter_mut().zip(&row[k..]) {
            *o += t * v;
        }
    }
}

/// `out[i] = sum_k taps[k] * buf[(first + k) * width + i]`: rows `first..` of `width`.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn blur_down(taps: &[f32], buf: &[f32], first: usize, width: usize, out: &mut [f32]) {
    out.fill(0.0);
    for (k, &t) in taps.iter().enumerate() {
        let row = &buf[(first + k) * width..(first + k + 1) * width];
        for (o, &v) in out.iter_mut().zip(row) {
            *o += t * v;
        }
    }
}

/// Interleaved RGB `src` times one gain per pixel into `out`.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn scale_pixels(out: &mut [f32], src: &[f32], gain: &[f32]) {
    for ((o, p), g) in out.chunks_exact_mut(3).zip(src.chunks_exact(3)).zip(gain) {
        o[0] = p[0] * g;
        o[1] = p[1] * g;
        o[2] = p[2] * g;
    }
}

/// `log2` of a row of luminances, in place (tiny and non-positive ones as `1e-12`).
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn log_row(row: &mut [f32]) {
    row.iter_mut()
        .for_each(|v| *v = fastmath::log2(v.max(1e-12)));
}

/// Element-wise minimum and maximum of three rows (the first `lo.len()` samples).
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn range3(rows: [&[f32]; 3], lo: &mut [f32], hi: &mut [f32]) {
    let n = lo.len();
    let (a, b, c) = (&rows[0][..n], &rows[1][..n], &rows[2][..n]);
    for i in 0..n {
        lo[i] = a[i].min(b[i]).min(c[i]);
        hi[i] = a[i].max(b[i]).max(c[i]);
    }
}

/// Rows `first..first + 3` of a buffer of `width`-sample rows.
fn three_rows(buf: &[f32], first: usize, width: usize) -> [&[f32]; 3] {
    std::array::from_fn(|k| &buf[(first + k) * width..(first + k + 1) * width])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Rect;
    use crate::pipeline::stage::run_whole;

    /// Runs the mask over a whole `w` x `h` grey image (the frame is the tile).
    fn sharpen(p: Sharpen, grey: &[f32], w: usize, h: usize) -> Vec<f32> {
        let k = SharpenKernel::new(p, [0.25, 0.5, 0.25]);
        let data: Vec<f32> = grey.iter().flat_map(|&v| [v; 3]).collect();
        let out = run_whole(&k, &data, w, h).expect("runs");
        out.chunks_exact(3).map(|p| p[1]).collect()
    }

    /// Tiles (at the frame's edge and inside it) give the pixels the whole image gives.
    #[test]
    fn sharpen_tiles_equal_the_whole_image() {
        let (w, h) = (37, 29);
        let k = SharpenKernel::new(Sharpen::default(), [0.2, 0.7, 0.1]);
        let data: Vec<f32> = (0..w * h * 3)
            .map(|i| 0.01 + ((i * 7919) % 1000) as f32 / 1200.0)
            .collect();
        let whole = |rect: Rect| {
            let halo = k.halo();
            let (x0, y0) = (rect.x.saturating_sub(halo), rect.y.saturating_sub(halo));
            let (x1, y1) = ((rect.right() + halo).min(w), (rect.bottom() + halo).min(h));
            let s = Rect::new(x0, y0, x1 - x0, y1 - y0);
            let sub: Vec<f32> = (s.y..s.bottom())
                .flat_map(|y| data[(y * w + s.x) * 3..(y * w + s.right()) * 3].to_vec())
                .collect();
            let src = TileView {
                data: &sub,
                rect: s,
                channels: 3,
                frame: (w, h),
            };
            let mut out = vec![0.0; rect.width * rect.height * 3];
            let mut dst = TileMut {
                data: &mut out,
                rect,
                channels: 3,
            };
            k.run(&src, &mut dst).expect("runs");
            out
        };
        let full = whole(Rect::new(0, 0, w, h));
        for tile in [
            Rect::new(0, 0, 11, 9),
            Rect::new(13, 8, 10, 12),
            Rect::new(30, 20, 7, 9),
        ] {
            let got = whole(tile);
            for y in 0..tile.height {
                for x in 0..tile.width {
                    for c in 0..3 {
                        let a = got[(y * tile.width + x) * 3 + c];
                        let b = full[((tile.y + y) * w + tile.x + x) * 3 + c];
                        assert_eq!(a.to_bits(), b.to_bits(), "{tile:?} ({x},{y})");
                    }
                }
            }
        }
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
        let out = run_whole(&k, &data, w, h).expect("runs");
        assert!(out != data, "something was sharpened");
        for p in out.chunks_exact(3) {
            assert!((p[1] / p[0] - 0.5).abs() < 1e-5 && (p[2] / p[0] - 0.25).abs() < 1e-5);
        }
    }
}
