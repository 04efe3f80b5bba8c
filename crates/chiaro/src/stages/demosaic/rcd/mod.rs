//! RCD (Ratio Corrected Demosaicing) for Bayer mosaics, with a refinement pass (`rcd`), and
//! the same steps with fitted cross-channel slopes (`rcd-fit`, chiaro's default; see
//! [`slopes`]).
//!
//! RCD interpolates along the direction in which the image varies least, scoring directions by
//! the energy of a colour-difference high-pass filter summed over a small window, which is robust
//! to the noise and fine texture that fool plain gradients. Steps, each reading only the mosaic
//! and earlier steps:
//!
//! 1. vertical/horizontal discrimination `VH = V / (V + H)` from squared 7-tap high-pass
//!    responses summed over 3 samples along each axis (the more decided of a site's value and
//!    its diagonal neighbours' mean is used);
//! 2. green at red and blue sites from the four cardinal neighbours, blended by inverse
//!    gradients within each axis and by `VH` between the axes;
//! 3. red at blue sites and blue at red sites from diagonal colour differences (`c - G`),
//!    blended the same way with a diagonal discrimination `PQ`; then red and blue at green
//!    sites from cardinal colour differences, blended by gradients and `VH`;
//! 4. refinement: green at red/blue sites again, as the site's sample plus the `VH`-blended mean
//!    colour difference `G - c` of its cardinal neighbours (now that those have `c`), then step 3
//!    once more on the refined green.
//!
//! Two departures from RCD v2.3, both measured on the Kodak set (RGGB, 8-bit protocol of
//! `tests/demosaic_kodak.rs`): the cardinal green estimates of step 2 use Hamilton-Adams
//! colour-difference corrections (`G(1) + (c(0) - c(2)) / 2`) instead of RCD's low-pass ratios
//! (`G(1) * (1 + (L(0) - L(2)) / (L(0) + L(2)))`), which keep fine detail the 3x3 low-pass
//! smooths away: 36.98 -> 39.33 dB CPSNR; and the refinement of step 4: 39.33 -> 40.46 dB
//! (a second refinement pass loses 0.1 dB).
//!
//! `rcd-fit` scales every cross-channel correction by a slope fitted per pixel: green's
//! Hamilton-Adams correction and its refinement by `a` (green on the site's colour), the
//! colour differences of step 3 by `b` (red or blue on green), as `c - b G`. With slopes of 1
//! it is RCD bit for bit. Measured, RCD -> rcd-fit (mean CPSNR by the Kodak 8-bit protocol of
//! `lab::demosaicing`): Kodak-24 demosaiced on sRGB code values 40.49 -> 40.44 dB, in linear
//! light 35.08 -> 38.01; in linear light, chiaro's saturated set `lab::saturated` 25.64 ->
//! 33.27 and the saturated raw crops of `scripts/saturated_crops.py` 30.17 -> 33.06; the
//! D750 rose's maze over its saturated red 0.0191 -> 0.0074. The estimators and the window
//! were chosen on the two saturated sets (radii 2 to 16 within 0.1 dB of each other, best at
//! 8, as on the natural raw crops); Kodak only checked them (it rises with the radius: 2
//! gives 1.2 dB less than 5, 5 40.36, 8 40.44, 11 40.55, at 20 % less speed).
//!
//! The sample at each site is kept and estimates are floored at the darkest sample of the
//! window (0 for non-negative data): noise below black stays negative so dark, saturated
//! colours keep their mean (colour-difference steps need no positivity; only the ratio
//! weights use `EPS_SQ`). Blends are
//! written as `a + t * (b - a)` so flat areas come out exactly flat.
//!
//! # Units
//!
//! Same as the input samples; the small constants `EPS`/`EPS_SQ` assume values around 0..1.
//!
//! # References
//!
//! L. Sanz Rodríguez, "Ratio Corrected Demosaicing" (RCD v2.3), 2017,
//! <https://github.com/LuisSR/RCD-Demosaicing>; as used in RawTherapee and darktable.
//! J. F. Hamilton, J. E. Adams, "Adaptive color plane interpolation in single sensor color
//! electronic camera", US patent 5,629,734, 1997.
//! D. Menon, S. Andriani, G. Calvagno, "Demosaicing with directional filtering and a posteriori
//! decision", IEEE Trans. Image Processing 16(1), 2007 (refinement by colour differences).
//! D. Kiku, Y. Monno, M. Tanaka, M. Okutomi, "Minimized-Laplacian residual interpolation for
//! color image demosaicking", IS&T/SPIE Electronic Imaging 2014 (fitted inter-channel slopes).

