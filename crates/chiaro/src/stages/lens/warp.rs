//! Resampling warps: lens distortion and lateral chromatic aberration corrected by moving
//! each plane, from the DNG's own opcodes (WarpRectilinear, WarpRectilinear2, WarpFisheye;
//! DNG 1.7 spec, chapter 7) or from lensfun's models ([`super::lensfun`]).
//!
//! A [`Mapping`] says where each output pixel `(x, y)` (pixel indices, as the DNG SDK takes
//! them) reads each plane of the input; [`Warp`] resamples there with the Catmull-Rom cubic
//! (support 4, interpolating), clamped to the range of the 16 samples it reads, so an edge
//! never rings (unclamped, the cubic overshoots by up to 7 % of a step), and can scale the
//! pixel by a gain of the position read (devignetting of the uncorrected image). Input
//! positions outside the image take the nearest edge pixel.
//!
//! # Units
//! In and out: linear camera RGB, any range (the warp is linear in the samples).
//!
//! [`Opcode::WarpRectilinear`]: crate::raw::dng::opcodes::Opcode::WarpRectilinear

use crate::error::Result;
use crate::pipeline::stage::{AreaKernel, TileMut, TileView};
use crate::raw::dng::opcodes::{WarpPlane, WarpRectilinear};

/// Largest displacement (pixels) a warp may ask for: every tile reads this much around it,
/// through every stage before the warp, so a hostile or broken opcode asking for more would
/// multiply the work and memory; such a warp is left out with a warning. Real lenses move
/// pixels by at most a few percent of the image diagonal (about 250 px on a 12 MP phone).
pub const MAX_HALO: usize = 512;

/// Where a warp reads its input.
pub trait Mapping: Send + Sync {
    /// Where output pixel (`x`, `y`) of `plane` (0 red, 1 green, 2 blue) reads the input.
    fn source(&self, plane: usize, x: f64, y: f64) -> (f64, f64);
    /// All planes read at one place (one position per pixel).
    fn shared(&self) -> bool;
    /// The three planes' positions for output pixel (`x`, `y`), for mappings that share
    /// work between planes.
    fn sources(&self, x: f64, y: f64) -> [(f64, f64); 3] {
        std::array::from_fn(|c| self.source(c, x, y))
    }
    /// The gain a pixel read at input position (`x`, `y`) gets; `None`: no gain.
    fn gain(&self, _x: f64, _y: f64) -> Option<f32> {
        None
    }
}

/// The DNG opcode's polynomials for a frame of a given size.
pub struct DngWarp {
    /// The polynomials of each of the three planes.
    planes: [WarpPlane; 3],
    reciprocal: bool,
    fisheye: bool,
    shared: bool,
    /// Optical centre in pixels.
    centre: (f64, f64),
    /// Distance from the centre to the farthest image corner, pixels.
    radius: f64,
}

impl DngWarp {
    /// The warp `w` on a frame of `width` x `height` pixels.
    pub fn new(w: &WarpRectilinear, width: usize, height: usize) -> Self {
        let plane = |i: usize| w.planes[i.min(w.planes.len().saturating_sub(1))];
        let planes = [plane(0), plane(1), plane(2)];
        let (fw, fh) = (width as f64, height as f64);
        let centre = (w.cx * fw, w.cy * fh);
        let radius = [(0.0, 0.0), (fw, 0.0), (0.0, fh), (fw, fh)]
            .iter()
            .map(|&(x, y): &(f64, f64)| (x - centre.0).hypot(y - centre.1))
            .fold(0.0, f64::max)
            .max(1.0);
        DngWarp {
            shared: planes.iter().all(|p| *p == planes[0]),
            planes,
            reciprocal: w.reciprocal,
            fisheye: w.fisheye,
            centre,
            radius,
        }
    }
}

