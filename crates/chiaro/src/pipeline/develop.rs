//! The executor: runs a recipe on a raw image.
//!
//! Two passes keep memory low and caches warm:
//! 1. **CFA pass** over one `f32` plane of the active area: linearisation, OpcodeList1,
//!    black/white normalisation, OpcodeList2, then the recipe's CFA stages (defects, white
//!    balance; auto white balance reads its statistics here).
//! 2. **Tiled pass** over the default crop: each tile (plus the demosaicer's halo) is
//!    demosaiced, then every per-pixel stage (OpcodeList3, highlights, colour matrix,
//!    exposure, tone curve, output encoding) runs fused on each tile row while it is in L1,
//!    and the row is quantised straight into the output buffer. Bands of tiles run in
//!    parallel on the current rayon pool (callers cap threads with `ThreadPool::install`).
//!
//! Peak memory is the raw samples (u16), one f32 plane and the output buffer; an OpcodeList1
//! adds a stored-value f32 copy of the raw and the `defects` stage a copy of the plane, both
//! only while the CFA pass runs.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::recipe::{Recipe, Stage};
use crate::color::dng::CameraColor;
use crate::color::matrix::{self, Mat3};
use crate::color::spaces::OutputSpace;
use crate::color::transfer::Transfer;
use crate::error::{Error, ErrorKind, Result};
use crate::image::{Plane, Rect};
use crate::io::{OutputImage, Pixels};
use crate::raw::{CfaPattern, RawImage};
use crate::stages::demosaic::{self, DemosaicMethod};
use crate::stages::highlights::{self, HighlightMode};
use crate::stages::tone::filmic::FilmicCurve;
use crate::stages::{black_level, defects, opcodes, orientation, white_balance};

/// Output sample format and intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSpec {
    /// 8, 16 or 32 (float).
    pub bits: u8,
    /// Scene-referred output: no transfer function; float output is not clipped.
    pub linear: bool,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            bits: 8,
            linear: false,
        }
    }
}

/// A developed image with what is needed to encode it and report on it.
pub struct Developed {
    pub image: OutputImage,
    pub icc_profile: Vec<u8>,
    pub space: OutputSpace,
    pub transfer: Transfer,
    /// The colour solution used (neutral, white point, matrix).
    pub color: CameraColor,
    pub demosaic: DemosaicMethod,
    pub warnings: Vec<String>,
}

const TILE_W: usize = 512;
const TILE_H: usize = 256;