mod slopes;

use self::slopes::{colour_slopes, green_slopes};
use super::{Border, Mosaic, Window, floor_locally, give, resize_any, reuse, run_tiled, view};
use crate::image::Rect;

/// Margins (from the window edge) from which each step is valid. The discrimination maps
/// read the mosaic 4 away; green reads them 1 away (5); red/blue at red/blue sites read green
/// 2 away (7); red/blue at green sites read those 3 away (10); refined green reads those 1 away
/// (11); the second red/blue pass reads it 2 (13) and then 3 (16) away. With fitted slopes,
/// green also reads `a` (valid from 3 + RADIUS) and red/blue read `b` (green + 2 + RADIUS).
pub(super) const fn m_green(fit: bool) -> usize {
    if fit { 3 + RADIUS } else { 5 }
}
const fn m_rb(fit: bool) -> usize {
    if fit { m_green(fit) + 2 + RADIUS } else { 7 }
}
const fn m_refine(fit: bool) -> usize {
    m_rb(fit) + 4
}
/// The margin of the last step: the method's reach.
const fn halo(fit: bool) -> usize {
    m_refine(fit) + 5
}
/// Reach of RCD.
pub(super) const HALO: usize = halo(false);
/// Reach of RCD with fitted slopes.
pub(super) const HALO_FIT: usize = halo(true);

/// Half size of the window the cross-channel slopes are fitted over.
pub(super) const RADIUS: usize = 8;

/// Keeps the inverse-gradient weights finite in flat areas.
const EPS: f32 = 1e-5;
/// Floor of the squared high-pass energies.
const EPS_SQ: f32 = 1e-10;

/// Per-call working planes, from the thread's buffer pool.
pub(super) struct Scratch {
    /// Vertical/horizontal discrimination: near 0 where the image varies least vertically
    /// (interpolate vertically), near 1 where it varies least horizontally; refined
    /// ([`refine`]) once computed.
    pub(super) vh: Vec<f32>,
    /// Diagonal discrimination, the same for the two diagonals; refined the same way.
    pub(super) pq: Vec<f32>,
    /// Squared high-pass responses (vertical/horizontal, then the two diagonals).
    pub(super) hp_a: Vec<f32>,
    pub(super) hp_b: Vec<f32>,
    /// One row of estimates for every site, before the sites that need them are picked.
    pub(super) row: Vec<f32>,
    /// Slope of green on the site's own colour, at red and blue sites.
    pub(super) a_site: Vec<f32>,
    /// Slopes of red and of blue on green, everywhere.
    pub(super) b_r: Vec<f32>,
    pub(super) b_b: Vec<f32>,
}

impl Scratch {
    fn take() -> Self {
        Scratch {
            vh: reuse(),
            pq: reuse(),
            hp_a: reuse(),
            hp_b: reuse(),
            row: reuse(),
            a_site: reuse(),
            b_r: reuse(),
            b_b: reuse(),
        }
    }

    fn give(self) {
        let planes = [self.vh, self.pq, self.hp_a, self.hp_b, self.row];
        let slopes = [self.a_site, self.b_r, self.b_b];
        for v in planes.into_iter().chain(slopes) {
            give(v);
        }
    }
}

/// RCD.
pub(super) fn run(src: &Mosaic, region: Rect, out: &mut [f32]) {
    run_with(src, region, out, HALO, window_dispatched);
}

/// RCD with fitted slopes.
pub(super) fn run_fit(src: &Mosaic, region: Rect, out: &mut [f32]) {
    run_with(src, region, out, HALO_FIT, window_fit_dispatched);
}

/// [`run`] (`fit == false`) or [`run_fit`] without runtime dispatch: the code compiled for the
/// crate's baseline target, the reference the dispatched versions are tested against.
#[cfg(test)]
pub(super) fn run_reference(src: &Mosaic, region: Rect, out: &mut [f32], fit: bool) {
    if fit {
        run_with(src, region, out, HALO_FIT, window::<true>);
    } else {
        run_with(src, region, out, HALO, window::<false>);
    }
}

