//! Frames: the one way into rendering.
//!
//! [`prepare`] turns a decoded [`RawImage`] into a [`Frame`]: normalised `f32` samples of
//! the active area plus everything rendering needs (CFA pattern, colour calibration, noise
//! profile, EXIF, orientation, crop, the camera-RGB opcodes). A merged burst, an array from
//! Python or a synthetic mosaic in a test build a frame directly ([`Frame::from_cfa`],
//! [`Frame::from_rgb`]); nothing downstream knows where a frame came from.
//!
//! # Units
//! Samples: 0 = black level, 1 = white level of the plane, linear, not white-balanced, not
//! clipped (noise below black stays negative). CFA frames hold one sample per pixel;
//! LinearRaw-like frames three, interleaved.

use rayon::prelude::*;

use super::stage::Proxy;
use crate::error::{Error, Result};
use crate::image::{Plane, Rect};
use crate::limits::{Limits, try_vec_par};
use crate::raw::{CfaPattern, ColorCalibration, ExifInfo, RawImage};
use crate::stages::black_level;
use crate::stages::opcodes::{self, Opcode, PlaneValues};

/// Normalised samples with their metadata, ready to render.
#[derive(Debug, Clone)]
pub struct Frame {
    width: usize,
    height: usize,
    channels: usize,
    data: Vec<f32>,
    pattern: Option<CfaPattern>,
    crop: Rect,
    orientation: u16,
    color: ColorCalibration,
    noise_profile: Vec<(f64, f64)>,
    exif: ExifInfo,
    rgb_opcodes: Vec<Opcode>,
    source: String,
    warnings: Vec<String>,
}

impl Frame {
    /// A mosaic frame: `data` holds `width * height` normalised samples, `pattern` is
    /// anchored at (0, 0). Crop is the whole frame, orientation upright, no calibration
    /// (camera RGB is then taken as linear sRGB); set the rest with the `with_` methods.
    pub fn from_cfa(
        width: usize,
        height: usize,
        data: Vec<f32>,
        pattern: CfaPattern,
    ) -> Result<Self> {
        Self::new(width, height, 1, data, Some(pattern))
    }

    /// A three-channel frame (interleaved normalised camera RGB, not white-balanced).
    pub fn from_rgb(width: usize, height: usize, data: Vec<f32>) -> Result<Self> {
        Self::new(width, height, 3, data, None)
    }

    fn new(
        width: usize,
        height: usize,
        channels: usize,
        data: Vec<f32>,
        pattern: Option<CfaPattern>,
    ) -> Result<Self> {
        if width == 0
            || height == 0
            || width
                .checked_mul(height)
                .and_then(|n| n.checked_mul(channels))
                != Some(data.len())
        {
            return Err(Error::parameter(format!(
                "a {width}x{height} frame of {channels} channel(s) needs {} samples, got {}",
                width.saturating_mul(height).saturating_mul(channels),
                data.len()
            )));
        }
        Ok(Frame {
            width,
            height,
            channels,
            data,
            pattern,
            crop: Rect::new(0, 0, width, height),
            orientation: 1,
            color: ColorCalibration::default(),
            noise_profile: Vec::new(),
            exif: ExifInfo::default(),
            rgb_opcodes: Vec::new(),
            source: "frame".into(),
            warnings: Vec::new(),
        })
    }