/// Develops `raw` by `recipe`. `cancel`, when set by another thread, stops the work at the
/// next band of tiles with an error of kind `Cancelled`.
pub fn develop(
    raw: &RawImage,
    recipe: &Recipe,
    spec: &OutputSpec,
    cancel: Option<&AtomicBool>,
) -> Result<Developed> {
    recipe.validate()?;
    if !matches!(spec.bits, 8 | 16 | 32) {
        return Err(Error::parameter(format!(
            "{} bits per sample (8, 16 or 32)",
            spec.bits
        )));
    }
    raw.validate()?;
    let mut warnings = raw.warnings.clone();
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let check = || {
        if cancelled() {
            Err(Error::new(ErrorKind::Cancelled, "cancelled"))
        } else {
            Ok(())
        }
    };

    // ---- CFA pass -------------------------------------------------------------------
    let active = raw.active_area;
    let cfa = raw.cfa.shifted(active.y, active.x);
    let stored = if raw.opcodes.list1.is_empty() {
        None
    } else if !raw.is_cfa() {
        warnings.push("OpcodeList1 on LinearRaw data is not applied".into());
        None
    } else {
        let mut p = black_level::stored_plane(raw);
        opcodes::apply_to_plane(
            &raw.opcodes.list1,
            opcodes::PlaneValues::Stored,
            &mut p,
            &raw.cfa,
            &mut warnings,
        )?;
        Some(p)
    };
    let mut planes: Vec<Plane> = (0..raw.samples_per_pixel)
        .map(|s| black_level::normalize(raw, stored.as_ref(), s))
        .collect();
    drop(stored);
    if raw.is_cfa() {
        opcodes::apply_to_plane(
            &raw.opcodes.list2,
            opcodes::PlaneValues::Normalized,
            &mut planes[0],
            &cfa,
            &mut warnings,
        )?;
    } else if !raw.opcodes.list2.is_empty() {
        warnings.push("OpcodeList2 on LinearRaw data is not applied".into());
    }
    check()?;

    let mut neutral = [1.0; 3];
    for stage in &recipe.stages {
        match stage {
            Stage::Defects { threshold } if raw.is_cfa() => {
                let n = defects::correct(&mut planes[0], &cfa, *threshold);
                if n > 0 {
                    warnings.push(format!("defects: replaced {n} defective sites"));
                }
            }
            Stage::WhiteBalance { mode } => {
                neutral = white_balance::neutral_for(*mode, &raw.color, || {
                    if raw.is_cfa() {
                        white_balance::auto_neutral(
                            &planes[0].data,
                            planes[0].width,
                            planes[0].height,
                            &cfa,
                        )
                    } else {
                        interleaved_auto(&planes)
                    }
                })?;
                for (s, p) in planes.iter_mut().enumerate() {
                    if raw.is_cfa() {
                        white_balance::apply(&mut p.data, p.width, &cfa, neutral);
                    } else {
                        let g = (1.0 / neutral[s]) as f32;
                        p.data.par_iter_mut().for_each(|v| *v *= g);
                    }
                }
            }
            _ => {}
        }
    }
    check()?;

    // ---- colour solution --------------------------------------------------------------
    let color = if raw.color.has_matrix() {
        raw.color.camera_color(neutral)
    } else {
        warnings.push("no colour matrix in the file: camera RGB is taken as linear sRGB".into());
        CameraColor {
            neutral,
            white_xy: crate::color::xy::D50_XY,
            wb_camera_to_xyz_d50: OutputSpace::Srgb.to_xyz_d50(),
        }
    };
    let space = recipe
        .stages
        .iter()
        .find_map(|s| {
            if let Stage::Color { space } = s {
                Some(*space)
            } else {
                None
            }
        })
        .unwrap_or_default();
    let to_output: Mat3 = match space {
        OutputSpace::Camera => matrix::IDENTITY,
        s => matrix::mul(&s.from_xyz_d50(), &color.wb_camera_to_xyz_d50),
    };
    let transfer = if spec.linear {
        Transfer::Linear
    } else {
        space.transfer()
    };
    let profile_matrix = match space {
        OutputSpace::Camera => color.wb_camera_to_xyz_d50,
        s => s.to_xyz_d50(),
    };
    let icc_profile = crate::io::icc::rgb_profile(
        &profile_matrix,
        transfer,
        &format!(
            "chiaro {}{}",
            space.name(),
            if spec.linear { " linear" } else { "" }
        ),
    )?;

    // ---- per-pixel chain ------------------------------------------------------------------
    let mut method = DemosaicMethod::default();
    let mut ops: Vec<PixelOp> = Vec::new();
    if !raw.opcodes.list3.is_empty() {
        warnings.extend(opcodes::unsupported_in_rgb(&raw.opcodes.list3));
        ops.push(PixelOp::Opcodes3(neutral.map(|n| n as f32)));
    }
    for stage in &recipe.stages {
        match stage {
            Stage::Demosaic { method: m } => {
                method = if raw.is_cfa() {
                    m.for_pattern(&cfa)
                } else {
                    *m
                };
                if raw.is_cfa() && method != *m {
                    warnings.push(format!(
                        "demosaic: {} does not handle {} data; using {}",
                        m.name(),
                        cfa.name(),
                        method.name()
                    ));
                }
            }
            Stage::Highlights { mode } => ops.push(PixelOp::Highlights(*mode)),
            Stage::Color { .. } => ops.push(PixelOp::Matrix(matrix::to_f32(&to_output))),
            Stage::Exposure { ev, baseline } => {
                let total = f64::from(*ev)
                    + if *baseline {
                        raw.color.baseline_exposure
                    } else {
                        0.0
                    };
                if total != 0.0 {
                    ops.push(PixelOp::Scale(2f64.powf(total) as f32));
                }
            }
            Stage::ToneCurve { filmic } => ops.push(PixelOp::Tone(filmic.prepare())),
            Stage::Defects { .. } | Stage::WhiteBalance { .. } => {}
        }
    }
    let clamp = !(spec.linear && spec.bits == 32);
    let lut = (transfer != Transfer::Linear).then(|| EncodeLut::new(transfer));

    // ---- tiled pass -------------------------------------------------------------------
    let crop = raw.default_crop;
    let (w, h) = (crop.width, crop.height);
    let source = if raw.is_cfa() {
        Source::Cfa(&planes[0], cfa)
    } else {
        Source::Rgb(&planes)
    };
    let job = TileJob {
        source,
        crop,
        method,
        ops: &ops,
        list3: &raw.opcodes.list3,
        active,
        clamp,
        lut: lut.as_ref(),
    };
    let pixels = match spec.bits {
        8 => Pixels::U8(job.run(w, h, cancel, |v| (v * 255.0 + 0.5) as u8)?),
        16 => Pixels::U16(job.run(w, h, cancel, |v| (v * 65535.0 + 0.5) as u16)?),
        _ => Pixels::F32(job.run(w, h, cancel, |v| v)?),
    };
    drop(planes);

    let (ow, oh) = orientation::oriented_size(raw.orientation, w, h);
    let pixels = match pixels {
        Pixels::U8(d) => Pixels::U8(orientation::apply(raw.orientation, d, w, h, 3)),
        Pixels::U16(d) => Pixels::U16(orientation::apply(raw.orientation, d, w, h, 3)),
        Pixels::F32(d) => Pixels::F32(orientation::apply(raw.orientation, d, w, h, 3)),
    };
    Ok(Developed {
        image: OutputImage {
            width: ow,
            height: oh,
            pixels,
        },
        icc_profile,
        space,
        transfer,
        color,
        demosaic: method,
        warnings,
    })
}

