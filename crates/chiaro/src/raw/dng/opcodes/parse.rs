//! Reading and writing opcode lists (DNG 1.7 spec, chapter 7, "Opcode List Format").
//!
//! A list is big-endian whatever the byte order of the file: u32 count, then per opcode u32
//! id, u32 DNG version, u32 flags (bit 0 optional, bit 1 skip for previews), u32 payload size
//! and the payload. Every count read from a payload is checked against the payload size
//! (and the limits) before anything is allocated, with the size rules of the DNG SDK.

use super::{AreaSpec, GainMap, Opcode, WarpPlane, WarpRectilinear, id, name};
use crate::error::{Error, Result};
use crate::limits::{Limits, try_vec};

/// Bytes of an AreaSpec in a payload.
const AREA_BYTES: u64 = 32;
/// Largest MapPolynomial degree (DNG 1.7 spec, MapPolynomial).
const MAX_DEGREE: u32 = 8;
/// DNG version written by [`serialize_list`]: 1.3.0.0, which introduced opcodes.
const VERSION_1_3: u32 = 0x0103_0000;

/// A big-endian cursor over a byte slice.
struct Reader<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.b.len() - self.p
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::decode(format!(
                "needs {n} bytes at offset {} but only {} remain (truncated)",
                self.p,
                self.remaining()
            )));
        }
        let s = &self.b[self.p..self.p + n];
        self.p += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_be_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_be_bytes(self.array()?))
    }
    fn finite_f64(&mut self, what: &str) -> Result<f64> {
        let v = self.f64()?;
        if !v.is_finite() {
            return Err(Error::decode(format!("{what} is not a finite number")));
        }
        Ok(v)
    }
}

/// Parses an opcode list (the bytes of tag OpcodeList1, 2 or 3). Known opcodes with
/// malformed payloads are errors; unknown ids become [`Opcode::Unsupported`].
pub fn parse_list(bytes: &[u8], limits: &Limits) -> Result<Vec<Opcode>> {
    let mut r = Reader { b: bytes, p: 0 };
    let count = r.u32()? as usize;
    // Each opcode has a 16-byte header, which bounds the count by the data.
    if count > r.remaining() / 16 {
        return Err(Error::decode(format!(
            "opcode list claims {count} opcodes but holds only {} bytes",
            bytes.len()
        )));
    }
    let mut list = Vec::with_capacity(count);
    for i in 0..count {
        let opcode_id = r.u32()?;
        let _version = r.u32()?;
        let flags = r.u32()?;
        let size = r.u32()? as usize;
        let payload = r.take(size).map_err(|e| {
            Error::decode(format!(
                "opcode {i} ({}): payload {}",
                name(opcode_id),
                e.message()
            ))
        })?;
        let op = parse_opcode(opcode_id, flags & 1 != 0, payload, limits).map_err(|e| {
            Error::new(
                e.kind(),
                format!("opcode {i} ({}): {}", name(opcode_id), e.message()),
            )
        })?;
        list.push(op);
    }
    Ok(list)
}

/// Checks that a payload of `size` bytes is exactly `want` bytes.
fn expect_size(size: usize, want: u64) -> Result<()> {
    if size as u64 != want {
        return Err(Error::decode(format!(
            "payload of {size} bytes where {want} are required"
        )));
    }
    Ok(())
}

