//! The GainMap opcode (DNG 1.7 spec, chapter 7, "GainMap", opcode 9).
//!
//! A grid of `points_v` x `points_h` gains per map plane, placed on the image in relative
//! coordinates: map row `i` sits at relative position `origin_v + i * spacing_v` of the image
//! height (likewise for columns). The gain of a pixel is the bilinear interpolation at the
//! relative position of its centre, `(row + 0.5) / image_height`, held constant beyond the
//! first and last map points. This is the DNG SDK's `dng_gain_map_interpolator`; the image
//! is the one the opcode list runs on (stored image, active area, or demosaiced image), not
//! the opcode's area, which only selects the pixels that get multiplied.

use super::GainMap;

/// Widest map row kept on the stack by [`GainMap::apply_row`].
const MAX_ROW: usize = 256;

/// Interpolation along one axis: the two map indices and the weight of the second.
#[derive(Debug, Clone, Copy)]
pub(super) struct AxisWeights {
    i0: usize,
    i1: usize,
    frac: f32,
}

/// Where map position `pos` (in map points) falls on an axis of `points` map points,
/// clamped at the first and last point (DNG SDK `dng_gain_map_interpolator`).
#[inline(always)]
fn axis(pos: f64, points: u32) -> AxisWeights {
    let last = points.saturating_sub(1) as usize;
    // `pos > 0.0` is false for NaN too, which then lands on the first point.
    let positive = pos > 0.0;
    if !positive || last == 0 {
        return AxisWeights {
            i0: 0,
            i1: 0,
            frac: 0.0,
        };
    }
    if pos >= last as f64 {
        return AxisWeights {
            i0: last,
            i1: last,
            frac: 0.0,
        };
    }
    let i0 = pos as usize;
    AxisWeights {
        i0,
        i1: i0 + 1,
        frac: (pos - i0 as f64) as f32,
    }
}

/// The map position of pixel `i` along an axis is `i * scale + offset`: the relative
/// position of the pixel centre, `(i + 0.5) / size`, minus the origin, over the spacing.
#[derive(Debug, Clone, Copy)]
pub(super) struct AxisMap {
    scale: f64,
    offset: f64,
}

impl AxisMap {
    /// Map index and weight of the next index for pixel `x` on an axis whose last map
    /// index is `last`. Goes through u32 and i32, whose float conversions are single
    /// instructions.
    #[inline(always)]
    fn at(&self, x: usize, last: f64) -> (usize, f32) {
        let pos = (x as u32) as f64 * self.scale + self.offset;
        let pos = if pos > 0.0 { pos.min(last) } else { 0.0 };
        let i = pos as i32 as usize;
        (i, (pos - i as f64) as f32)
    }

    fn new(size: usize, origin: f64, spacing: f64) -> Self {
        let size = size.max(1) as f64;
        let scale = 1.0 / (size * spacing);
        AxisMap {
            scale,
            offset: (0.5 / size - origin) / spacing,
        }
    }
}

impl GainMap {
    /// The vertical interpolation for image row `y` of an image `height` rows high.
    #[inline]
    pub(super) fn row_weights(&self, y: usize, height: usize) -> AxisWeights {
        let m = AxisMap::new(height, self.origin_v, self.spacing_v);
        axis(y as f64 * m.scale + m.offset, self.points_v)
    }

    /// The horizontal mapping for an image `width` columns wide.
    #[inline]
    pub(super) fn col_map(&self, width: usize) -> AxisMap {
        AxisMap::new(width, self.origin_h, self.spacing_h)
    }

    /// The column weights of every column of an image `width` wide, so that whole-plane
    /// application does not recompute them on every row (`None` for maps too wide for the
    /// row buffer of [`GainMap::apply_row`], or when memory is short).
    pub(super) fn col_table(&self, width: usize) -> Option<Vec<(u32, f32)>> {
        let ph = self.points_h as usize;
        if ph == 0 || ph > MAX_ROW {
            return None;
        }
        let mut t = Vec::new();
        t.try_reserve_exact(width).ok()?;
        let m = self.col_map(width);
        let last = (ph - 1) as f64;
        t.extend((0..width).map(|x| {
            let (i, frac) = m.at(x, last);
            (i as u32, frac)
        }));
        Some(t)
    }