fn run_with(
    src: &Mosaic,
    region: Rect,
    out: &mut [f32],
    halo: usize,
    kernel: fn(&Window, &mut [Vec<f32>; 3], &mut Scratch),
) {
    let mut scratch = Scratch::take();
    run_tiled(src, region, halo, Border::Reflect, out, |win, planes| {
        kernel(win, planes, &mut scratch);
    });
    scratch.give();
}

/// [`window`] compiled for several instruction sets, the best the CPU has picked at run time
/// (once, then an atomic load per call). The arithmetic is the same in every version: no
/// fused multiply-adds are formed (Rust does not contract `a * b + c`), so all versions give
/// the same bits as the baseline one; the wider vectors only do more samples per instruction.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn window_dispatched(win: &Window, planes: &mut [Vec<f32>; 3], sc: &mut Scratch) {
    window::<false>(win, planes, sc);
}

/// [`window_dispatched`] with fitted slopes.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn window_fit_dispatched(win: &Window, planes: &mut [Vec<f32>; 3], sc: &mut Scratch) {
    window::<true>(win, planes, sc);
}

/// RCD on one padded window, with fitted slopes when `FIT`, then the local floor. Everything
/// below is `#[inline(always)]` so it is compiled into each version of the dispatched
/// functions with that version's features.
#[inline(always)]
fn window<const FIT: bool>(win: &Window, planes: &mut [Vec<f32>; 3], sc: &mut Scratch) {
    core::<FIT>(win, planes, sc);
    // Estimates may not undershoot the darkest nearby sample (see `floor_locally`).
    let n = win.stride * win.rows;
    floor_locally(&win.data[..n], win.stride, win.rows, planes, &mut sc.hp_a);
}

#[inline(always)]
fn sq(v: f32) -> f32 {
    v * v
}

/// The more decided of a site's discrimination and its diagonal neighbours' mean.
#[inline(always)]
fn refine(central: f32, nw: f32, ne: f32, sw: f32, se: f32) -> f32 {
    let neigh = 0.25 * (nw + ne + sw + se);
    if (0.5 - central).abs() < (0.5 - neigh).abs() {
        neigh
    } else {
        central
    }
}

/// [`refine`] over rows and columns `lo..len - lo` of a discrimination map `d` into `out`.
#[inline(always)]
fn refine_plane(d: &[f32], out: &mut [f32], s: usize, rows: usize, lo: usize) {
    let si = s as isize;
    let m = s - 2 * lo;
    for y in lo..rows - lo {
        let b = y * s + lo;
        let v = |o: isize| view(d, b, o, m);
        let (dc, dnw, dne, dsw, dse) = (v(0), v(-si - 1), v(-si + 1), v(si - 1), v(si + 1));
        let out = &mut out[b..b + m];
        for x in 0..m {
            out[x] = refine(dc[x], dnw[x], dne[x], dsw[x], dse[x]);
        }
    }
}

/// A discrimination map `A / (A + B)` from squared high-pass energies `a` and `b`, each
/// summed over 3 samples along its own axis (`step[0]` apart for `a`, `step[1]` for `b`),
/// for rows and columns `4..len - 4`.
#[inline(always)]
fn discriminate(a: &[f32], b: &[f32], out: &mut [f32], s: usize, rows: usize, step: [isize; 2]) {
    for y in 4..rows - 4 {
        let (base, m) = (y * s + 4, s - 8);
        let va = |o: isize| view(a, base, o, m);
        let vb = |o: isize| view(b, base, o, m);
        let (a0, a1, a2) = (va(-step[0]), va(0), va(step[0]));
        let (b0, b1, b2) = (vb(-step[1]), vb(0), vb(step[1]));
        let out = &mut out[base..base + m];
        for x in 0..m {
            let ea = (a0[x] + a1[x] + a2[x]).max(EPS_SQ);
            let eb = (b0[x] + b1[x] + b2[x]).max(EPS_SQ);
            out[x] = ea / (ea + eb);
        }
    }
}

