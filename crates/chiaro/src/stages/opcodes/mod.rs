//! DNG opcode lists (DNG 1.7 spec, chapter 7 "Opcode List Processing").
//!
//! A DNG can carry three lists of processing steps the camera maker wants applied:
//! OpcodeList1 to the stored values (before linearisation), OpcodeList2 to the linearised,
//! black-subtracted and normalised CFA data, OpcodeList3 to the demosaiced camera RGB.
//! Phones use them for lens shading (four per-CFA-site `GainMap`s in list 2), bad pixels and
//! vignetting. [`parse_list`] reads a list, [`apply_to_plane`] runs lists 1 and 2 on one CFA
//! plane, [`apply_to_rgb_tile`] runs the per-pixel opcodes of list 3 on tiles.
//!
//! The arithmetic follows the spec and the Adobe DNG SDK where the spec leaves details open
//! (map positions of gain maps, the vignette radius, what a value means in each list), with
//! one deliberate difference: results are not clipped to the white level, since chiaro keeps
//! `f32` data and leaves clipping to the highlight stage.

mod bad_pixels;
mod gain_map;
#[cfg(test)]
mod tests;

use std::ops::Range;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::image::{Plane, Rect};
use crate::raw::CfaPattern;

pub use crate::raw::dng::opcodes::{
    AreaSpec, GainMap, Opcode, WarpPlane, WarpRectilinear, describe, id, name, parse_list,
    serialize_list,
};

impl AreaSpec {
    /// The index of image row `y` among the selected rows, or `None` when not selected.
    #[inline]
    fn row_index(&self, y: usize) -> Option<usize> {
        let pitch = self.row_pitch.max(1) as usize;
        if self.is_whole_image() {
            return (y % pitch == 0).then_some(y / pitch);
        }
        let (t, b) = (self.top as usize, self.bottom as usize);
        (y >= t && y < b && (y - t) % pitch == 0).then(|| (y - t) / pitch)
    }

    /// The index of selected column `x` among the selected columns (`x` must be selected,
    /// as the columns `RowSeg::for_area` visits are).
    #[inline]
    fn col_index(&self, x: usize) -> usize {
        let left = if self.is_whole_image() {
            0
        } else {
            self.left as usize
        };
        (x - left) / self.col_pitch.max(1) as usize
    }

    /// The first and end (exclusive) selected columns within `x0..x1`, stepping by
    /// `col_pitch`; `None` when there are none.
    #[inline]
    fn cols(&self, x0: usize, x1: usize) -> Option<(usize, usize)> {
        let pitch = self.col_pitch.max(1) as usize;
        let (l, r) = if self.is_whole_image() {
            (0, x1)
        } else {
            (self.left as usize, (self.right as usize).min(x1))
        };
        let lo = l.max(x0);
        if lo >= r {
            return None;
        }
        let first = l + (lo - l).div_ceil(pitch) * pitch;
        (first < r).then_some((first, r))
    }

    /// The planes selected among `n` planes.
    #[inline]
    fn plane_range(&self, n: usize) -> Range<usize> {
        let p = (self.plane as usize).min(n);
        p..(p + self.planes as usize).min(n)
    }
}
/// What the values of a plane are, which decides how MapTable and MapPolynomial read them.
///
/// DNG 1.7 chapter 7: list 1 works on stored values, list 2 on values where 0 is black and 1
/// is white. The DNG SDK runs MapPolynomial on `value / 65535` and MapTable on the 16-bit
/// value in both cases, which is what [`PlaneValues::unit`] reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaneValues {
    /// Stored sensor values in DN (OpcodeList1).
    Stored,
    /// Normalised values, 0 = black, 1 = white (OpcodeList2 and OpcodeList3).
    Normalized,
}

impl PlaneValues {
    /// The plane value that corresponds to 1.0 in the SDK's floating-point buffers.
    pub fn unit(self) -> f32 {
        match self {
            PlaneValues::Stored => 65535.0,
            PlaneValues::Normalized => 1.0,
        }
    }
}

/// Size of the image an opcode list runs on and the value unit.
struct Geometry {
    width: usize,
    height: usize,
    unit: f32,
}

