//! DNG opcode lists as data (DNG 1.7 spec, chapter 7 "Opcode List Processing"): the
//! opcodes, their areas, the parser and the serialiser. Applying them is the job of
//! `stages::opcodes`; this module is part of the reader and depends on nothing above it.

mod parse;

pub use parse::{parse_list, serialize_list};

/// Opcode ids (DNG 1.7 spec, chapter 7, one section per opcode).
pub mod id {
    pub const WARP_RECTILINEAR: u32 = 1;
    pub const WARP_FISHEYE: u32 = 2;
    pub const FIX_VIGNETTE_RADIAL: u32 = 3;
    pub const FIX_BAD_PIXELS_CONSTANT: u32 = 4;
    pub const FIX_BAD_PIXELS_LIST: u32 = 5;
    pub const TRIM_BOUNDS: u32 = 6;
    pub const MAP_TABLE: u32 = 7;
    pub const MAP_POLYNOMIAL: u32 = 8;
    pub const GAIN_MAP: u32 = 9;
    pub const DELTA_PER_ROW: u32 = 10;
    pub const DELTA_PER_COLUMN: u32 = 11;
    pub const SCALE_PER_ROW: u32 = 12;
    pub const SCALE_PER_COLUMN: u32 = 13;
    pub const WARP_RECTILINEAR_2: u32 = 14;
}

/// The name the spec gives opcode `id`.
pub fn name(opcode_id: u32) -> &'static str {
    match opcode_id {
        id::WARP_RECTILINEAR => "WarpRectilinear",
        id::WARP_FISHEYE => "WarpFisheye",
        id::FIX_VIGNETTE_RADIAL => "FixVignetteRadial",
        id::FIX_BAD_PIXELS_CONSTANT => "FixBadPixelsConstant",
        id::FIX_BAD_PIXELS_LIST => "FixBadPixelsList",
        id::TRIM_BOUNDS => "TrimBounds",
        id::MAP_TABLE => "MapTable",
        id::MAP_POLYNOMIAL => "MapPolynomial",
        id::GAIN_MAP => "GainMap",
        id::DELTA_PER_ROW => "DeltaPerRow",
        id::DELTA_PER_COLUMN => "DeltaPerColumn",
        id::SCALE_PER_ROW => "ScalePerRow",
        id::SCALE_PER_COLUMN => "ScalePerColumn",
        id::WARP_RECTILINEAR_2 => "WarpRectilinear2",
        _ => "unknown opcode",
    }
}

/// The pixels an opcode works on (DNG 1.7 spec, chapter 7, "AreaSpec"): rows
/// `top..bottom` stepping by `row_pitch` from `top`, columns likewise, planes
/// `plane..plane + planes`. As in the DNG SDK, an empty rectangle means the whole image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AreaSpec {
    pub top: u32,
    pub left: u32,
    pub bottom: u32,
    pub right: u32,
    pub plane: u32,
    pub planes: u32,
    pub row_pitch: u32,
    pub col_pitch: u32,
}

impl AreaSpec {
    /// An area covering all of plane 0..`planes` with pitch 1.
    pub fn whole(planes: u32) -> Self {
        AreaSpec {
            top: 0,
            left: 0,
            bottom: 0,
            right: 0,
            plane: 0,
            planes,
            row_pitch: 1,
            col_pitch: 1,
        }
    }

    /// True when the rectangle is empty, which selects the whole image.
    pub fn is_whole_image(&self) -> bool {
        self.top >= self.bottom || self.left >= self.right
    }

    /// Number of selected rows (what DeltaPerRow and ScalePerRow hold one value for).
    pub fn row_count(&self) -> u64 {
        (self.bottom.saturating_sub(self.top) as u64).div_ceil(self.row_pitch.max(1) as u64)
    }

    /// Number of selected columns.
    pub fn col_count(&self) -> u64 {
        (self.right.saturating_sub(self.left) as u64).div_ceil(self.col_pitch.max(1) as u64)
    }
}

