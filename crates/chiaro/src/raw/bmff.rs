//! A hardened walker of ISO base media file format boxes (ISO/IEC 14496-12, section 4.2),
//! run on Canon CR3 and other `ftyp` files before a third-party decoder sees them.
//!
//! rawler's box reader trusts box sizes: a box of size 0 makes it re-read the same box
//! forever (growing memory by gigabytes a second) and a table count (`stsz`, `stsc`, `stts`,
//! `co64`) is allocated before it is read. This walker visits every box of the containers
//! rawler descends into and refuses, before any allocation: boxes of size 0 or smaller than
//! their header, 64-bit sizes that run past the parent box or the file, children that
//! overlap the end of their parent, nesting deeper than [`MAX_DEPTH`], more than
//! [`MAX_BOXES`] boxes, table counts that do not fit in their box, and Canon's embedded TIFF
//! metadata (`CMT1`-`CMT4`) that fails the strict TIFF walk.

use crate::error::{Error, Result};

use super::tiff::TiffFile;

/// Deepest nesting of boxes accepted (CR3 files nest 7 deep).
pub const MAX_DEPTH: usize = 16;
/// Most boxes accepted in one file.
pub const MAX_BOXES: usize = 100_000;

/// Canon's CR3 metadata box (`uuid` 85c0b687-820f-11e0-8111-f4ce462b6a48): holds boxes.
const CANON_UUID: [u8; 16] = [
    0x85, 0xc0, 0xb6, 0x87, 0x82, 0x0f, 0x11, 0xe0, 0x81, 0x11, 0xf4, 0xce, 0x46, 0x2b, 0x6a, 0x48,
];

/// True when the bytes start like an ISO BMFF file (an `ftyp` box first).
pub fn is_bmff(data: &[u8]) -> bool {
    data.get(4..8) == Some(b"ftyp")
}

/// Walks the whole box tree; `Ok` when every box is well-formed.
pub fn check(data: &[u8]) -> Result<()> {
    let mut w = Walker { data, boxes: 0 };
    w.children(0, data.len(), 0)?;
    Ok(())
}

struct Walker<'a> {
    data: &'a [u8],
    boxes: usize,
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be64(d: &[u8], at: usize) -> Option<u64> {
    let b = d.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_be_bytes(a))
}

/// How a box's payload is read: which part of it holds child boxes, if any.
enum Content {
    /// Child boxes start this many bytes into the payload.
    Boxes(usize),
    /// A full box with a 32-bit count and a table of `entry`-byte rows.
    Table {
        skip: usize,
        entry: usize,
    },
    /// Canon's TIFF-structured metadata.
    Tiff,
    Opaque,
}

fn content(typ: &[u8; 4], uuid: Option<&[u8]>) -> Content {
    match typ {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" | b"edts" | b"udta" => {
            Content::Boxes(0)
        }
        // Full box header and entry count, then sample entries (ISO 14496-12, 8.5.2).
        b"stsd" | b"dref" => Content::Boxes(8),
        // Canon's raw sample entry: 82 bytes of fields, then boxes.
        b"CRAW" => Content::Boxes(82),
        b"uuid" if uuid == Some(&CANON_UUID[..]) => Content::Boxes(0),
        b"stsc" => Content::Table { skip: 4, entry: 12 },
        b"stts" | b"co64" => Content::Table { skip: 4, entry: 8 },
        b"stco" => Content::Table { skip: 4, entry: 4 },
        // stsz: version/flags, sample size, count; the table exists when the size is 0.
        b"stsz" => Content::Table { skip: 8, entry: 4 },
        b"CMT1" | b"CMT2" | b"CMT3" | b"CMT4" => Content::Tiff,
        _ => Content::Opaque,
    }
}

