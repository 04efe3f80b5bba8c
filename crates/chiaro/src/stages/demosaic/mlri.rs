//! Minimized-Laplacian Residual Interpolation (MLRI) for Bayer mosaics.
//!
//! Colour-difference methods (RCD, Hamilton-Adams, Malvar) add one channel's Laplacian to
//! another's estimate: right where channels move together (most of the Kodak set), a maze
//! and false detail where they do not (saturated flowers, coloured fabric). Residual
//! interpolation instead fits, in every small window, the linear model
//! `target = a * guide + b` that a guided filter would, takes the model as a tentative
//! estimate, and interpolates only its *residual* at the sampled sites. Where the channels are unrelated
//! the fit gives `a` near 0 and the result falls back to plain interpolation; where they are
//! related it borrows the guide's detail. MLRI estimates `a` from the Laplacians of guide and
//! target (`a = sum(L(guide) L(target)) / sum(L(guide)^2)`) so that the residual it leaves
//! is as smooth, and so as easy to interpolate, as possible.
//!
//! Steps:
//! 1. Green along rows and along columns separately: each line holds green and one of red or
//!    blue (K). Both are linearly interpolated along the line; green at K sites comes from the
//!    MLRI fit with K as guide (1D windows), K at green sites from the fit with green as guide;
//!    the directional colour difference `G - K` follows.
//! 2. The two directional differences are blended by the inverse square of their gradients
//!    summed over 5x5 windows on each side (the weights of Pekkucuksen and Altunbasak's GBTF),
//!    each side's difference smoothed along its direction; green at a K site is the sample
//!    plus the blended difference.
//! 3. Red and blue everywhere by 2D MLRI with the full green as guide: the fit over the red
//!    (blue) samples of a 9x9 window, the residual at those samples interpolated bilinearly.
//!
//! The smoothing of step 2 decides the balance between correlated and saturated content
//! (measured on the validation sets, Kodak in the sRGB domain / chiaro's saturated set in
//! linear light): the steep kernel used here 38.8 / 32.1 dB, GBTF's wide kernel 40.4 / 23.7,
//! a smoothing weighted by similarity to the centre 36.9 / 36.0. Choosing per pixel (as
//! adaptive residual interpolation does) is the way to have both.
//!
//! # Units
//! Same as the input samples (normalised linear light around 0..1); `EPS` assumes that scale.
//!
//! # References
//! D. Kiku, Y. Monno, M. Tanaka, M. Okutomi, "Residual interpolation for color image
//! demosaicking", IEEE ICIP 2013; "Minimized-Laplacian residual interpolation for color image
//! demosaicking", IS&T/SPIE Electronic Imaging 2014.
//! I. Pekkucuksen, Y. Altunbasak, "Gradient based threshold free color filter array
//! interpolation", IEEE ICIP 2010 (the directional weights).

use super::{Border, Mosaic, Window, floor_locally, run_tiled};
use crate::image::Rect;

/// Reach of the method: the line estimates (linear interpolation 1 + Laplacian 2 + fit
/// window 11 + coefficient averaging 11 + residual interpolation 1 = 26), then the direction
/// weights (gradient 1 + 5x5 windows centred two pixels off = 5; the smoothing's 3 lies
/// inside), then the 2D fit (Laplacian 2 + fit 4 + averaging 4 + residual interpolation 1 =
/// 11): 42.
pub(super) const HALO: usize = 42;

/// Half width of the 1D fitting window along a line (23 samples; chosen among 3, 5, 7 and 11
/// on the Kodak and saturated validation sets: longer windows gain on Kodak, 38.2 -> 38.8 dB,
/// and change the saturated set by under 0.1 dB).
const LINE_RADIUS: usize = 11;
/// Half width of the 2D fitting window (9x9 pixels, about 25 red or blue samples; 5x5 and
/// 7x7 measured lower on both validation sets).
const BOX_RADIUS: usize = 4;
/// Keeps the fitted slope finite where the guide is flat (per Laplacian sample squared).
const EPS: f64 = 1e-7;
/// Weights of a difference and its next three neighbours along one side: a steep, nearly
/// half-Gaussian falloff (sigma about 1). GBTF's wide 5-tap kernel gains 1.7 dB on Kodak and
/// loses 8 on the saturated set (see the module documentation).
const SIDE: [f32; 4] = [0.5713, 0.3465, 0.0773, 0.0049];

