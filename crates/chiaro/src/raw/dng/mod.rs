//! chiaro's own DNG reader (Adobe DNG specification 1.7).
//!
//! Owning the phone format keeps the core permissively licensed and lets every size be
//! checked before anything is allocated. Supports strips and tiles, uncompressed data of 8 to
//! 16 bits (packed or not) and lossless JPEG ([`ljpeg`], ITU T.81 process 14), CFA and
//! LinearRaw images, and all the tags the pipeline needs (chapter 4 and 6), including opcode
//! lists (chapter 7).

pub mod ljpeg;
#[cfg(any(test, feature = "test-support"))]
mod ljpeg_encode;
pub mod opcodes;

use rayon::prelude::*;

use super::tiff::{Ifd, TiffFile, tag};
use super::{BlackLevel, CfaPattern, ColorCalibration, ExifInfo, OpcodeLists, RawImage};
use crate::color::matrix::{self, Mat3};
use crate::error::{Error, Result};
use crate::image::Rect;
use crate::limits::{Limits, try_vec_par};

const PHOTOMETRIC_CFA: u64 = 32803;
const PHOTOMETRIC_LINEAR_RAW: u64 = 34892;

/// True when the bytes are a TIFF file whose first IFD carries a DNGVersion tag (readable
/// or damaged: a damaged one still makes the file a (damaged) DNG).
pub fn is_dng(bytes: &[u8]) -> bool {
    TiffFile::parse(bytes).is_ok_and(|t| TiffFile::has_tag(&t.chain[0], tag::DNG_VERSION))
}