/// Parses one opcode's payload.
fn parse_opcode(opcode_id: u32, optional: bool, payload: &[u8], limits: &Limits) -> Result<Opcode> {
    let size = payload.len();
    let mut r = Reader { b: payload, p: 0 };
    let op = match opcode_id {
        id::FIX_VIGNETTE_RADIAL => {
            expect_size(size, 56)?;
            let mut k = [0.0; 5];
            for v in &mut k {
                *v = r.finite_f64("vignette coefficient")?;
            }
            let cx = r.finite_f64("optical centre")?;
            let cy = r.finite_f64("optical centre")?;
            Opcode::FixVignetteRadial { k, cx, cy }
        }
        id::FIX_BAD_PIXELS_CONSTANT => {
            expect_size(size, 8)?;
            Opcode::FixBadPixelsConstant {
                constant: r.u32()?,
                bayer_phase: r.u32()?,
            }
        }
        id::FIX_BAD_PIXELS_LIST => {
            let bayer_phase = r.u32()?;
            let np = r.u32()? as u64;
            let nr = r.u32()? as u64;
            expect_size(size, 12 + np * 8 + nr * 16)?;
            let mut points = try_vec::<[u32; 2]>(np as usize, limits)?;
            for p in &mut points {
                *p = [r.u32()?, r.u32()?];
            }
            let mut rects = try_vec::<[u32; 4]>(nr as usize, limits)?;
            for q in &mut rects {
                *q = [r.u32()?, r.u32()?, r.u32()?, r.u32()?];
            }
            Opcode::FixBadPixelsList {
                bayer_phase,
                points,
                rects,
            }
        }
        id::TRIM_BOUNDS => {
            expect_size(size, 16)?;
            let (top, left, bottom, right) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
            if top >= bottom || left >= right {
                return Err(Error::decode("empty TrimBounds rectangle"));
            }
            Opcode::TrimBounds {
                top,
                left,
                bottom,
                right,
            }
        }
        id::MAP_TABLE => {
            let area = area(&mut r)?;
            let n = r.u32()?;
            expect_size(size, AREA_BYTES + 4 + 2 * n as u64)?;
            if n == 0 || n > 65536 {
                return Err(Error::decode(format!(
                    "MapTable of {n} entries (1..=65536)"
                )));
            }
            let mut table = try_vec::<u16>(n as usize, limits)?;
            for v in &mut table {
                *v = r.u16()?;
            }
            Opcode::MapTable { area, table }
        }
        id::MAP_POLYNOMIAL => {
            let area = area(&mut r)?;
            let degree = r.u32()?;
            if degree > MAX_DEGREE {
                return Err(Error::decode(format!(
                    "MapPolynomial of degree {degree} (at most {MAX_DEGREE})"
                )));
            }
            expect_size(size, AREA_BYTES + 4 + 8 * (degree as u64 + 1))?;
            let coefficients = (0..=degree)
                .map(|_| r.finite_f64("polynomial coefficient"))
                .collect::<Result<Vec<f64>>>()?;
            Opcode::MapPolynomial { area, coefficients }
        }
        id::GAIN_MAP => Opcode::GainMap(gain_map(&mut r, size, limits)?),
        id::WARP_RECTILINEAR | id::WARP_RECTILINEAR_2 => {
            Opcode::WarpRectilinear(warp(&mut r, size, opcode_id == id::WARP_RECTILINEAR_2)?)
        }
        id::WARP_FISHEYE => Opcode::WarpRectilinear(fisheye(&mut r, size)?),
        id::DELTA_PER_ROW | id::DELTA_PER_COLUMN | id::SCALE_PER_ROW | id::SCALE_PER_COLUMN => {
            let area = area(&mut r)?;
            let n = r.u32()? as u64;
            let per_row = matches!(opcode_id, id::DELTA_PER_ROW | id::SCALE_PER_ROW);
            let want = if per_row {
                area.row_count()
            } else {
                area.col_count()
            };
            if n != want {
                return Err(Error::decode(format!(
                    "{n} values where the area has {want} {}",
                    if per_row { "rows" } else { "columns" }
                )));
            }
            expect_size(size, AREA_BYTES + 4 + 4 * n)?;
            let mut values = try_vec::<f32>(n as usize, limits)?;
            for v in &mut values {
                *v = r.f32()?;
                if !v.is_finite() {
                    return Err(Error::decode("value is not a finite number"));
                }
            }
            match opcode_id {
                id::DELTA_PER_ROW => Opcode::DeltaPerRow {
                    area,
                    deltas: values,
                },
                id::DELTA_PER_COLUMN => Opcode::DeltaPerColumn {
                    area,
                    deltas: values,
                },
                id::SCALE_PER_ROW => Opcode::ScalePerRow {
                    area,
                    scales: values,
                },
                _ => Opcode::ScalePerColumn {
                    area,
                    scales: values,
                },
            }
        }
        _ => Opcode::Unsupported {
            id: opcode_id,
            optional,
        },
    };
    Ok(op)
}

/// Reads an AreaSpec with the DNG SDK's checks: at least one plane, pitches of at least 1
/// (and exactly 1 when the rectangle is empty, i.e. the whole image), pitches larger than
/// the rectangle reduced to its size.
fn area(r: &mut Reader) -> Result<AreaSpec> {
    let mut a = AreaSpec {
        top: r.u32()?,
        left: r.u32()?,
        bottom: r.u32()?,
        right: r.u32()?,
        plane: r.u32()?,
        planes: r.u32()?,
        row_pitch: r.u32()?,
        col_pitch: r.u32()?,
    };
    if a.planes == 0 || a.row_pitch == 0 || a.col_pitch == 0 {
        return Err(Error::decode(format!(
            "area with {} planes and pitches {}x{}",
            a.planes, a.row_pitch, a.col_pitch
        )));
    }
    if a.is_whole_image() {
        if a.row_pitch != 1 || a.col_pitch != 1 {
            return Err(Error::decode("whole-image area with pitches other than 1"));
        }
    } else {
        a.row_pitch = a.row_pitch.min(a.bottom - a.top);
        a.col_pitch = a.col_pitch.min(a.right - a.left);
    }
    Ok(a)
}

