//! Defect-pixel correction: finds hot and dead CFA sites and replaces them by the median of
//! their same-colour neighbours.
//!
//! A site is defective when it lies outside the range of all its same-colour neighbours in
//! a 5x5 window by more than `threshold` times their median absolute deviation (and by at
//! least 5 % of white), so fine detail such as stars, which raises several neighbours too,
//! survives while isolated outliers go.
//!
//! # Units
//! In and out: normalised CFA samples (0 = black, 1 = white).

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::stage::{
    AreaKernel, Kernel, PlanContext, Proxy, Signal, Stage, TileMut, TileView,
};
use crate::raw::CfaPattern;

/// Same-colour neighbour offsets in a 5x5 window for each site of the pattern period.
fn neighbour_offsets(pattern: &CfaPattern) -> Vec<Vec<(isize, isize)>> {
    let (pw, ph) = (pattern.width(), pattern.height());
    let mut out = Vec::with_capacity(pw * ph);
    for py in 0..ph {
        for px in 0..pw {
            let c = pattern.color(py, px);
            let mut v = Vec::new();
            for dy in -2isize..=2 {
                for dx in -2isize..=2 {
                    let (yy, xx) = (
                        (py as isize + dy + 6) as usize,
                        (px as isize + dx + 6) as usize,
                    );
                    if (dy, dx) != (0, 0) && pattern.color(yy, xx) == c {
                        v.push((dy, dx));
                    }
                }
            }
            out.push(v);
        }
    }
    out
}

/// The `defects` stage: replaces hot and dead CFA sites.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Defects {
    /// A site is defective when it lies outside the range of its same-colour neighbours by
    /// more than this many times their median absolute deviation (and by at least 5 % of
    /// white).
    pub threshold: f32,
}

impl Default for Defects {
    fn default() -> Self {
        Defects { threshold: 8.0 }
    }
}

impl Stage for Defects {
    fn name(&self) -> &'static str {
        "defects"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::Cfa, Signal::Cfa)
    }
    fn order(&self) -> u32 {
        100
    }
    fn validate(&self) -> Result<()> {
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(Error::parameter(format!(
                "defects threshold {} must be a positive number",
                self.threshold
            )));
        }
        Ok(())
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        let Some(pattern) = ctx.frame.pattern() else {
            ctx.warnings
                .push("defects: not applied to data that is not a CFA mosaic".into());
            return Ok(None);
        };
        Ok(Some(Kernel::Area(Box::new(DefectKernel {
            threshold: self.threshold,
            offsets: neighbour_offsets(pattern),
            pattern: *pattern,
            fixed: AtomicUsize::new(0),
        }))))
    }
}

struct DefectKernel {
    threshold: f32,
    offsets: Vec<Vec<(isize, isize)>>,
    pattern: CfaPattern,
    fixed: AtomicUsize,
}

impl AreaKernel for DefectKernel {
    fn halo(&self) -> usize {
        2
    }
    fn run(&self, src: &TileView<'_>, dst: &mut TileMut<'_>) -> Result<()> {
        let n = correct_region(src, dst, &self.pattern, &self.offsets, self.threshold);
        self.fixed.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }
    fn summary(&self) -> Option<String> {
        let n = self.fixed.load(Ordering::Relaxed);
        (n > 0).then(|| format!("defects: replaced {n} defective sites"))
    }
}

/// Fills `dst` from `src` (a tile of the frame that contains `dst` grown by 2 where the
/// frame allows), replacing defective sites; returns how many were replaced. Frames smaller
/// than 5x5 are copied unchanged.
fn correct_region(
    src: &TileView<'_>,
    dst: &mut TileMut<'_>,
    pattern: &CfaPattern,
    offsets: &[Vec<(isize, isize)>],
    threshold: f32,
) -> usize {
    let (sr, dr) = (src.rect, dst.rect);
    let (pw, ph) = (pattern.width(), pattern.height());
    let mut fixed = 0;
    // At most 24 same-colour neighbours in a 5x5 window: fixed arrays, no allocation.
    let (mut nb_buf, mut dev_buf) = ([0.0f32; 24], [0.0f32; 24]);
    let small = src.frame.0 < 5 || src.frame.1 < 5;
    for (j, out_row) in dst.data.chunks_exact_mut(dr.width).enumerate() {
        let y = dr.y + j;
        let srow = (y - sr.y) * sr.width;
        for (i, out) in out_row.iter_mut().enumerate() {
            let x = dr.x + i;
            let v = src.data[srow + x - sr.x];
            *out = v;
            if small {
                continue;
            }
            let mut len = 0;
            for &(dy, dx) in &offsets[(y % ph) * pw + x % pw] {
                let (yy, xx) = (y as isize + dy, x as isize + dx);
                if yy >= sr.y as isize
                    && xx >= sr.x as isize
                    && (yy as usize) < sr.bottom()
                    && (xx as usize) < sr.right()
                {
                    nb_buf[len] = src.data[(yy as usize - sr.y) * sr.width + xx as usize - sr.x];
                    len += 1;
                }
            }
            let nb = &mut nb_buf[..len];
            if len < 3 {
                continue;
            }
            let (lo, hi) = nb
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &n| (a.min(n), b.max(n)));
            if v <= hi && v >= lo {
                continue;
            }
            nb.sort_unstable_by(f32::total_cmp);
            let median = nb[nb.len() / 2];
            let dev = &mut dev_buf[..len];
            dev.iter_mut()
                .zip(nb.iter())
                .for_each(|(d, n)| *d = (n - median).abs());
            dev.sort_unstable_by(f32::total_cmp);
            let margin = (threshold * dev[len / 2]).max(0.05);
            if v > hi + margin || v < lo - margin {
                *out = median;
                fixed += 1;
            }
        }
    }
    fixed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Plane, Rect};

    /// Corrects defects of a whole plane in place (one tile covering it); returns how many
    /// sites were replaced.
    fn correct(plane: &mut Plane, pattern: &CfaPattern, threshold: f32) -> usize {
        let (w, h) = (plane.width, plane.height);
        let src = plane.data.clone();
        let rect = Rect::new(0, 0, w, h);
        let view = TileView {
            data: &src,
            rect,
            channels: 1,
            frame: (w, h),
        };
        let mut dst = TileMut {
            data: &mut plane.data,
            rect,
            channels: 1,
        };
        correct_region(
            &view,
            &mut dst,
            pattern,
            &neighbour_offsets(pattern),
            threshold,
        )
    }

    #[test]
    fn hot_pixel_is_replaced_and_texture_is_kept() {
        let p = CfaPattern::bayer("RGGB").expect("valid");
        let (w, h) = (32, 32);
        let mut plane = Plane::new(w, h);
        for y in 0..h {
            for x in 0..w {
                plane.data[y * w + x] = 0.2 + 0.01 * ((x * 7 + y * 3) % 5) as f32;
            }
        }
        let before = plane.clone();
        plane.data[10 * w + 12] = 0.95;
        plane.data[20 * w + 7] = 0.0;
        let n = correct(&mut plane, &p, 8.0);
        assert_eq!(n, 2);
        assert!((plane.data[10 * w + 12] - 0.2).abs() < 0.05);
        let changed = plane
            .data
            .iter()
            .zip(&before.data)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(changed, 2);
    }
}
