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
use crate::stages::demosaic::{give, resize_any, take, take_any, view};

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
///
/// The pairs of red's energies come from the lines through red sites (both), the rows
/// through the greens of red rows and the columns through the greens of blue rows; each of
/// these lives on one lattice and is summed there ([`LatticeSums`]); blue's likewise.
#[inline(always)]
pub(super) fn green_slopes(win: &Window, cfa: &[f32], sc: &mut Scratch) {
    let (s, rows) = (win.stride, win.rows);
    let si = s as isize;
    let (lo, m) = (3, s - 6);
    let (red, blue) = (site_of(win, 0), site_of(win, 2));
    // Per colour (red, blue), per lattice (the colour's sites, the greens of its rows, the
    // greens of the other colour's rows), green's and the colour's energy.
    let lattices = |(py, px): (usize, usize)| [(py, px), (py, 1 - px), (1 - py, px)];
    let new = |at| LatticeSums::new(s, rows, at);
    let mut sums = [red, blue].map(|c| lattices(c).map(|l| [new(l), new(l)]));
    sc.row.clear();
    sc.row.resize(4 * m, 0.0);
    let mut gm = take(0);
    for y in lo..rows - lo {
        let b = y * s + lo;
        let x0 = first(win, y, lo, false);
        green_mask(&mut gm, m, 1 - (x0 - lo));
        let v = |o: isize| view(cfa, b, o, m);
        let (c, w1, e1, w2, e2, w3, e3) = (v(0), v(-1), v(1), v(-2), v(2), v(-3), v(3));
        let (n1, s1, n2, s2, n3, s3) =
            (v(-si), v(si), v(-2 * si), v(2 * si), v(-3 * si), v(3 * si));
        let (own_g, rest) = sc.row.split_at_mut(m);
        let (own_c, rest) = rest.split_at_mut(m);
        let (other_g, other_c) = rest.split_at_mut(m);
        for x in 0..m {
            let g = gm[x];
            // Laplacians along the row at the site and its two neighbours, along the column
            // likewise.
            let hc = 2.0 * c[x] - w2[x] - e2[x];
            let (hl, hr) = (2.0 * w1[x] - w3[x] - e1[x], 2.0 * e1[x] - w1[x] - e3[x]);
            let vc = 2.0 * c[x] - n2[x] - s2[x];
            let (vn, vs) = (2.0 * n1[x] - n3[x] - s1[x], 2.0 * s1[x] - n1[x] - s3[x]);
            let h_nb = 0.5 * (hl + hr);
            let (h_own, h_nb) = (hc * hc, h_nb * h_nb);
            let v_nb = 0.5 * (vn + vs);
            let (v_own, v_nb) = (vc * vc, v_nb * v_nb);
            // Green's and the other colour's member of each pair.
            let (h_g, h_c) = (h_nb + (h_own - h_nb) * g, h_own + (h_nb - h_own) * g);
            let (v_g, v_c) = (v_nb + (v_own - v_nb) * g, v_own + (v_nb - v_own) * g);
            // The row's colour: both lines at its sites, the row at the greens; the other
            // colour: the columns through the greens.
            own_g[x] = h_g + v_g * (1.0 - g);
            own_c[x] = h_c + v_c * (1.0 - g);
            other_g[x] = v_g * g;
            other_c[x] = v_c * g;
        }
        let [sr, sb] = &mut sums;
        let (own_l, other_l) = if y % 2 == red.0 { (sr, sb) } else { (sb, sr) };
        let (own_g, rest) = sc.row.split_at(m);
        let (own_c, rest) = rest.split_at(m);
        let (other_g, other_c) = rest.split_at(m);
        // Lattice 0 (the colour's sites) and 1 (the greens of its rows) from the row's own
        // figures, lattice 2 of the other colour (the greens of its other rows) from the
        // columns'.
        for l in &mut own_l[..2] {
            l[0].set_row(y, lo, own_g);
            l[1].set_row(y, lo, own_c);
        }
        other_l[2][0].set_row(y, lo, other_g);
        other_l[2][1].set_row(y, lo, other_c);
    }
    give(gm);
    let lo = lo + RADIUS;
    resize_any(&mut sc.a_site, s * rows);
    for (at, mut colour) in [red, blue].into_iter().zip(sums) {
        // Plain loops, not `map` closures: a closure is compiled once, for the baseline
        // target, outside the dispatched versions that inline everything else.
        for l in &mut colour {
            for e in l {
                e.sum(&[at]);
            }
        }
        for y in (lo..rows - lo).filter(|y| y % 2 == at.0) {
            let x0 = lo + (lo + at.1) % 2;
            let e = |k: usize| colour.each_ref().map(|l| l[k].from(y, x0));
            let ([g0, g1, g2], [c0, c1, c2]) = (e(0), e(1));
            let out = &mut sc.a_site[y * s + x0..y * s + s - lo];
            // Computed contiguously, then spread to every second site: a strided loop
            // stays scalar.
            let n = out.len().div_ceil(2);
            resize_any(&mut sc.row, n);
            let t = &mut sc.row[..n];
            let (g0, g1, g2) = (&g0[..n], &g1[..n], &g2[..n]);
            let (c0, c1, c2) = (&c0[..n], &c1[..n], &c2[..n]);
            for i in 0..n {
                let eg = g0[i] + g1[i] + g2[i];
                let ec = c0[i] + c1[i] + c2[i];
                t[i] = ((eg + EPS_FIT) / (ec + EPS_FIT)).sqrt().min(1.0);
            }
            spread(out, t);
        }
        for l in colour.into_iter().flatten() {
            l.give();
        }
    }
}

