//! Markesteijn demosaicing for X-Trans (6x6) mosaics, one pass, four directions.
//!
//! X-Trans has no fixed neighbour geometry: along a row a red site may have green on one side
//! and blue then green on the other. Following Frank Markesteijn's scheme (dcraw's
//! `xtrans_interpolate`), the image is reconstructed four times, each time interpolating along
//! one direction (horizontal, vertical, both diagonals), and each output pixel takes the
//! reconstructions that are locally smoothest:
//!
//! 1. green at red/blue sites per direction: linear interpolation between the nearest greens
//!    along the direction, plus a curvature correction from the site's own colour along the same
//!    line (the Laplacian term of Hamilton-Adams, generalised to unequal spacings), or a cubic
//!    through four greens where greens sit at 1 and 2 on both sides; clamped to the range of the
//!    nearby greens so edges cannot overshoot;
//! 2. red and blue per direction from colour differences (`c - G`): along the direction when
//!    both sides have that colour within 2 samples, else from the 3x3 neighbourhood;
//! 3. per direction, the squared second derivative along the direction of a luma/chroma
//!    (BT.2020 Y'PbPr weights) version of the result;
//! 4. homogeneity: in each 3x3 window, how many derivatives are within 8x the smallest
//!    derivative of the centre, summed over 5x5;
//! 5. the average of the directions scoring at least 7/8 of the best.
//!
//! The layout-specific tables of dcraw (its "hexagons") are replaced by rules derived from the
//! pattern at run time, so any 6x6 layout with green on every line works. dcraw's 3-pass mode
//! refines green and adds four more candidates for a few tenths of a dB at twice the cost; this
//! is the 1-pass mode. Edges are handled by the window's mirrored bilinear extension.
//!
//! # Units
//!
//! Same as the input samples; estimates below 0 are clamped to 0.
//!
//! # References
//!
//! F. Markesteijn, X-Trans interpolation in D. Coffin's dcraw 9.x (`xtrans_interpolate`), 2013.
//! K. Hirakawa, T. W. Parks, "Adaptive homogeneity-directed demosaicing algorithm", IEEE Trans.
//! Image Processing 14(3), 2005 (the homogeneity selection).
//! J. F. Hamilton, J. E. Adams, "Adaptive color plane interpolation in single sensor color
//! electronic camera", US patent 5,629,734, 1997 (the curvature correction).

use super::{Border, Mosaic, Window, run_tiled};
use crate::raw::cfa::CfaPattern;

/// Padding the stages need: green reads 4 away, red/blue 2 more, derivative 1, homogeneity 1,
/// its 5x5 sum 2: 10.
const PAD: usize = 10;
/// Reach including the bilinear estimate the window extends edges with.
pub(super) const HALO: usize = PAD + super::bilinear::HALO;

/// Margins (from the window edge) from which each stage is valid.
const M_GREEN: usize = 4;
const M_RB: usize = 6;
const M_DRV: usize = 7;
const M_HOMO: usize = 8;

/// Interpolation directions as (dy, dx): horizontal, vertical, down-right, down-left.
const DIRS: [(isize, isize); 4] = [(0, 1), (1, 0), (1, 1), (1, -1)];

/// True when the pattern is a 6x6 layout this method has rules for.
pub(super) fn supports(p: &CfaPattern) -> bool {
    p.width() == 6 && p.height() == 6 && Rules::new(p).is_some()
}

pub(super) fn run(src: &Mosaic, out: &mut [f32]) {
    let mut scratch = Scratch::default();
    run_tiled(src, PAD, Border::Virtual, out, |win, planes| {
        core(win, planes, &mut scratch)
    });
}

type Off = (isize, isize);

/// Green at a non-green site along one direction:
/// `a + (b - a) * t + sum(w * (cfa[p] - cfa[q]))`.
#[derive(Clone, Copy, Default)]
struct GreenRule {
    a: Off,
    b: Off,
    t: f32,
    terms: [(Off, Off, f32); 2],
}

/// Most sites a tap list holds.
const MAX_TAPS: usize = 16;

