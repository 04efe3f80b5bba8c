//! The preview JPEG a raw file carries (camera and DNG converters embed one for fast
//! browsing): found by the file's structure, never by scanning bytes, and checked to start
//! as a JPEG.
//!
//! Places looked at: in TIFF-based files (DNG, NEF, CR2, ARW, ORF, RW2, PEF, ...) every IFD
//! of the chain, the SubIFDs and the Exif IFD, for a JPEGInterchangeFormat/Length pair
//! (tags 513/514), a JPEG-compressed RGB or YCbCr image in one strip (DNG previews), and
//! Panasonic's JpgFromRaw (tag 0x2E); in Fujifilm RAF the header's JPEG offset and length.
//! The largest is returned.

use super::tiff::{self, Ifd, TiffFile};

const JPEG_OFFSET: u16 = 513;
const JPEG_LENGTH: u16 = 514;
const JPG_FROM_RAW: u16 = 0x2E;

/// The largest embedded preview JPEG of a raw file's bytes, if it has one.
pub fn embedded_jpeg(bytes: &[u8]) -> Option<&[u8]> {
    let mut found: Vec<&[u8]> = Vec::new();
    if bytes.starts_with(b"FUJIFILMCCD-RAW ") {
        let be = |at: usize| {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        if let (Some(off), Some(len)) = (be(84), be(88)) {
            found.extend(slice(bytes, off, len));
        }
    } else if tiff::signature(bytes).is_some() {
        if let Ok(t) = TiffFile::parse(bytes) {
            let ifds = t.chain.iter().chain(&t.sub_ifds).chain(t.exif.as_ref());
            for ifd in ifds {
                found.extend(in_ifd(&t, ifd));
            }
        }
    }
    found
        .into_iter()
        .filter(|j| j.starts_with(&[0xFF, 0xD8, 0xFF]))
        .max_by_key(|j| j.len())
}

/// `len` bytes at `off`, when they are inside the file.
fn slice(bytes: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    bytes.get(off..off.checked_add(len)?)
}

/// The JPEGs one IFD points at.
fn in_ifd<'a>(t: &TiffFile<'a>, ifd: &Ifd) -> Vec<&'a [u8]> {
    let uint = |tag| t.uint(ifd, tag).ok().flatten().map(|v| v as usize);
    let mut out = Vec::new();
    if let (Some(off), Some(len)) = (uint(JPEG_OFFSET), uint(JPEG_LENGTH)) {
        out.extend(slice(t.data, off, len));
    }
    if let Some(b) = t.blob(ifd, JPG_FROM_RAW) {
        out.push(b);
    }
    // A JPEG-compressed colour image stored as one strip (not a raw mosaic or LinearRaw,
    // which DNG compresses with lossless JPEG under other photometric codes).
    let colour = matches!(uint(tiff::tag::PHOTOMETRIC), Some(2 | 6));
    let jpeg = matches!(uint(tiff::tag::COMPRESSION), Some(6 | 7));
    if colour && jpeg {
        let offsets = t.uints(ifd, tiff::tag::STRIP_OFFSETS).ok().flatten();
        let counts = t.uints(ifd, tiff::tag::STRIP_BYTE_COUNTS).ok().flatten();
        if let (Some([off]), Some([len])) = (offsets.as_deref(), counts.as_deref()) {
            out.extend(slice(t.data, *off as usize, *len as usize));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian TIFF whose IFD0 holds `entries` (tag, type, count, value), then
    /// `payload` at offset 100.
    fn tiff_with(entries: &[(u16, u16, u32, u32)], payload: &[u8]) -> Vec<u8> {
        let mut b = b"II*\0\x08\0\0\0".to_vec();
        b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for &(tag, typ, count, value) in entries {
            b.extend_from_slice(&tag.to_le_bytes());
            b.extend_from_slice(&typ.to_le_bytes());
            b.extend_from_slice(&count.to_le_bytes());
            b.extend_from_slice(&value.to_le_bytes());
        }
        b.extend_from_slice(&[0; 4]);
        b.resize(100, 0);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn the_preview_is_found_by_its_tags_and_the_largest_wins() {
        let small = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 0xFF, 0xD9];
        let file = tiff_with(&[(513, 4, 1, 100), (514, 4, 1, small.len() as u32)], &small);
        assert_eq!(embedded_jpeg(&file), Some(&small[..]));
        // A DNG-style preview strip beside it, larger: that one.
        let mut big = vec![0xFF, 0xD8, 0xFF, 0xDB];
        big.resize(40, 7);
        let mut payload = small.to_vec();
        payload.extend_from_slice(&big);
        let file = tiff_with(
            &[
                (259, 3, 1, 7),
                (262, 3, 1, 6),
                (273, 4, 1, 100 + small.len() as u32),
                (279, 4, 1, big.len() as u32),
                (513, 4, 1, 100),
                (514, 4, 1, small.len() as u32),
            ],
            &payload,
        );
        assert_eq!(embedded_jpeg(&file), Some(&big[..]));
        // Lengths past the end and non-JPEG bytes are not previews.
        let file = tiff_with(&[(513, 4, 1, 100), (514, 4, 1, 1 << 30)], &small);
        assert_eq!(embedded_jpeg(&file), None);
        let file = tiff_with(&[(513, 4, 1, 100), (514, 4, 1, 4)], &[1, 2, 3, 4]);
        assert_eq!(embedded_jpeg(&file), None);
        assert_eq!(embedded_jpeg(b"not a raw at all"), None);
    }
}
