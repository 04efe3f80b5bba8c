//! Ultra HDR JPEG: an SDR JPEG that a plain viewer shows as it is, plus a gain map that an
//! HDR display multiplies it by to recover the highlights the SDR rendering rolls off.
//!
//! Layout (Google's Ultra HDR image format 1.0, on the Adobe gain map of ISO 21496-1): the
//! primary image carries XMP (`hdrgm:Version` and a GContainer directory naming the primary and
//! the gain map with its length) and an MPF index (CIPA DC-007) of both images; the gain map, a
//! greyscale JPEG appended after the primary, carries the `hdrgm` parameters. A pixel's gain
//! is `G = (Y_hdr + k) / (Y_sdr + k)` (`k` = the SDR and HDR offsets, 1/64), of luminances in
//! linear light relative to SDR white; the map stores `(log2 G - min) / (max - min)` in 8 bits
//! (gamma 1), `min` and `max` (log2) in `GainMapMin`/`GainMapMax`. A display with headroom
//! `H` (log2) shows `(Y_sdr + k) * 2^(log2 G * w) - k`, `w = clamp((H - HDRCapacityMin) /
//! (HDRCapacityMax - HDRCapacityMin))`, per channel with the one luminance gain.
//! The same parameters go into the binary ISO 21496-1 metadata (Ultra HDR 1.1): an APP2
//! segment in the gain map with the whole metadata, one in the primary with its version only.

use jpeg_encoder::{ColorType, Encoder};

use super::{EncodeOptions, OutputImage, Pixels};
use crate::error::{Error, Result};

/// Offsets added to the SDR and HDR luminances before their ratio is taken.
pub const OFFSET: f32 = 1.0 / 64.0;

/// The gain map: 8-bit recovery values and the range they span.
#[derive(Debug, Clone, PartialEq)]
pub struct GainMap {
    pub width: usize,
    pub height: usize,
    pub values: Vec<u8>,
    /// log2 of the smallest and largest gain.
    pub min_log2: f32,
    pub max_log2: f32,
}