/// A normalised list of sites: up to `MAX_TAPS` (offset, weight).
#[derive(Clone, Copy, Default)]
struct Taps {
    n: usize,
    o: [Off; MAX_TAPS],
    w: [f32; MAX_TAPS],
}

impl Taps {
    fn from(list: &[(Off, f32)]) -> Option<Self> {
        let total: f32 = list.iter().map(|t| t.1).sum();
        if list.is_empty() || list.len() > MAX_TAPS || total <= 0.0 {
            return None;
        }
        let mut t = Taps {
            n: list.len(),
            ..Taps::default()
        };
        for (k, &(o, w)) in list.iter().enumerate() {
            t.o[k] = o;
            t.w[k] = w / total;
        }
        Some(t)
    }
}

/// Interpolation rules for each of the 36 phases of a pattern, in (dy, dx) offsets.
struct Rules {
    site: [u8; 36],
    green: [[GreenRule; 4]; 36],
    /// Greens bounding the green estimates of a non-green site.
    clamp: [Taps; 36],
    /// Red (0) and blue (1) colour-difference taps per phase and direction.
    rb: [[[Taps; 2]; 4]; 36],
}

impl Rules {
    fn new(p: &CfaPattern) -> Option<Self> {
        if p.width() != 6 || p.height() != 6 {
            return None;
        }
        let col = |y: usize, x: usize, (dy, dx): Off| {
            p.color((y as isize + 12 + dy) as usize, (x as isize + 12 + dx) as usize)
        };
        let mut r = Rules {
            site: [0; 36],
            green: [[GreenRule::default(); 4]; 36],
            clamp: [Taps::default(); 36],
            rb: [[[Taps::default(); 2]; 4]; 36],
        };
        for y in 0..6 {
            for x in 0..6 {
                let ph = y * 6 + x;
                let site = p.color(y, x);
                r.site[ph] = site;
                let along = |k: isize, (ey, ex): Off| (k * ey, k * ex);
                // First k in 1..=max with colour c along +dir (sign 1) or -dir (sign -1).
                let nearest = |c: u8, dir: Off, sign: isize, max: isize| {
                    (1..=max).find(|&k| col(y, x, along(sign * k, dir)) == c)
                };
                if site != 1 {
                    let mut bounds: Vec<(Off, f32)> = Vec::new();
                    for dy in -1..=1 {
                        for dx in -1..=1 {
                            if col(y, x, (dy, dx)) == 1 {
                                bounds.push(((dy, dx), 1.0));
                            }
                        }
                    }
                    for (d, &dir) in DIRS.iter().enumerate() {
                        let k1 = nearest(1, dir, 1, 3)?;
                        let k2 = nearest(1, dir, -1, 3)?;
                        let (a, b) = (along(k1, dir), along(-k2, dir));
                        for o in [a, b] {
                            if !bounds.iter().any(|t| t.0 == o) {
                                bounds.push((o, 1.0));
                            }
                        }
                        let cubic = k1 == 1
                            && k2 == 1
                            && col(y, x, along(2, dir)) == 1
                            && col(y, x, along(-2, dir)) == 1;
                        let terms = if cubic {
                            // Cubic through greens at -2, -1, 1, 2: mean(+-1) + (mean(+-1) - mean(+-2)) / 3.
                            [
                                (a, along(2, dir), 1.0 / 6.0),
                                (b, along(-2, dir), 1.0 / 6.0),
                            ]
                        } else if let (Some(m1), Some(m2)) = (
                            nearest(site, dir, 1, 4),
                            nearest(site, dir, -1, 4),
                        ) {
                            // A quadratic through the own colour at -m2, 0, m1 gives the curvature
                            // `c`; linear interpolation from +k1 and -k2 misses `-c * k1 * k2`.
                            let (k1f, k2f, m1f, m2f) = (k1 as f32, k2 as f32, m1 as f32, m2 as f32);
                            let kk = -k1f * k2f / (m1f + m2f);
                            [
                                (along(m1, dir), (0, 0), kk / m1f),
                                (along(-m2, dir), (0, 0), kk / m2f),
                            ]
                        } else {
                            [((0, 0), (0, 0), 0.0); 2]
                        };
                        r.green[ph][d] = GreenRule {
                            a,
                            b,
                            t: k1 as f32 / (k1 + k2) as f32,
                            terms,
                        };
                    }
                    r.clamp[ph] = Taps::from(&bounds)?;
                }
                for (ci, c) in [0u8, 2].into_iter().enumerate() {
                    if site == c {
                        continue;
                    }
                    for (d, &dir) in DIRS.iter().enumerate() {
                        let list: Vec<(Off, f32)> =
                            match (nearest(c, dir, 1, 2), nearest(c, dir, -1, 2)) {
                                (Some(k1), Some(k2)) => vec![
                                    (along(k1, dir), k2 as f32),
                                    (along(-k2, dir), k1 as f32),
                                ],
                                _ => {
                                    let mut v = Vec::new();
                                    for reach in [1isize, 2] {
                                        for dy in -reach..=reach {
                                            for dx in -reach..=reach {
                                                if col(y, x, (dy, dx)) == c {
                                                    let w = (reach + 1 - dy.abs())
                                                        * (reach + 1 - dx.abs());
                                                    v.push(((dy, dx), w as f32));
                                                }
                                            }
                                        }
                                        if !v.is_empty() {
                                            break;
                                        }
                                    }
                                    v
                                }
                            };
                        r.rb[ph][d][ci] = Taps::from(&list)?;
                    }
                }
            }
        }
        Some(r)
    }
}