    /// The DNG colour calibration (matrices, as-shot white, baseline exposure).
    pub fn with_color(mut self, color: ColorCalibration) -> Self {
        self.color = color;
        self
    }
    /// The region to output, in frame pixels.
    pub fn with_crop(mut self, crop: Rect) -> Result<Self> {
        if !crop.fits_in(self.width, self.height) {
            return Err(Error::parameter(format!(
                "crop {crop:?} lies outside the {}x{} frame",
                self.width, self.height
            )));
        }
        self.crop = crop;
        Ok(self)
    }
    /// EXIF orientation code 1..=8.
    pub fn with_orientation(mut self, code: u16) -> Result<Self> {
        if !(1..=8).contains(&code) {
            return Err(Error::parameter(format!("orientation {code} is not 1..8")));
        }
        self.orientation = code;
        Ok(self)
    }
    pub fn with_exif(mut self, exif: ExifInfo) -> Self {
        self.exif = exif;
        self
    }
    /// Noise model per plane: variance = scale * x + offset (DNG NoiseProfile).
    pub fn with_noise_profile(mut self, profile: Vec<(f64, f64)>) -> Self {
        self.noise_profile = profile;
        self
    }

    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }
    /// Samples per pixel: 1 for a mosaic, 3 for RGB.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// The samples, row-major, interleaved when `channels() == 3`.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// The CFA pattern anchored at (0, 0): `Some` exactly for mosaic frames (one channel).
    pub fn pattern(&self) -> Option<&CfaPattern> {
        self.pattern.as_ref()
    }
    pub fn crop(&self) -> Rect {
        self.crop
    }
    pub fn orientation(&self) -> u16 {
        self.orientation
    }
    pub fn color(&self) -> &ColorCalibration {
        &self.color
    }
    pub fn noise_profile(&self) -> &[(f64, f64)] {
        &self.noise_profile
    }
    pub fn exif(&self) -> &ExifInfo {
        &self.exif
    }
    /// OpcodeList3: opcodes for demosaiced camera RGB (before white balance).
    pub fn rgb_opcodes(&self) -> &[Opcode] {
        &self.rgb_opcodes
    }
    /// Which reader made the frame (`dng`, `rawler`, `frame`, ...).
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Problems met while decoding and preparing.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A fast preview frame straight from the mosaic: each block of `k` x `k` sites becomes
    /// one camera-RGB pixel (each colour the mean of its sites there), `k` the smallest block
    /// of the pattern that holds all three colours (2 for Bayer: half size; 3 for X-Trans: a
    /// third), so no demosaicing is needed. Crop and orientation follow the blocks; of the
    /// camera-RGB opcodes only the warps remain (their geometry is relative to the frame),
    /// the others are left out with a warning. An RGB frame is returned as it is.
    pub fn binned(&self, limits: &Limits) -> Result<Frame> {
        let Some(p) = self.pattern else {
            return Ok(self.clone());
        };
        let k = (1..=p.width().min(p.height()))
            .find(|&k| {
                p.width() % k == 0
                    && p.height() % k == 0
                    && (0..p.height()).step_by(k).all(|by| {
                        (0..p.width()).step_by(k).all(|bx| {
                            let mut seen = [false; 3];
                            for y in by..by + k {
                                for x in bx..bx + k {
                                    seen[usize::from(p.color(y, x)).min(2)] = true;
                                }
                            }
                            seen.iter().all(|&s| s)
                        })
                    })
            })
            .unwrap_or(p.width());
        let (w, h) = (self.width / k, self.height / k);
        if w == 0 || h == 0 {
            return Err(Error::parameter(
                "the frame is smaller than one preview pixel",
            ));
        }
        let mut data = try_vec_par::<f32>(w * h * 3, limits)?;
        data.par_chunks_mut(w * 3)
            .enumerate()
            .for_each(|(by, row)| {
                for (bx, px) in row.chunks_exact_mut(3).enumerate() {
                    let (mut sum, mut n) = ([0.0f32; 3], [0u32; 3]);
                    for y in by * k..by * k + k {
                        for x in bx * k..bx * k + k {
                            let c = usize::from(p.color(y, x)).min(2);
                            sum[c] += self.data[y * self.width + x];
                            n[c] += 1;
                        }
                    }
                    for c in 0..3 {
                        px[c] = sum[c] / n[c].max(1) as f32;
                    }
                }
            });
        let mut frame = Frame::new(w, h, 3, data, None)?;
        let c = self.crop;
        let (x0, y0) = (c.x.div_ceil(k).min(w - 1), c.y.div_ceil(k).min(h - 1));
        let (x1, y1) = (
            (c.right() / k).clamp(x0 + 1, w),
            (c.bottom() / k).clamp(y0 + 1, h),
        );
        frame.crop = Rect::new(x0, y0, x1 - x0, y1 - y0);
        frame.orientation = self.orientation;
        frame.color = self.color.clone();
        frame.exif = self.exif.clone();
        frame.source = self.source.clone();
        frame.warnings = self.warnings.clone();
        frame.rgb_opcodes = self
            .rgb_opcodes
            .iter()
            .filter(|op| matches!(op, Opcode::WarpRectilinear(_)))
            .cloned()
            .collect();
        if frame.rgb_opcodes.len() < self.rgb_opcodes.len() {
            frame.warnings.push(
                "preview: OpcodeList3's per-pixel opcodes (full-size pixel areas) are left out"
                    .into(),
            );
        }
        Ok(frame)
    }

    /// The proxy for whole-image statistics: one pixel per CFA cell (the mean of each
    /// colour's sites), every `step` cells so that at most about `max_pixels` remain.
    pub fn proxy(&self, max_pixels: usize) -> Proxy {
        let (cw, ch) = self.pattern.map_or((1, 1), |p| (p.width(), p.height()));
        let cells = (self.width / cw) * (self.height / ch);
        let step = ((cells as f64 / max_pixels.max(1) as f64).sqrt().ceil() as usize).max(1);
        let (pw, ph) = (
            (self.width / cw).div_ceil(step),
            (self.height / ch).div_ceil(step),
        );
        let mut rgb = Vec::with_capacity(pw * ph * 3);
        let mut peak = Vec::with_capacity(pw * ph);
        for by in (0..self.height / ch).step_by(step) {
            for bx in (0..self.width / cw).step_by(step) {
                let (mut sum, mut n, mut top) = ([0.0f32; 3], [0u32; 3], f32::MIN);
                for dy in 0..ch {
                    for dx in 0..cw {
                        let (y, x) = (by * ch + dy, bx * cw + dx);
                        let i = (y * self.width + x) * self.channels;
                        for c in 0..self.channels {
                            let colour = self.pattern.map_or(c, |p| p.color(y, x) as usize);
                            let v = self.data[i + c];
                            sum[colour] += v;
                            n[colour] += 1;
                            top = top.max(v);
                        }
                    }
                }
                rgb.extend((0..3).map(|c| sum[c] / n[c].max(1) as f32));
                peak.push(top);
            }
        }
        Proxy {
            width: pw,
            height: ph,
            scale: step * cw.max(ch),
            rgb,
            peak,
        }
    }
}