/// Grey-world estimate for LinearRaw data (three planes).
fn interleaved_auto(planes: &[Plane]) -> [f64; 3] {
    let mut s = [0.0f64; 3];
    for (c, p) in planes.iter().enumerate().take(3) {
        s[c] = p
            .data
            .iter()
            .filter(|v| **v > 0.005 && **v < 0.95)
            .map(|&v| f64::from(v))
            .sum();
    }
    crate::color::dng::normalize_max(s)
}

/// One fused per-pixel operation of the tiled pass.
enum PixelOp {
    /// OpcodeList3, with the camera neutral to undo and redo white balance around it.
    Opcodes3([f32; 3]),
    Highlights(HighlightMode),
    Matrix([[f32; 3]; 3]),
    Scale(f32),
    Tone(FilmicCurve),
}

/// Output transfer encoding by table with linear interpolation (accurate to ~1e-6, well
/// below a 16-bit step, and much cheaper than `powf` per sample).
struct EncodeLut {
    /// (value, slope to the next entry) at `i / LUT_N`; a fixed-size array so the clamped
    /// index needs no bounds check in the per-sample loop.
    table: Box<[[f32; 2]; LUT_N + 1]>,
    /// The first 16 intervals (v < 1/1024) are computed exactly: a pure power law is
    /// infinitely steep at 0, where linear interpolation would be off by several 16-bit steps.
    transfer: Transfer,
}

const LUT_N: usize = 1 << 14;

impl EncodeLut {
    fn new(t: Transfer) -> Self {
        let mut table = Box::new([[0.0f32; 2]; LUT_N + 1]);
        for (i, e) in table.iter_mut().enumerate() {
            let (a, b) = (
                t.encode(i as f32 / LUT_N as f32),
                t.encode((i + 1) as f32 / LUT_N as f32),
            );
            *e = [a, b - a];
        }
        EncodeLut { table, transfer: t }
    }
    #[inline]
    fn encode(&self, v: f32) -> f32 {
        let x = v.clamp(0.0, 1.0) * LUT_N as f32;
        if x < 16.0 {
            return self.transfer.encode(v.max(0.0));
        }
        let i = (x as usize).min(LUT_N);
        let [a, slope] = self.table[i];
        a + (x - i as f32) * slope
    }
}

enum Source<'a> {
    Cfa(&'a Plane, CfaPattern),
    Rgb(&'a [Plane]),
}

struct TileJob<'a> {
    source: Source<'a>,
    /// Output region, relative to the active area (= the normalised planes).
    crop: Rect,
    method: DemosaicMethod,
    ops: &'a [PixelOp],
    list3: &'a [opcodes::Opcode],
    active: Rect,
    clamp: bool,
    lut: Option<&'a EncodeLut>,
}