/// Interpolation from two sides weighted by the inverse of each side's gradient:
/// `(ga * b + gb * a) / (ga + gb)`, written so that `a == b` returns `a` exactly.
#[inline(always)]
fn blend(a: f32, b: f32, ga: f32, gb: f32) -> f32 {
    a + (b - a) * (ga / (ga + gb))
}

/// For each row `y` of `lo..rows - lo`: the first block estimates the `m` samples from index
/// `base` (columns `lo..s - lo`) into `out`, and the second keeps those of the sites that need
/// them (`row`). Estimating every sample and dropping half costs less than a stride-2 loop the
/// compiler cannot vectorise. A macro rather than a function taking closures: closures are
/// compiled once, for the baseline target, while the blocks here become part of each
/// dispatched version.
macro_rules! per_row_sites {
    ($s:expr, $rows:expr, $lo:expr, $tmp:expr,
     |$base:ident, $m:ident, $out:ident| $estimate:block,
     |$y:ident, $row:ident| $store:block $(,)?) => {{
        let (stride, rows, lo) = ($s, $rows, $lo);
        let $m = stride - 2 * lo;
        let tmp: &mut Vec<f32> = $tmp;
        tmp.clear();
        tmp.resize($m, 0.0);
        for $y in lo..rows - lo {
            let $base = $y * stride + lo;
            {
                let $out: &mut [f32] = &mut tmp[..$m];
                $estimate
            }
            {
                let $row: &[f32] = &tmp[..$m];
                $store
            }
        }
    }};
}