/// Decodes the main raw image of a DNG file.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<RawImage> {
    let tiff = TiffFile::parse(bytes)?;
    let ifd0 = &tiff.chain[0];
    check_dng_version(ifd0)?;
    let raw = find_raw_ifd(&tiff)?;
    let mut warnings = Vec::new();

    let width = tiff.uint(raw, tag::IMAGE_WIDTH)?.unwrap_or(0) as usize;
    let height = tiff.uint(raw, tag::IMAGE_LENGTH)?.unwrap_or(0) as usize;
    let spp = tiff.uint(raw, tag::SAMPLES_PER_PIXEL)?.unwrap_or(1) as usize;
    let photometric = tiff.uint(raw, tag::PHOTOMETRIC)?.unwrap_or(0);
    if photometric == PHOTOMETRIC_CFA && spp != 1 {
        return Err(Error::unsupported(format!(
            "CFA image with {spp} samples per pixel"
        )));
    }
    if photometric == PHOTOMETRIC_LINEAR_RAW && spp != 3 {
        return Err(Error::unsupported(format!(
            "LinearRaw image with {spp} samples per pixel"
        )));
    }
    limits.check_image(width, height, spp)?;
    let data = read_samples(&tiff, raw, width, height, spp, limits)?;

    let cfa = if photometric == PHOTOMETRIC_CFA {
        read_cfa(&tiff, raw)?
    } else {
        CfaPattern::bayer("RGGB")?
    };

    let bps = tiff
        .uint(raw, tag::BITS_PER_SAMPLE)?
        .unwrap_or(16)
        .clamp(1, 16) as u32;
    let linearization = match tiff.uints(raw, tag::LINEARIZATION_TABLE)? {
        Some(t) if !t.is_empty() => Some(
            t.into_iter()
                .map(|v| v.min(65535) as u16)
                .collect::<Vec<u16>>(),
        ),
        _ => None,
    };
    let default_white = match &linearization {
        Some(t) => t.iter().copied().max().map_or(65535.0, f32::from),
        None => ((1u64 << bps) - 1) as f32,
    };
    let white = match tiff.numbers(raw, tag::WHITE_LEVEL)? {
        Some(w) if w.len() >= spp => w[..spp].iter().map(|&v| v as f32).collect(),
        Some(w) if !w.is_empty() => vec![w[0] as f32; spp],
        _ => vec![default_white; spp],
    };

    let active_area = match tiff.numbers(raw, tag::ACTIVE_AREA)? {
        Some(a) if a.len() == 4 => {
            let (t, l, b, r) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
            if b <= t || r <= l || b > height || r > width {
                return Err(Error::decode(format!(
                    "ActiveArea {a:?} lies outside the image"
                )));
            }
            Rect::new(l, t, r - l, b - t)
        }
        _ => Rect::new(0, 0, width, height),
    };
    let black = read_black(&tiff, raw, spp, &active_area)?;
    let default_crop = read_crop(&tiff, raw, &active_area, &mut warnings)?;
    if let Some(s) = tiff.numbers(raw, tag::DEFAULT_SCALE_TAG)? {
        if s.len() == 2 && (s[0] - s[1]).abs() > 1e-6 {
            warnings.push(format!(
                "non-square pixels (DefaultScale {s:?}) are not resampled"
            ));
        }
    }

    let orientation = tiff
        .uint(ifd0, tag::ORIENTATION)?
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1) as u16;
    let mut color = read_color(&tiff, ifd0, raw)?;
    // The embedded profile's tables are optional: damaged ones are left out with a warning
    // (the matrices still develop the file).
    match crate::raw::dcp::read_tables(&tiff, ifd0) {
        Ok(t) => color.profile = t,
        Err(e) => warnings.push(format!("embedded camera profile tables ignored: {e}")),
    }
    let opcodes = OpcodeLists {
        list1: read_opcodes(&tiff, raw, tag::OPCODE_LIST1, limits, &mut warnings)?,
        list2: read_opcodes(&tiff, raw, tag::OPCODE_LIST2, limits, &mut warnings)?,
        list3: read_opcodes(&tiff, raw, tag::OPCODE_LIST3, limits, &mut warnings)?,
    };
    let noise_profile = tiff
        .numbers(raw, tag::NOISE_PROFILE)?
        .or(tiff.numbers(ifd0, tag::NOISE_PROFILE)?)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|p| (p[0], p[1]))
        .collect();

    let image = RawImage {
        width,
        height,
        samples_per_pixel: spp,
        data,
        cfa,
        linearization,
        black,
        white,
        active_area,
        default_crop,
        orientation,
        color,
        opcodes,
        noise_profile,
        exif: read_exif(&tiff, ifd0),
        format: "DNG".into(),
        warnings,
    };
    image.validate()?;
    Ok(image)
}

/// DNGVersion is four BYTEs (DNG 1.7, section 4.1); anything else is a damaged DNG.
fn check_dng_version(ifd0: &Ifd) -> Result<()> {
    let entry = match (
        ifd0.entries.get(&tag::DNG_VERSION),
        ifd0.damaged.get(&tag::DNG_VERSION),
    ) {
        (Some(e), _) | (None, Some(e)) => e,
        (None, None) => {
            return Err(Error::decode(
                "TIFF file without a DNGVersion tag is not a DNG",
            ));
        }
    };
    if entry.typ != 1 || entry.count != 4 {
        return Err(Error::decode(format!(
            "damaged DNG: the DNGVersion tag has type {} and {} values, expected 4 BYTEs",
            entry.typ, entry.count
        )));
    }
    Ok(())
}

/// The full-resolution raw IFD: NewSubFileType 0 with a CFA or LinearRaw photometric; the
/// largest when several qualify.
fn find_raw_ifd<'t>(tiff: &'t TiffFile) -> Result<&'t Ifd> {
    let mut best: Option<(&Ifd, u64)> = None;
    for ifd in tiff.chain.iter().chain(tiff.sub_ifds.iter()) {
        let subfile = tiff.uint(ifd, tag::NEW_SUBFILE_TYPE)?.unwrap_or(0);
        let photometric = tiff.uint(ifd, tag::PHOTOMETRIC)?.unwrap_or(0);
        if subfile != 0 || !matches!(photometric, PHOTOMETRIC_CFA | PHOTOMETRIC_LINEAR_RAW) {
            continue;
        }
        let w = tiff.uint(ifd, tag::IMAGE_WIDTH)?.unwrap_or(0);
        let h = tiff.uint(ifd, tag::IMAGE_LENGTH)?.unwrap_or(0);
        let area = w.saturating_mul(h);
        if best.is_none_or(|(_, best_area)| area > best_area) {
            best = Some((ifd, area));
        }
    }
    best.map(|(i, _)| i)
        .ok_or_else(|| Error::unsupported("DNG has no CFA or LinearRaw main image"))
}