impl Walker<'_> {
    /// Walks the boxes that fill `start..end` at nesting `depth`.
    fn children(&mut self, start: usize, end: usize, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::decode(format!(
                "boxes nested more than {MAX_DEPTH} deep at offset {start}"
            )));
        }
        let mut at = start;
        while at < end {
            self.boxes += 1;
            if self.boxes > MAX_BOXES {
                return Err(Error::limits(format!("more than {MAX_BOXES} boxes")));
            }
            let bad = |why: &str| Error::decode(format!("box at offset {at}: {why}"));
            if end - at < 8 {
                return Err(bad("truncated box header"));
            }
            let size32 = be32(self.data, at).ok_or_else(|| bad("truncated box header"))?;
            let mut typ = [0u8; 4];
            typ.copy_from_slice(&self.data[at + 4..at + 8]);
            let (size, mut header) = match size32 {
                0 => return Err(bad("size 0 (box to the end of the file) is not supported")),
                1 => {
                    let large = be64(self.data, at + 8)
                        .filter(|_| end - at >= 16)
                        .ok_or_else(|| bad("truncated 64-bit box size"))?;
                    (large, 16usize)
                }
                n => (u64::from(n), 8usize),
            };
            let uuid = if &typ == b"uuid" {
                let u = self
                    .data
                    .get(at + header..at + header + 16)
                    .ok_or_else(|| bad("truncated uuid"))?;
                header += 16;
                Some(u)
            } else {
                None
            };
            if size < header as u64 {
                return Err(bad(&format!(
                    "size {size} is smaller than its {header}-byte header"
                )));
            }
            if size > (end - at) as u64 {
                return Err(bad(&format!(
                    "size {size} runs past the end of its parent ({} bytes left)",
                    end - at
                )));
            }
            let box_end = at + size as usize;
            let payload = at + header;
            match content(&typ, uuid) {
                Content::Boxes(skip) => {
                    let first = payload
                        .checked_add(skip)
                        .filter(|&f| f <= box_end)
                        .ok_or_else(|| bad("too short for its fields"))?;
                    self.children(first, box_end, depth + 1)?;
                }
                Content::Table { skip, entry } => {
                    let count = be32(self.data, payload + skip)
                        .filter(|_| payload + skip + 4 <= box_end)
                        .ok_or_else(|| bad("table box too short for its count"))?;
                    let sized_stsz =
                        &typ == b"stsz" && be32(self.data, payload + 4).is_some_and(|s| s != 0);
                    let room = (box_end - payload - skip - 4) / entry;
                    // A constant-size stsz has no table, but rawler still reserves one.
                    let allowed = if sized_stsz { room.max(1 << 16) } else { room };
                    if count as usize > allowed {
                        return Err(bad(&format!(
                            "table of {count} entries does not fit in the box ({room} fit)"
                        )));
                    }
                }
                Content::Tiff => {
                    TiffFile::parse_strict(&self.data[payload..box_end]).map_err(|e| {
                        Error::new(
                            e.kind(),
                            format!(
                                "{} metadata at offset {at}: {}",
                                String::from_utf8_lossy(&typ),
                                e.message()
                            ),
                        )
                    })?;
                }
                Content::Opaque => {}
            }
            at = box_end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(typ);
        v.extend_from_slice(payload);
        v
    }

    fn file(moov_children: &[u8]) -> Vec<u8> {
        [bx(b"ftyp", b"crx \0\0\0\x01"), bx(b"moov", moov_children)].concat()
    }

    #[test]
    fn well_formed_trees_pass() {
        let trak = bx(b"trak", &bx(b"mdia", &bx(b"hdlr", &[0; 12])));
        assert!(check(&file(&trak)).is_ok());
        let mut stsz = vec![0u8; 12];
        stsz[8..12].copy_from_slice(&2u32.to_be_bytes());
        stsz.extend([0; 8]);
        assert!(check(&file(&bx(b"stbl", &bx(b"stsz", &stsz)))).is_ok());
        assert!(is_bmff(&file(&[])));
    }

    #[test]
    fn hostile_boxes_are_refused() {
        // Size 0 inside moov (rawler loops on it).
        let mut zero = bx(b"free", &[]);
        zero[..4].copy_from_slice(&0u32.to_be_bytes());
        assert!(check(&file(&zero)).is_err());
        // Size 1 with a 64-bit size past the end, and one smaller than the header.
        for large in [u64::MAX, 1 << 40, 8] {
            let mut b = 1u32.to_be_bytes().to_vec();
            b.extend(b"mdat");
            b.extend(large.to_be_bytes());
            assert!(check(&file(&b)).is_err(), "largesize {large}");
        }
        // Sizes below the header and a child that overlaps its parent's end.
        let mut small = bx(b"free", &[]);
        small[..4].copy_from_slice(&7u32.to_be_bytes());
        assert!(check(&file(&small)).is_err());
        let mut trak = bx(b"trak", &bx(b"tkhd", &[0; 8]));
        trak[8..12].copy_from_slice(&100u32.to_be_bytes());
        assert!(check(&file(&trak)).is_err());
        // Deep nesting.
        let mut nested = bx(b"free", &[]);
        for _ in 0..40 {
            nested = bx(b"trak", &nested);
        }
        assert!(check(&file(&nested)).is_err());
        // A table count that cannot fit.
        let mut stts = vec![0u8; 8];
        stts[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(check(&file(&bx(b"stbl", &bx(b"stts", &stts)))).is_err());
        // Embedded TIFF metadata that claims 2^29 doubles.
        let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
        tiff.extend(271u16.to_le_bytes());
        tiff.extend(12u16.to_le_bytes());
        tiff.extend((1u32 << 29).to_le_bytes());
        tiff.extend(8u32.to_le_bytes());
        tiff.extend([0; 4]);
        let uuid = [&CANON_UUID[..], &bx(b"CMT1", &tiff)].concat();
        assert!(check(&file(&bx(b"uuid", &uuid))).is_err());
        // Trailing bytes too short for a header.
        let mut f = file(&[]);
        f.extend([0, 0, 0]);
        assert!(check(&f).is_err());
    }
}