    /// Multiplies the selected pixels of one row segment by their gains: `data[i * stride]`
    /// is image column `x0 + i` of map plane `plane`; columns `c0..c1` step by `pitch`.
    /// `rows` and `cols` come from [`GainMap::row_weights`] and [`GainMap::col_map`].
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn apply_row(
        &self,
        rows: &AxisWeights,
        cols: &AxisMap,
        table: Option<&[(u32, f32)]>,
        plane: usize,
        data: &mut [f32],
        stride: usize,
        x0: usize,
        (c0, c1, pitch): (usize, usize, usize),
    ) {
        // Interpolate the map vertically once per row; then each pixel needs one lerp.
        let ph = self.points_h as usize;
        let mp = self.map_planes as usize;
        if ph == 0 || ph > MAX_ROW {
            return self.apply_row_slow(rows, cols, plane, data, stride, x0, (c0, c1, pitch));
        }
        let mut row = [0f32; MAX_ROW + 1];
        for (c, v) in row[..ph].iter_mut().enumerate() {
            let a = self.gains.get((rows.i0 * ph + c) * mp + plane).copied();
            let b = self.gains.get((rows.i1 * ph + c) * mp + plane).copied();
            *v = match (a, b) {
                (Some(a), Some(b)) => a + (b - a) * rows.frac,
                _ => 1.0,
            };
        }
        row[ph] = row[ph - 1];
        let last = (ph - 1) as f64;
        // The selected samples: `data[(c0 - x0) * stride]`, then every `pitch * stride`.
        let Some(first) = c0.checked_sub(x0).map(|n| n * stride) else {
            return;
        };
        let Some(end) = c1.checked_sub(x0 + 1).map(|n| n * stride + 1) else {
            return;
        };
        let Some(data) = data.get_mut(first..end.min(data.len())) else {
            return;
        };
        let lerp = |v: &mut f32, i: usize, frac: f32| {
            let i = i.min(MAX_ROW - 1);
            let (l, r) = (row[i], row[i + 1]);
            *v *= l + (r - l) * frac;
        };
        let samples = data.iter_mut().step_by(pitch * stride);
        match table {
            Some(t) => {
                let weights = t.get(c0..).unwrap_or(&[]).iter().step_by(pitch);
                for (v, &(i, frac)) in samples.zip(weights) {
                    lerp(v, i as usize, frac);
                }
            }
            None => {
                for (k, v) in samples.enumerate() {
                    let (i, frac) = cols.at(c0 + k * pitch, last);
                    lerp(v, i, frac);
                }
            }
        }
    }

    /// [`GainMap::apply_row`] for maps too wide for the row buffer.
    #[allow(clippy::too_many_arguments)]
    #[cold]
    fn apply_row_slow(
        &self,
        rows: &AxisWeights,
        cols: &AxisMap,
        plane: usize,
        data: &mut [f32],
        stride: usize,
        x0: usize,
        (c0, c1, pitch): (usize, usize, usize),
    ) {
        let ph = self.points_h as usize;
        let mp = self.map_planes as usize;
        let at = |r: usize, c: usize| self.gains.get((r * ph + c) * mp + plane).copied();
        let mut x = c0;
        while x < c1 {
            let cw = axis(x as f64 * cols.scale + cols.offset, self.points_h);
            let gain = match (
                at(rows.i0, cw.i0),
                at(rows.i1, cw.i0),
                at(rows.i0, cw.i1),
                at(rows.i1, cw.i1),
            ) {
                (Some(a), Some(b), Some(c), Some(d)) => {
                    let left = a + (b - a) * rows.frac;
                    let right = c + (d - c) * rows.frac;
                    left + (right - left) * cw.frac
                }
                _ => 1.0,
            };
            if let Some(v) = data.get_mut((x - x0) * stride) {
                *v *= gain;
            }
            x += pitch;
        }
    }
}