/// Prepares a decoded raw for rendering: linearisation table, OpcodeList1, black and white
/// levels, OpcodeList2 (lens shading, bad pixels), on the active area; the per-pixel work
/// runs fused in one pass over the samples.
///
/// Every buffer is checked against `limits` and allocated fallibly.
pub fn prepare(raw: &RawImage, limits: &Limits) -> Result<Frame> {
    raw.validate()?;
    let mut warnings = raw.warnings.clone();
    let active = raw.active_area;
    let spp = raw.samples_per_pixel;
    limits.check_image(active.width, active.height, spp)?;
    let cfa = raw.cfa.shifted(active.y, active.x);
    let stored = if raw.opcodes.list1.is_empty() {
        None
    } else if !raw.is_cfa() {
        warnings.push("OpcodeList1 on LinearRaw data is not applied".into());
        None
    } else {
        let mut p = black_level::stored_plane(raw, limits)?;
        opcodes::apply_to_plane(
            &raw.opcodes.list1,
            PlaneValues::Stored,
            &mut p,
            &raw.cfa,
            &mut warnings,
        )?;
        Some(p)
    };
    let (w, h) = (active.width, active.height);
    let mut data = try_vec_par::<f32>(w * h * spp, limits)?;
    let list2 = &raw.opcodes.list2;
    let fused = raw.is_cfa() && list2.iter().all(Opcode::is_pointwise);
    let rows = opcodes::PointwiseRows::new(
        if fused { list2 } else { &[] },
        PlaneValues::Normalized,
        w,
        h,
    );
    data.par_chunks_mut(w * spp)
        .enumerate()
        .for_each(|(y, row)| {
            black_level::normalize_row(raw, stored.as_ref(), y, row);
            rows.apply_row(y, row);
        });
    drop(stored);
    if raw.is_cfa() && !fused {
        let mut plane = Plane {
            width: w,
            height: h,
            data,
        };
        opcodes::apply_to_plane(
            list2,
            PlaneValues::Normalized,
            &mut plane,
            &cfa,
            &mut warnings,
        )?;
        data = plane.data;
    } else if !raw.is_cfa() && !list2.is_empty() {
        warnings.push("OpcodeList2 on LinearRaw data is not applied".into());
    }
    let mut frame = if raw.is_cfa() {
        Frame::from_cfa(w, h, data, cfa)?
    } else {
        Frame::from_rgb(w, h, data)?
    };
    frame = frame
        .with_color(raw.color.clone())
        .with_crop(trimmed_crop(raw)?)?
        .with_orientation(raw.orientation)?
        .with_exif(raw.exif.clone())
        .with_noise_profile(raw.noise_profile.clone());
    frame.rgb_opcodes = raw.opcodes.list3.clone();
    frame.source = raw.format.clone();
    frame.warnings = warnings;
    Ok(frame)
}