/// A segment of one image row in an interleaved buffer: the sample of plane `p` at image
/// column `x0 + i` is `data[i * stride + p]`, for `p < planes`.
struct RowSeg<'a> {
    y: usize,
    x0: usize,
    data: &'a mut [f32],
    stride: usize,
    planes: usize,
}

impl RowSeg<'_> {
    /// Image column one past the end of the segment.
    fn x1(&self) -> usize {
        self.x0 + self.data.len() / self.stride
    }

    /// Calls `f(x, value)` for every selected column of each selected plane of `area`.
    #[inline(always)]
    fn for_area(&mut self, area: &AreaSpec, mut f: impl FnMut(usize, usize, &mut f32)) {
        if area.row_index(self.y).is_none() {
            return;
        }
        let Some((c0, c1)) = area.cols(self.x0, self.x1()) else {
            return;
        };
        let pitch = area.col_pitch.max(1) as usize;
        for p in area.plane_range(self.planes) {
            let mut x = c0;
            while x < c1 {
                let i = (x - self.x0) * self.stride + p;
                f(p, x, &mut self.data[i]);
                x += pitch;
            }
        }
    }
}

/// Applies one per-pixel opcode to one row segment. Shared by [`apply_to_plane`] and
/// [`apply_to_rgb_tile`], so tiles and whole planes get bit-identical results.
///
/// `col_table` is an optional precomputed [`GainMap::col_table`] for a GainMap.
fn apply_pointwise(op: &Opcode, g: &Geometry, seg: &mut RowSeg, col_table: Option<&[(u32, f32)]>) {
    match op {
        Opcode::GainMap(m) => {
            if m.area.row_index(seg.y).is_none() {
                return;
            }
            let Some((c0, c1)) = m.area.cols(seg.x0, seg.x1()) else {
                return;
            };
            let pitch = m.area.col_pitch.max(1) as usize;
            let rows = m.row_weights(seg.y, g.height);
            let cols = m.col_map(g.width);
            let map_planes = m.map_planes.max(1) as usize;
            for p in m.area.plane_range(seg.planes) {
                m.apply_row(
                    &rows,
                    &cols,
                    col_table,
                    p.min(map_planes - 1),
                    &mut seg.data[p..],
                    seg.stride,
                    seg.x0,
                    (c0, c1, pitch),
                );
            }
        }
        Opcode::FixVignetteRadial { k, cx, cy } => {
            let v = Vignette::new(k, *cx, *cy, g.width, g.height);
            let dy = (seg.y as f64 + 0.5 - v.centre_y) * v.inv_radius;
            let dy2 = dy * dy;
            for (i, px) in seg.data.chunks_exact_mut(seg.stride).enumerate() {
                let dx = ((seg.x0 + i) as f64 + 0.5 - v.centre_x) * v.inv_radius;
                let gain = v.gain(dx * dx + dy2);
                for s in &mut px[..seg.planes] {
                    *s *= gain;
                }
            }
        }
        Opcode::MapTable { area, table } => {
            let Some(&last) = table.last() else { return };
            let unit = g.unit;
            seg.for_area(area, |_, _, v| {
                let i = (*v / unit * 65535.0).round().clamp(0.0, 65535.0) as usize;
                *v = table.get(i).copied().unwrap_or(last) as f32 / 65535.0 * unit;
            });
        }
        Opcode::MapPolynomial { area, coefficients } => {
            let unit = g.unit;
            seg.for_area(area, |_, _, v| {
                let x = (*v / unit) as f64;
                let y = coefficients.iter().rev().fold(0.0, |acc, &c| acc * x + c);
                *v = (y as f32) * unit;
            });
        }
        Opcode::DeltaPerRow { area, deltas } => {
            if let Some(&d) = area.row_index(seg.y).and_then(|i| deltas.get(i)) {
                seg.for_area(area, |_, _, v| *v += d);
            }
        }
        Opcode::ScalePerRow { area, scales } => {
            if let Some(&s) = area.row_index(seg.y).and_then(|i| scales.get(i)) {
                seg.for_area(area, |_, _, v| *v *= s);
            }
        }
        Opcode::DeltaPerColumn { area, deltas } => seg.for_area(area, |_, x, v| {
            if let Some(d) = deltas.get(area.col_index(x)) {
                *v += d;
            }
        }),
        Opcode::ScalePerColumn { area, scales } => seg.for_area(area, |_, x, v| {
            if let Some(s) = scales.get(area.col_index(x)) {
                *v *= s;
            }
        }),
        Opcode::FixBadPixelsConstant { .. }
        | Opcode::FixBadPixelsList { .. }
        | Opcode::TrimBounds { .. }
        | Opcode::WarpRectilinear(_)
        | Opcode::Unsupported { .. } => {}
    }
}