pub(super) fn run(src: &Mosaic, region: Rect, out: &mut [f32]) {
    run_tiled(src, region, HALO, Border::Reflect, out, window);
}

/// MLRI on one padded window.
fn window(win: &Window, planes: &mut [Vec<f32>; 3]) {
    let (w, h) = (win.stride, win.rows);
    let m = &win.data[..w * h];
    let colors: Vec<u8> = (0..w * h)
        .map(|i| win.pattern.color(i / w, i % w))
        .collect();
    let green = green_plane(m, &colors, w, h);
    for (c, plane) in [(0u8, 0usize), (2, 2)] {
        planes[plane] = residual_2d(m, &green, &colors, c, w, h);
    }
    planes[1] = green;
    // A fitted model can overshoot below black at a sharp edge: estimates stop at the
    // darkest nearby sample (0 for non-negative data), as in RCD.
    let mut scratch = Vec::new();
    floor_locally(m, w, h, planes, &mut scratch);
}

/// `v[i]` for an index clamped to `0..n`.
#[inline]
fn at(v: &[f32], i: isize) -> f32 {
    v[i.clamp(0, v.len() as isize - 1) as usize]
}

/// The colour difference `G - K` along one line of samples `m` (green where `is_g`).
fn line_difference(m: &[f32], is_g: &[bool], out: &mut [f32]) {
    let n = m.len();
    let mut g = vec![0.0f32; n];
    let mut k = vec![0.0f32; n];
    for x in 0..n {
        let i = x as isize;
        let side = 0.5 * (at(m, i - 1) + at(m, i + 1));
        (g[x], k[x]) = if is_g[x] { (m[x], side) } else { (side, m[x]) };
    }
    let g_full = fit_line(&g, &k, is_g, true);
    let k_full = fit_line(&k, &g, is_g, false);
    for x in 0..n {
        out[x] = g_full[x] - k_full[x];
    }
}

/// MLRI along a line: `target` estimated from `guide` by the fit over the sites where
/// `is_g == at_g` (where `target` was sampled), plus the fit's residual there, linearly
/// interpolated to the other sites.
fn fit_line(target: &[f32], guide: &[f32], is_g: &[bool], at_g: bool) -> Vec<f32> {
    let n = target.len();
    let lap = |v: &[f32], x: usize| {
        let i = x as isize;
        f64::from(2.0 * v[x] - at(v, i - 2) - at(v, i + 2))
    };
    // Prefix sums over the sampled sites of L(guide) L(target), L(guide)^2, target, guide
    // and their count, in fixed point (see `fixed`).
    let mut sums = vec![[0i64; 5]; n + 1];
    for x in 0..n {
        let mut s = sums[x];
        if is_g[x] == at_g {
            let (lg, lt) = (lap(guide, x), lap(target, x));
            for (s, v) in s.iter_mut().zip([
                fixed(lg * lt),
                fixed(lg * lg),
                fixed(f64::from(target[x])),
                fixed(f64::from(guide[x])),
                1,
            ]) {
                *s = s.wrapping_add(v);
            }
        }
        sums[x + 1] = s;
    }
    let window = |x: usize| (x.saturating_sub(LINE_RADIUS), (x + LINE_RADIUS + 1).min(n));
    // The fit of every window, then (as a guided filter does) each sample's coefficients
    // averaged over the windows that contain it.
    let mut coef = vec![[0i64; 2]; n + 1];
    for x in 0..n {
        let (lo, hi) = window(x);
        let s: [i64; 5] = std::array::from_fn(|j| sums[hi][j].wrapping_sub(sums[lo][j]));
        let count = s[4] as f64;
        let a = float(s[0]) / (float(s[1]) + EPS * count.max(1.0));
        let b = (float(s[2]) - a * float(s[3])) / count.max(1.0);
        coef[x + 1] = [
            coef[x][0].wrapping_add(fixed(a)),
            coef[x][1].wrapping_add(fixed(b)),
        ];
    }
    let mut est = vec![0.0f32; n];
    let mut residual = vec![0.0f32; n];
    for x in 0..n {
        let (lo, hi) = window(x);
        let k = (hi - lo) as f64;
        let (a, b) = (
            float(coef[hi][0].wrapping_sub(coef[lo][0])) / k,
            float(coef[hi][1].wrapping_sub(coef[lo][1])) / k,
        );
        est[x] = (a * f64::from(guide[x]) + b) as f32;
        if is_g[x] == at_g {
            residual[x] = target[x] - est[x];
        }
    }
    for x in 0..n {
        if is_g[x] != at_g {
            let i = x as isize;
            est[x] += 0.5 * (at(&residual, i - 1) + at(&residual, i + 1));
        } else {
            est[x] = target[x];
        }
    }
    est
}

