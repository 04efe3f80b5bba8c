//! A fast demosaic for any CFA with green on every line (X-Trans first): normalised
//! convolutions and colour differences, every pass a whole-row loop the compiler vectorises.
//!
//! 1. Green at the other sites from the greens along the row and along the column (weights
//!    `[1, 2, -, 2, 1]` over the green sites within 2), blended by the inverse square of the
//!    gradient of an isotropic first estimate along each axis, so edges are followed;
//! 2. red and blue everywhere as green plus the colour difference `c - G` of that colour's
//!    sites, averaged over a 5x5 window (weights `[1, 2, 3, 2, 1]` in each axis);
//! 3. green again at the other sites, as the site's sample plus the mean difference `G - c`
//!    of the greens around it (3x3, which now have `c`); then step 2 on the refined green.
//!
//! Each average is a normalised convolution: the weighted sum of the samples of one colour
//! over the weighted count of its sites, so any layout works.
//!
//! # Units
//! Same as the input samples; estimates below 0 are clamped to 0.
//!
//! # References
//! H. Knutsson, C.-F. Westin, "Normalized and differential convolution", IEEE CVPR 1993.
//! D. Menon, S. Andriani, G. Calvagno, "Demosaicing with directional filtering and a posteriori
//! decision", IEEE Trans. Image Processing 16(1), 2007 (refinement by colour differences).

use super::{Border, Mosaic, Window, give, run_tiled, take, view};
use crate::image::Rect;

/// Margins from which each step is valid: the isotropic green reads 1 away, its gradients 2
/// more (3), the directional greens 2 (also within 3); red and blue 2 more (5); the refined
/// green 1 (6); red and blue again 2 (8).
const PAD: usize = 8;
/// Reach including the bilinear estimate the window extends edges with.
pub(super) const HALO: usize = PAD + super::bilinear::HALO;

const EPS: f32 = 1e-8;

pub(super) fn run(src: &Mosaic, region: Rect, out: &mut [f32]) {
    run_with(src, region, out, window_dispatched);
}

/// [`run`] compiled for the baseline target only: the reference of the dispatched versions.
#[cfg(test)]
fn run_reference(src: &Mosaic, region: Rect, out: &mut [f32]) {
    run_with(src, region, out, window);
}

type Kernel = fn(&Window, &mut [Vec<f32>; 3], &mut [Vec<f32>; 8]);

fn run_with(src: &Mosaic, region: Rect, out: &mut [f32], kernel: Kernel) {
    let mut sc: [Vec<f32>; 8] = std::array::from_fn(|_| take(0));
    run_tiled(src, region, PAD, Border::Virtual, out, |win, planes| {
        kernel(win, planes, &mut sc);
    });
    for v in sc {
        give(v);
    }
}

/// [`window`] compiled for several instruction sets, the best the CPU has picked at run time;
/// the same arithmetic in every version (no fused multiply-adds are formed).
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn window_dispatched(win: &Window, planes: &mut [Vec<f32>; 3], sc: &mut [Vec<f32>; 8]) {
    window(win, planes, sc);
}