#[inline(always)]
fn core<const FIT: bool>(win: &Window, planes: &mut [Vec<f32>; 3], sc: &mut Scratch) {
    let (m_green, m_rb, m_refine, halo) = (m_green(FIT), m_rb(FIT), m_refine(FIT), halo(FIT));
    let (s, rows) = (win.stride, win.rows);
    let n = s * rows;
    let cfa = &win.data[..n];
    // No need to clear: every step writes the whole area later steps read (the margins
    // above), so stale values of the previous window are never read.
    for v in [&mut sc.vh, &mut sc.pq, &mut sc.hp_a, &mut sc.hp_b] {
        resize_any(v, n);
    }
    let [pr, pg, pb] = planes;
    pr.copy_from_slice(cfa);
    pg.copy_from_slice(cfa);
    pb.copy_from_slice(cfa);
    if rows < 2 * halo + 1 || s < 2 * halo + 1 {
        return;
    }
    let si = s as isize;

    // Step 1: squared 7-tap high-pass along columns (hp_a) and rows (hp_b).
    for y in 3..rows - 3 {
        let (b, m) = (y * s + 3, s - 6);
        let v = |o: isize| view(cfa, b, o, m);
        let (a3, a2, a1, c, b1, b2, b3) = (
            v(-3 * si),
            v(-2 * si),
            v(-si),
            v(0),
            v(si),
            v(2 * si),
            v(3 * si),
        );
        let (l3, l2, l1, r1, r2, r3) = (v(-3), v(-2), v(-1), v(1), v(2), v(3));
        let hv = &mut sc.hp_a[b..b + m];
        for x in 0..m {
            hv[x] = sq((a3[x] - a1[x] - b1[x] + b3[x]) - 3.0 * (a2[x] + b2[x]) + 6.0 * c[x]);
        }
        let hh = &mut sc.hp_b[b..b + m];
        for x in 0..m {
            hh[x] = sq((l3[x] - l1[x] - r1[x] + r3[x]) - 3.0 * (l2[x] + r2[x]) + 6.0 * c[x]);
        }
    }
    // Step 1.2: discrimination from the energies summed over 3 samples along each axis.
    discriminate(&sc.hp_a, &sc.hp_b, &mut sc.vh, s, rows, [si, 1]);

    // Step 1.3: the more decided of each site's discrimination and its diagonal neighbours'
    // mean, once for all later steps (valid from margin 5); the raw map is not needed again.
    refine_plane(&sc.vh, &mut sc.hp_a, s, rows, 5);
    std::mem::swap(&mut sc.vh, &mut sc.hp_a);

    // Step 2: green at red and blue sites.
    if FIT {
        green_slopes(win, cfa, sc);
    }
    let vh = &sc.vh[..];
    let a_site = &sc.a_site[..];
    per_row_sites!(
        s,
        rows,
        m_green,
        &mut sc.row,
        |b, m, out| {
            let v = |o: isize| view(cfa, b, o, m);
            let (c0, n1, n2, n3, n4) = (v(0), v(-si), v(-2 * si), v(-3 * si), v(-4 * si));
            let (s1, s2, s3, s4) = (v(si), v(2 * si), v(3 * si), v(4 * si));
            let (w1, w2, w3, w4) = (v(-1), v(-2), v(-3), v(-4));
            let (e1, e2, e3, e4) = (v(1), v(2), v(3), v(4));
            let d = |o: isize| view(vh, b, o, m);
            let dc = d(0);
            let ac = if FIT { view(a_site, b, 0, m) } else { &[] };
            for x in 0..m {
                let a = if FIT { 0.5 * ac[x] } else { 0.5 };
                let disc = dc[x];
                let c = c0[x];
                let ns = (n1[x] - s1[x]).abs();
                let we = (w1[x] - e1[x]).abs();
                let n_grad =
                    EPS + ns + (c - n2[x]).abs() + (n1[x] - n3[x]).abs() + (n2[x] - n4[x]).abs();
                let s_grad =
                    EPS + ns + (c - s2[x]).abs() + (s1[x] - s3[x]).abs() + (s2[x] - s4[x]).abs();
                let w_grad =
                    EPS + we + (c - w2[x]).abs() + (w1[x] - w3[x]).abs() + (w2[x] - w4[x]).abs();
                let e_grad =
                    EPS + we + (c - e2[x]).abs() + (e1[x] - e3[x]).abs() + (e2[x] - e4[x]).abs();
                // Hamilton-Adams: the neighbour plus half the own-colour step across it.
                let n_est = n1[x] + a * (c - n2[x]);
                let s_est = s1[x] + a * (c - s2[x]);
                let w_est = w1[x] + a * (c - w2[x]);
                let e_est = e1[x] + a * (c - e2[x]);
                let v_est = blend(n_est, s_est, n_grad, s_grad);
                let h_est = blend(w_est, e_est, w_grad, e_grad);
                out[x] = v_est + (h_est - v_est) * disc;
            }
        },
        |y, row| {
            let x0 = first(win, y, m_green, false);
            keep_every_other(
                &mut pg[y * s + x0..y * s + s - m_green],
                &row[x0 - m_green..],
            );
        },
    );

    // Step 3, preparation: squared high-pass along the two diagonals (P: down-right, Q: down-left).
    for y in 3..rows - 3 {
        let (b, m) = (y * s + 3, s - 6);
        let v = |o: isize| view(cfa, b, o, m);
        let c = v(0);
        let (p3, p2, p1) = (v(-3 * si - 3), v(-2 * si - 2), v(-si - 1));
        let (p1b, p2b, p3b) = (v(si + 1), v(2 * si + 2), v(3 * si + 3));
        let (q3, q2, q1) = (v(-3 * si + 3), v(-2 * si + 2), v(-si + 1));
        let (q1b, q2b, q3b) = (v(si - 1), v(2 * si - 2), v(3 * si - 3));
        let hp = &mut sc.hp_a[b..b + m];
        for x in 0..m {
            hp[x] = sq((p3[x] - p1[x] - p1b[x] + p3b[x]) - 3.0 * (p2[x] + p2b[x]) + 6.0 * c[x]);
        }
        let hq = &mut sc.hp_b[b..b + m];
        for x in 0..m {
            hq[x] = sq((q3[x] - q1[x] - q1b[x] + q3b[x]) - 3.0 * (q2[x] + q2b[x]) + 6.0 * c[x]);
        }
    }
    // Diagonal discrimination.
    discriminate(&sc.hp_a, &sc.hp_b, &mut sc.pq, s, rows, [si + 1, si - 1]);
    // Refined as for VH (valid from margin 5; read from M_RB).
    refine_plane(&sc.pq, &mut sc.hp_a, s, rows, 5);
    std::mem::swap(&mut sc.pq, &mut sc.hp_a);
    if FIT {
        let slopes = [&mut sc.b_r, &mut sc.b_b];
        colour_slopes(win, cfa, pg, &mut sc.row, slopes);
    }
    let slopes = [&sc.b_r[..], &sc.b_b[..]];
    rb_at_rb::<FIT>(win, cfa, &sc.pq, pg, pr, pb, slopes, &mut sc.row, m_rb);
    rb_at_green::<FIT>(win, vh, pg, pr, pb, slopes, &mut sc.row, m_rb + 3);

    // Step 4: refine green from the colour differences of the cardinal neighbours, then red
    // and blue again.
    {
        let lo = m_refine;
        let m = s - 2 * lo;
        sc.row.clear();
        sc.row.resize(m, 0.0);
        // A slice of known length: indexing the Vec itself would reload its length on every
        // store and keep the loop scalar.
        let tmp = &mut sc.row[..m];
        for y in lo..rows - lo {
            let b = y * s + lo;
            let x0 = first(win, y, lo, false);
            let own: &[f32] = if win.pattern.color(y, x0) == 0 {
                pr
            } else {
                pb
            };
            {
                let g: &[f32] = pg;
                let (gn, gs, gw, ge) = (
                    view(g, b, -si, m),
                    view(g, b, si, m),
                    view(g, b, -1, m),
                    view(g, b, 1, m),
                );
                let (cn, cs, cw, ce) = (
                    view(own, b, -si, m),
                    view(own, b, si, m),
                    view(own, b, -1, m),
                    view(own, b, 1, m),
                );
                let d = |o: isize| view(vh, b, o, m);
                let dc = d(0);
                let c0 = view(cfa, b, 0, m);
                let ac = if FIT { view(&sc.a_site, b, 0, m) } else { &[] };
                for x in 0..m {
                    let disc = dc[x];
                    let a = if FIT { ac[x] } else { 1.0 };
                    let v = 0.5 * ((gn[x] - a * cn[x]) + (gs[x] - a * cs[x]));
                    let h = 0.5 * ((gw[x] - a * cw[x]) + (ge[x] - a * ce[x]));
                    tmp[x] = a * c0[x] + v + (h - v) * disc;
                }
            }
            keep_every_other(&mut pg[y * s + x0..y * s + s - lo], &tmp[x0 - lo..]);
        }
    }
    rb_at_rb::<FIT>(
        win,
        cfa,
        &sc.pq,
        pg,
        pr,
        pb,
        slopes,
        &mut sc.row,
        m_refine + 2,
    );
    rb_at_green::<FIT>(win, vh, pg, pr, pb, slopes, &mut sc.row, m_refine + 5);
}

