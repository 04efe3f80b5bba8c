//! The cross-channel slopes of RCD with fitted slopes (`rcd-fit`).
//!
//! RCD, like every colour-difference method, adds one channel's detail to another's estimate
//! at full strength: right where the channels share their detail (most of the Kodak set, and
//! gamma-encoded images in general), a maze and false detail where they do not (a saturated
//! red petal whose green is flat). Here each correction is scaled by a slope fitted over a
//! `(2 RADIUS + 1)^2` window, as residual interpolation does (Kiku et al. 2013, 2014) but
//! kept inside RCD's directional steps: 1 where the channels agree, their ratio where one is
//! a scaled copy of the other (constant hue under changing light, in linear light), near 0
//! where one channel has detail the other lacks. Slopes stay at most 1 and tend to 1 where a
//! window has no detail (`EPS_FIT`).

use super::{RADIUS, Scratch, first, m_green};
use crate::stages::demosaic::Window;
use crate::stages::demosaic::{give, take, view};

/// Added to the window sums of squared Laplacians before a slope is taken from them: where
/// there is no detail to fit, the slopes tend to 1 (RCD's colour differences).
const EPS_FIT: f32 = 1e-5;

/// 1 at the green sites of a row whose first (index 0) site is green when `phase == 0`, at
/// the others when `phase == 1`.
#[inline(always)]
fn green_mask(mask: &mut Vec<f32>, m: usize, phase: usize) {
    mask.clear();
    mask.extend((0..m).map(|x| if (x + phase) % 2 == 0 { 1.0 } else { 0.0 }));
}

/// Sums each plane (rows of `s` samples) over `(2 RADIUS + 1)^2` windows, in place: a sum is
/// valid `RADIUS` samples further from the window edge than the plane's data. The sums run
/// over whole planes, margins included; callers read only the valid ones.
#[inline(always)]
fn box_sum(planes: &mut [Vec<f32>], tmp: &mut Vec<f32>, s: usize) {
    let mut levels: [Vec<f32>; LEVELS] = std::array::from_fn(|_| take(0));
    for plane in planes {
        tmp.resize(plane.len(), 0.0);
        line_sums(plane, tmp, 1, &mut levels);
        line_sums(tmp, plane, s, &mut levels);
    }
    for v in levels {
        give(v);
    }
}

/// Samples a window sum adds along one axis.
const WIDTH: usize = 2 * RADIUS + 1;
/// Doubling levels: sums of 2, 4, ... samples up to the largest power of 2 in [`WIDTH`].
const LEVELS: usize = WIDTH.ilog2() as usize;

/// `dst[i]` = the sum of the [`WIDTH`] samples of `src` centred on `i`, `step` apart, for `i`
/// in `RADIUS * step..len - RADIUS * step`. By doubling (sums of 2, 4, 8, ... neighbours,
/// then one term per binary digit of the width): about `2 log2(WIDTH)` additions a sample
/// instead of `WIDTH - 1`, in an order that depends on `i` alone, so tiles agree with
/// whole-image runs bit for bit.
#[inline(always)]
fn line_sums(src: &[f32], dst: &mut [f32], step: usize, levels: &mut [Vec<f32>; LEVELS]) {
    let n = src.len();
    if n <= 2 * RADIUS * step {
        return;
    }
    for k in 0..LEVELS {
        levels[k].resize(n, 0.0);
        let (done, rest) = levels.split_at_mut(k);
        let from: &[f32] = if k == 0 { src } else { &done[k - 1] };
        pair_sums(from, &mut rest[0], step << k);
    }
    let r = RADIUS * step;
    let m = n - 2 * r;
    let out = &mut dst[r..r + m];
    // The highest digit first: a sum of 2^LEVELS samples starting at the window's first.
    out.copy_from_slice(&levels[LEVELS - 1][..m]);
    let mut offset = 1 << LEVELS;
    for k in (0..LEVELS).rev() {
        if WIDTH & (1 << k) != 0 {
            let from: &[f32] = if k == 0 { src } else { &levels[k - 1] };
            let add = &from[offset * step..][..m];
            for i in 0..m {
                out[i] += add[i];
            }
            offset += 1 << k;
        }
    }
}