impl GainMap {
    /// From the luminances of the SDR and HDR renditions (linear, SDR white = 1), one per
    /// pixel of a `width` x `height` image, averaged over `scale` x `scale` blocks.
    pub fn from_luminances(
        sdr: &[f32],
        hdr: &[f32],
        width: usize,
        height: usize,
        scale: usize,
    ) -> Result<Self> {
        if sdr.len() != width * height || hdr.len() != sdr.len() || width == 0 || height == 0 {
            return Err(Error::parameter("gain map: the renditions differ in size"));
        }
        let scale = scale.max(1);
        let (w, h) = (width.div_ceil(scale), height.div_ceil(scale));
        let mut logs = Vec::with_capacity(w * h);
        for by in 0..h {
            for bx in 0..w {
                let (mut s, mut d, mut n) = (0.0f32, 0.0f32, 0.0f32);
                for y in by * scale..((by + 1) * scale).min(height) {
                    for x in bx * scale..((bx + 1) * scale).min(width) {
                        s += sdr[y * width + x].max(0.0);
                        d += hdr[y * width + x].max(0.0);
                        n += 1.0;
                    }
                }
                logs.push(((d / n + OFFSET) / (s / n + OFFSET)).log2());
            }
        }
        let lo = logs.iter().copied().fold(f32::INFINITY, f32::min).min(0.0);
        let hi = logs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // A map that boosts nothing still spans a little so the range is not empty.
        let hi = hi.max(lo + 1e-3);
        let values = logs
            .iter()
            .map(|&l| (((l - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        Ok(GainMap {
            width: w,
            height: h,
            values,
            min_log2: lo,
            max_log2: hi,
        })
    }
}

const XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

fn xmp_segment(description: &str) -> Vec<u8> {
    let xml = format!(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"chiaro\">\
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">{description}\
         </rdf:RDF></x:xmpmeta>"
    );
    [XMP_HEADER, xml.as_bytes()].concat()
}

/// The gain map's XMP: its `hdrgm` parameters.
fn gain_map_xmp(g: &GainMap) -> Vec<u8> {
    xmp_segment(&format!(
        "<rdf:Description rdf:about=\"\" xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" \
         hdrgm:Version=\"1.0\" hdrgm:GainMapMin=\"{:.6}\" hdrgm:GainMapMax=\"{:.6}\" \
         hdrgm:Gamma=\"1.0\" hdrgm:OffsetSDR=\"{OFFSET:.6}\" hdrgm:OffsetHDR=\"{OFFSET:.6}\" \
         hdrgm:HDRCapacityMin=\"0.0\" hdrgm:HDRCapacityMax=\"{:.6}\" \
         hdrgm:BaseRenditionIsHDR=\"False\"/>",
        g.min_log2,
        g.max_log2,
        g.max_log2.max(0.0)
    ))
}

/// Identifier that opens an APP2 segment of ISO 21496-1 gain map metadata.
const ISO_NAMESPACE: &[u8] = b"urn:iso:std:iso:ts:21496:-1\0";

/// ISO 21496-1 version fields: the lowest reader version that understands the metadata,
/// then the writer's version (both 0).
const ISO_VERSION: [u8; 4] = [0, 0, 0, 0];

/// Denominator of the metadata's fractions: 2^20 keeps 6 digits and numerators of values
/// up to 2047 within 32 bits.
const ISO_DENOMINATOR: u32 = 1 << 20;

/// The primary's ISO 21496-1 segment: the version only, which says a gain map follows.
fn iso_version_segment() -> Vec<u8> {
    [ISO_NAMESPACE, &ISO_VERSION].concat()
}

/// The gain map's ISO 21496-1 segment, big-endian: version, flags (one channel, gain
/// applied in the base image's colour space), base and alternate HDR headroom (log2; the
/// base is SDR, headroom 0), then the channel's gain map min and max (log2), gamma, base
/// and alternate offsets, each a numerator over a denominator.
fn iso_metadata_segment(g: &GainMap) -> Vec<u8> {
    const USE_BASE_COLOUR_SPACE: u8 = 1 << 6;
    let mut p = [ISO_NAMESPACE, &ISO_VERSION, &[USE_BASE_COLOUR_SPACE]].concat();
    let mut fraction = |v: f32, signed: bool| {
        let n = (f64::from(v) * f64::from(ISO_DENOMINATOR)).round();
        let n = if signed {
            (n as i32).to_be_bytes()
        } else {
            (n.max(0.0) as u32).to_be_bytes()
        };
        p.extend_from_slice(&n);
        p.extend_from_slice(&ISO_DENOMINATOR.to_be_bytes());
    };
    fraction(0.0, false);
    fraction(g.max_log2.max(0.0), false);
    fraction(g.min_log2, true);
    fraction(g.max_log2, true);
    fraction(1.0, false);
    fraction(OFFSET, true);
    fraction(OFFSET, true);
    p
}

/// The primary's XMP: the container directory of the two images.
fn primary_xmp(gain_map_len: usize) -> Vec<u8> {
    xmp_segment(&format!(
        "<rdf:Description rdf:about=\"\" \
         xmlns:Container=\"http://ns.google.com/photos/1.0/container/\" \
         xmlns:Item=\"http://ns.google.com/photos/1.0/container/item/\" \
         xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" hdrgm:Version=\"1.0\">\
         <Container:Directory><rdf:Seq>\
         <rdf:li rdf:parseType=\"Resource\"><Container:Item Item:Semantic=\"Primary\" \
         Item:Mime=\"image/jpeg\"/></rdf:li>\
         <rdf:li rdf:parseType=\"Resource\"><Container:Item Item:Semantic=\"GainMap\" \
         Item:Mime=\"image/jpeg\" Item:Length=\"{gain_map_len}\"/></rdf:li>\
         </rdf:Seq></Container:Directory></rdf:Description>"
    ))
}

/// Length of the MPF payload for two images: "MPF\0", the TIFF header, an IFD of three
/// entries and its terminator, two 16-byte MP entries.
const MPF_LEN: usize = 4 + 8 + 2 + 3 * 12 + 4 + 32;

/// The MPF payload, little-endian, for a primary of `primary_len` bytes whose TIFF header sits
/// at `header_at` in the file, followed by a gain map of `gain_len` bytes.
fn mpf(primary_len: usize, header_at: usize, gain_len: usize) -> Result<Vec<u8>> {
    let u32_of =
        |v: usize| u32::try_from(v).map_err(|_| Error::encode("Ultra HDR: the file exceeds 4 GB"));
    let mut p = Vec::with_capacity(MPF_LEN);
    p.extend_from_slice(b"MPF\0");
    p.extend_from_slice(b"II*\0");
    p.extend_from_slice(&8u32.to_le_bytes());
    p.extend_from_slice(&3u16.to_le_bytes());
    let entry = |p: &mut Vec<u8>, tag: u16, typ: u16, count: u32, value: [u8; 4]| {
        p.extend_from_slice(&tag.to_le_bytes());
        p.extend_from_slice(&typ.to_le_bytes());
        p.extend_from_slice(&count.to_le_bytes());
        p.extend_from_slice(&value);
    };
    // MPFVersion, NumberOfImages, MPEntry (at offset 50 from the TIFF header).
    entry(&mut p, 0xB000, 7, 4, *b"0100");
    entry(&mut p, 0xB001, 4, 1, 2u32.to_le_bytes());
    entry(&mut p, 0xB002, 7, 32, 50u32.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    // Primary: representative, baseline MP primary image, at offset 0.
    p.extend_from_slice(&0x2003_0000u32.to_le_bytes());
    p.extend_from_slice(&u32_of(primary_len)?.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&[0; 4]);
    // The gain map, right after the primary; offsets count from the TIFF header.
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&u32_of(gain_len)?.to_le_bytes());
    p.extend_from_slice(&u32_of(primary_len - header_at)?.to_le_bytes());
    p.extend_from_slice(&[0; 4]);
    debug_assert_eq!(p.len(), MPF_LEN);
    Ok(p)
}

/// Inserts APPn segments (marker byte, payload) after the leading APPn segments of `jpeg`;
/// also gives where the first inserted segment starts.
fn insert_segments(jpeg: &[u8], segments: &[(u8, &[u8])]) -> Result<(Vec<u8>, usize)> {
    let bad = || Error::encode("Ultra HDR: the primary JPEG has no header to extend");
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(bad());
    }
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF && (0xE0..=0xEF).contains(&jpeg[at + 1]) {
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        at += 2 + len;
    }
    if at > jpeg.len() {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(jpeg.len() + 4096);
    out.extend_from_slice(&jpeg[..at]);
    for (marker, payload) in segments {
        let len = u16::try_from(payload.len() + 2)
            .map_err(|_| Error::encode("Ultra HDR: a metadata segment exceeds 64 kB"))?;
        out.extend_from_slice(&[0xFF, *marker]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(payload);
    }
    out.extend_from_slice(&jpeg[at..]);
    Ok((out, at))
}

/// The Ultra HDR file: `sdr` (8-bit, encoded as `opts` says, with its EXIF and ICC) and the
/// gain map.
pub fn encode(sdr: &OutputImage, opts: &EncodeOptions, gain: &GainMap) -> Result<Vec<u8>> {
    if !matches!(sdr.pixels, Pixels::U8(_)) {
        return Err(Error::parameter("Ultra HDR takes an 8-bit SDR image"));
    }
    let err = |e: jpeg_encoder::EncodingError| Error::encode(format!("gain map JPEG: {e}"));
    let (Ok(gw), Ok(gh)) = (u16::try_from(gain.width), u16::try_from(gain.height)) else {
        return Err(Error::parameter("the gain map is too large for JPEG"));
    };
    let mut map = Vec::new();
    let mut enc = Encoder::new(&mut map, 90);
    enc.add_app_segment(1, gain_map_xmp(gain)).map_err(err)?;
    enc.add_app_segment(2, iso_metadata_segment(gain))
        .map_err(err)?;
    enc.encode(&gain.values, gw, gh, ColorType::Luma)
        .map_err(err)?;
    let base = super::encode(sdr, opts)?;
    let xmp = primary_xmp(map.len());
    // The MPF index holds the primary's own length, known only once the index is in it:
    // the segment is reserved at its fixed length, then filled (nothing moves).
    let reserved = vec![0u8; MPF_LEN];
    let iso = iso_version_segment();
    let (primary, at) = insert_segments(&base, &[(0xE1, &xmp), (0xE2, &iso), (0xE2, &reserved)])?;
    // The MPF payload follows the XMP and ISO segments and its own marker and length.
    let mpf_at = at + 4 + xmp.len() + 4 + iso.len() + 4;
    let index = mpf(primary.len(), mpf_at + 4, map.len())?;
    let mut out = primary;
    out[mpf_at..mpf_at + MPF_LEN].copy_from_slice(&index);
    out.extend_from_slice(&map);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_map_spans_the_boost_and_recovers_it() {
        // SDR white everywhere; the HDR twice as bright on the right half.
        let (w, h) = (8, 4);
        let sdr = vec![1.0f32; w * h];
        let hdr: Vec<f32> = (0..w * h)
            .map(|i| if i % w >= w / 2 { 2.0 } else { 1.0 })
            .collect();
        let g = GainMap::from_luminances(&sdr, &hdr, w, h, 2).expect("map");
        assert_eq!((g.width, g.height), (4, 2));
        assert_eq!(g.min_log2, 0.0);
        let want = ((2.0 + OFFSET) / (1.0 + OFFSET)).log2();
        assert!((g.max_log2 - want).abs() < 1e-6);
        // The spec's reconstruction at full headroom.
        let r = f32::from(g.values[3]) / 255.0;
        let boost = (g.min_log2 * (1.0 - r) + g.max_log2 * r).exp2();
        assert!(((1.0 + OFFSET) * boost - OFFSET - 2.0).abs() < 1e-3);
        assert_eq!(g.values[0], 0);
    }

    #[test]
    fn iso_metadata_lays_out_one_channel_of_fractions() {
        let g = GainMap {
            width: 1,
            height: 1,
            values: vec![0],
            min_log2: -0.25,
            max_log2: 1.5,
        };
        let p = iso_metadata_segment(&g);
        let n = ISO_NAMESPACE.len();
        // Namespace, two versions, flags, two headrooms and five per-channel fractions.
        assert_eq!(p.len(), n + 4 + 1 + 7 * 8);
        assert_eq!(p[n + 4], 0x40, "one channel, base colour space");
        let at = |i: usize| {
            let o = n + 5 + 8 * i;
            let num = i32::from_be_bytes(p[o..o + 4].try_into().expect("4"));
            let den = u32::from_be_bytes(p[o + 4..o + 8].try_into().expect("4"));
            f64::from(num) / f64::from(den)
        };
        let want = [0.0, 1.5, -0.25, 1.5, 1.0, 1.0 / 64.0, 1.0 / 64.0];
        for (i, w) in want.iter().enumerate() {
            assert!((at(i) - w).abs() < 1e-6, "field {i}: {} vs {w}", at(i));
        }
    }

    #[test]
    fn mpf_index_points_at_the_appended_gain_map() {
        let p = mpf(10_000, 30, 2_000).expect("index");
        assert_eq!(p.len(), MPF_LEN);
        assert_eq!(&p[..8], b"MPF\0II*\0");
        // Second entry: size and offset (from the TIFF header at 30) of the gain map.
        let entry2 = &p[4 + 50 + 16..];
        assert_eq!(
            u32::from_le_bytes(entry2[4..8].try_into().expect("four bytes")),
            2_000
        );
        assert_eq!(
            u32::from_le_bytes(entry2[8..12].try_into().expect("four bytes")),
            10_000 - 30
        );
    }
}