/// `Rules` with offsets turned into index deltas for one window stride.
struct Linear {
    site: [u8; 36],
    green: [[(isize, isize, f32, [(isize, isize, f32); 2]); 4]; 36],
    clamp: [(usize, [isize; MAX_TAPS]); 36],
    rb: [[[(usize, [isize; MAX_TAPS], [f32; MAX_TAPS]); 2]; 4]; 36],
}

impl Linear {
    fn new(r: &Rules, s: usize) -> Self {
        let lin = |(dy, dx): Off| dy * s as isize + dx;
        let taps = |t: &Taps| {
            let mut o = [0isize; MAX_TAPS];
            for k in 0..t.n {
                o[k] = lin(t.o[k]);
            }
            (t.n, o, t.w)
        };
        Linear {
            site: r.site,
            green: std::array::from_fn(|ph| {
                std::array::from_fn(|d| {
                    let g = &r.green[ph][d];
                    (
                        lin(g.a),
                        lin(g.b),
                        g.t,
                        g.terms.map(|(p, q, w)| (lin(p), lin(q), w)),
                    )
                })
            }),
            clamp: std::array::from_fn(|ph| {
                let (n, o, _) = taps(&r.clamp[ph]);
                (n, o)
            }),
            rb: std::array::from_fn(|ph| {
                std::array::from_fn(|d| std::array::from_fn(|c| taps(&r.rb[ph][d][c])))
            }),
        }
    }
}

#[derive(Default)]
struct Scratch {
    g: [Vec<f32>; 4],
    r: [Vec<f32>; 4],
    b: [Vec<f32>; 4],
    drv: [Vec<f32>; 4],
    homo: [Vec<u8>; 4],
    /// Homogeneity summed over 5 samples of a row.
    hsum: [Vec<u16>; 4],
    /// Row of derivative thresholds.
    thr: Vec<f32>,
}

#[inline(always)]
fn at(i: usize, o: isize) -> usize {
    (i as isize + o) as usize
}