/// Step 3, preparation: the slopes of red and of blue on green, now that green is known
/// everywhere. The regression, over the red (blue) sites of a window, of the red (blue)
/// lattice's Laplacian (`4 c - c(±2, 0) - c(0, ±2)`) on the same stencil applied to green,
/// at most 1 (colour differences, as RCD, where the channels agree; less where red's
/// detail is not green's). Same sites, same stencil, so no interpolation biases it. The
/// figures live on one lattice, so they are summed there ([`LatticeSums`]). Valid from
/// margin `m_green(true) + 2 + RADIUS`.
#[inline(always)]
pub(super) fn colour_slopes(
    win: &Window,
    cfa: &[f32],
    g: &[f32],
    row: &mut Vec<f32>,
    slopes: [&mut Vec<f32>; 2],
) {
    let (s, rows) = (win.stride, win.rows);
    let si = s as isize;
    let lo = m_green(true) + 2;
    let m = s - 2 * lo;
    let n = s * rows;
    for (colour, out) in [0, 2].into_iter().zip(slopes) {
        resize_any(row, 2 * m);
        let (rx, rg) = row.split_at_mut(m);
        let (py, px) = site_of(win, colour);
        let mut lat_x = LatticeSums::new(s, rows, (py, px));
        let mut lat_g = LatticeSums::new(s, rows, (py, px));
        for y in (lo..rows - lo).filter(|y| y % 2 == py) {
            let b = y * s + lo;
            let vc = |o: isize| view(cfa, b, o, m);
            let vg = |o: isize| view(g, b, o, m);
            let (c, cn, cs, cw, ce) = (vc(0), vc(-2 * si), vc(2 * si), vc(-2), vc(2));
            let (g0, gn, gs, gw, ge) = (vg(0), vg(-2 * si), vg(2 * si), vg(-2), vg(2));
            for x in 0..m {
                let hc = 4.0 * c[x] - cn[x] - cs[x] - cw[x] - ce[x];
                let hg = 4.0 * g0[x] - gn[x] - gs[x] - gw[x] - ge[x];
                rx[x] = hc * hg;
                rg[x] = hg * hg;
            }
            lat_x.set_row(y, lo, rx);
            lat_g.set_row(y, lo, rg);
        }
        let everywhere = [(0, 0), (0, 1), (1, 0), (1, 1)];
        lat_x.sum(&everywhere);
        lat_g.sum(&everywhere);
        let lo = lo + RADIUS;
        resize_any(out, n);
        let n = (s - 2 * lo).div_ceil(2);
        resize_any(row, 2 * n);
        for y in lo..rows - lo {
            // Both parities contiguously, then interleaved (strided loops stay scalar).
            let (t0, t1) = row.split_at_mut(n);
            for (x0, t) in [(lo, t0), (lo + 1, t1)] {
                let (xs, gs) = (lat_x.from(y, x0), lat_g.from(y, x0));
                for ((o, x), g) in t.iter_mut().zip(xs).zip(gs) {
                    *o = ((x + EPS_FIT) / (g + EPS_FIT)).clamp(0.0, 1.0);
                }
            }
            let (t0, t1) = row.split_at(n);
            let out = &mut out[y * s + lo..y * s + s - lo];
            for (pair, (a, b)) in out.chunks_mut(2).zip(t0.iter().zip(t1)) {
                pair[0] = *a;
                if let Some(o) = pair.get_mut(1) {
                    *o = *b;
                }
            }
        }
        lat_x.give();
        lat_g.give();
    }
}