/// How the samples are split into independently stored pieces (strips or tiles).
struct Layout {
    piece_w: usize,
    piece_h: usize,
    across: usize,
    offsets: Vec<u64>,
    counts: Vec<u64>,
}

fn layout(
    tiff: &TiffFile,
    ifd: &Ifd,
    width: usize,
    height: usize,
    limits: &Limits,
) -> Result<Layout> {
    let (piece_w, piece_h, offsets, counts) = if let Some(tw) = tiff.uint(ifd, tag::TILE_WIDTH)? {
        let th = tiff
            .uint(ifd, tag::TILE_LENGTH)?
            .ok_or_else(|| Error::decode("TileWidth without TileLength"))?;
        let off = tiff
            .uints(ifd, tag::TILE_OFFSETS)?
            .ok_or_else(|| Error::decode("tiles without TileOffsets"))?;
        let cnt = tiff
            .uints(ifd, tag::TILE_BYTE_COUNTS)?
            .ok_or_else(|| Error::decode("tiles without TileByteCounts"))?;
        (tw as usize, th as usize, off, cnt)
    } else {
        let rps = tiff
            .uint(ifd, tag::ROWS_PER_STRIP)?
            .unwrap_or(height as u64)
            .min(height as u64) as usize;
        let off = tiff
            .uints(ifd, tag::STRIP_OFFSETS)?
            .ok_or_else(|| Error::decode("image without StripOffsets"))?;
        let cnt = tiff
            .uints(ifd, tag::STRIP_BYTE_COUNTS)?
            .ok_or_else(|| Error::decode("strips without StripByteCounts"))?;
        (width, rps, off, cnt)
    };
    if piece_w == 0
        || piece_h == 0
        || piece_w > limits.max_dimension
        || piece_h > limits.max_dimension
    {
        return Err(Error::decode(format!(
            "tile or strip size {piece_w}x{piece_h} is invalid"
        )));
    }
    let across = width.div_ceil(piece_w);
    let needed = across * height.div_ceil(piece_h);
    if needed > limits.max_tiles {
        return Err(Error::limits(format!("{needed} tiles or strips")));
    }
    if offsets.len() < needed || counts.len() < needed {
        return Err(Error::decode(format!(
            "image needs {needed} tiles or strips but the file lists {}",
            offsets.len().min(counts.len())
        )));
    }
    for (i, (&o, &c)) in offsets.iter().zip(&counts).take(needed).enumerate() {
        if o.checked_add(c)
            .is_none_or(|end| end > tiff.data.len() as u64)
        {
            return Err(Error::decode(format!(
                "tile or strip {i} ends past the end of the file"
            )));
        }
    }
    Ok(Layout {
        piece_w,
        piece_h,
        across,
        offsets,
        counts,
    })
}

