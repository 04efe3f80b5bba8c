//! FixBadPixelsConstant and FixBadPixelsList (DNG 1.7 spec, chapter 7, opcodes 4 and 5).
//!
//! A bad pixel becomes the mean of its nearest good same-colour neighbours. For a Bayer
//! pattern the nearest ring is what the DNG SDK uses (the four diagonal greens for a green
//! site, the four sites two away for red and blue); farther rings, up to [`MAX_RADIUS`], are
//! tried only when the whole nearer ring is bad or off the image. Any CFA layout works,
//! since rings are built from the pattern itself.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::image::Plane;
use crate::raw::CfaPattern;

/// Farthest neighbour (in rows or columns) used to fill a bad pixel.
const MAX_RADIUS: isize = 4;

/// Same-colour neighbour offsets of one CFA site, grouped by distance, nearest first.
struct Rings {
    /// `(dy, dx)` offsets, sorted by distance.
    offsets: Vec<(isize, isize)>,
    /// End index in `offsets` of each distance group.
    ends: Vec<usize>,
}

/// The rings of every site of the CFA pattern, indexed `row * width + col` of the pattern.
fn rings_for(cfa: &CfaPattern) -> Vec<Rings> {
    let (pw, ph) = (cfa.width(), cfa.height());
    let mut all = Vec::with_capacity(pw * ph);
    for sy in 0..ph {
        for sx in 0..pw {
            let colour = cfa.color(sy, sx);
            let mut offs: Vec<(isize, isize, isize)> = Vec::new();
            for dy in -MAX_RADIUS..=MAX_RADIUS {
                for dx in -MAX_RADIUS..=MAX_RADIUS {
                    if (dy, dx) == (0, 0) {
                        continue;
                    }
                    let y = (sy as isize + dy).rem_euclid(ph as isize) as usize;
                    let x = (sx as isize + dx).rem_euclid(pw as isize) as usize;
                    if cfa.color(y, x) == colour {
                        offs.push((dy * dy + dx * dx, dy, dx));
                    }
                }
            }
            offs.sort_unstable();
            let mut ends = Vec::new();
            for i in 1..=offs.len() {
                if i == offs.len() || offs[i].0 != offs[i - 1].0 {
                    ends.push(i);
                }
            }
            all.push(Rings {
                offsets: offs.into_iter().map(|(_, dy, dx)| (dy, dx)).collect(),
                ends,
            });
        }
    }
    all
}

/// Replaces every pixel for which `is_bad(y, x, value)` holds in the rows where `row_bad(y)`
/// holds, reading neighbours from an unmodified copy so fixes never feed each other.
fn fix(
    plane: &mut Plane,
    cfa: &CfaPattern,
    row_bad: impl Fn(usize) -> bool + Sync,
    is_bad: impl Fn(usize, usize, f32) -> bool + Sync,
) -> Result<()> {
    let (w, h) = (plane.width, plane.height);
    if w == 0 || h == 0 {
        return Ok(());
    }
    let mut src = Vec::new();
    src.try_reserve_exact(plane.data.len())
        .map_err(|_| Error::limits("cannot allocate a copy of the plane for bad pixels"))?;
    src.extend_from_slice(&plane.data);
    let rings = rings_for(cfa);
    let (pw, ph) = (cfa.width(), cfa.height());
    plane
        .data
        .par_chunks_mut(w)
        .enumerate()
        .filter(|(y, _)| row_bad(*y))
        .for_each(|(y, row)| {
            for (x, out) in row.iter_mut().enumerate() {
                if !is_bad(y, x, src[y * w + x]) {
                    continue;
                }
                let r = &rings[(y % ph) * pw + x % pw];
                let mut start = 0;
                for &end in &r.ends {
                    let (mut sum, mut n) = (0.0f64, 0u32);
                    for &(dy, dx) in &r.offsets[start..end] {
                        let (ny, nx) = (y as isize + dy, x as isize + dx);
                        if ny < 0 || nx < 0 || ny as usize >= h || nx as usize >= w {
                            continue;
                        }
                        let (ny, nx) = (ny as usize, nx as usize);
                        let v = src[ny * w + nx];
                        if !is_bad(ny, nx, v) {
                            sum += v as f64;
                            n += 1;
                        }
                    }
                    if n > 0 {
                        *out = (sum / n as f64) as f32;
                        break;
                    }
                    start = end;
                }
            }
        });
    Ok(())
}

/// FixBadPixelsConstant: pixels whose value is exactly `constant` are bad.
pub(super) fn fix_constant(plane: &mut Plane, cfa: &CfaPattern, constant: f32) -> Result<()> {
    let w = plane.width.max(1);
    let rows: Vec<bool> = plane
        .data
        .par_chunks(w)
        .map(|row| row.contains(&constant))
        .collect();
    if !rows.contains(&true) {
        return Ok(());
    }
    fix(
        plane,
        cfa,
        |y| rows.get(y).copied().unwrap_or(false),
        |_, _, v| v == constant,
    )
}

/// FixBadPixelsList: the listed points (`[row, col]`) and rectangles
/// (`[top, left, bottom, right]`, bottom and right exclusive) are bad. Parts outside the
/// plane are ignored.
pub(super) fn fix_list(
    plane: &mut Plane,
    cfa: &CfaPattern,
    points: &[[u32; 2]],
    rects: &[[u32; 4]],
) -> Result<()> {
    let (w, h) = (plane.width, plane.height);
    if w == 0 || h == 0 || (points.is_empty() && rects.is_empty()) {
        return Ok(());
    }
    // Rectangles are marked through a 2-D difference array, so overlapping or huge
    // rectangles cost O(count + pixels), never O(count x pixels).
    let mut diff = try_zeroed::<i32>((w + 1) * (h + 1))?;
    for &[t, l, b, r] in rects {
        let (t, l) = (t as usize, l as usize);
        let (b, r) = ((b as usize).min(h), (r as usize).min(w));
        if t >= b || l >= r {
            continue;
        }
        diff[t * (w + 1) + l] += 1;
        diff[t * (w + 1) + r] -= 1;
        diff[b * (w + 1) + l] -= 1;
        diff[b * (w + 1) + r] += 1;
    }
    let mut mask = try_zeroed::<u8>(w * h)?;
    let mut above = try_zeroed::<i32>(w + 1)?;
    for y in 0..h {
        let mut run = 0i32;
        for x in 0..w {
            run += diff[y * (w + 1) + x];
            above[x] += run;
            mask[y * w + x] = (above[x] > 0) as u8;
        }
    }
    drop(diff);
    for &[y, x] in points {
        let (y, x) = (y as usize, x as usize);
        if y < h && x < w {
            mask[y * w + x] = 1;
        }
    }
    let rows: Vec<bool> = mask.par_chunks(w).map(|r| r.contains(&1)).collect();
    fix(
        plane,
        cfa,
        |y| rows.get(y).copied().unwrap_or(false),
        |y, x, _| mask[y * w + x] != 0,
    )
}

/// A zeroed vector allocated without aborting.
fn try_zeroed<T: Clone + Default>(n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::limits("cannot allocate the bad pixel mask"))?;
    v.resize(n, T::default());
    Ok(v)
}
