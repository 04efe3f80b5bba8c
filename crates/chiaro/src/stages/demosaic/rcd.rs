//! Ratio Corrected Demosaicing (RCD) for Bayer mosaics: chiaro's default.
//!
//! RCD interpolates along the direction in which the image varies least, like most edge-directed
//! methods, but it scores directions by the energy of a colour-difference high-pass filter summed
//! over a small window, which is robust to the noise and fine texture that fool plain gradients,
//! and it corrects the green estimates with *ratios* of a local low-pass signal rather than
//! differences, which keeps colours stable at the high-contrast edges where difference-based
//! corrections overshoot. Steps (each from the mosaic and the previous steps only):
//!
//! 1. vertical/horizontal discrimination `VH = V / (V + H)` from squared 7-tap high-pass
//!    responses, summed over 3 samples along each axis;
//! 2. a 3x3 low-pass of the mosaic, the "luminance" the ratios are taken against;
//! 3. green at red and blue sites: the four cardinal neighbours scaled by low-pass ratios,
//!    blended by inverse gradients within each axis and by `VH` between axes (the more decided of
//!    the site's value and its diagonal neighbours' mean is used);
//! 4. red at blue sites and blue at red sites: diagonal colour differences, blended the same way
//!    with a diagonal discrimination `PQ`;
//! 5. red and blue at green sites: cardinal colour differences, blended by gradients and `VH`.
//!
//! The sample at each site is kept; estimates below 0 are clamped to 0, nothing above. Blends are
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

use super::{Border, Mosaic, Window, run_tiled};

/// Reach of the method: red/blue at green sites read red/blue at red/blue sites 3 samples away,
/// which read green 2 samples away, which reads the discrimination map 1 away, which reads the
/// 7-tap filter 4 away: 3 + 2 + 1 + 4 = 10.
pub(super) const HALO: usize = 10;

/// Keeps gradient weights and ratios finite in flat black areas.
const EPS: f32 = 1e-5;
/// Floor of the squared high-pass energies.
const EPS_SQ: f32 = 1e-10;

#[derive(Default)]
struct Scratch {
    /// Vertical/horizontal discrimination, 0 = vertical edge... 1 = horizontal.
    vh: Vec<f32>,
    /// Diagonal discrimination.
    pq: Vec<f32>,
    /// 3x3 low-pass of the mosaic.
    lpf: Vec<f32>,
    /// Squared high-pass responses (vertical/horizontal, then the two diagonals).
    hp_a: Vec<f32>,
    hp_b: Vec<f32>,
}

pub(super) fn run(src: &Mosaic, out: &mut [f32]) {
    let mut scratch = Scratch::default();
    run_tiled(src, HALO, Border::Reflect, out, |win, planes| {
        core(win, planes, &mut scratch)
    });
}

#[inline(always)]
fn sq(v: f32) -> f32 {
    v * v
}

/// The more decided of a site's discrimination and its diagonal neighbours' mean.
#[inline(always)]
fn refine(d: &[f32], i: usize, s: usize) -> f32 {
    let central = d[i];
    let neigh = 0.25 * (d[i - s - 1] + d[i - s + 1] + d[i + s - 1] + d[i + s + 1]);
    if (0.5 - central).abs() < (0.5 - neigh).abs() {
        neigh
    } else {
        central
    }
}

/// Reset a scratch plane to `n` zeros (keeps results independent of earlier tiles).
fn reset(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
}