/// One parsed opcode (DNG 1.7 spec, chapter 7).
#[derive(Debug, Clone, PartialEq)]
pub enum Opcode {
    /// Radial vignette correction: gain `1 + k0 r^2 + k1 r^4 + ... + k4 r^10`, `r` the
    /// distance from the optical centre (`cx`, `cy`, relative 0..1 to the image) divided by
    /// the distance from the centre to the farthest image corner. Applies to all planes.
    FixVignetteRadial { k: [f64; 5], cx: f64, cy: f64 },
    /// Pixels whose stored value equals `constant` are bad and are interpolated from
    /// same-colour neighbours. `bayer_phase` is kept for reporting; the CFA pattern passed to
    /// `stages::opcodes::apply_to_plane` decides the colours.
    FixBadPixelsConstant { constant: u32, bayer_phase: u32 },
    /// Listed bad pixels (`[row, col]`) and rectangles (`[top, left, bottom, right]`).
    FixBadPixelsList {
        bayer_phase: u32,
        points: Vec<[u32; 2]>,
        rects: Vec<[u32; 4]>,
    },
    /// Crop to `top..bottom`, `left..right`.
    TrimBounds {
        top: u32,
        left: u32,
        bottom: u32,
        right: u32,
    },
    /// A 16-bit lookup table applied to 16-bit values; inputs past its end use the last
    /// entry.
    MapTable { area: AreaSpec, table: Vec<u16> },
    /// `y = sum c_i x^i` on values normalised to 0..1 (degree 0..=8).
    MapPolynomial {
        area: AreaSpec,
        coefficients: Vec<f64>,
    },
    /// A 2-D gain map, bilinearly interpolated.
    GainMap(GainMap),
    /// One offset per selected row, added.
    DeltaPerRow { area: AreaSpec, deltas: Vec<f32> },
    /// One offset per selected column, added.
    DeltaPerColumn { area: AreaSpec, deltas: Vec<f32> },
    /// One factor per selected row, multiplied.
    ScalePerRow { area: AreaSpec, scales: Vec<f32> },
    /// One factor per selected column, multiplied.
    ScalePerColumn { area: AreaSpec, scales: Vec<f32> },
    /// Lens distortion and lateral chromatic aberration as a warp (DNG 1.7, WarpRectilinear,
    /// WarpRectilinear2 and WarpFisheye): each output pixel takes the input at the position
    /// the plane's radial and tangential polynomials give. One plane's coefficients apply
    /// to every plane.
    WarpRectilinear(WarpRectilinear),
    /// An opcode chiaro does not implement (other warps, unknown ids). `optional` is bit 0 of the
    /// opcode's flags: the writer allows readers to skip it.
    Unsupported { id: u32, optional: bool },
}

impl Opcode {
    /// The opcode's id.
    pub fn id(&self) -> u32 {
        match self {
            Opcode::FixVignetteRadial { .. } => id::FIX_VIGNETTE_RADIAL,
            Opcode::FixBadPixelsConstant { .. } => id::FIX_BAD_PIXELS_CONSTANT,
            Opcode::FixBadPixelsList { .. } => id::FIX_BAD_PIXELS_LIST,
            Opcode::TrimBounds { .. } => id::TRIM_BOUNDS,
            Opcode::MapTable { .. } => id::MAP_TABLE,
            Opcode::MapPolynomial { .. } => id::MAP_POLYNOMIAL,
            Opcode::GainMap(_) => id::GAIN_MAP,
            Opcode::DeltaPerRow { .. } => id::DELTA_PER_ROW,
            Opcode::DeltaPerColumn { .. } => id::DELTA_PER_COLUMN,
            Opcode::ScalePerRow { .. } => id::SCALE_PER_ROW,
            Opcode::ScalePerColumn { .. } => id::SCALE_PER_COLUMN,
            Opcode::WarpRectilinear(w) if w.fisheye => id::WARP_FISHEYE,
            Opcode::WarpRectilinear(w) if w.second => id::WARP_RECTILINEAR_2,
            Opcode::WarpRectilinear(_) => id::WARP_RECTILINEAR,
            Opcode::Unsupported { id, .. } => *id,
        }
    }

    /// True for opcodes that change each pixel on its own (no neighbours, no resizing), so
    /// they can run on tiles.
    pub fn is_pointwise(&self) -> bool {
        !matches!(
            self,
            Opcode::FixBadPixelsConstant { .. }
                | Opcode::FixBadPixelsList { .. }
                | Opcode::TrimBounds { .. }
                | Opcode::WarpRectilinear(_)
                | Opcode::Unsupported { .. }
        )
    }
}

/// WarpRectilinear's and WarpRectilinear2's parameters. For an output pixel at `(x, y)`
/// (pixel indices), with the optical centre `(xc, yc) = (cx * width, cy * height)` and `m` its
/// distance to the farthest image corner, `dx = (x - xc) / m`, `dy = (y - yc) / m`,
/// `r^2 = min(dx^2 + dy^2, 1)`, `r` pinned to the plane's valid range: the radial ratio
/// `f = sum k_i r^i` (or `1 / f` with `reciprocal`), and the input is read at
/// `xc + m (f dx + kt0 2 dx dy + kt1 (r^2 + 2 dx^2))`,
/// `yc + m (f dy + kt1 2 dx dy + kt0 (r^2 + 2 dy^2))`. WarpRectilinear (DNG 1.3) has the even
/// terms `k0, k2, k4, k6` only (its `kr0..kr3`), the range 0..1 and no reciprocal.
/// WarpFisheye (DNG 1.3) maps a rectilinear output onto a fisheye input: with
/// `t = atan(r)`, the input radius is `t (k0 + k1 t^2 + k2 t^4 + k3 t^6)` (its `kr0..kr3`,
/// kept in `radial[0..4]`), so `f` is that over `r`; it has no tangential terms.
#[derive(Debug, Clone, PartialEq)]
pub struct WarpRectilinear {
    /// Per plane (1 to 4; one applies to every plane).
    pub planes: Vec<WarpPlane>,
    /// Optical centre, relative to the image width and height (0..1).
    pub cx: f64,
    pub cy: f64,
    /// WarpRectilinear2: the radial ratio is the reciprocal of the polynomial.
    pub reciprocal: bool,
    /// Stored as WarpRectilinear2 (id 14) rather than WarpRectilinear (id 1).
    pub second: bool,
    /// WarpFisheye (id 2).
    pub fisheye: bool,
}