/// First column at or after `x0` holding a green (`green`) or a red/blue site in row `y`.
#[inline(always)]
pub(super) fn first(win: &Window, y: usize, x0: usize, green: bool) -> usize {
    x0 + usize::from((win.pattern.color(y, x0) == 1) != green)
}

/// Step 3, first half: red at blue sites and blue at red sites from diagonal colour
/// differences, for rows and columns `lo..len - lo`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn rb_at_rb<const FIT: bool>(
    win: &Window,
    cfa: &[f32],
    pq: &[f32],
    g: &[f32],
    pr: &mut [f32],
    pb: &mut [f32],
    slopes: [&[f32]; 2],
    tmp: &mut Vec<f32>,
    lo: usize,
) {
    let (s, rows) = (win.stride, win.rows);
    let si = s as isize;
    per_row_sites!(
        s,
        rows,
        lo,
        tmp,
        |b, m, out| {
            let v = |o: isize| view(cfa, b, o, m);
            let gv = |o: isize| view(g, b, o, m);
            let d = |o: isize| view(pq, b, o, m);
            let (nw, ne, sw, se) = (v(-si - 1), v(-si + 1), v(si - 1), v(si + 1));
            let (nw3, ne3, sw3, se3) =
                (v(-3 * si - 3), v(-3 * si + 3), v(3 * si - 3), v(3 * si + 3));
            let (g0, gnw2, gne2, gsw2, gse2) = (
                gv(0),
                gv(-2 * si - 2),
                gv(-2 * si + 2),
                gv(2 * si - 2),
                gv(2 * si + 2),
            );
            let (gnw, gne, gsw, gse) = (gv(-si - 1), gv(-si + 1), gv(si - 1), gv(si + 1));
            let dc = d(0);
            // Computing blue at red sites, red at blue sites: the slope of that colour.
            let row0 = b / s;
            let target = if win.pattern.color(row0, first(win, row0, lo, false)) == 0 {
                1
            } else {
                0
            };
            let kc = if FIT {
                view(slopes[target], b, 0, m)
            } else {
                &[]
            };
            for x in 0..m {
                let disc = dc[x];
                let k = if FIT { kc[x] } else { 1.0 };
                let p = (nw[x] - se[x]).abs();
                let q = (ne[x] - sw[x]).abs();
                let nw_grad = EPS + p + (nw[x] - nw3[x]).abs() + (g0[x] - gnw2[x]).abs();
                let se_grad = EPS + p + (se[x] - se3[x]).abs() + (g0[x] - gse2[x]).abs();
                let ne_grad = EPS + q + (ne[x] - ne3[x]).abs() + (g0[x] - gne2[x]).abs();
                let sw_grad = EPS + q + (sw[x] - sw3[x]).abs() + (g0[x] - gsw2[x]).abs();
                let p_est = blend(nw[x] - k * gnw[x], se[x] - k * gse[x], nw_grad, se_grad);
                let q_est = blend(ne[x] - k * gne[x], sw[x] - k * gsw[x], ne_grad, sw_grad);
                out[x] = k * g0[x] + p_est + (q_est - p_est) * disc;
            }
        },
        |y, row| {
            let x0 = first(win, y, lo, false);
            let dst = if win.pattern.color(y, x0) == 0 {
                &mut *pb
            } else {
                &mut *pr
            };
            keep_every_other(&mut dst[y * s + x0..y * s + s - lo], &row[x0 - lo..]);
        },
    );
}

