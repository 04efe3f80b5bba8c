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

use rayon::prelude::*;

use crate::image::Plane;
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

/// Corrects defects in place; returns how many sites were replaced.
pub fn correct(plane: &mut Plane, pattern: &CfaPattern, threshold: f32) -> usize {
    let (w, h) = (plane.width, plane.height);
    if w < 5 || h < 5 {
        return 0;
    }
    let offsets = neighbour_offsets(pattern);
    let src = plane.data.clone();
    let (pw, ph) = (pattern.width(), pattern.height());
    plane
        .data
        .par_chunks_mut(w)
        .enumerate()
        .map(|(y, row)| {
            let mut fixed = 0;
            let mut nb: Vec<f32> = Vec::with_capacity(24);
            let mut dev: Vec<f32> = Vec::with_capacity(24);
            for (x, out) in row.iter_mut().enumerate() {
                nb.clear();
                for &(dy, dx) in &offsets[(y % ph) * pw + x % pw] {
                    let (yy, xx) = (y as isize + dy, x as isize + dx);
                    if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                        nb.push(src[yy as usize * w + xx as usize]);
                    }
                }
                if nb.len() < 3 {
                    continue;
                }
                let v = src[y * w + x];
                let (lo, hi) = nb
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(a, b), &n| (a.min(n), b.max(n)));
                if v <= hi && v >= lo {
                    continue;
                }
                nb.sort_unstable_by(f32::total_cmp);
                let median = nb[nb.len() / 2];
                dev.clear();
                dev.extend(nb.iter().map(|n| (n - median).abs()));
                dev.sort_unstable_by(f32::total_cmp);
                let margin = (threshold * dev[dev.len() / 2]).max(0.05);
                if v > hi + margin || v < lo - margin {
                    *out = median;
                    fixed += 1;
                }
            }
            fixed
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

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
