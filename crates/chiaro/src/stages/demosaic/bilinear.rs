//! Bilinear demosaicing for any CFA pattern.
//!
//! Each missing colour is the average of the sites of that colour in the 3x3 neighbourhood,
//! weighted by the binomial kernel `[1 2 1] x [1 2 1]` and normalised by the weights present.
//! On Bayer this is textbook bilinear interpolation; on X-Trans every 3x3 neighbourhood holds
//! all three colours, so the same rule applies. A colour missing from the 3x3 neighbourhood (odd
//! patterns only) is taken from the 5x5 neighbourhood with a tent kernel. At image edges only the
//! sites inside the image count, so borders need no special treatment. It is the reference
//! the better methods are measured against and the fallback for tiny images and odd patterns.
//!
//! # Units
//!
//! Same as the input samples; outputs are convex combinations of them.
//!
//! # References
//!
//! B. K. Gunturk, J. Glotzbach, Y. Altunbasak, R. W. Schafer, R. M. Mersereau, "Demosaicking:
//! color filter array interpolation", IEEE Signal Processing Magazine 22(1), 2005.

use super::Mosaic;
use crate::image::Rect;
use crate::raw::cfa::CfaPattern;

/// Reach of the widest (5x5) kernel.
pub(super) const HALO: usize = 2;

#[derive(Clone, Copy)]
struct Tap {
    dy: isize,
    dx: isize,
    /// Integer weight; estimates divide by the sum of the weights used, which keeps flat
    /// areas exactly flat.
    w: f32,
}

/// Per-phase tap lists of the normalised-average kernel for one pattern.
pub(super) struct Bilinear {
    pattern: CfaPattern,
    taps: Vec<Tap>,
    /// For phase `py * pw + px` and colour `c`: the range of `taps` (empty at own-colour sites).
    ranges: Vec<[(usize, usize); 3]>,
    radius: usize,
}

impl Bilinear {
    pub(super) fn new(pattern: &CfaPattern) -> Self {
        let (ph, pw) = (pattern.height(), pattern.width());
        let color = |y: usize, x: usize, dy: isize, dx: isize| {
            let yy = (y + 2 * ph) as isize + dy;
            let xx = (x + 2 * pw) as isize + dx;
            pattern.color(yy as usize, xx as usize)
        };
        let mut taps = Vec::new();
        let mut ranges = Vec::with_capacity(ph * pw);
        let mut radius = 1;
        for py in 0..ph {
            for px in 0..pw {
                let mut r = [(0, 0); 3];
                for (c, range) in r.iter_mut().enumerate() {
                    let start = taps.len();
                    if pattern.color(py, px) as usize == c {
                        *range = (start, start);
                        continue;
                    }
                    for reach in [1isize, 2] {
                        let mut found: Vec<(isize, isize, f32)> = Vec::new();
                        for dy in -reach..=reach {
                            for dx in -reach..=reach {
                                if color(py, px, dy, dx) as usize == c {
                                    let w =
                                        ((reach + 1 - dy.abs()) * (reach + 1 - dx.abs())) as f32;
                                    found.push((dy, dx, w));
                                }
                            }
                        }
                        if !found.is_empty() {
                            taps.extend(found.iter().map(|&(dy, dx, w)| Tap { dy, dx, w }));
                            radius = radius.max(reach as usize);
                            break;
                        }
                    }
                    *range = (start, taps.len());
                }
                ranges.push(r);
            }
        }
        Bilinear {
            pattern: *pattern,
            taps,
            ranges,
            radius,
        }
    }

    #[inline(always)]
    fn range(&self, y: usize, x: usize, c: usize) -> &[Tap] {
        let phase = (y % self.pattern.height()) * self.pattern.width() + x % self.pattern.width();
        let (a, b) = self.ranges[phase][c];
        &self.taps[a..b]
    }

    /// Colour `c` at (`y`, `x`) of `src`, using only sites inside the image.
    ///
    /// With no site of colour `c` in reach (images of a row or two), the sample itself stands in:
    /// the neutral guess.
    pub(super) fn estimate(&self, src: &Mosaic, y: usize, x: usize, c: u8) -> f32 {
        let own = src.at(y, x);
        if self.pattern.color(y, x) == c {
            return own;
        }
        let (mut acc, mut wsum) = (0.0f32, 0.0f32);
        for t in self.range(y, x, c as usize) {
            let yy = y as isize + t.dy;
            let xx = x as isize + t.dx;
            if yy >= 0 && xx >= 0 && (yy as usize) < src.height && (xx as usize) < src.width {
                acc += t.w * src.at(yy as usize, xx as usize);
                wsum += t.w;
            }
        }
        if wsum > 0.0 {
            return acc / wsum;
        }
        // Near a corner the usual neighbourhood can lack the colour: take the nearest ring that
        // has it, tent-weighted.
        let (ph, pw) = (self.pattern.height(), self.pattern.width());
        for reach in 2..=ph.max(pw) as isize {
            for dy in -reach..=reach {
                for dx in -reach..=reach {
                    let (yy, xx) = (y as isize + dy, x as isize + dx);
                    if yy >= 0
                        && xx >= 0
                        && (yy as usize) < src.height
                        && (xx as usize) < src.width
                        && self.pattern.color(yy as usize, xx as usize) == c
                    {
                        let w = ((reach + 1 - dy.abs()) * (reach + 1 - dx.abs())) as f32;
                        acc += w * src.at(yy as usize, xx as usize);
                        wsum += w;
                    }
                }
            }
            if wsum > 0.0 {
                return acc / wsum;
            }
        }
        own
    }
}