/// Step 3, second half: red and blue at green sites from cardinal colour differences, for
/// rows and columns `lo..len - lo`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rb_at_green<const FIT: bool>(
    win: &Window,
    vh: &[f32],
    g: &[f32],
    pr: &mut [f32],
    pb: &mut [f32],
    slopes: [&[f32]; 2],
    tmp: &mut Vec<f32>,
    lo: usize,
) {
    let (s, rows) = (win.stride, win.rows);
    let si = s as isize;
    let m = s - 2 * lo;
    tmp.clear();
    tmp.resize(2 * m, 0.0);
    for y in lo..rows - lo {
        let b = y * s + lo;
        {
            let (tr, tb) = tmp.split_at_mut(m);
            let gv = |o: isize| view(g, b, o, m);
            let d = |o: isize| view(vh, b, o, m);
            let (g0, gn2, gs2, gw2, ge2) = (gv(0), gv(-2 * si), gv(2 * si), gv(-2), gv(2));
            let (gn, gs, gw, ge) = (gv(-si), gv(si), gv(-1), gv(1));
            let dc = d(0);
            let (kr, kb) = if FIT {
                (view(slopes[0], b, 0, m), view(slopes[1], b, 0, m))
            } else {
                (&[][..], &[][..])
            };
            let r = |o: isize| view(pr, b, o, m);
            let (rn1, rs1, rw1, re1) = (r(-si), r(si), r(-1), r(1));
            let (rn3, rs3, rw3, re3) = (r(-3 * si), r(3 * si), r(-3), r(3));
            let bl = |o: isize| view(pb, b, o, m);
            let (bn1, bs1, bw1, be1) = (bl(-si), bl(si), bl(-1), bl(1));
            let (bn3, bs3, bw3, be3) = (bl(-3 * si), bl(3 * si), bl(-3), bl(3));
            for x in 0..m {
                let disc = dc[x];
                let g1 = g0[x];
                let (gn_grad, gs_grad) = (EPS + (g1 - gn2[x]).abs(), EPS + (g1 - gs2[x]).abs());
                let (gw_grad, ge_grad) = (EPS + (g1 - gw2[x]).abs(), EPS + (g1 - ge2[x]).abs());
                let base = (
                    g1,
                    disc,
                    [gn[x], gs[x], gw[x], ge[x]],
                    [gn_grad, gs_grad, gw_grad, ge_grad],
                );
                let (k_r, k_b) = if FIT { (kr[x], kb[x]) } else { (1.0, 1.0) };
                tr[x] = at_green(
                    k_r,
                    base,
                    [rn1[x], rs1[x], rw1[x], re1[x]],
                    [rn3[x], rs3[x], rw3[x], re3[x]],
                );
                tb[x] = at_green(
                    k_b,
                    base,
                    [bn1[x], bs1[x], bw1[x], be1[x]],
                    [bn3[x], bs3[x], bw3[x], be3[x]],
                );
            }
        }
        let x0 = first(win, y, lo, true);
        let (tr, tb) = tmp.split_at(m);
        keep_every_other(&mut pr[y * s + x0..y * s + s - lo], &tr[x0 - lo..]);
        keep_every_other(&mut pb[y * s + x0..y * s + s - lo], &tb[x0 - lo..]);
    }
}