#[inline(always)]
fn window(win: &Window, planes: &mut [Vec<f32>; 3], sc: &mut [Vec<f32>; 8]) {
    let (s, rows) = (win.stride, win.rows);
    let n = s * rows;
    let m = &win.data[..n];
    let [pr, pg, pb] = planes;
    for p in [&mut *pr, &mut *pg, &mut *pb] {
        p.copy_from_slice(m);
    }
    if rows <= 2 * PAD || s <= 2 * PAD {
        return;
    }
    for v in sc.iter_mut() {
        v.clear();
        v.resize(n, 0.0);
    }
    let [mr, mg, mb, iso, a, b, c, d] = sc;
    let pw = win.pattern.width();
    for y in 0..rows {
        let r = y * s;
        for (plane, want) in [(&mut *mr, 0u8), (&mut *mg, 1), (&mut *mb, 2)] {
            // One period of the row, then copies of it.
            for x in 0..pw.min(s) {
                plane[r + x] = if win.pattern.color(y, x) == want {
                    1.0
                } else {
                    0.0
                };
            }
            for x in (pw..s).step_by(pw) {
                plane.copy_within(r..r + pw.min(s - x), r + x);
            }
        }
    }
    let (mut num, mut den) = (take(s), take(s));
    let si = s as isize;
    // 1. An isotropic green (3x3, weights 4 / 2 / 1 by distance), then directional ones.
    for y in 1..rows - 1 {
        let (base, len) = (y * s + 1, s - 2);
        let out = &mut iso[base..base + len];
        let (num, den) = (&mut num[..len], &mut den[..len]);
        num.fill(0.0);
        den.fill(0.0);
        for (dy, dx, w) in TAPS_3X3 {
            let o = dy * si + dx;
            let (gm, mm) = (view(mg, base, o, len), view(m, base, o, len));
            for x in 0..len {
                num[x] += w * gm[x] * mm[x];
                den[x] += w * gm[x];
            }
        }
        for x in 0..len {
            out[x] = num[x] / den[x].max(EPS);
        }
    }
    for y in 3..rows - 3 {
        let (base, len) = (y * s + 3, s - 6);
        let g = |o: isize| view(iso, base, o, len);
        let (c0, l1, r1, l2, r2) = (g(0), g(-1), g(1), g(-2), g(2));
        let (u1, d1, u2, d2) = (g(-si), g(si), g(-2 * si), g(2 * si));
        let line = |o: isize| (view(mg, base, o, len), view(m, base, o, len));
        let (hl2, hl1, hr1, hr2) = (line(-2), line(-1), line(1), line(2));
        let (vu2, vu1, vd1, vd2) = (line(-2 * si), line(-si), line(si), line(2 * si));
        let gc = view(mg, base, 0, len);
        let out = &mut pg[base..base + len];
        for x in 0..len {
            let dh = (l1[x] - r1[x]).abs() + 0.5 * ((l2[x] - c0[x]).abs() + (c0[x] - r2[x]).abs());
            let dv = (u1[x] - d1[x]).abs() + 0.5 * ((u2[x] - c0[x]).abs() + (c0[x] - d2[x]).abs());
            let hn = hl2.0[x] * hl2.1[x]
                + 2.0 * (hl1.0[x] * hl1.1[x] + hr1.0[x] * hr1.1[x])
                + hr2.0[x] * hr2.1[x];
            let hd = hl2.0[x] + 2.0 * (hl1.0[x] + hr1.0[x]) + hr2.0[x];
            let vn = vu2.0[x] * vu2.1[x]
                + 2.0 * (vu1.0[x] * vu1.1[x] + vd1.0[x] * vd1.1[x])
                + vd2.0[x] * vd2.1[x];
            let vd = vu2.0[x] + 2.0 * (vu1.0[x] + vd1.0[x]) + vd2.0[x];
            let gh = if hd > 0.0 { hn / hd } else { c0[x] };
            let gv = if vd > 0.0 { vn / vd } else { c0[x] };
            let (wh, wv) = (1.0 / (EPS + dh * dh), 1.0 / (EPS + dv * dv));
            let est = gh + (gv - gh) * (wv / (wh + wv));
            // Green sites keep their sample.
            out[x] = if gc[x] > 0.0 { out[x] } else { est };
        }
    }
    // 2. Red and blue from colour differences.
    colour(
        m,
        pg,
        [&*mr, &*mb],
        [&mut *pr, &mut *pb],
        [&mut *a, &mut *b, &mut *c, &mut *d],
        s,
        rows,
        3,
    );
    // 3. Green again from the differences `G - c` of the greens around each other site.
    for y in 6..rows - 6 {
        let (base, len) = (y * s + 6, s - 12);
        let gc = view(mg, base, 0, len);
        let (rc, c0) = (view(mr, base, 0, len), view(m, base, 0, len));
        let (num, den) = (&mut num[..len], &mut den[..len]);
        num.fill(0.0);
        den.fill(0.0);
        for (dy, dx, w) in TAPS_3X3 {
            let o = dy * si + dx;
            let (gm, mm) = (view(mg, base, o, len), view(m, base, o, len));
            let (rr, bb) = (view(pr, base, o, len), view(pb, base, o, len));
            for x in 0..len {
                // The centre's own colour at the neighbour: red where the centre is red.
                let other = bb[x] + (rr[x] - bb[x]) * rc[x];
                num[x] += w * gm[x] * (mm[x] - other);
                den[x] += w * gm[x];
            }
        }
        let out = &mut pg[base..base + len];
        for x in 0..len {
            let est = (c0[x] + num[x] / den[x].max(EPS)).max(0.0);
            out[x] = if gc[x] > 0.0 { out[x] } else { est };
        }
    }
    colour(
        m,
        pg,
        [&*mr, &*mb],
        [&mut *pr, &mut *pb],
        [&mut *a, &mut *b, &mut *c, &mut *d],
        s,
        rows,
        6,
    );
    give(num);
    give(den);
}