/// Radial vignette geometry in pixel units, as the DNG SDK sets it up: the centre at
/// `cx`, `cy` of the image bounds and the radius to the farthest corner; pixel centres are
/// at `x + 0.5`.
struct Vignette<'a> {
    k: &'a [f64; 5],
    centre_x: f64,
    centre_y: f64,
    inv_radius: f64,
}

impl<'a> Vignette<'a> {
    fn new(k: &'a [f64; 5], cx: f64, cy: f64, width: usize, height: usize) -> Self {
        let (w, h) = (width as f64, height as f64);
        let (centre_x, centre_y) = (cx * w, cy * h);
        let radius = centre_x
            .abs()
            .max((w - centre_x).abs())
            .hypot(centre_y.abs().max((h - centre_y).abs()));
        let inv_radius = if radius > 0.0 && radius.is_finite() {
            1.0 / radius
        } else {
            0.0
        };
        Vignette {
            k,
            centre_x,
            centre_y,
            inv_radius,
        }
    }

    /// The gain at squared normalised radius `r2` (clamped to 1, the farthest corner).
    #[inline(always)]
    fn gain(&self, r2: f64) -> f32 {
        let r2 = r2.min(1.0);
        let k = self.k;
        (1.0 + r2 * (k[0] + r2 * (k[1] + r2 * (k[2] + r2 * (k[3] + r2 * k[4]))))) as f32
    }
}

/// A GainMap's precomputed column table ([`GainMap::col_table`]).
type ColTable = Vec<(u32, f32)>;

/// The per-pixel opcodes of a list, set up once for row-by-row use on one plane of
/// `width` x `height` (GainMap column tables precomputed), so callers can fuse them with
/// other per-row work. Opcodes that are not per-pixel are left out: use it on lists where
/// [`Opcode::is_pointwise`] holds for every entry.
pub struct PointwiseRows<'a> {
    /// Each opcode with its GainMap column table, if any.
    ops: Vec<(&'a Opcode, Option<ColTable>)>,
    g: Geometry,
}

impl<'a> PointwiseRows<'a> {
    pub fn new(list: &'a [Opcode], values: PlaneValues, width: usize, height: usize) -> Self {
        let ops = list
            .iter()
            .filter(|op| op.is_pointwise())
            .map(|op| {
                let table = match op {
                    Opcode::GainMap(m) => m.col_table(width),
                    _ => None,
                };
                (op, table)
            })
            .collect();
        PointwiseRows {
            ops,
            g: Geometry {
                width,
                height,
                unit: values.unit(),
            },
        }
    }

    /// Applies the opcodes to plane row `y` (`row.len()` = the plane width).
    pub fn apply_row(&self, y: usize, row: &mut [f32]) {
        let mut seg = RowSeg {
            y,
            x0: 0,
            data: row,
            stride: 1,
            planes: 1,
        };
        for (op, table) in &self.ops {
            apply_pointwise(op, &self.g, &mut seg, table.as_deref());
        }
    }
}