/// The DefaultCrop within every TrimBounds of the opcode lists (DNG 1.7, 7.3.6: the image
/// is trimmed to the rectangle; list 1's is in stored-image coordinates, lists 2 and 3 in
/// the active area's), an error when nothing is left.
fn trimmed_crop(raw: &RawImage) -> Result<Rect> {
    let a = raw.active_area;
    let lists = [
        (&raw.opcodes.list1, (a.x, a.y)),
        (&raw.opcodes.list2, (0, 0)),
        (&raw.opcodes.list3, (0, 0)),
    ];
    let mut c = raw.default_crop;
    for (list, (ox, oy)) in lists {
        for op in list.iter() {
            let Opcode::TrimBounds {
                top,
                left,
                bottom,
                right,
            } = *op
            else {
                continue;
            };
            let at = |v: u32, o: usize| (v as usize).saturating_sub(o);
            let (x0, y0) = (c.x.max(at(left, ox)), c.y.max(at(top, oy)));
            let (x1, y1) = (c.right().min(at(right, ox)), c.bottom().min(at(bottom, oy)));
            if x1 <= x0 || y1 <= y0 {
                return Err(Error::decode(format!(
                    "TrimBounds rows {top}..{bottom}, columns {left}..{right} leave nothing of \
                     the crop {c:?}"
                )));
            }
            c = Rect::new(x0, y0, x1 - x0, y1 - y0);
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mosaic whose sites of colour 0, 1, 2 hold `values[c]`.
    fn flat(pattern: CfaPattern, w: usize, h: usize, values: [f32; 3]) -> Frame {
        let data = (0..w * h)
            .map(|i| values[usize::from(pattern.color(i / w, i % w))])
            .collect();
        Frame::from_cfa(w, h, data, pattern).expect("frame")
    }

    #[test]
    fn binned_preview_keeps_each_colour_and_divides_the_geometry() {
        let limits = Limits::default();
        let rgb = [0.6, 0.3, 0.1];
        for (pattern, k) in [
            (CfaPattern::bayer("GRBG").expect("pattern"), 2),
            (CfaPattern::xtrans(), 3),
        ] {
            let frame = flat(pattern, 36, 24, rgb)
                .with_crop(Rect::new(6, 3, 24, 18))
                .expect("crop")
                .with_orientation(6)
                .expect("orientation");
            let b = frame.binned(&limits).expect("bins");
            assert_eq!((b.width(), b.height(), b.channels()), (36 / k, 24 / k, 3));
            assert!(b.pattern().is_none());
            assert!(b.data().chunks_exact(3).all(|px| px == rgb), "{k}");
            // The crop keeps the whole blocks inside it.
            let (x0, y0) = (6usize.div_ceil(k), 3usize.div_ceil(k));
            assert_eq!(
                b.crop(),
                Rect::new(x0, y0, 30 / k - x0, 21 / k - y0),
                "pattern {k}"
            );
            assert_eq!(b.orientation(), 6);
        }
    }
}