/// Reads all pixel samples of the raw IFD into a `width * height * spp` buffer. Pieces are
/// decoded in parallel, one band of pieces per task.
fn read_samples(
    tiff: &TiffFile,
    ifd: &Ifd,
    width: usize,
    height: usize,
    spp: usize,
    limits: &Limits,
) -> Result<Vec<u16>> {
    let compression = tiff.uint(ifd, tag::COMPRESSION)?.unwrap_or(1);
    let bps = tiff.uint(ifd, tag::BITS_PER_SAMPLE)?.unwrap_or(16) as u32;
    if tiff.uint(ifd, tag::SAMPLE_FORMAT)?.is_some_and(|f| f == 3) {
        return Err(Error::unsupported("floating-point DNG samples"));
    }
    if spp > 1
        && tiff
            .uint(ifd, tag::PLANAR_CONFIGURATION)?
            .is_some_and(|p| p != 1)
    {
        return Err(Error::unsupported(
            "planar (non-interleaved) LinearRaw samples",
        ));
    }
    match compression {
        1 if (1..=16).contains(&bps) => {}
        7 => {}
        1 => {
            return Err(Error::unsupported(format!(
                "{bps}-bit uncompressed samples"
            )));
        }
        8 | 32946 => return Err(Error::unsupported("Deflate-compressed DNG")),
        34892 => return Err(Error::unsupported("lossy JPEG DNG")),
        52546 => return Err(Error::unsupported("JPEG XL DNG")),
        c => return Err(Error::unsupported(format!("DNG compression {c}"))),
    }
    let lay = layout(tiff, ifd, width, height, limits)?;
    check_piece_sizes(&lay, tiff.data.len(), compression, bps, spp, height)?;
    let row_len = width * spp;
    let mut out = try_vec_par::<u16>(limits.check_image(width, height, spp)?, limits)?;
    let band = row_len * lay.piece_h;
    out.par_chunks_mut(band)
        .enumerate()
        .try_for_each(|(band_index, rows)| {
            let band_rows = rows.len() / row_len;
            for col in 0..lay.across {
                let i = band_index * lay.across + col;
                let piece =
                    &tiff.data[lay.offsets[i] as usize..(lay.offsets[i] + lay.counts[i]) as usize];
                let x0 = col * lay.piece_w;
                let w = lay.piece_w.min(width - x0);
                if compression == 7 {
                    let frame = ljpeg::decode(piece, limits).map_err(|e| with_piece(e, i))?;
                    let flat = &frame.samples;
                    let stride = lay.piece_w * spp;
                    if flat.len() < stride * (band_rows - 1) + w * spp {
                        return Err(Error::decode(format!(
                            "tile {i}: JPEG frame smaller than the tile"
                        )));
                    }
                    for y in 0..band_rows {
                        let src = &flat[y * stride..y * stride + w * spp];
                        rows[y * row_len + x0 * spp..y * row_len + (x0 + w) * spp]
                            .copy_from_slice(src);
                    }
                } else {
                    unpack(
                        piece,
                        bps,
                        tiff.endian,
                        lay.piece_w * spp,
                        band_rows,
                        w * spp,
                        |y, s| {
                            rows[y * row_len + x0 * spp..y * row_len + (x0 + w) * spp]
                                .copy_from_slice(s)
                        },
                    )
                    .map_err(|e| with_piece(e, i))?;
                }
            }
            Ok(())
        })?;
    Ok(out)
}

/// Refuses, before the image buffer is allocated, pieces too small for the samples they
/// must hold: an uncompressed piece needs all its rows, a lossless-JPEG piece at least one
/// bit per sample (the shortest Huffman code). The pieces must also fit in the file
/// together, so a tiny file cannot claim a huge image by pointing every strip at the same
/// bytes (a 47 KB file claiming 20000x20000 would otherwise allocate 800 MB first).
fn check_piece_sizes(
    lay: &Layout,
    file_len: usize,
    compression: u64,
    bps: u32,
    spp: usize,
    height: usize,
) -> Result<()> {
    let stride = lay.piece_w as u64 * spp as u64;
    let mut total: u64 = 0;
    for band in 0..height.div_ceil(lay.piece_h) {
        let rows = lay.piece_h.min(height - band * lay.piece_h) as u64;
        let need = if compression == 7 {
            (stride * rows).div_ceil(8)
        } else {
            (stride * u64::from(bps)).div_ceil(8) * rows
        };
        for col in 0..lay.across {
            let i = band * lay.across + col;
            let have = lay.counts[i];
            if have < need {
                return Err(Error::decode(format!(
                    "tile or strip {i} holds {have} bytes but its {rows} rows need at least \
                     {need} (file truncated?)"
                )));
            }
            total = total.saturating_add(need);
        }
    }
    if total > file_len as u64 {
        return Err(Error::decode(format!(
            "the image needs at least {total} bytes of tiles or strips but the file holds \
             {file_len} bytes (overlapping pieces?)"
        )));
    }
    Ok(())
}