/// Applies an opcode list to one plane: list 1 runs on stored values (sensor DN as f32,
/// the full stored image, `values` = [`PlaneValues::Stored`]), list 2 on normalised values
/// (0 = black, 1 = white, the active-area crop, [`PlaneValues::Normalized`]). Coordinates of
/// opcode areas are plane coordinates and the plane is plane 0. `cfa` is the CFA pattern
/// anchored at plane (0, 0), which bad-pixel fixes use to find same-colour neighbours.
/// TrimBounds is left to `pipeline::prepare`, which crops by it. Opcodes that cannot run
/// here (warps, unknown ids) only add a message to
/// `warnings`, optional or not, since the rest of the development is still useful.
pub fn apply_to_plane(
    list: &[Opcode],
    values: PlaneValues,
    plane: &mut Plane,
    cfa: &CfaPattern,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let (w, h) = (plane.width, plane.height);
    if w.checked_mul(h) != Some(plane.data.len()) {
        return Err(Error::parameter(format!(
            "plane of {}x{} holds {} samples",
            w,
            h,
            plane.data.len()
        )));
    }
    if w == 0 || h == 0 {
        return Ok(());
    }
    let mut i = 0;
    while i < list.len() {
        let op = &list[i];
        match op {
            _ if op.is_pointwise() => {
                // Consecutive per-pixel opcodes run together, one pass over the plane.
                let run = list[i..].iter().take_while(|o| o.is_pointwise()).count();
                let rows = PointwiseRows::new(&list[i..i + run], values, w, h);
                i += run;
                plane
                    .data
                    .par_chunks_mut(w)
                    .enumerate()
                    .for_each(|(y, row)| rows.apply_row(y, row));
                continue;
            }
            Opcode::FixBadPixelsConstant { constant, .. } => {
                if values == PlaneValues::Stored {
                    bad_pixels::fix_constant(plane, cfa, *constant as f32)?;
                } else {
                    warnings.push(
                        "FixBadPixelsConstant skipped: it marks bad pixels by a stored value, \
                         so it belongs in OpcodeList1"
                            .into(),
                    );
                }
            }
            Opcode::FixBadPixelsList { points, rects, .. } => {
                bad_pixels::fix_list(plane, cfa, points, rects)?;
            }
            // `pipeline::prepare` applies it, as a crop.
            Opcode::TrimBounds { .. } => {}
            Opcode::WarpRectilinear(_) => warnings.push(format!(
                "{} on the mosaic not applied (chiaro warps demosaiced RGB, OpcodeList3)",
                name(op.id())
            )),
            Opcode::Unsupported { id, optional } => warnings.push(format!(
                "{} opcode (id {id}{}) not supported; skipped",
                name(*id),
                if *optional { ", optional" } else { "" }
            )),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Applies the per-pixel opcodes of list 3 (GainMap, FixVignetteRadial, MapTable,
/// MapPolynomial, Delta/Scale per row/column) to one tile of interleaved camera RGB
/// (plane index = channel) whose top-left pixel is at (`tile.x`, `tile.y`) of an image of
/// `image_width` x `image_height`. Values are normalised (0 = black, 1 = white). Safe to call
/// concurrently on many tiles; allocates nothing. Others are skipped (see
/// [`unsupported_in_rgb`]); a tile buffer smaller than `tile` leaves it unchanged.
pub fn apply_to_rgb_tile(
    list: &[Opcode],
    tile: &mut [f32],
    tile_rect: Rect,
    image_width: usize,
    image_height: usize,
) {
    let row_len = tile_rect.width.saturating_mul(3);
    if row_len == 0 || tile.len() < row_len.saturating_mul(tile_rect.height) {
        return;
    }
    let g = Geometry {
        width: image_width,
        height: image_height,
        unit: 1.0,
    };
    for op in list.iter().filter(|op| op.is_pointwise()) {
        for (ty, row) in tile
            .chunks_exact_mut(row_len)
            .take(tile_rect.height)
            .enumerate()
        {
            let mut seg = RowSeg {
                y: tile_rect.y + ty,
                x0: tile_rect.x,
                data: row,
                stride: 3,
                planes: 3,
            };
            apply_pointwise(op, &g, &mut seg, None);
        }
    }
}

/// Names of the opcodes in `list` that camera RGB cannot take (bad pixels, warps other than
/// WarpRectilinear, unknown ids), for warnings: [`apply_to_rgb_tile`] does the per-pixel
/// ones, `stages::lens::warp` WarpRectilinear, `pipeline::prepare` TrimBounds (a crop).
pub fn unsupported_in_rgb(list: &[Opcode]) -> Vec<String> {
    list.iter()
        .filter(|op| {
            !op.is_pointwise()
                && !matches!(op, Opcode::WarpRectilinear(_) | Opcode::TrimBounds { .. })
        })
        .map(|op| match op {
            Opcode::Unsupported { id, optional: true } => {
                format!("{} (id {id}, optional)", name(*id))
            }
            op => format!("{} (id {})", name(op.id()), op.id()),
        })
        .collect()
}