/// Sums are taken in fixed point, 2^-32 steps, with wrapping integer arithmetic: integer
/// sums are exact, so a window's sum is the same whatever the tile it is computed in and
/// tiled runs equal whole-image runs to the bit (floating-point prefix sums would depend on
/// where the tile starts); the running prefix may wrap, a window's difference does not
/// (its true value stays far inside 2^63 for samples up to several hundred times white).
const FIXED: f64 = (1u64 << 32) as f64;

/// Truncated, not rounded (as exact, and no library call on baseline x86-64).
#[inline]
fn fixed(v: f64) -> i64 {
    (v * FIXED) as i64
}

#[inline]
fn float(v: i64) -> f64 {
    v as f64 / FIXED
}

/// Box sums of `v` over `(2r + 1)^2` windows (clipped at the edges), by an integral image
/// in fixed point.
fn box_sums(v: &[f64], w: usize, h: usize, r: usize) -> Vec<f64> {
    let mut integral = vec![0i64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0i64;
        for x in 0..w {
            row = row.wrapping_add(fixed(v[y * w + x]));
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1].wrapping_add(row);
        }
    }
    let mut out = vec![0.0f64; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let s = |yy: usize, xx: usize| integral[yy * (w + 1) + xx];
            let sum = s(y1, x1)
                .wrapping_sub(s(y0, x1))
                .wrapping_sub(s(y1, x0))
                .wrapping_add(s(y0, x0));
            out[y * w + x] = float(sum);
        }
    }
    out
}

/// Steps 1 and 2: the full green plane.
fn green_plane(m: &[f32], colors: &[u8], w: usize, h: usize) -> Vec<f32> {
    let mut dh = vec![0.0f32; w * h];
    let mut dv = vec![0.0f32; w * h];
    let is_g: Vec<bool> = colors.iter().map(|&c| c == 1).collect();
    for y in 0..h {
        let r = y * w..(y + 1) * w;
        line_difference(&m[r.clone()], &is_g[r.clone()], &mut dh[r]);
    }
    let mut col = vec![0.0f32; h];
    let mut col_g = vec![false; h];
    let mut col_d = vec![0.0f32; h];
    for x in 0..w {
        for y in 0..h {
            col[y] = m[y * w + x];
            col_g[y] = is_g[y * w + x];
        }
        line_difference(&col, &col_g, &mut col_d);
        for y in 0..h {
            dv[y * w + x] = col_d[y];
        }
    }
    // Gradients of the directional differences, summed over 5x5 windows.
    let grad = |d: &[f32], step: usize| -> Vec<f64> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let (prev, next) = if step == 1 {
                    (y * w + x.saturating_sub(1), y * w + (x + 1).min(w - 1))
                } else {
                    (y.saturating_sub(1) * w + x, (y + 1).min(h - 1) * w + x)
                };
                f64::from((d[next] - d[prev]).abs())
            })
            .collect()
    };
    let gh = box_sums(&grad(&dh, 1), w, h, 2);
    let gv = box_sums(&grad(&dv, w), w, h, 2);
    let mut g = m.to_vec();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if is_g[i] {
                continue;
            }
            let xs = |dx: isize| (x as isize + dx).clamp(0, w as isize - 1) as usize;
            let ys = |dy: isize| (y as isize + dy).clamp(0, h as isize - 1) as usize;
            let weight = |s: f64| 1.0 / (s * s + 1e-20);
            let (we, ww) = (weight(gh[y * w + xs(2)]), weight(gh[y * w + xs(-2)]));
            let (ws, wn) = (weight(gv[ys(2) * w + x]), weight(gv[ys(-2) * w + x]));
            let side = |f: &dyn Fn(isize) -> f32| -> f64 {
                SIDE.iter()
                    .enumerate()
                    .map(|(k, &c)| f64::from(c * f(k as isize)))
                    .sum()
            };
            let fe = side(&|k| dh[y * w + xs(k)]);
            let fw = side(&|k| dh[y * w + xs(-k)]);
            let fs = side(&|k| dv[ys(k) * w + x]);
            let f_n = side(&|k| dv[ys(-k) * w + x]);
            let d = (we * fe + ww * fw + ws * fs + wn * f_n) / (we + ww + ws + wn);
            g[i] = m[i] + d as f32;
        }
    }
    g
}