/// Bilinear demosaic of `region` of `src` into interleaved RGB `out` (region-sized).
pub(super) fn run(src: &Mosaic, region: Rect, out: &mut [f32]) {
    let bl = Bilinear::new(src.pattern);
    let (w, h, r) = (src.width, src.height, bl.radius);
    let (ph, pw) = (src.pattern.height(), src.pattern.width());
    // Per phase: the site colour and, per colour, the taps as linear offsets for this image's
    // stride with the sum of their weights.
    type Lin = (Vec<(isize, f32)>, f32);
    let phases: Vec<(usize, [Lin; 3])> = (0..ph * pw)
        .map(|phase| {
            let (py, px) = (phase / pw, phase % pw);
            let taps = [0, 1, 2].map(|c| {
                let taps = bl.range(py, px, c);
                let total = taps.iter().fold(0.0f32, |a, t| a + t.w);
                let list = taps
                    .iter()
                    .map(|t| (t.dy * w as isize + t.dx, t.w))
                    .collect();
                (list, total)
            });
            (src.pattern.color(py, px) as usize, taps)
        })
        .collect();
    let rw = region.width;
    for y in region.y..region.bottom() {
        let j = y - region.y;
        let row_out = &mut out[3 * j * rw..3 * (j + 1) * rw];
        let interior_row = y >= r && y + r < h;
        let py = y % ph;
        let mut px = region.x % pw;
        for (i, px_out) in row_out.chunks_exact_mut(3).enumerate() {
            let x = region.x + i;
            let (site, taps) = &phases[py * pw + px];
            px = if px + 1 == pw { 0 } else { px + 1 };
            if interior_row && x >= r && x + r < w {
                let i = y * w + x;
                let own = src.data[i];
                for (c, v) in px_out.iter_mut().enumerate() {
                    let (list, total) = &taps[c];
                    *v = if c == *site || list.is_empty() {
                        own
                    } else {
                        list.iter().fold(0.0f32, |acc, &(o, wt)| {
                            acc + wt * src.data[i.wrapping_add_signed(o)]
                        }) / total
                    };
                }
            } else {
                for (c, v) in px_out.iter_mut().enumerate() {
                    *v = bl.estimate(src, y, x, c as u8);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{DemosaicMethod, demosaic};
    use crate::raw::cfa::CfaPattern;

    /// Bilinear interpolation is exact on a linear ramp away from the edges.
    #[test]
    fn linear_ramps_are_exact_inside() {
        let (w, h) = (24, 18);
        let rgb: Vec<f32> = (0..w * h)
            .flat_map(|i| {
                let (y, x) = ((i / w) as f32, (i % w) as f32);
                [0.01 * x + 0.02 * y, 0.5 + 0.01 * x - 0.01 * y, 0.03 * y]
            })
            .collect();
        for name in ["RGGB", "GBRG"] {
            let p = CfaPattern::bayer(name).expect("valid");
            let out = demosaic(DemosaicMethod::Bilinear, &mosaic(&rgb, w, h, &p), w, h, &p)
                .expect("runs");
            for y in 1..h - 1 {
                for x in 1..w - 1 {
                    for c in 0..3 {
                        let i = 3 * (y * w + x) + c;
                        assert!((out[i] - rgb[i]).abs() < 1e-5, "{name} ({y},{x},{c})");
                    }
                }
            }
        }
    }

    #[test]
    fn every_colour_is_within_3x3_on_xtrans() {
        let bl = super::Bilinear::new(&CfaPattern::xtrans());
        assert_eq!(bl.radius, 1);
    }

    #[test]
    fn edges_average_only_inside_sites() {
        // RGGB: the top-left corner is red; its green is the mean of (0,1) and (1,0).
        let p = CfaPattern::bayer("RGGB").expect("valid");
        let cfa = [0.1, 0.2, 0.3, 0.4];
        let out = demosaic(DemosaicMethod::Bilinear, &cfa, 2, 2, &p).expect("runs");
        assert!((out[1] - 0.25).abs() < 1e-7);
        assert_eq!(out[2], 0.4);
        assert_eq!(&out[9..12], &[0.1, 0.25, 0.4]);
    }
}