/// One plane's warp polynomials.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarpPlane {
    /// `k_0 .. k_14`, the radial polynomial in `r`.
    pub radial: [f64; 15],
    /// `kt0, kt1`.
    pub tangential: [f64; 2],
    /// The radii (0..1) the polynomial is valid between; `r` is pinned to them.
    pub valid: [f64; 2],
}

impl WarpPlane {
    /// A WarpRectilinear plane: `kr0 + kr1 r^2 + kr2 r^4 + kr3 r^6` and `kt0, kt1`.
    pub fn rectilinear(kr: [f64; 4], kt: [f64; 2]) -> Self {
        let mut radial = [0.0; 15];
        for (i, k) in kr.iter().enumerate() {
            radial[2 * i] = *k;
        }
        WarpPlane {
            radial,
            tangential: kt,
            valid: [0.0, 1.0],
        }
    }
}

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

/// Short human description of an opcode, for `chiaro info`.
pub fn describe(op: &Opcode) -> String {
    let n = name(op.id());
    match op {
        Opcode::FixVignetteRadial { k, cx, cy } => format!(
            "{n}: k = [{:.4}, {:.4}, {:.4}, {:.4}, {:.4}], centre ({cx:.3}, {cy:.3})",
            k[0], k[1], k[2], k[3], k[4]
        ),
        Opcode::FixBadPixelsConstant {
            constant,
            bayer_phase,
        } => format!("{n}: value {constant} marks bad pixels, Bayer phase {bayer_phase}"),
        Opcode::FixBadPixelsList { points, rects, .. } => {
            format!("{n}: {} points, {} rectangles", points.len(), rects.len())
        }
        Opcode::TrimBounds {
            top,
            left,
            bottom,
            right,
        } => format!("{n}: rows {top}..{bottom}, columns {left}..{right}"),
        Opcode::MapTable { area, table } => {
            format!("{n}: {} entries, {}", table.len(), describe_area(area))
        }
        Opcode::WarpRectilinear(w) => {
            let p = &w.planes[0];
            let terms: Vec<String> = p
                .radial
                .iter()
                .enumerate()
                .filter(|(_, k)| **k != 0.0)
                .map(|(i, k)| format!("{k:.5} r^{i}"))
                .collect();
            let terms = if w.fisheye {
                p.radial[..4]
                    .iter()
                    .enumerate()
                    .map(|(i, k)| format!("{k:.5} t^{}", 2 * i + 1))
                    .collect()
            } else {
                terms
            };
            format!(
                "{n}: {} plane(s), radial {}{}, tangential [{:.5}, {:.5}], centre ({:.3}, {:.3})",
                w.planes.len(),
                if w.reciprocal { "1 / " } else { "" },
                terms.join(" + "),
                p.tangential[0],
                p.tangential[1],
                w.cx,
                w.cy
            )
        }
        Opcode::MapPolynomial { area, coefficients } => format!(
            "{n}: degree {}, {}",
            coefficients.len().saturating_sub(1),
            describe_area(area)
        ),
        Opcode::GainMap(m) => {
            let (lo, hi) = m
                .gains
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &g| {
                    (lo.min(g), hi.max(g))
                });
            format!(
                "{n}: {}x{} points x {} planes, gains {lo:.3}..{hi:.3}, {}",
                m.points_v,
                m.points_h,
                m.map_planes,
                describe_area(&m.area)
            )
        }
        Opcode::DeltaPerRow { area, deltas } | Opcode::DeltaPerColumn { area, deltas } => {
            format!("{n}: {} deltas, {}", deltas.len(), describe_area(area))
        }
        Opcode::ScalePerRow { area, scales } | Opcode::ScalePerColumn { area, scales } => {
            format!("{n}: {} scales, {}", scales.len(), describe_area(area))
        }
        Opcode::Unsupported { id, optional } => format!(
            "{n} (id {id}){}: not supported",
            if *optional { ", optional" } else { "" }
        ),
    }
}

/// Describes an area: rectangle, pitches and planes.
fn describe_area(a: &AreaSpec) -> String {
    let rect = if a.is_whole_image() {
        "whole image".to_string()
    } else {
        format!(
            "rows {}..{} columns {}..{}",
            a.top, a.bottom, a.left, a.right
        )
    };
    let pitch = if a.row_pitch != 1 || a.col_pitch != 1 {
        format!(" every {}x{}", a.row_pitch, a.col_pitch)
    } else {
        String::new()
    };
    let planes = if a.planes == 1 {
        format!("plane {}", a.plane)
    } else {
        format!("planes {}..{}", a.plane, a.plane as u64 + a.planes as u64)
    };
    format!("{rect}{pitch}, {planes}")
}