fn with_piece(e: Error, i: usize) -> Error {
    Error::new(e.kind(), format!("tile or strip {i}: {}", e.message()))
}

/// Unpacks `rows` rows of uncompressed samples (`stride` samples per stored row, rows
/// byte-aligned as TIFF requires), handing the first `keep` samples of each row to `put`.
fn unpack(
    piece: &[u8],
    bps: u32,
    endian: super::tiff::Endian,
    stride: usize,
    rows: usize,
    keep: usize,
    mut put: impl FnMut(usize, &[u16]),
) -> Result<()> {
    let row_bytes = (stride * bps as usize).div_ceil(8);
    if piece.len() < row_bytes * rows {
        return Err(Error::decode(format!(
            "holds {} bytes but {rows} rows of {row_bytes} bytes are needed (file truncated?)",
            piece.len()
        )));
    }
    let mut buf = vec![0u16; keep];
    for (y, row) in piece.chunks_exact(row_bytes).take(rows).enumerate() {
        match bps {
            16 => {
                for (d, s) in buf.iter_mut().zip(row.chunks_exact(2)) {
                    *d = match endian {
                        super::tiff::Endian::Little => u16::from_le_bytes([s[0], s[1]]),
                        super::tiff::Endian::Big => u16::from_be_bytes([s[0], s[1]]),
                    };
                }
            }
            8 => buf
                .iter_mut()
                .zip(row)
                .for_each(|(d, &s)| *d = u16::from(s)),
            _ => {
                // DNG packs other depths MSB-first (TIFF FillOrder 1) regardless of byte order.
                let mut acc: u64 = 0;
                let mut nbits = 0;
                let mut bytes = row.iter();
                for d in buf.iter_mut() {
                    while nbits < bps {
                        acc = (acc << 8) | u64::from(*bytes.next().unwrap_or(&0));
                        nbits += 8;
                    }
                    nbits -= bps;
                    *d = ((acc >> nbits) & ((1 << bps) - 1)) as u16;
                }
            }
        }
        put(y, &buf);
    }
    Ok(())
}

fn read_cfa(tiff: &TiffFile, ifd: &Ifd) -> Result<CfaPattern> {
    let dim = tiff
        .numbers(ifd, tag::CFA_REPEAT_PATTERN_DIM)?
        .unwrap_or_else(|| vec![2.0, 2.0]);
    let pattern = tiff
        .numbers(ifd, tag::CFA_PATTERN)?
        .ok_or_else(|| Error::decode("CFA image without a CFAPattern tag"))?;
    if dim.len() != 2 {
        return Err(Error::decode("CFARepeatPatternDim must have two values"));
    }
    let (rows, cols) = (dim[0] as usize, dim[1] as usize);
    if tiff.uint(ifd, tag::CFA_LAYOUT)?.is_some_and(|l| l != 1) {
        return Err(Error::unsupported("non-rectangular CFA layout"));
    }
    let plane_colors = tiff
        .numbers(ifd, tag::CFA_PLANE_COLOR)?
        .unwrap_or_else(|| vec![0.0, 1.0, 2.0]);
    if rows > 6 || cols > 6 || pattern.len() != rows * cols {
        return Err(Error::unsupported(format!(
            "CFA pattern of {rows}x{cols} with {} values",
            pattern.len()
        )));
    }
    let colors = pattern
        .iter()
        .map(|&p| {
            plane_colors
                .get(p as usize)
                .filter(|&&c| c <= 2.0)
                .map(|&c| c as u8)
                .ok_or_else(|| {
                    Error::unsupported("CFA with colours other than red, green and blue")
                })
        })
        .collect::<Result<Vec<u8>>>()?;
    CfaPattern::new(cols, rows, &colors)
}