/// `out[i] = v[i] + v[i + gap]` where both exist.
#[inline(always)]
fn pair_sums(v: &[f32], out: &mut [f32], gap: usize) {
    let m = v.len().saturating_sub(gap);
    let (a, b) = (&v[..m], &v[gap..gap + m]);
    let out = &mut out[..m];
    for i in 0..m {
        out[i] = a[i] + b[i];
    }
}

/// Step 2, preparation: the slope `a` of green on red (blue) at each red (blue) site, the
/// factor of the Hamilton-Adams correction (1 in RCD).
///
/// Along each line, a site's own-colour Laplacian (`2 c - c(-2) - c(2)`) is paired with the
/// mean of its two neighbours' (the line's other colour, interpolated to the site). Summed
/// over a window, the energies of the green and of the red (blue) member of the pairs give
/// `a = sqrt(E_green / E_red)`, at most 1: about 1 where the channels share their detail,
/// their ratio where one colour is a scaled copy of the other (linear light), and near 0 in
/// a saturated red whose green is flat, where RCD's correction would copy red's texture into
/// green as a maze. The energy ratio, not a regression on the cross products, because the
/// interpolated member is attenuated at high frequencies and a regression would take that
/// for weak correlation (measured: it loses 8 dB on Kodak). Valid from margin `3 + RADIUS`.
#[inline(always)]
pub(super) fn green_slopes(win: &Window, cfa: &[f32], sc: &mut Scratch) {
    let (s, rows) = (win.stride, win.rows);
    let n = s * rows;
    let si = s as isize;
    sc.lh.resize(n, 0.0);
    sc.lv.resize(n, 0.0);
    for y in 2..rows - 2 {
        let (b, m) = (y * s + 2, s - 4);
        let v = |o: isize| view(cfa, b, o, m);
        let (c, l2, r2, n2, s2) = (v(0), v(-2), v(2), v(-2 * si), v(2 * si));
        let lh = &mut sc.lh[b..b + m];
        for x in 0..m {
            lh[x] = 2.0 * c[x] - l2[x] - r2[x];
        }
        let lv = &mut sc.lv[b..b + m];
        for x in 0..m {
            lv[x] = 2.0 * c[x] - n2[x] - s2[x];
        }
    }
    for v in &mut sc.sums {
        v.resize(n, 0.0);
    }
    // The line of a row pairs green with the row's other colour (the row's pair); the line of
    // a column pairs green with the column's, which is the row's at the row's red (blue)
    // sites and the other pair at its green sites.
    let (lo, m) = (3, s - 6);
    let mut gm = take(0);
    let [er_g, er_c, eb_g, eb_c] = &mut sc.sums;
    for y in lo..rows - lo {
        let b = y * s + lo;
        let x0 = first(win, y, lo, false);
        green_mask(&mut gm, m, 1 - (x0 - lo));
        let red_row = win.pattern.color(y, x0) == 0;
        let (lh, lv) = (&sc.lh[..], &sc.lv[..]);
        let (hc, hl, hr) = (view(lh, b, 0, m), view(lh, b, -1, m), view(lh, b, 1, m));
        let (vc, vn, vs) = (view(lv, b, 0, m), view(lv, b, -si, m), view(lv, b, si, m));
        let (own_g, own_c, other_g, other_c) = if red_row {
            (
                &mut er_g[b..b + m],
                &mut er_c[b..b + m],
                &mut eb_g[b..b + m],
                &mut eb_c[b..b + m],
            )
        } else {
            (
                &mut eb_g[b..b + m],
                &mut eb_c[b..b + m],
                &mut er_g[b..b + m],
                &mut er_c[b..b + m],
            )
        };
        for x in 0..m {
            let g = gm[x];
            let h_nb = 0.5 * (hl[x] + hr[x]);
            let (h_own, h_nb) = (hc[x] * hc[x], h_nb * h_nb);
            let v_nb = 0.5 * (vn[x] + vs[x]);
            let (v_own, v_nb) = (vc[x] * vc[x], v_nb * v_nb);
            // Green's and the other colour's member of each pair.
            let (h_g, h_c) = (h_nb + (h_own - h_nb) * g, h_own + (h_nb - h_own) * g);
            let (v_g, v_c) = (v_nb + (v_own - v_nb) * g, v_own + (v_nb - v_own) * g);
            own_g[x] = h_g + v_g * (1.0 - g);
            own_c[x] = h_c + v_c * (1.0 - g);
            other_g[x] = v_g * g;
            other_c[x] = v_c * g;
        }
    }
    give(gm);
    box_sum(&mut sc.sums, &mut sc.hp_a, s);
    let lo = lo + RADIUS;
    sc.a_site.resize(n, 0.0);
    let [er_g, er_c, eb_g, eb_c] = &sc.sums;
    for y in lo..rows - lo {
        let (b, m) = (y * s + lo, s - 2 * lo);
        let x0 = first(win, y, lo, false);
        let (eg, ec) = if win.pattern.color(y, x0) == 0 {
            (&er_g[b..b + m], &er_c[b..b + m])
        } else {
            (&eb_g[b..b + m], &eb_c[b..b + m])
        };
        let a = &mut sc.a_site[b..b + m];
        for x in 0..m {
            a[x] = ((eg[x] + EPS_FIT) / (ec[x] + EPS_FIT)).sqrt().min(1.0);
        }
    }
}