/// Reads a WarpRectilinear payload (planes, per plane `kr0..kr3, kt0, kt1`, centre) or, with
/// `second`, a WarpRectilinear2 one (per plane `k0..k14, kt0, kt1`, the valid radius range;
/// centre; the reciprocal flag), with the DNG SDK's checks.
fn warp(r: &mut Reader, size: usize, second: bool) -> Result<WarpRectilinear> {
    let n = r.u32()?;
    if n == 0 || n > 4 {
        return Err(Error::decode(format!("warp for {n} planes (1..=4)")));
    }
    let per_plane: u64 = if second { 8 * (15 + 2 + 2) } else { 8 * 6 };
    expect_size(
        size,
        4 + per_plane * u64::from(n) + 16 + if second { 4 } else { 0 },
    )?;
    let mut planes = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let mut f = || r.finite_f64("warp coefficient");
        let plane = if second {
            let mut p = WarpPlane {
                radial: [0.0; 15],
                tangential: [0.0; 2],
                valid: [0.0; 2],
            };
            for v in p
                .radial
                .iter_mut()
                .chain(&mut p.tangential)
                .chain(&mut p.valid)
            {
                *v = f()?;
            }
            let [lo, hi] = p.valid;
            if !(0.0 <= lo && lo < hi && hi <= 1.0) {
                return Err(Error::decode(format!(
                    "warp valid radii {lo}..{hi} (0 <= min < max <= 1)"
                )));
            }
            p
        } else {
            let kr = [f()?, f()?, f()?, f()?];
            WarpPlane::rectilinear(kr, [f()?, f()?])
        };
        planes.push(plane);
    }
    let (cx, cy) = centre(r)?;
    let reciprocal = second && r.u32()? != 0;
    Ok(WarpRectilinear {
        planes,
        cx,
        cy,
        reciprocal,
        second,
        fisheye: false,
    })
}

/// Reads a WarpFisheye payload: planes, per plane `kr0..kr3`, the centre.
fn fisheye(r: &mut Reader, size: usize) -> Result<WarpRectilinear> {
    let n = r.u32()?;
    if n == 0 || n > 4 {
        return Err(Error::decode(format!("warp for {n} planes (1..=4)")));
    }
    expect_size(size, 4 + 32 * u64::from(n) + 16)?;
    let mut planes = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let mut radial = [0.0; 15];
        for k in &mut radial[..4] {
            *k = r.finite_f64("warp coefficient")?;
        }
        planes.push(WarpPlane {
            radial,
            tangential: [0.0; 2],
            valid: [0.0, 1.0],
        });
    }
    let (cx, cy) = centre(r)?;
    Ok(WarpRectilinear {
        planes,
        cx,
        cy,
        reciprocal: false,
        second: false,
        fisheye: true,
    })
}

/// A warp's optical centre, relative to the image (0..1).
fn centre(r: &mut Reader) -> Result<(f64, f64)> {
    let cx = r.finite_f64("optical centre")?;
    let cy = r.finite_f64("optical centre")?;
    if !(0.0..=1.0).contains(&cx) || !(0.0..=1.0).contains(&cy) {
        return Err(Error::decode(format!(
            "optical centre ({cx}, {cy}) outside the image (0..1)"
        )));
    }
    Ok((cx, cy))
}

/// Reads a GainMap payload: area, map size, spacing, origin, planes and gains.
fn gain_map(r: &mut Reader, size: usize, limits: &Limits) -> Result<GainMap> {
    let area = area(r)?;
    let points_v = r.u32()?;
    let points_h = r.u32()?;
    let spacing_v = r.finite_f64("map spacing")?;
    let spacing_h = r.finite_f64("map spacing")?;
    let origin_v = r.finite_f64("map origin")?;
    let origin_h = r.finite_f64("map origin")?;
    let map_planes = r.u32()?;
    if points_v == 0 || points_h == 0 || map_planes == 0 {
        return Err(Error::decode(format!(
            "gain map of {points_v}x{points_h} points and {map_planes} planes"
        )));
    }
    if (points_v > 1 && spacing_v <= 0.0) || (points_h > 1 && spacing_h <= 0.0) {
        return Err(Error::decode("gain map spacing is not positive"));
    }
    let n = (points_v as u64)
        .checked_mul(points_h as u64)
        .and_then(|n| n.checked_mul(map_planes as u64))
        .filter(|&n| n <= u32::MAX as u64)
        .ok_or_else(|| Error::decode("gain map size overflows"))?;
    expect_size(size, AREA_BYTES + 44 + 4 * n)?;
    let mut gains = try_vec::<f32>(n as usize, limits)?;
    for g in &mut gains {
        *g = r.f32()?;
        if !g.is_finite() {
            return Err(Error::decode("gain is not a finite number"));
        }
    }
    Ok(GainMap {
        area,
        points_v,
        points_h,
        spacing_v,
        spacing_h,
        origin_v,
        origin_h,
        map_planes,
        gains,
    })
}