/// Red or blue at a green site `g1` from its cardinal neighbours at distance 1 and 3, their
/// greens `d` and the green gradients `gg` (N, S, W, E), with slope `k` on green.
#[inline(always)]
fn at_green(k: f32, base: (f32, f32, [f32; 4], [f32; 4]), near: [f32; 4], far: [f32; 4]) -> f32 {
    let (g1, disc, d, gg) = base;
    let [n1, s1, w1, e1] = near;
    let [n3, s3, w3, e3] = far;
    let sn = (n1 - s1).abs();
    let ew = (w1 - e1).abs();
    let n_grad = gg[0] + sn + (n1 - n3).abs();
    let s_grad = gg[1] + sn + (s1 - s3).abs();
    let w_grad = gg[2] + ew + (w1 - w3).abs();
    let e_grad = gg[3] + ew + (e1 - e3).abs();
    let v_est = blend(n1 - k * d[0], s1 - k * d[1], n_grad, s_grad);
    let h_est = blend(w1 - k * d[2], e1 - k * d[3], w_grad, e_grad);
    k * g1 + v_est + (h_est - v_est) * disc
}

/// Copies `src[0]`, `src[2]`, ... into `dst[0]`, `dst[2]`, ... Written as whole pairs
/// (`dst[1]` stored back as it was): a full-width interleaved store the compiler vectorises
/// with shuffles, where a store to every second sample stays scalar.
#[inline(always)]
fn keep_every_other(dst: &mut [f32], src: &[f32]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let mut d = dst.chunks_exact_mut(2);
    let mut s = src.chunks_exact(2);
    for (d, s) in (&mut d).zip(&mut s) {
        let (keep, other) = (s[0], d[1]);
        d[0] = keep;
        d[1] = other;
    }
    if let ([d0], [s0]) = (d.into_remainder(), s.remainder()) {
        *d0 = *s0;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{differing_bits, noise, smooth_image};
    use super::*;
    use crate::raw::cfa::CfaPattern;

    /// The version picked at run time (AVX2 on most x86-64 machines) gives the same bits as
    /// the baseline build, on random and on smooth mosaics (with samples below black), for
    /// every Bayer phase, whole and as a region, over several internal tiles.
    #[test]
    fn dispatched_equals_reference() {
        let (w, h) = (701, 97);
        let random: Vec<f32> = noise(w * h, 0x5EED)
            .iter()
            .map(|v| 1.2 * v - 0.05)
            .collect();
        let smooth = smooth_image(w, h);
        let smooth: Vec<f32> = smooth.iter().step_by(3).copied().collect();
        for name in ["RGGB", "BGGR", "GRBG", "GBRG"] {
            let pattern = CfaPattern::bayer(name).expect("valid");
            for data in [&random, &smooth] {
                let src = Mosaic {
                    data,
                    width: w,
                    height: h,
                    pattern: &pattern,
                };
                let regions = [Rect::new(0, 0, w, h), Rect::new(17, 5, 333, 61)];
                for (region, fit) in regions.into_iter().flat_map(|r| [(r, false), (r, true)]) {
                    let n = 3 * region.width * region.height;
                    let (mut fast, mut reference) = (vec![0.0f32; n], vec![0.0f32; n]);
                    if fit {
                        run_fit(&src, region, &mut fast);
                    } else {
                        run(&src, region, &mut fast);
                    }
                    run_reference(&src, region, &mut reference, fit);
                    let differ = differing_bits(&fast, &reference);
                    assert_eq!(
                        differ, 0,
                        "{name} {region:?} fit {fit}: {differ} samples differ"
                    );
                }
            }
        }
    }
}