fn core(win: &Window, planes: &mut [Vec<f32>; 3], sc: &mut Scratch) {
    let (s, rows) = (win.stride, win.rows);
    let n = s * rows;
    let cfa = &win.data[..n];
    for v in [
        &mut sc.vh,
        &mut sc.pq,
        &mut sc.lpf,
        &mut sc.hp_a,
        &mut sc.hp_b,
    ] {
        reset(v, n);
    }
    let [pr, pg, pb] = planes;
    pr.copy_from_slice(cfa);
    pg.copy_from_slice(cfa);
    pb.copy_from_slice(cfa);
    if rows < 2 * HALO + 1 || s < 2 * HALO + 1 {
        return;
    }
    let row = |k: usize| &cfa[k * s..(k + 1) * s];
    // A row is (0 = first sample green, 1 = second sample green): start of its red/blue sites.
    let rb_start = |y: usize, x0: usize| x0 + usize::from(win.pattern.color(y, x0) == 1);

    // Step 1: squared high-pass along columns (hp_a) and rows (hp_b).
    for y in 3..rows - 3 {
        let (a3, a2, a1, c, b1, b2, b3) = (
            row(y - 3),
            row(y - 2),
            row(y - 1),
            row(y),
            row(y + 1),
            row(y + 2),
            row(y + 3),
        );
        let hv = &mut sc.hp_a[y * s..(y + 1) * s];
        for x in 0..s {
            hv[x] = sq((a3[x] - a1[x] - b1[x] + b3[x]) - 3.0 * (a2[x] + b2[x]) + 6.0 * c[x]);
        }
        let m = s - 6;
        let hh = &mut sc.hp_b[y * s + 3..y * s + 3 + m];
        let (l3, l2, l1, c0, r1, r2, r3) = (
            &c[0..m],
            &c[1..m + 1],
            &c[2..m + 2],
            &c[3..m + 3],
            &c[4..m + 4],
            &c[5..m + 5],
            &c[6..m + 6],
        );
        for x in 0..m {
            hh[x] = sq((l3[x] - l1[x] - r1[x] + r3[x]) - 3.0 * (l2[x] + r2[x]) + 6.0 * c0[x]);
        }
    }
    // Step 1.2: discrimination from the energies summed over 3 samples along each axis.
    for y in 4..rows - 4 {
        let m = s - 8;
        let (up, mid, down) = (
            &sc.hp_a[(y - 1) * s + 4..(y - 1) * s + 4 + m],
            &sc.hp_a[y * s + 4..y * s + 4 + m],
            &sc.hp_a[(y + 1) * s + 4..(y + 1) * s + 4 + m],
        );
        let hrow = &sc.hp_b[y * s..(y + 1) * s];
        let (l, c, r) = (&hrow[3..3 + m], &hrow[4..4 + m], &hrow[5..5 + m]);
        let out = &mut sc.vh[y * s + 4..y * s + 4 + m];
        for x in 0..m {
            let v = (up[x] + mid[x] + down[x]).max(EPS_SQ);
            let h = (l[x] + c[x] + r[x]).max(EPS_SQ);
            out[x] = v / (v + h);
        }
    }

    // Step 2: 3x3 binomial low-pass (x4), computed everywhere for simplicity.
    for y in 1..rows - 1 {
        let (a, c, b) = (row(y - 1), row(y), row(y + 1));
        let m = s - 2;
        let out = &mut sc.lpf[y * s + 1..y * s + 1 + m];
        for x in 0..m {
            out[x] = c[x + 1]
                + 0.5 * (a[x + 1] + b[x + 1] + c[x] + c[x + 2])
                + 0.25 * (a[x] + a[x + 2] + b[x] + b[x + 2]);
        }
    }

    // Step 3: green at red and blue sites.
    {
        let (vh, lpf) = (&sc.vh[..], &sc.lpf[..]);
        let (s2, s3, s4) = (2 * s, 3 * s, 4 * s);
        for y in 5..rows - 5 {
            for x in (rb_start(y, 5)..s - 5).step_by(2) {
                let i = y * s + x;
                let disc = refine(vh, i, s);
                let c = cfa;
                let n_grad = EPS
                    + (c[i - s] - c[i + s]).abs()
                    + (c[i] - c[i - s2]).abs()
                    + (c[i - s] - c[i - s3]).abs()
                    + (c[i - s2] - c[i - s4]).abs();
                let s_grad = EPS
                    + (c[i - s] - c[i + s]).abs()
                    + (c[i] - c[i + s2]).abs()
                    + (c[i + s] - c[i + s3]).abs()
                    + (c[i + s2] - c[i + s4]).abs();
                let w_grad = EPS
                    + (c[i - 1] - c[i + 1]).abs()
                    + (c[i] - c[i - 2]).abs()
                    + (c[i - 1] - c[i - 3]).abs()
                    + (c[i - 2] - c[i - 4]).abs();
                let e_grad = EPS
                    + (c[i - 1] - c[i + 1]).abs()
                    + (c[i] - c[i + 2]).abs()
                    + (c[i + 1] - c[i + 3]).abs()
                    + (c[i + 2] - c[i + 4]).abs();
                let l0 = lpf[i];
                let ratio = |l: f32| 1.0 + (l0 - l) / (EPS + l0 + l);
                let n_est = c[i - s] * ratio(lpf[i - s2]);
                let s_est = c[i + s] * ratio(lpf[i + s2]);
                let w_est = c[i - 1] * ratio(lpf[i - 2]);
                let e_est = c[i + 1] * ratio(lpf[i + 2]);
                let v_est = n_est + (s_est - n_est) * (n_grad / (n_grad + s_grad));
                let h_est = w_est + (e_est - w_est) * (w_grad / (w_grad + e_grad));
                pg[i] = (v_est + (h_est - v_est) * disc).max(0.0);
            }
        }
    }

    // Step 4.0: squared high-pass along the two diagonals (P: down-right, Q: down-left).
    for y in 3..rows - 3 {
        let (a3, a2, a1, c, b1, b2, b3) = (
            row(y - 3),
            row(y - 2),
            row(y - 1),
            row(y),
            row(y + 1),
            row(y + 2),
            row(y + 3),
        );
        for x in 3..s - 3 {
            sc.hp_a[y * s + x] = sq((a3[x - 3] - a1[x - 1] - b1[x + 1] + b3[x + 3])
                - 3.0 * (a2[x - 2] + b2[x + 2])
                + 6.0 * c[x]);
            sc.hp_b[y * s + x] = sq((a3[x + 3] - a1[x + 1] - b1[x - 1] + b3[x - 3])
                - 3.0 * (a2[x + 2] + b2[x - 2])
                + 6.0 * c[x]);
        }
    }
    // Step 4.1: diagonal discrimination.
    for y in 4..rows - 4 {
        for x in 4..s - 4 {
            let i = y * s + x;
            let p = (sc.hp_a[i - s - 1] + sc.hp_a[i] + sc.hp_a[i + s + 1]).max(EPS_SQ);
            let q = (sc.hp_b[i - s + 1] + sc.hp_b[i] + sc.hp_b[i + s - 1]).max(EPS_SQ);
            sc.pq[i] = p / (p + q);
        }
    }
    // Step 4.2: red at blue sites and blue at red sites from diagonal colour differences.
    {
        let pq = &sc.pq[..];
        let g = &pg[..];
        let c = cfa;
        let (s2, s3) = (2 * s, 3 * s);
        for y in 7..rows - 7 {
            let x0 = rb_start(y, 7);
            let target: &mut Vec<f32> = if win.pattern.color(y, x0) == 0 {
                pb
            } else {
                pr
            };
            for x in (x0..s - 7).step_by(2) {
                let i = y * s + x;
                let disc = refine(pq, i, s);
                let (nw, ne, sw, se) = (i - s - 1, i - s + 1, i + s - 1, i + s + 1);
                let nw_grad =
                    EPS + (c[nw] - c[se]).abs() + (c[nw] - c[i - s3 - 3]).abs() + (g[i] - g[i - s2 - 2]).abs();
                let ne_grad =
                    EPS + (c[ne] - c[sw]).abs() + (c[ne] - c[i - s3 + 3]).abs() + (g[i] - g[i - s2 + 2]).abs();
                let sw_grad =
                    EPS + (c[sw] - c[ne]).abs() + (c[sw] - c[i + s3 - 3]).abs() + (g[i] - g[i + s2 - 2]).abs();
                let se_grad =
                    EPS + (c[se] - c[nw]).abs() + (c[se] - c[i + s3 + 3]).abs() + (g[i] - g[i + s2 + 2]).abs();
                let (nw_est, ne_est) = (c[nw] - g[nw], c[ne] - g[ne]);
                let (sw_est, se_est) = (c[sw] - g[sw], c[se] - g[se]);
                let p_est = nw_est + (se_est - nw_est) * (nw_grad / (nw_grad + se_grad));
                let q_est = ne_est + (sw_est - ne_est) * (ne_grad / (ne_grad + sw_grad));
                target[i] = (g[i] + p_est + (q_est - p_est) * disc).max(0.0);
            }
        }
    }
    // Step 4.3: red and blue at green sites from cardinal colour differences.
    {
        let vh = &sc.vh[..];
        let g = &pg[..];
        let (s2, s3) = (2 * s, 3 * s);
        for y in 10..rows - 10 {
            let x0 = 10 + usize::from(win.pattern.color(y, 10) != 1);
            for x in (x0..s - 10).step_by(2) {
                let i = y * s + x;
                let disc = refine(vh, i, s);
                let g1 = g[i];
                let n1 = EPS + (g1 - g[i - s2]).abs();
                let s1 = EPS + (g1 - g[i + s2]).abs();
                let w1 = EPS + (g1 - g[i - 2]).abs();
                let e1 = EPS + (g1 - g[i + 2]).abs();
                let (gn, gs, gw, ge) = (g[i - s], g[i + s], g[i - 1], g[i + 1]);
                for p in [&mut *pr, &mut *pb] {
                    let sn = (p[i - s] - p[i + s]).abs();
                    let ew = (p[i - 1] - p[i + 1]).abs();
                    let n_grad = n1 + sn + (p[i - s] - p[i - s3]).abs();
                    let s_grad = s1 + sn + (p[i + s] - p[i + s3]).abs();
                    let w_grad = w1 + ew + (p[i - 1] - p[i - 3]).abs();
                    let e_grad = e1 + ew + (p[i + 1] - p[i + 3]).abs();
                    let (n_est, s_est) = (p[i - s] - gn, p[i + s] - gs);
                    let (w_est, e_est) = (p[i - 1] - gw, p[i + 1] - ge);
                    let v_est = n_est + (s_est - n_est) * (n_grad / (n_grad + s_grad));
                    let h_est = w_est + (e_est - w_est) * (w_grad / (w_grad + e_grad));
                    p[i] = (g1 + v_est + (h_est - v_est) * disc).max(0.0);
                }
            }
        }
    }
}