/// Writes an opcode list in the DNG format (the inverse of [`parse_list`]), e.g. to
/// synthesise test DNGs. [`Opcode::Unsupported`] is written with an empty payload.
pub fn serialize_list(list: &[Opcode]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(list.len() as u32).to_be_bytes());
    for op in list {
        let mut p = Payload(Vec::new());
        let mut flags = 0u32;
        match op {
            Opcode::FixVignetteRadial { k, cx, cy } => {
                k.iter().for_each(|&v| p.f64(v));
                p.f64(*cx);
                p.f64(*cy);
            }
            Opcode::FixBadPixelsConstant {
                constant,
                bayer_phase,
            } => {
                p.u32(*constant);
                p.u32(*bayer_phase);
            }
            Opcode::FixBadPixelsList {
                bayer_phase,
                points,
                rects,
            } => {
                p.u32(*bayer_phase);
                p.u32(points.len() as u32);
                p.u32(rects.len() as u32);
                points.iter().flatten().for_each(|&v| p.u32(v));
                rects.iter().flatten().for_each(|&v| p.u32(v));
            }
            Opcode::TrimBounds {
                top,
                left,
                bottom,
                right,
            } => [*top, *left, *bottom, *right]
                .iter()
                .for_each(|&v| p.u32(v)),
            Opcode::MapTable { area, table } => {
                p.area(area);
                p.u32(table.len() as u32);
                table
                    .iter()
                    .for_each(|&v| p.0.extend_from_slice(&v.to_be_bytes()));
            }
            Opcode::MapPolynomial { area, coefficients } => {
                p.area(area);
                p.u32(coefficients.len().saturating_sub(1) as u32);
                coefficients.iter().for_each(|&v| p.f64(v));
            }
            Opcode::GainMap(m) => {
                p.area(&m.area);
                p.u32(m.points_v);
                p.u32(m.points_h);
                p.f64(m.spacing_v);
                p.f64(m.spacing_h);
                p.f64(m.origin_v);
                p.f64(m.origin_h);
                p.u32(m.map_planes);
                m.gains.iter().for_each(|&g| p.f32(g));
            }
            Opcode::DeltaPerRow { area, deltas: v }
            | Opcode::DeltaPerColumn { area, deltas: v }
            | Opcode::ScalePerRow { area, scales: v }
            | Opcode::ScalePerColumn { area, scales: v } => {
                p.area(area);
                p.u32(v.len() as u32);
                v.iter().for_each(|&x| p.f32(x));
            }
            Opcode::WarpRectilinear(w) => {
                p.u32(w.planes.len() as u32);
                for plane in &w.planes {
                    if w.fisheye {
                        plane.radial[..4].iter().for_each(|&v| p.f64(v));
                    } else if w.second {
                        plane.radial.iter().for_each(|&v| p.f64(v));
                        plane.tangential.iter().for_each(|&v| p.f64(v));
                        plane.valid.iter().for_each(|&v| p.f64(v));
                    } else {
                        (0..4).for_each(|i| p.f64(plane.radial[2 * i]));
                        plane.tangential.iter().for_each(|&v| p.f64(v));
                    }
                }
                p.f64(w.cx);
                p.f64(w.cy);
                if w.second {
                    p.u32(u32::from(w.reciprocal));
                }
            }
            Opcode::Unsupported { optional, .. } => flags = *optional as u32,
        }
        out.extend_from_slice(&op.id().to_be_bytes());
        out.extend_from_slice(&VERSION_1_3.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&(p.0.len() as u32).to_be_bytes());
        out.extend_from_slice(&p.0);
    }
    out
}

/// A big-endian payload being written.
struct Payload(Vec<u8>);

impl Payload {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn area(&mut self, a: &AreaSpec) {
        for v in [
            a.top,
            a.left,
            a.bottom,
            a.right,
            a.plane,
            a.planes,
            a.row_pitch,
            a.col_pitch,
        ] {
            self.u32(v);
        }
    }
}