fn core(win: &Window, planes: &mut [Vec<f32>; 3], sc: &mut Scratch) {
    let (s, rows) = (win.stride, win.rows);
    let n = s * rows;
    let cfa = &win.data[..n];
    let Some(rules) = Rules::new(&win.pattern) else {
        fallback(win, planes);
        return;
    };
    let lin = Linear::new(&rules, s);
    for d in 0..4 {
        for v in [&mut sc.g[d], &mut sc.r[d], &mut sc.b[d]] {
            v.clear();
            v.extend_from_slice(cfa);
        }
        sc.drv[d].clear();
        sc.drv[d].resize(n, 0.0);
        sc.homo[d].clear();
        sc.homo[d].resize(n, 0);
        sc.hsum[d].clear();
        sc.hsum[d].resize(n, 0);
    }
    sc.thr.clear();
    sc.thr.resize(s, 0.0);
    let phase = |y: usize, x: usize| (y % 6) * 6 + x % 6;

    // 1. Green at red and blue sites, per direction.
    for y in M_GREEN..rows - M_GREEN {
        for x in M_GREEN..s - M_GREEN {
            let ph = phase(y, x);
            if lin.site[ph] == 1 {
                continue;
            }
            let i = y * s + x;
            let (k, o) = &lin.clamp[ph];
            let (mut lo, mut hi) = (f32::MAX, f32::MIN);
            for &o in &o[..*k] {
                let v = cfa[at(i, o)];
                lo = lo.min(v);
                hi = hi.max(v);
            }
            for d in 0..4 {
                let (a, b, t, terms) = &lin.green[ph][d];
                let (ga, gb) = (cfa[at(i, *a)], cfa[at(i, *b)]);
                let mut v = ga + (gb - ga) * t;
                for &(p, q, w) in terms {
                    v += w * (cfa[at(i, p)] - cfa[at(i, q)]);
                }
                sc.g[d][i] = v.max(lo).min(hi);
            }
        }
    }

    // 2. Red and blue from colour differences, per direction.
    for d in 0..4 {
        let g = &sc.g[d];
        let (pr, pb) = (&mut sc.r[d], &mut sc.b[d]);
        for y in M_RB..rows - M_RB {
            for x in M_RB..s - M_RB {
                let ph = phase(y, x);
                let i = y * s + x;
                let site = lin.site[ph];
                for (ci, plane) in [(0usize, &mut *pr), (1, &mut *pb)] {
                    if site == 2 * ci as u8 {
                        continue;
                    }
                    let (k, o, w) = &lin.rb[ph][d][ci];
                    let mut acc = 0.0f32;
                    for t in 0..*k {
                        let j = at(i, o[t]);
                        acc += w[t] * (cfa[j] - g[j]);
                    }
                    plane[i] = (g[i] + acc).max(0.0);
                }
            }
        }
    }

    // 3. Squared second derivative along the direction, in Y'PbPr.
    for (d, &(dy, dx)) in DIRS.iter().enumerate() {
        let o = dy * s as isize + dx;
        let (r, g, b) = (&sc.r[d], &sc.g[d], &sc.b[d]);
        for y in M_DRV..rows - M_DRV {
            let a = y * s + M_DRV;
            let m = s - 2 * M_DRV;
            let (lo, hi) = (at(a, -o), at(a, o));
            let (r0, rl, rh) = (&r[a..a + m], &r[lo..lo + m], &r[hi..hi + m]);
            let (g0, gl, gh) = (&g[a..a + m], &g[lo..lo + m], &g[hi..hi + m]);
            let (b0, bl, bh) = (&b[a..a + m], &b[lo..lo + m], &b[hi..hi + m]);
            let out = &mut sc.drv[d][a..a + m];
            for x in 0..m {
                let dr = 2.0 * r0[x] - rl[x] - rh[x];
                let dg = 2.0 * g0[x] - gl[x] - gh[x];
                let db = 2.0 * b0[x] - bl[x] - bh[x];
                let yy = 0.2627 * dr + 0.6780 * dg + 0.0593 * db;
                let pb = (db - yy) * 0.564_33;
                let pr = (dr - yy) * 0.678_15;
                out[x] = yy * yy + pb * pb + pr * pr;
            }
        }
    }

    // 4. Homogeneity: neighbours whose derivative is within 8x the centre's smallest.
    for y in M_HOMO..rows - M_HOMO {
        let a = y * s + M_HOMO;
        let m = s - 2 * M_HOMO;
        let thr = &mut sc.thr[..m];
        thr.copy_from_slice(&sc.drv[0][a..a + m]);
        for d in 1..4 {
            for (t, &v) in thr.iter_mut().zip(&sc.drv[d][a..a + m]) {
                *t = t.min(v);
            }
        }
        for t in thr.iter_mut() {
            *t *= 8.0;
        }
        for d in 0..4 {
            let homo = &mut sc.homo[d][a..a + m];
            for dy in -1isize..=1 {
                for dx in -1isize..=1 {
                    let b = at(a, dy * s as isize + dx);
                    let nb = &sc.drv[d][b..b + m];
                    for ((h, &v), &t) in homo.iter_mut().zip(nb).zip(thr.iter()) {
                        *h += u8::from(v <= t);
                    }
                }
            }
        }
    }
    // Row sums of 5 homogeneity counts.
    for d in 0..4 {
        for y in M_HOMO..rows - M_HOMO {
            let a = y * s + PAD;
            let m = s - 2 * PAD;
            let src = &sc.homo[d][a - 2..a + m + 2];
            let out = &mut sc.hsum[d][a..a + m];
            for x in 0..m {
                out[x] = u16::from(src[x])
                    + u16::from(src[x + 1])
                    + u16::from(src[x + 2])
                    + u16::from(src[x + 3])
                    + u16::from(src[x + 4]);
            }
        }
    }

    // 5. Average the directions within 7/8 of the most homogeneous.
    let [pr, pg, pb] = planes;
    for y in PAD..rows - PAD {
        for x in PAD..s - PAD {
            let i = y * s + x;
            let mut hm = [0u16; 4];
            for (d, h) in hm.iter_mut().enumerate() {
                let hs = &sc.hsum[d];
                *h = hs[i - 2 * s] + hs[i - s] + hs[i] + hs[i + s] + hs[i + 2 * s];
            }
            let best = hm.iter().copied().max().unwrap_or(0);
            let floor = best - best / 8;
            let (mut r, mut g, mut b, mut k) = (0.0f32, 0.0f32, 0.0f32, 0u8);
            for d in 0..4 {
                if hm[d] >= floor {
                    r += sc.r[d][i];
                    g += sc.g[d][i];
                    b += sc.b[d][i];
                    k += 1;
                }
            }
            let inv = 1.0 / f32::from(k.max(1));
            let mut px = [r * inv, g * inv, b * inv];
            px[lin.site[phase(y, x)] as usize] = cfa[i];
            pr[i] = px[0];
            pg[i] = px[1];
            pb[i] = px[2];
        }
    }
}