/// Step 3: the plane of colour `c` (0 red, 2 blue) by 2D MLRI with `green` as guide.
fn residual_2d(m: &[f32], green: &[f32], colors: &[u8], c: u8, w: usize, h: usize) -> Vec<f32> {
    let site = |x: usize, y: usize| colors[y * w + x] == c;
    // Laplacian on the colour's own lattice (neighbours two pixels away).
    let lap = |v: &[f32], x: usize, y: usize| {
        let (xi, yi) = (x as isize, y as isize);
        let p = |dx: isize, dy: isize| {
            let xx = (xi + dx).clamp(0, w as isize - 1) as usize;
            let yy = (yi + dy).clamp(0, h as isize - 1) as usize;
            v[yy * w + xx]
        };
        f64::from(4.0 * p(0, 0) - p(-2, 0) - p(2, 0) - p(0, -2) - p(0, 2))
    };
    let mut terms: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0f64; w * h]);
    for y in 0..h {
        for x in 0..w {
            if !site(x, y) {
                continue;
            }
            let i = y * w + x;
            let (lg, lt) = (lap(green, x, y), lap(m, x, y));
            terms[0][i] = lg * lt;
            terms[1][i] = lg * lg;
            terms[2][i] = f64::from(m[i]);
            terms[3][i] = f64::from(green[i]);
            terms[4][i] = 1.0;
        }
    }
    let sums: Vec<Vec<f64>> = terms
        .iter()
        .map(|t| box_sums(t, w, h, BOX_RADIUS))
        .collect();
    // Each window's fit, then each pixel's coefficients averaged over its windows.
    let (mut a, mut b) = (vec![0.0f64; w * h], vec![0.0f64; w * h]);
    for i in 0..w * h {
        let n = sums[4][i].max(1.0);
        a[i] = sums[0][i] / (sums[1][i] + EPS * n);
        b[i] = (sums[2][i] - a[i] * sums[3][i]) / n;
    }
    let ones = vec![1.0f64; w * h];
    let count = box_sums(&ones, w, h, BOX_RADIUS);
    let (a, b) = (
        box_sums(&a, w, h, BOX_RADIUS),
        box_sums(&b, w, h, BOX_RADIUS),
    );
    let mut est = vec![0.0f32; w * h];
    let mut residual = vec![0.0f32; w * h];
    for i in 0..w * h {
        est[i] = ((a[i] * f64::from(green[i]) + b[i]) / count[i]) as f32;
        if colors[i] == c {
            residual[i] = m[i] - est[i];
        }
    }
    // Bilinear interpolation of the residual over the colour's lattice: the mean of the
    // sampled neighbours among the 8 around (2 or 4 of them on a Bayer lattice).
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if site(x, y) {
                out[i] = m[i];
                continue;
            }
            let (mut sum, mut count) = (0.0f32, 0u32);
            for dy in -1isize..=1 {
                for dx in -1isize..=1 {
                    let (xx, yy) = (x as isize + dx, y as isize + dy);
                    if (dx, dy) == (0, 0)
                        || xx < 0
                        || yy < 0
                        || xx >= w as isize
                        || yy >= h as isize
                    {
                        continue;
                    }
                    let (xx, yy) = (xx as usize, yy as usize);
                    if site(xx, yy) {
                        sum += residual[yy * w + xx];
                        count += 1;
                    }
                }
            }
            out[i] = est[i] + if count > 0 { sum / count as f32 } else { 0.0 };
        }
    }
    out
}