impl Mapping for DngWarp {
    #[inline]
    fn source(&self, plane: usize, x: f64, y: f64) -> (f64, f64) {
        let p = &self.planes[plane];
        let [kt0, kt1] = p.tangential;
        let m = self.radius;
        let (dx, dy) = ((x - self.centre.0) / m, (y - self.centre.1) / m);
        let r2 = (dx * dx + dy * dy).min(1.0);
        if self.fisheye {
            // The input radius t (k0 + k1 t^2 + k2 t^4 + k3 t^6) of t = atan(r), over r.
            let f = if r2 < 1e-12 {
                1.0
            } else {
                let r = r2.sqrt();
                let t = r.atan();
                let t2 = t * t;
                let k = &p.radial;
                t * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3]))) / r
            };
            return (self.centre.0 + m * f * dx, self.centre.1 + m * f * dy);
        }
        let r = r2.sqrt().clamp(p.valid[0], p.valid[1]);
        let poly = p.radial.iter().rev().fold(0.0, |acc, k| acc * r + k);
        let f = if self.reciprocal { 1.0 / poly } else { poly };
        let tx = kt0 * 2.0 * dx * dy + kt1 * (r2 + 2.0 * dx * dx);
        let ty = kt1 * 2.0 * dx * dy + kt0 * (r2 + 2.0 * dy * dy);
        (
            self.centre.0 + m * (f * dx + tx),
            self.centre.1 + m * (f * dy + ty),
        )
    }

    fn shared(&self) -> bool {
        self.shared
    }
}

/// A planned warp: a mapping and the border it needs.
pub struct Warp<M> {
    map: M,
    halo: usize,
}

impl<M: Mapping> Warp<M> {
    /// `map` on a frame of `width` x `height` pixels.
    pub fn new(map: M, width: usize, height: usize) -> Self {
        let (fw, fh) = (width as f64, height as f64);
        // The largest displacement over a grid of the frame (the mappings are smooth), plus
        // the cubic's reach and a pixel of margin.
        let mut reach = 0.0f64;
        for gy in 0..=64 {
            for gx in 0..=64 {
                let (x, y) = (fw * f64::from(gx) / 64.0, fh * f64::from(gy) / 64.0);
                for p in 0..3 {
                    let (sx, sy) = map.source(p, x, y);
                    reach = reach.max((sx - x).abs()).max((sy - y).abs());
                }
            }
        }
        // A hostile mapping cannot ask for more context than the frame has (NaN gives 0).
        let halo = ((reach - 1e-6).max(0.0).ceil() as usize).min(width.max(height)) + 3;
        Warp { map, halo }
    }

    /// The mapping.
    pub fn mapping(&self) -> &M {
        &self.map
    }
}

/// Catmull-Rom weights of the four taps around a position `t` past the second one.
#[inline]
fn cubic_weights(t: f32) -> [f32; 4] {
    let (t2, t3) = (t * t, t * t * t);
    [
        0.5 * (-t3 + 2.0 * t2 - t),
        0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
        0.5 * (-3.0 * t3 + 4.0 * t2 + t),
        0.5 * (t3 - t2),
    ]
}

impl<M: Mapping> AreaKernel for Warp<M> {
    fn halo(&self) -> usize {
        self.halo
    }