/// Bilinear over the window interior, for layouts without rules (not reached through
/// [`super::DemosaicMethod::for_pattern`]).
fn fallback(win: &Window, planes: &mut [Vec<f32>; 3]) {
    let src = Mosaic {
        data: &win.data,
        width: win.stride,
        height: win.rows,
        pattern: &win.pattern,
    };
    let bl = super::bilinear::Bilinear::new(&win.pattern);
    for y in win.pad..win.pad + win.height {
        for x in win.pad..win.pad + win.width {
            for (c, p) in planes.iter_mut().enumerate() {
                p[y * win.stride + x] = bl.estimate(&src, y, x, c as u8);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtrans_rules_stay_within_reach() {
        for shift in [(0, 0), (1, 4), (3, 3), (5, 2)] {
            let p = CfaPattern::xtrans().shifted(shift.0, shift.1);
            let r = Rules::new(&p).expect("X-Trans is supported");
            let reach = |(dy, dx): Off| dy.unsigned_abs().max(dx.unsigned_abs());
            for ph in 0..36 {
                for d in 0..4 {
                    if r.site[ph] != 1 {
                        let g = &r.green[ph][d];
                        let mut m = reach(g.a).max(reach(g.b));
                        for (p, q, _) in g.terms {
                            m = m.max(reach(p)).max(reach(q));
                        }
                        assert!(m <= M_GREEN);
                    }
                    for c in 0..2 {
                        let t = &r.rb[ph][d][c];
                        for k in 0..t.n {
                            assert!(reach(t.o[k]) <= M_RB - M_GREEN);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bayer_and_small_patterns_are_not_supported() {
        assert!(!supports(&CfaPattern::bayer("RGGB").expect("valid")));
        assert!(supports(&CfaPattern::xtrans()));
    }
}
