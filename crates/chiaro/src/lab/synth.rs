//! Synthetic test data with known ground truth: mosaicking and a small DNG writer.
//!
//! The writer produces spec-conformant little-endian DNG 1.4 files holding one CFA image
//! (uncompressed or lossless-JPEG tiles) with the colour tags of a [`ColorCalibration`], so
//! tests and benchmarks can exercise the real reader and pipeline on scenes whose true
//! colours are known.

use crate::color::matrix::Mat3;
use crate::error::Result;
use crate::raw::{CfaPattern, ColorCalibration};

/// Samples one channel per site from interleaved RGB by the CFA pattern.
pub fn mosaic(rgb: &[f32], width: usize, height: usize, pattern: &CfaPattern) -> Vec<f32> {
    let mut out = vec![0.0; width * height];
    for y in 0..height {
        for x in 0..width {
            out[y * width + x] = rgb[(y * width + x) * 3 + pattern.color(y, x) as usize];
        }
    }
    out
}

/// How the samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// One strip of 16-bit samples.
    Uncompressed,
    /// Lossless-JPEG tiles of the given size (one component per tile, predictor 1).
    LosslessJpeg { tile: usize },
    /// One strip of 16-bit interleaved RGB as a LinearRaw (demosaiced) image: `samples`
    /// holds 3 values per pixel and the CFA pattern is not written.
    LinearRaw,
}

/// Everything the writer puts in the file.
#[derive(Debug, Clone)]
pub struct SynthDng {
    pub width: usize,
    pub height: usize,
    pub cfa: CfaPattern,
    /// Sensor DN, row-major.
    pub samples: Vec<u16>,
    pub bits: u8,
    pub black: u16,
    pub white: u16,
    pub color: ColorCalibration,
    /// Raw bytes of OpcodeList2 (big-endian opcode list), if any.
    pub opcode_list2: Option<Vec<u8>>,
    /// Raw bytes of OpcodeList3 (applied to demosaiced camera RGB), if any.
    pub opcode_list3: Option<Vec<u8>>,
    pub orientation: u16,
    pub make: String,
    pub model: String,
    pub storage: Storage,
}

/// A tag value in the file's own types.
enum Value {
    Byte(Vec<u8>),
    Ascii(String),
    Short(Vec<u16>),
    Long(Vec<u32>),
    Rational(Vec<(u32, u32)>),
    SRational(Vec<(i32, i32)>),
    Undefined(Vec<u8>),
    Float(Vec<f32>),
}