fn read_black(tiff: &TiffFile, ifd: &Ifd, spp: usize, active: &Rect) -> Result<BlackLevel> {
    let dim = tiff
        .numbers(ifd, tag::BLACK_LEVEL_REPEAT_DIM)?
        .unwrap_or_else(|| vec![1.0, 1.0]);
    let (rows, cols) = match dim.as_slice() {
        [r, c] if (1.0..=8.0).contains(r) && (1.0..=8.0).contains(c) => (*r as usize, *c as usize),
        _ => {
            return Err(Error::decode(format!(
                "BlackLevelRepeatDim {dim:?} is invalid"
            )));
        }
    };
    let values = match tiff.numbers(ifd, tag::BLACK_LEVEL)? {
        // Values are stored per (row, col, sample). LinearRaw planes share one black level
        // per site, the mean over their samples (a known simplification for LinearRaw).
        Some(v) if v.len() == rows * cols * spp => v
            .chunks_exact(spp)
            .map(|s| (s.iter().sum::<f64>() / spp as f64) as f32)
            .collect(),
        Some(v) if v.len() == 1 => vec![v[0] as f32; rows * cols],
        Some(v) => {
            return Err(Error::decode(format!(
                "BlackLevel has {} values, expected {}",
                v.len(),
                rows * cols * spp
            )));
        }
        None => vec![0.0; rows * cols],
    };
    let delta = |t, n: usize| -> Result<Vec<f32>> {
        Ok(match tiff.numbers_capped(ifd, t, 1 << 17)? {
            Some(d) if d.len() == n => d.iter().map(|&x| x as f32).collect(),
            Some(_) => {
                return Err(Error::decode(
                    "BlackLevelDelta count does not match the active area",
                ));
            }
            None => vec![],
        })
    };
    Ok(BlackLevel {
        repeat_rows: rows,
        repeat_cols: cols,
        values,
        delta_h: delta(tag::BLACK_LEVEL_DELTA_H, active.width)?,
        delta_v: delta(tag::BLACK_LEVEL_DELTA_V, active.height)?,
    })
}

fn read_crop(
    tiff: &TiffFile,
    ifd: &Ifd,
    active: &Rect,
    warnings: &mut Vec<String>,
) -> Result<Rect> {
    let full = Rect::new(0, 0, active.width, active.height);
    let origin = tiff.numbers(ifd, tag::DEFAULT_CROP_ORIGIN)?;
    let size = tiff.numbers(ifd, tag::DEFAULT_CROP_SIZE)?;
    let (Some(o), Some(s)) = (origin, size) else {
        return Ok(full);
    };
    if o.len() != 2 || s.len() != 2 {
        return Ok(full);
    }
    let r = Rect::new(
        o[0].max(0.0).round() as usize,
        o[1].max(0.0).round() as usize,
        s[0].round() as usize,
        s[1].round() as usize,
    );
    if r.fits_in(active.width, active.height) {
        Ok(r)
    } else {
        warnings.push(format!(
            "default crop {r:?} lies outside the active area; not cropping"
        ));
        Ok(full)
    }
}

fn mat(tiff: &TiffFile, ifd: &Ifd, t: u16) -> Result<Option<Mat3>> {
    Ok(match tiff.numbers(ifd, t)? {
        Some(v) if v.len() == 9 => matrix::from_slice(&v),
        // Three values describe a one-plane (monochrome) camera, which is not supported.
        _ => None,
    })
}

