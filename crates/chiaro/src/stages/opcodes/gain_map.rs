//! The GainMap opcode (DNG 1.7 spec, chapter 7, "GainMap", opcode 9).
//!
//! A grid of `points_v` x `points_h` gains per map plane, placed on the image in relative
//! coordinates: map row `i` sits at relative position `origin_v + i * spacing_v` of the image
//! height (likewise for columns). The gain of a pixel is the bilinear interpolation at the
//! relative position of its centre, `(row + 0.5) / image_height`, held constant beyond the
//! first and last map points. This is the DNG SDK's `dng_gain_map_interpolator`; the image
//! is the one the opcode list runs on (stored image, active area, or demosaiced image), not
//! the opcode's area, which only selects the pixels that get multiplied.

use super::AreaSpec;

/// A parsed gain map.
#[derive(Debug, Clone, PartialEq)]
pub struct GainMap {
    /// The pixels the map applies to.
    pub area: AreaSpec,
    pub points_v: u32,
    pub points_h: u32,
    /// Distance between map points, relative to the image height / width.
    pub spacing_v: f64,
    pub spacing_h: f64,
    /// Position of the first map point, relative to the image height / width.
    pub origin_v: f64,
    pub origin_h: f64,
    pub map_planes: u32,
    /// `points_v * points_h * map_planes` gains: row-major points, planes interleaved.
    pub gains: Vec<f32>,
}

/// Interpolation along one axis: the two map indices and the weight of the second.
#[derive(Debug, Clone, Copy)]
pub(super) struct AxisWeights {
    i0: usize,
    i1: usize,
    frac: f32,
}

/// Where relative position `rel` falls on an axis of `points` map points, clamped at the
/// first and last point (DNG SDK `dng_gain_map_interpolator`).
#[inline(always)]
fn axis(rel: f64, origin: f64, spacing: f64, points: u32) -> AxisWeights {
    let pos = (rel - origin) / spacing;
    let last = points.saturating_sub(1) as usize;
    if !(pos > 0.0) || last == 0 {
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

impl GainMap {
    /// The vertical interpolation for image row `y` of an image `height` rows high.
    #[inline]
    pub(super) fn row_weights(&self, y: usize, height: usize) -> AxisWeights {
        axis(
            (y as f64 + 0.5) / height.max(1) as f64,
            self.origin_v,
            self.spacing_v,
            self.points_v,
        )
    }

    /// The gain of map plane `plane` at image column `x` (of `width`) in the row given by
    /// `rows`. Indices outside the map (impossible for a parsed map) give 1.
    #[inline(always)]
    pub(super) fn gain(&self, rows: &AxisWeights, x: usize, width: usize, plane: usize) -> f32 {
        let cols = axis(
            (x as f64 + 0.5) / width.max(1) as f64,
            self.origin_h,
            self.spacing_h,
            self.points_h,
        );
        let ph = self.points_h as usize;
        let mp = self.map_planes as usize;
        let at = |r: usize, c: usize| self.gains.get((r * ph + c) * mp + plane).copied();
        let (Some(a), Some(b), Some(c), Some(d)) = (
            at(rows.i0, cols.i0),
            at(rows.i1, cols.i0),
            at(rows.i0, cols.i1),
            at(rows.i1, cols.i1),
        ) else {
            return 1.0;
        };
        let left = a + (b - a) * rows.frac;
        let right = c + (d - c) * rows.frac;
        left + (right - left) * cols.frac
    }
}