impl Value {
    fn encode(&self) -> (u16, u32, Vec<u8>) {
        match self {
            Value::Float(v) => (
                11,
                v.len() as u32,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            Value::Byte(v) => (1, v.len() as u32, v.clone()),
            Value::Ascii(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                (2, b.len() as u32, b)
            }
            Value::Short(v) => (
                3,
                v.len() as u32,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            Value::Long(v) => (
                4,
                v.len() as u32,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            Value::Rational(v) => (
                5,
                v.len() as u32,
                v.iter()
                    .flat_map(|(n, d)| [n.to_le_bytes(), d.to_le_bytes()].concat())
                    .collect(),
            ),
            Value::SRational(v) => (
                10,
                v.len() as u32,
                v.iter()
                    .flat_map(|(n, d)| [n.to_le_bytes(), d.to_le_bytes()].concat())
                    .collect(),
            ),
            Value::Undefined(v) => (7, v.len() as u32, v.clone()),
        }
    }
}

fn srational(v: f64) -> (i32, i32) {
    ((v * 1_000_000.0).round() as i32, 1_000_000)
}

fn urational(v: f64) -> (u32, u32) {
    ((v * 1_000_000.0).round().max(0.0) as u32, 1_000_000)
}

fn mat_value(m: &Mat3) -> Value {
    Value::SRational(m.iter().flatten().map(|&v| srational(v)).collect())
}

/// The embedded profile's tags (HueSatMap, LookTable, tone curve) of `p`; with any table,
/// DefaultBlackRender "none" too: chiaro adds no black of its own when it renders, so a
/// reader such as the DNG SDK should not either.
fn profile_tags(p: &crate::color::profile::ProfileTables, tags: &mut Vec<(u16, Value)>) {
    use crate::color::profile::HsvMap;
    use crate::raw::dcp as d;
    let dims = |m: &HsvMap| Value::Long(m.dims().map(|v| v as u32).to_vec());
    let data = |m: &HsvMap| Value::Float(m.entries().iter().flatten().copied().collect());
    let encoding = |m: &HsvMap| Value::Long(vec![u32::from(m.srgb_value())]);
    if let Some(m) = p.hue_sat_map1.as_ref().or(p.hue_sat_map2.as_ref()) {
        tags.push((d::HUE_SAT_MAP_DIMS, dims(m)));
        tags.push((d::HUE_SAT_MAP_ENCODING, encoding(m)));
    }
    if let Some(m) = &p.hue_sat_map1 {
        tags.push((d::HUE_SAT_MAP_DATA1, data(m)));
    }
    if let Some(m) = &p.hue_sat_map2 {
        tags.push((d::HUE_SAT_MAP_DATA2, data(m)));
    }
    if let Some(m) = &p.look_table {
        tags.push((d::LOOK_TABLE_DIMS, dims(m)));
        tags.push((d::LOOK_TABLE_DATA, data(m)));
        tags.push((d::LOOK_TABLE_ENCODING, encoding(m)));
    }
    if let Some(c) = &p.tone_curve {
        let flat = c.points().iter().flat_map(|&(x, y)| [x, y]).collect();
        tags.push((d::TONE_CURVE, Value::Float(flat)));
    }
    if *p != crate::color::profile::ProfileTables::default() {
        tags.push((DEFAULT_BLACK_RENDER, Value::Long(vec![1])));
    }
}

/// DefaultBlackRender (DNG 1.4): 0 auto, 1 none.
const DEFAULT_BLACK_RENDER: u16 = 51110;

/// Serialises a DNG file.
pub fn write_dng(s: &SynthDng) -> Result<Vec<u8>> {
    use crate::raw::tiff::tag as t;
    let (pw, ph) = (s.cfa.width(), s.cfa.height());
    let pattern: Vec<u8> = (0..pw * ph).map(|i| s.cfa.color(i / pw, i % pw)).collect();
    // Pixel pieces.
    let (pieces, piece_w, piece_h): (Vec<Vec<u8>>, usize, usize) = match s.storage {
        Storage::Uncompressed | Storage::LinearRaw => (
            vec![s.samples.iter().flat_map(|v| v.to_le_bytes()).collect()],
            s.width,
            s.height,
        ),
        Storage::LosslessJpeg { tile } => {
            let mut out = Vec::new();
            for ty in (0..s.height).step_by(tile) {
                for tx in (0..s.width).step_by(tile) {
                    let mut buf = vec![0u16; tile * tile];
                    for y in 0..tile {
                        for x in 0..tile {
                            // Edge tiles repeat the last sample, as writers commonly pad.
                            let (sy, sx) = ((ty + y).min(s.height - 1), (tx + x).min(s.width - 1));
                            buf[y * tile + x] = s.samples[sy * s.width + sx];
                        }
                    }
                    out.push(crate::raw::dng::ljpeg::encode(
                        &buf, tile, tile, 1, s.bits, 1,
                    )?);
                }
            }
            (out, tile, tile)
        }
    };

    let c = &s.color;
    let linear = s.storage == Storage::LinearRaw;
    let compressed = matches!(s.storage, Storage::LosslessJpeg { .. });
    let spp: u16 = if linear { 3 } else { 1 };
    let mut tags: Vec<(u16, Value)> = vec![
        (t::NEW_SUBFILE_TYPE, Value::Long(vec![0])),
        (t::IMAGE_WIDTH, Value::Long(vec![s.width as u32])),
        (t::IMAGE_LENGTH, Value::Long(vec![s.height as u32])),
        (
            t::BITS_PER_SAMPLE,
            Value::Short(vec![
                if compressed { u16::from(s.bits) } else { 16 };
                spp.into()
            ]),
        ),
        (
            t::COMPRESSION,
            Value::Short(vec![if compressed { 7 } else { 1 }]),
        ),
        (
            t::PHOTOMETRIC,
            Value::Short(vec![if linear { 34892 } else { 32803 }]),
        ),
        (t::MAKE, Value::Ascii(s.make.clone())),
        (t::MODEL, Value::Ascii(s.model.clone())),
        (t::ORIENTATION, Value::Short(vec![s.orientation])),
        (t::SAMPLES_PER_PIXEL, Value::Short(vec![spp])),
        (t::DNG_VERSION, Value::Byte(vec![1, 4, 0, 0])),
        (
            t::UNIQUE_CAMERA_MODEL,
            Value::Ascii(format!("{} {}", s.make, s.model)),
        ),
        (t::BLACK_LEVEL, Value::Long(vec![u32::from(s.black)])),
        (t::WHITE_LEVEL, Value::Long(vec![u32::from(s.white)])),
        (
            t::BASELINE_EXPOSURE,
            Value::SRational(vec![srational(c.baseline_exposure)]),
        ),
    ];
    if !linear {
        tags.push((
            t::CFA_REPEAT_PATTERN_DIM,
            Value::Short(vec![ph as u16, pw as u16]),
        ));
        tags.push((t::CFA_PATTERN, Value::Byte(pattern)));
        tags.push((t::CFA_PLANE_COLOR, Value::Byte(vec![0, 1, 2])));
        tags.push((t::CFA_LAYOUT, Value::Short(vec![1])));
    }
    if !compressed {
        tags.push((t::STRIP_OFFSETS, Value::Long(vec![0])));
        tags.push((t::ROWS_PER_STRIP, Value::Long(vec![s.height as u32])));
        tags.push((
            t::STRIP_BYTE_COUNTS,
            Value::Long(vec![pieces[0].len() as u32]),
        ));
    } else {
        tags.push((t::TILE_WIDTH, Value::Long(vec![piece_w as u32])));
        tags.push((t::TILE_LENGTH, Value::Long(vec![piece_h as u32])));
        tags.push((t::TILE_OFFSETS, Value::Long(vec![0; pieces.len()])));
        tags.push((
            t::TILE_BYTE_COUNTS,
            Value::Long(pieces.iter().map(|p| p.len() as u32).collect()),
        ));
    }
    for (tag, m) in [
        (t::COLOR_MATRIX1, c.color_matrix1),
        (t::COLOR_MATRIX2, c.color_matrix2),
        (t::FORWARD_MATRIX1, c.forward_matrix1),
        (t::FORWARD_MATRIX2, c.forward_matrix2),
        (t::CAMERA_CALIBRATION1, c.camera_calibration1),
        (t::CAMERA_CALIBRATION2, c.camera_calibration2),
    ] {
        if let Some(m) = m {
            tags.push((tag, mat_value(&m)));
        }
    }
    if c.color_matrix1.is_some() {
        tags.push((
            t::CALIBRATION_ILLUMINANT1,
            Value::Short(vec![c.illuminant1]),
        ));
    }
    if c.color_matrix2.is_some() {
        tags.push((
            t::CALIBRATION_ILLUMINANT2,
            Value::Short(vec![c.illuminant2]),
        ));
    }
    if let Some(n) = c.as_shot_neutral {
        tags.push((
            t::AS_SHOT_NEUTRAL,
            Value::Rational(n.iter().map(|&v| urational(v)).collect()),
        ));
    }
    if let Some(ab) = c.analog_balance {
        tags.push((
            t::ANALOG_BALANCE,
            Value::Rational(ab.iter().map(|&v| urational(v)).collect()),
        ));
    }
    profile_tags(&c.profile, &mut tags);
    if let Some(list) = &s.opcode_list2 {
        tags.push((t::OPCODE_LIST2, Value::Undefined(list.clone())));
    }
    if let Some(list) = &s.opcode_list3 {
        tags.push((t::OPCODE_LIST3, Value::Undefined(list.clone())));
    }
    tags.sort_by_key(|(tag, _)| *tag);

    // Layout: header, IFD, out-of-line values, pixel pieces.
    let ifd_size = 2 + 12 * tags.len() + 4;
    let mut extra: Vec<u8> = Vec::new();
    let extra_start = 8 + ifd_size;
    let encoded: Vec<(u16, u16, u32, Vec<u8>)> = tags
        .iter()
        .map(|(tag, v)| {
            let (ty, n, b) = v.encode();
            (*tag, ty, n, b)
        })
        .collect();
    let mut entry_values: Vec<[u8; 4]> = Vec::new();
    for (_, _, _, b) in &encoded {
        if b.len() <= 4 {
            let mut a = [0u8; 4];
            a[..b.len()].copy_from_slice(b);
            entry_values.push(a);
        } else {
            if extra.len() % 2 == 1 {
                extra.push(0);
            }
            entry_values.push(((extra_start + extra.len()) as u32).to_le_bytes());
            extra.extend_from_slice(b);
        }
    }
    let mut data_start = extra_start + extra.len();
    let mut offsets = Vec::new();
    for p in &pieces {
        offsets.push(data_start as u32);
        data_start += p.len();
    }
    // Fill in the strip/tile offsets, written as zeros above before the layout was known.
    let offsets_tag = if !compressed {
        t::STRIP_OFFSETS
    } else {
        t::TILE_OFFSETS
    };
    let offsets_bytes: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
    for (i, (tag, _, _, b)) in encoded.iter().enumerate() {
        if *tag == offsets_tag {
            if b.len() <= 4 {
                entry_values[i].copy_from_slice(&offsets_bytes[..4]);
            } else {
                let at = u32::from_le_bytes(entry_values[i]) as usize - extra_start;
                extra[at..at + offsets_bytes.len()].copy_from_slice(&offsets_bytes);
            }
        }
    }

    let mut out = Vec::with_capacity(data_start);
    out.extend_from_slice(b"II*\0");
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(encoded.len() as u16).to_le_bytes());
    for ((tag, ty, n, _), v) in encoded.iter().zip(&entry_values) {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(v);
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&extra);
    for p in &pieces {
        out.extend_from_slice(p);
    }
    Ok(out)
}