impl TileJob<'_> {
    fn run<T: Copy + Default + Send>(
        &self,
        w: usize,
        h: usize,
        cancel: Option<&AtomicBool>,
        quantize: impl Fn(f32) -> T + Sync,
    ) -> Result<Vec<T>> {
        let mut out = vec![T::default(); w * h * 3];
        out.par_chunks_mut(w * 3 * TILE_H)
            .enumerate()
            .try_for_each(|(band, rows)| {
                if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Err(Error::new(ErrorKind::Cancelled, "cancelled"));
                }
                let y0 = band * TILE_H;
                let th = rows.len() / (w * 3);
                let mut row = Vec::with_capacity(TILE_W * 3);
                for x0 in (0..w).step_by(TILE_W) {
                    let tw = TILE_W.min(w - x0);
                    let (rgb, stride, off) = self.tile_rgb(x0, y0, tw, th)?;
                    for ty in 0..th {
                        let start = ((ty + off.1) * stride + off.0) * 3;
                        row.clear();
                        row.extend_from_slice(&rgb[start..start + tw * 3]);
                        self.apply_ops(&mut row, x0, y0 + ty, tw);
                        let dst = &mut rows[(ty * w + x0) * 3..(ty * w + x0 + tw) * 3];
                        for (d, &v) in dst.iter_mut().zip(&row) {
                            *d = quantize(v);
                        }
                    }
                }
                Ok(())
            })?;
        Ok(out)
    }

    /// Camera RGB of an output tile: the demosaiced window, its row stride and the offset of
    /// the tile inside it.
    fn tile_rgb(
        &self,
        x0: usize,
        y0: usize,
        tw: usize,
        th: usize,
    ) -> Result<(Vec<f32>, usize, (usize, usize))> {
        let (ax, ay) = (self.crop.x + x0, self.crop.y + y0);
        match &self.source {
            Source::Cfa(plane, cfa) => {
                let halo = self.method.halo();
                let (wx0, wy0) = (ax.saturating_sub(halo), ay.saturating_sub(halo));
                let (wx1, wy1) = (
                    (ax + tw + halo).min(plane.width),
                    (ay + th + halo).min(plane.height),
                );
                let ww = wx1 - wx0;
                let mut window = Vec::with_capacity(ww * (wy1 - wy0));
                for y in wy0..wy1 {
                    window.extend_from_slice(
                        &plane.data[y * plane.width + wx0..y * plane.width + wx1],
                    );
                }
                let rgb = demosaic::demosaic(
                    self.method,
                    &window,
                    ww,
                    wy1 - wy0,
                    &cfa.shifted(wy0, wx0),
                )?;
                Ok((rgb, ww, (ax - wx0, ay - wy0)))
            }
            Source::Rgb(planes) => {
                let pw = planes[0].width;
                let mut rgb = Vec::with_capacity(tw * th * 3);
                for y in ay..ay + th {
                    for x in ax..ax + tw {
                        rgb.extend(planes.iter().map(|p| p.data[y * pw + x]));
                    }
                }
                Ok((rgb, tw, (0, 0)))
            }
        }
    }

    /// Runs the fused per-pixel stages and the output encoding on one row of `tw` pixels
    /// at output position (`x0`, `y`).
    fn apply_ops(&self, row: &mut [f32], x0: usize, y: usize, tw: usize) {
        for op in self.ops {
            match op {
                PixelOp::Opcodes3(neutral) => {
                    // List 3 expects camera RGB before white balance (DNG SDK stage 3).
                    for px in row.chunks_exact_mut(3) {
                        px.iter_mut().zip(neutral).for_each(|(v, n)| *v *= n);
                    }
                    let rect = Rect::new(self.crop.x + x0, self.crop.y + y, tw, 1);
                    opcodes::apply_to_rgb_tile(
                        self.list3,
                        row,
                        rect,
                        self.active.width,
                        self.active.height,
                    );
                    for px in row.chunks_exact_mut(3) {
                        px.iter_mut().zip(neutral).for_each(|(v, n)| *v /= n);
                    }
                }
                PixelOp::Highlights(mode) => highlights::apply_row(*mode, row),
                PixelOp::Matrix(m) => {
                    for px in row.chunks_exact_mut(3) {
                        let o = matrix::apply_f32(m, [px[0], px[1], px[2]]);
                        px.copy_from_slice(&o);
                    }
                }
                PixelOp::Scale(k) => row.iter_mut().for_each(|v| *v *= k),
                PixelOp::Tone(curve) => curve.apply_row(row),
            }
        }
        match (self.lut, self.clamp) {
            (Some(lut), _) => row.iter_mut().for_each(|v| *v = lut.encode(*v)),
            (None, true) => row.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0)),
            (None, false) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_lut_matches_the_transfer_within_half_a_16_bit_step() {
        for t in [Transfer::Srgb, Transfer::Rec709, Transfer::Gamma(1.8)] {
            let lut = EncodeLut::new(t);
            let worst = (0..=100_000)
                .map(|i| i as f32 / 100_000.0)
                .map(|x| (lut.encode(x) - t.encode(x)).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 0.5 / 65535.0, "{t:?}: {worst}");
            assert_eq!(lut.encode(2.0), t.encode(1.0));
            assert_eq!(lut.encode(-1.0), 0.0);
        }
    }
}