/// `dst[0]`, `dst[2]`, ... = `src[0]`, `src[1]`, ...; the samples between are kept.
#[inline(always)]
fn spread(dst: &mut [f32], src: &[f32]) {
    let mut pairs = dst.chunks_exact_mut(2);
    let mut s = src.iter();
    for (d, v) in (&mut pairs).zip(&mut s) {
        let other = d[1];
        d[0] = *v;
        d[1] = other;
    }
    if let ([d], Some(v)) = (pairs.into_remainder(), s.next()) {
        *d = *v;
    }
}

/// Row and column parity, in the window, of the sites of `colour`.
#[inline(always)]
fn site_of(win: &Window, colour: u8) -> (usize, usize) {
    let at = |y, x| win.pattern.color(y, x) == colour;
    let y = usize::from(!(at(0, 0) || at(0, 1)));
    (y, usize::from(!at(y, 0)))
}

/// Window sums of figures that live on one lattice of the mosaic, the sites
/// `(py + 2 i, px + 2 j)` of a window of `stride` x `rows`, held as a plane of a quarter of
/// the samples. The `(2 RADIUS + 1)^2` window of a site on a row (column) of the lattice's
/// parity holds `RADIUS + 1` of its rows (columns), of the other parity `RADIUS`; both
/// counts are summed along each axis, so the sums for every site come from four planes at a
/// quarter of the cost of full-resolution ones. Each sum adds its samples in an order that
/// depends on its position alone ([`window_sums`]), so tiles agree with whole-image runs.
struct LatticeSums {
    py: usize,
    px: usize,
    /// Lattice columns and rows.
    w: usize,
    h: usize,
    /// The figures; after [`Self::sum`], `sums[r][c][i w + j]` is the sum over the lattice
    /// rows `i..i + RADIUS + r` and columns `j..j + RADIUS + c`.
    plane: Vec<f32>,
    sums: [[Vec<f32>; 2]; 2],
}

// The two counts per axis, `RADIUS` and `RADIUS + 1`, need an even radius; `window_sums`
// spells out eight taps.
const _: () = assert!(RADIUS == 8);

impl LatticeSums {
    #[inline(always)]
    fn new(stride: usize, rows: usize, (py, px): (usize, usize)) -> Self {
        let (w, h) = ((stride - px).div_ceil(2), (rows - py).div_ceil(2));
        LatticeSums {
            py,
            px,
            w,
            h,
            plane: take_any(w * h),
            sums: Default::default(),
        }
    }