    fn run(&self, src: &TileView<'_>, dst: &mut TileMut<'_>) -> Result<()> {
        let (s, d, ch) = (src.rect, dst.rect, src.channels);
        // Taps are clamped to the source tile, which holds the frame's edge where it has one.
        let (x_max, y_max) = (s.width as isize - 1, s.height as isize - 1);
        let taps = |pos: f64, origin: usize, max: isize| -> ([usize; 4], [f32; 4]) {
            // Positions far outside (or NaN, from a hostile opcode) read the edge.
            let p = pos - origin as f64;
            let p = if p.is_nan() {
                0.0
            } else {
                p.clamp(-2.0, max as f64 + 2.0)
            };
            let base = p.floor();
            let w = cubic_weights((p - base) as f32);
            let b = base as isize;
            (
                std::array::from_fn(|k| (b - 1 + k as isize).clamp(0, max) as usize),
                w,
            )
        };
        let shared = self.map.shared();
        let positions = if shared { 1 } else { ch.min(3) };
        for y in d.y..d.bottom() {
            for x in d.x..d.right() {
                let out = ((y - d.y) * d.width + (x - d.x)) * ch;
                let at = if shared {
                    [self.map.source(0, x as f64, y as f64); 3]
                } else {
                    self.map.sources(x as f64, y as f64)
                };
                // The gain of the position green reads (all planes' when shared).
                let (gx, gy) = at[if positions == 3 { 1 } else { 0 }];
                let gain = self.map.gain(gx, gy).unwrap_or(1.0);
                for (c, &(sx, sy)) in at.iter().enumerate().take(positions) {
                    let (xs, wx) = taps(sx, s.x, x_max);
                    let (ys, wy) = taps(sy, s.y, y_max);
                    let planes = if shared { 0..ch } else { c..c + 1 };
                    for p in planes {
                        let mut acc = 0.0f32;
                        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
                        for (yy, wyy) in ys.iter().zip(wy) {
                            let row = &src.data[yy * s.width * ch..];
                            let mut line = 0.0f32;
                            for (xx, wxx) in xs.iter().zip(wx) {
                                let v = row[xx * ch + p];
                                line += wxx * v;
                                lo = lo.min(v);
                                hi = hi.max(v);
                            }
                            acc += wyy * line;
                        }
                        // No ringing: never outside the samples the cubic read.
                        dst.data[out + p] = crate::stages::clamp_to(acc, lo, hi) * gain;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::run_whole;

    fn warp(k: [f64; 6]) -> WarpRectilinear {
        WarpRectilinear {
            planes: vec![WarpPlane::rectilinear(
                [k[0], k[1], k[2], k[3]],
                [k[4], k[5]],
            )],
            cx: 0.5,
            cy: 0.5,
            reciprocal: false,
            second: false,
            fisheye: false,
        }
    }

    #[test]
    fn identity_warp_copies_the_image() {
        let (w, h) = (40, 30);
        let data: Vec<f32> = (0..w * h * 3).map(|i| (i as f32 * 0.37).sin()).collect();
        let k = Warp::new(
            DngWarp::new(&warp([1.0, 0.0, 0.0, 0.0, 0.0, 0.0]), w, h),
            w,
            h,
        );
        assert_eq!(k.halo(), 3);
        let out = run_whole(&k, &data, w, h).expect("runs");
        assert!(out.iter().zip(&data).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    /// A step edge moved by a fraction of a pixel: the cubic alone would overshoot both
    /// levels; the warp stays within them and still moves the edge.
    #[test]
    fn warped_edges_do_not_ring() {
        let (w, h) = (40, 8);
        let data: Vec<f32> = (0..w * h * 3)
            .map(|i| if (i / 3) % w < 20 { 0.1 } else { 0.9 })
            .collect();
        // A pure magnification about the centre: 0.3 px at the edge's column.
        let k = Warp::new(
            DngWarp::new(&warp([1.03, 0.0, 0.0, 0.0, 0.0, 0.0]), w, h),
            w,
            h,
        );
        let out = run_whole(&k, &data, w, h).expect("runs");
        assert!(out.iter().all(|&v| (0.1..=0.9).contains(&v)), "rings");
        assert!(out != data, "the edge moved");
        // Reading 20.4: taps at 19 (dark) and 20..22 (bright).
        let unclamped: f32 = cubic_weights(0.4)
            .iter()
            .enumerate()
            .map(|(i, wt)| wt * if i == 0 { 0.1 } else { 0.9 })
            .sum();
        assert!(unclamped > 0.9, "the plain cubic overshoots: {unclamped}");
    }

    #[test]
    fn positions_follow_the_spec_polynomials() {
        // Centre (50, 25) of a 100 x 50 frame; the farthest corner is sqrt(50^2 + 25^2) away.
        let k = DngWarp::new(&warp([1.0, 0.1, -0.02, 0.003, 0.004, -0.005]), 100, 50);
        let m = 50.0f64.hypot(25.0);
        let (x, y) = (90.0, 5.0);
        let (dx, dy) = ((x - 50.0) / m, (y - 25.0) / m);
        let r2 = dx * dx + dy * dy;
        let f = 1.0 + 0.1 * r2 - 0.02 * r2 * r2 + 0.003 * r2 * r2 * r2;
        let want_x = 50.0 + m * (f * dx + 0.004 * 2.0 * dx * dy - 0.005 * (r2 + 2.0 * dx * dx));
        let want_y = 25.0 + m * (f * dy - 0.005 * 2.0 * dx * dy + 0.004 * (r2 + 2.0 * dy * dy));
        let (sx, sy) = k.source(0, x, y);
        assert!((sx - want_x).abs() < 1e-9 && (sy - want_y).abs() < 1e-9);
        // WarpRectilinear2 with the same even terms and the reciprocal of their sum.
        let mut second = warp([1.0, 0.1, -0.02, 0.003, 0.0, 0.0]);
        second.reciprocal = true;
        second.second = true;
        let k2 = DngWarp::new(&second, 100, 50);
        let (sx, _) = k2.source(0, x, y);
        assert!((sx - (50.0 + m * dx / f)).abs() < 1e-9, "{sx}");
        // The halo covers the largest displacement (at a corner here).
        let (cx, cy) = k.source(0, 0.0, 0.0);
        let planned = Warp::new(k, 100, 50);
        assert!(planned.halo() as f64 >= cx.abs().max(cy.abs()));
    }
}