fn vec3(tiff: &TiffFile, ifd: &Ifd, t: u16) -> Result<Option<[f64; 3]>> {
    Ok(tiff
        .numbers(ifd, t)?
        .filter(|v| v.len() == 3 && v.iter().all(|x| x.is_finite() && *x > 0.0))
        .map(|v| [v[0], v[1], v[2]]))
}

/// Colour tags live in IFD0 (DNG 1.7 section 4); some writers put them in the raw IFD.
fn read_color(tiff: &TiffFile, ifd0: &Ifd, raw: &Ifd) -> Result<ColorCalibration> {
    let get = |t| -> Result<Option<Mat3>> { Ok(mat(tiff, ifd0, t)?.or(mat(tiff, raw, t)?)) };
    let illuminant =
        |t| -> Result<u16> { Ok(tiff.uint(ifd0, t)?.unwrap_or(0).min(u16::MAX as u64) as u16) };
    Ok(ColorCalibration {
        color_matrix1: get(tag::COLOR_MATRIX1)?,
        color_matrix2: get(tag::COLOR_MATRIX2)?,
        forward_matrix1: get(tag::FORWARD_MATRIX1)?,
        forward_matrix2: get(tag::FORWARD_MATRIX2)?,
        camera_calibration1: get(tag::CAMERA_CALIBRATION1)?,
        camera_calibration2: get(tag::CAMERA_CALIBRATION2)?,
        illuminant1: illuminant(tag::CALIBRATION_ILLUMINANT1)?,
        illuminant2: illuminant(tag::CALIBRATION_ILLUMINANT2)?,
        analog_balance: vec3(tiff, ifd0, tag::ANALOG_BALANCE)?,
        as_shot_neutral: vec3(tiff, ifd0, tag::AS_SHOT_NEUTRAL)?,
        as_shot_white_xy: tiff
            .numbers(ifd0, tag::AS_SHOT_WHITE_XY)?
            .filter(|v| v.len() == 2)
            .map(|v| [v[0], v[1]]),
        baseline_exposure: tiff
            .number(ifd0, tag::BASELINE_EXPOSURE)?
            .filter(|v| v.is_finite())
            // A hostile value would turn every pixel to infinity: keep it within +-10 EV.
            .map_or(0.0, |v| v.clamp(-10.0, 10.0)),
        profile: Default::default(),
    })
}

fn read_opcodes(
    tiff: &TiffFile,
    ifd: &Ifd,
    t: u16,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<Vec<opcodes::Opcode>> {
    match tiff.blob(ifd, t) {
        None => Ok(vec![]),
        Some(bytes) => opcodes::parse_list(bytes, limits).or_else(|e| {
            warnings.push(format!("opcode list {t} ignored: {}", e.message()));
            Ok(vec![])
        }),
    }
}

/// EXIF facts from the Exif IFD, falling back to IFD0 where writers put them there.
fn read_exif(tiff: &TiffFile, ifd0: &Ifd) -> ExifInfo {
    let exif = tiff.exif.as_ref();
    let text = |t| {
        exif.and_then(|e| tiff.text(e, t))
            .or_else(|| tiff.text(ifd0, t))
    };
    let num = |t| {
        exif.and_then(|e| tiff.number(e, t).ok().flatten())
            .or_else(|| tiff.number(ifd0, t).ok().flatten())
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    ExifInfo {
        make: tiff.text(ifd0, tag::MAKE),
        model: tiff
            .text(ifd0, tag::MODEL)
            .or_else(|| tiff.text(ifd0, tag::UNIQUE_CAMERA_MODEL)),
        lens_make: text(tag::LENS_MAKE),
        lens_model: text(tag::LENS_MODEL),
        date_time: text(tag::DATE_TIME_ORIGINAL).or_else(|| tiff.text(ifd0, tag::DATE_TIME)),
        exposure_time: num(tag::EXPOSURE_TIME),
        f_number: num(tag::F_NUMBER),
        iso: num(tag::ISO).map(|v| v.min(u32::MAX as f64) as u32),
        focal_length: num(tag::FOCAL_LENGTH),
    }
}