    /// Takes the lattice's sites of window row `y` (of the lattice's parity) from `row`,
    /// which holds the row's samples from column `x0` on.
    #[inline(always)]
    fn set_row(&mut self, y: usize, x0: usize, row: &[f32]) {
        let j0 = (x0 + 1 - self.px) / 2;
        let skip = self.px + 2 * j0 - x0;
        let dst = &mut self.plane[(y - self.py) / 2 * self.w + j0..][..self.w - j0];
        let src = &row[skip.min(row.len())..];
        // Pairs, not a stride-2 iterator: the compiler vectorises this with shuffles.
        let mut pairs = src.chunks_exact(2);
        let mut d = dst.iter_mut();
        for (d, p) in (&mut d).zip(&mut pairs) {
            *d = p[0];
        }
        if let (Some(d), [v]) = (d.next(), pairs.remainder()) {
            *d = *v;
        }
    }

    /// Sums the plane over the windows of the sites of the given row and column parities
    /// (in the window), the only ones [`Self::from`] may then be asked for.
    #[inline(always)]
    fn sum(&mut self, sites: &[(usize, usize)]) {
        let n = self.w * self.h;
        // The counts along columns (r) and rows (c) those sites need.
        let count = |site: usize, own: usize| usize::from(site == own);
        let need = |r: usize, c: usize| {
            sites
                .iter()
                .any(|&(y, x)| count(y, self.py) == r && count(x, self.px) == c)
        };
        let mut along_rows = [take_any(n), take_any(n)];
        {
            let [h0, h1] = &mut along_rows;
            let wider = need(0, 1) || need(1, 1);
            window_sums(&self.plane, 1, h0, wider.then_some(&mut h1[..]));
        }
        for (c, h) in along_rows.iter().enumerate() {
            if !(need(0, c) || need(1, c)) {
                continue;
            }
            let [s0, s1] = &mut self.sums;
            s0[c] = take_any(n);
            if need(1, c) {
                s1[c] = take_any(n);
            }
            let wider = need(1, c).then_some(&mut s1[c][..]);
            window_sums(h, self.w, &mut s0[c], wider);
        }
        for v in along_rows {
            give(v);
        }
    }

    /// The sums for the sites of window row `y` at columns `x0`, `x0 + 2`, ...
    #[inline(always)]
    fn from(&self, y: usize, x0: usize) -> &[f32] {
        // The count along an axis and the window's first lattice index there.
        let first = |d: usize| {
            if d % 2 == 0 {
                (1, d / 2 - RADIUS / 2)
            } else {
                (0, (d + 1 - RADIUS) / 2)
            }
        };
        let (r, i0) = first(y - self.py);
        let (c, j0) = first(x0 - self.px);
        &self.sums[r][c][i0 * self.w + j0..(i0 + 1) * self.w]
    }

    #[inline(always)]
    fn give(self) {
        give(self.plane);
        for v in self.sums.into_iter().flatten() {
            give(v);
        }
    }
}

/// `r[i]` = the sum of the `RADIUS` samples of `src` from `i` on, `step` apart, for every
/// `i` whose window lies inside `src`, and, when asked for, `r1[i]` that of `RADIUS + 1`. One
/// pass (the window's samples are still in the cache when the next output reads them),
/// added pairwise in an order that depends on `i` alone, so tiles agree with whole-image
/// runs. Spelled out for the radius of 8.
#[inline(always)]
fn window_sums(src: &[f32], step: usize, r: &mut [f32], r1: Option<&mut [f32]>) {
    let n = src.len();
    let Some(m) = n.checked_sub((RADIUS - 1) * step) else {
        return;
    };
    let t = |k: usize| &src[k * step..k * step + m];
    let (t0, t1, t2, t3, t4, t5, t6, t7) = (t(0), t(1), t(2), t(3), t(4), t(5), t(6), t(7));
    let r = &mut r[..m];
    for i in 0..m {
        r[i] = ((t0[i] + t1[i]) + (t2[i] + t3[i])) + ((t4[i] + t5[i]) + (t6[i] + t7[i]));
    }
    if let Some(r1) = r1 {
        let m1 = m.saturating_sub(step);
        let (r, add, r1) = (&r[..m1], &src[RADIUS * step..][..m1], &mut r1[..m1]);
        for i in 0..m1 {
            r1[i] = r[i] + add[i];
        }
    }
}