/// Step 3, preparation: the slopes of red and of blue on green, now that green is known
/// everywhere. The regression, over the red (blue) sites of a window, of the red (blue)
/// lattice's Laplacian (`4 c - c(±2, 0) - c(0, ±2)`) on the same stencil applied to green,
/// at most 1 (colour differences, as RCD, where the channels agree; less where red's
/// detail is not green's). Same sites, same stencil, so no interpolation biases it. Valid
/// from margin `m_green(true) + 2 + RADIUS`.
#[inline(always)]
pub(super) fn colour_slopes(
    win: &Window,
    cfa: &[f32],
    g: &[f32],
    sums: &mut [Vec<f32>; 4],
    tmp: &mut Vec<f32>,
    [b_r, b_b]: [&mut Vec<f32>; 2],
) {
    let (s, rows) = (win.stride, win.rows);
    let si = s as isize;
    let lo = m_green(true) + 2;
    let m = s - 2 * lo;
    let mut gm = take(0);
    let [xr, gr, xb, gb] = &mut *sums;
    for y in lo..rows - lo {
        let b = y * s + lo;
        let x0 = first(win, y, lo, false);
        green_mask(&mut gm, m, 1 - (x0 - lo));
        let vc = |o: isize| view(cfa, b, o, m);
        let vg = |o: isize| view(g, b, o, m);
        let (c, cn, cs, cw, ce) = (vc(0), vc(-2 * si), vc(2 * si), vc(-2), vc(2));
        let (g0, gn, gs, gw, ge) = (vg(0), vg(-2 * si), vg(2 * si), vg(-2), vg(2));
        let (tx, tg, ox, og) = if win.pattern.color(y, x0) == 0 {
            (
                &mut xr[b..b + m],
                &mut gr[b..b + m],
                &mut xb[b..b + m],
                &mut gb[b..b + m],
            )
        } else {
            (
                &mut xb[b..b + m],
                &mut gb[b..b + m],
                &mut xr[b..b + m],
                &mut gr[b..b + m],
            )
        };
        ox.fill(0.0);
        og.fill(0.0);
        for x in 0..m {
            let keep = 1.0 - gm[x];
            let hc = 4.0 * c[x] - cn[x] - cs[x] - cw[x] - ce[x];
            let hg = 4.0 * g0[x] - gn[x] - gs[x] - gw[x] - ge[x];
            tx[x] = hc * hg * keep;
            tg[x] = hg * hg * keep;
        }
    }
    give(gm);
    box_sum(sums, tmp, s);
    let lo = lo + RADIUS;
    let n = s * rows;
    b_r.resize(n, 0.0);
    b_b.resize(n, 0.0);
    let [xr, gr, xb, gb] = &*sums;
    for y in lo..rows - lo {
        let (b, m) = (y * s + lo, s - 2 * lo);
        for (out, (x_s, g_s)) in [(&mut *b_r, (xr, gr)), (&mut *b_b, (xb, gb))] {
            let (out, x_s, g_s) = (&mut out[b..b + m], &x_s[b..b + m], &g_s[b..b + m]);
            for x in 0..m {
                out[x] = ((x_s[x] + EPS_FIT) / (g_s[x] + EPS_FIT)).clamp(0.0, 1.0);
            }
        }
    }
}