/// The 3x3 neighbourhood with weights 4 (centre), 2 (edges), 1 (corners).
const TAPS_3X3: [(isize, isize, f32); 9] = [
    (-1, -1, 1.0),
    (-1, 0, 2.0),
    (-1, 1, 1.0),
    (0, -1, 2.0),
    (0, 0, 4.0),
    (0, 1, 2.0),
    (1, -1, 1.0),
    (1, 0, 2.0),
    (1, 1, 1.0),
];

/// Separable 5-tap weights of the colour-difference average.
const K5: [f32; 5] = [1.0, 2.0, 3.0, 2.0, 1.0];

/// Red and blue as green plus the 5x5 normalised average of `m - g` over that colour's sites
/// (masks `masks`), valid from margin `lo + 2` where green is valid from `lo`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn colour(
    m: &[f32],
    g: &[f32],
    masks: [&[f32]; 2],
    outs: [&mut Vec<f32>; 2],
    tmp: [&mut Vec<f32>; 4],
    s: usize,
    rows: usize,
    lo: usize,
) {
    let si = s as isize;
    let [hn, hd, num, den] = tmp;
    for (mask, out) in masks.into_iter().zip(outs) {
        // Along rows: weighted sums of the differences and of the site counts.
        for y in lo..rows - lo {
            let (base, len) = (y * s + lo + 2, s - 2 * lo - 4);
            let (num, den) = (&mut hn[base..base + len], &mut hd[base..base + len]);
            num.fill(0.0);
            den.fill(0.0);
            for (k, w) in K5.iter().enumerate() {
                let o = k as isize - 2;
                let (mk, mm, gg) = (
                    view(mask, base, o, len),
                    view(m, base, o, len),
                    view(g, base, o, len),
                );
                for x in 0..len {
                    num[x] += w * mk[x] * (mm[x] - gg[x]);
                    den[x] += w * mk[x];
                }
            }
        }
        for y in lo + 2..rows - lo - 2 {
            let (base, len) = (y * s + lo + 2, s - 2 * lo - 4);
            let (num, den) = (&mut num[..len], &mut den[..len]);
            num.fill(0.0);
            den.fill(0.0);
            for (k, w) in K5.iter().enumerate() {
                let o = (k as isize - 2) * si;
                let (a, b) = (view(hn, base, o, len), view(hd, base, o, len));
                for x in 0..len {
                    num[x] += w * a[x];
                    den[x] += w * b[x];
                }
            }
            let (mk, gg) = (view(mask, base, 0, len), view(g, base, 0, len));
            let mm = view(m, base, 0, len);
            let dst = &mut out[base..base + len];
            for x in 0..len {
                let est = (gg[x] + num[x] / den[x].max(EPS)).max(0.0);
                dst[x] = if mk[x] > 0.0 { mm[x] } else { est };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{differing_bits, noise, smooth_image};
    use super::*;
    use crate::raw::cfa::CfaPattern;

    /// The version picked at run time gives the same bits as the baseline build, on random and
    /// smooth X-Trans mosaics, in two phases, whole and as a region.
    #[test]
    fn dispatched_equals_reference() {
        let (w, h) = (347, 95);
        let random = noise(w * h, 0xF00D);
        let smooth: Vec<f32> = smooth_image(w, h).iter().step_by(3).copied().collect();
        for shift in [(0, 0), (1, 4)] {
            let pattern = CfaPattern::xtrans().shifted(shift.0, shift.1);
            for data in [&random, &smooth] {
                let src = Mosaic {
                    data,
                    width: w,
                    height: h,
                    pattern: &pattern,
                };
                for region in [Rect::new(0, 0, w, h), Rect::new(13, 7, 201, 61)] {
                    let n = 3 * region.width * region.height;
                    let (mut fast, mut reference) = (vec![0.0f32; n], vec![0.0f32; n]);
                    run(&src, region, &mut fast);
                    run_reference(&src, region, &mut reference);
                    let differ = differing_bits(&fast, &reference);
                    assert_eq!(differ, 0, "{shift:?} {region:?}: {differ} samples differ");
                }
            }
        }
    }
}
