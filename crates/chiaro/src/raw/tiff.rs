//! A hardened reader of TIFF structure (TIFF 6.0 section 2; DNG 1.7 chapter 3).
//!
//! It walks IFD chains and SubIFDs and hands out typed tag values. Every offset and count
//! from the file is bounds-checked against the buffer before use, IFD cycles are detected,
//! and the number of IFDs and entries is capped, so a hostile file gives an error, not a
//! panic or a hang. Pixel data is not read here (see `dng`).
//!
//! Every TIFF-structured file is walked here before any third-party decoder sees it
//! ([`TiffFile::parse_strict`]): besides DNG and TIFF (`II*\0`, `MM\0*`) that covers
//! Panasonic RW2 (`IIU\0`), Olympus ORF (`IIRO`, `IIRS`, `MMOR`) and DNG camera profiles
//! (`IIRC`, `MMCR`); BigTIFF (`II+\0`, `MM\0+`) is refused as unsupported.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Upper bound on the IFDs walked in one file (chains and SubIFDs together).
const MAX_IFDS: usize = 256;
/// Upper bound on entries in one IFD.
const MAX_ENTRIES: usize = 4096;

/// Byte order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// One IFD entry: field type, count and where its value bytes are.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub typ: u16,
    pub count: u32,
    /// Offset of the value bytes in the file (inline values point into the entry).
    pub offset: usize,
}

/// One image file directory.
#[derive(Debug, Clone, Default)]
pub struct Ifd {
    /// Entries whose values can be read.
    pub entries: BTreeMap<u16, Entry>,
    /// Entries that are present but unreadable: an unknown field type, or values that lie
    /// past the end of the file (kept so that a damaged tag is still known to be there).
    pub damaged: BTreeMap<u16, Entry>,
    /// Offset of the IFD in the file (for messages).
    pub position: usize,
}

/// A parsed TIFF file: the bytes and all IFDs reachable from the header.
pub struct TiffFile<'a> {
    pub data: &'a [u8],
    pub endian: Endian,
    /// IFD0 and the IFDs chained after it.
    pub chain: Vec<Ifd>,
    /// SubIFDs (tag 330) of every IFD in `chain`, depth-first.
    pub sub_ifds: Vec<Ifd>,
    /// The Exif IFD (tag 34665 of IFD0), when present.
    pub exif: Option<Ifd>,
}

pub mod tag {
    pub const NEW_SUBFILE_TYPE: u16 = 254;
    pub const IMAGE_WIDTH: u16 = 256;
    pub const IMAGE_LENGTH: u16 = 257;
    pub const BITS_PER_SAMPLE: u16 = 258;
    pub const COMPRESSION: u16 = 259;
    pub const PHOTOMETRIC: u16 = 262;
    pub const MAKE: u16 = 271;
    pub const MODEL: u16 = 272;
    pub const STRIP_OFFSETS: u16 = 273;
    pub const ORIENTATION: u16 = 274;
    pub const SAMPLES_PER_PIXEL: u16 = 277;
    pub const ROWS_PER_STRIP: u16 = 278;
    pub const STRIP_BYTE_COUNTS: u16 = 279;
    pub const PLANAR_CONFIGURATION: u16 = 284;
    pub const DATE_TIME: u16 = 306;
    pub const PREDICTOR: u16 = 317;
    pub const TILE_WIDTH: u16 = 322;
    pub const TILE_LENGTH: u16 = 323;
    pub const TILE_OFFSETS: u16 = 324;
    pub const TILE_BYTE_COUNTS: u16 = 325;
    pub const SUB_IFDS: u16 = 330;
    pub const SAMPLE_FORMAT: u16 = 339;
    pub const CFA_REPEAT_PATTERN_DIM: u16 = 33421;
    pub const CFA_PATTERN: u16 = 33422;
    pub const EXPOSURE_TIME: u16 = 33434;
    pub const F_NUMBER: u16 = 33437;
    pub const EXIF_IFD: u16 = 34665;
    pub const ISO: u16 = 34855;
    pub const DATE_TIME_ORIGINAL: u16 = 36867;
    pub const FOCAL_LENGTH: u16 = 37386;
    pub const LENS_MAKE: u16 = 42035;
    pub const LENS_MODEL: u16 = 42036;
    pub const DNG_VERSION: u16 = 50706;
    pub const UNIQUE_CAMERA_MODEL: u16 = 50708;
    pub const CFA_PLANE_COLOR: u16 = 50710;
    pub const CFA_LAYOUT: u16 = 50711;
    pub const LINEARIZATION_TABLE: u16 = 50712;
    pub const BLACK_LEVEL_REPEAT_DIM: u16 = 50713;
    pub const BLACK_LEVEL: u16 = 50714;
    pub const BLACK_LEVEL_DELTA_H: u16 = 50715;
    pub const BLACK_LEVEL_DELTA_V: u16 = 50716;
    pub const WHITE_LEVEL: u16 = 50717;
    pub const DEFAULT_SCALE_TAG: u16 = 50718;
    pub const DEFAULT_CROP_ORIGIN: u16 = 50719;
    pub const DEFAULT_CROP_SIZE: u16 = 50720;
    pub const COLOR_MATRIX1: u16 = 50721;
    pub const COLOR_MATRIX2: u16 = 50722;
    pub const CAMERA_CALIBRATION1: u16 = 50723;
    pub const CAMERA_CALIBRATION2: u16 = 50724;
    pub const ANALOG_BALANCE: u16 = 50727;
    pub const AS_SHOT_NEUTRAL: u16 = 50728;
    pub const AS_SHOT_WHITE_XY: u16 = 50729;
    pub const BASELINE_EXPOSURE: u16 = 50730;
    pub const LENS_INFO: u16 = 50736;
    pub const CALIBRATION_ILLUMINANT1: u16 = 50778;
    pub const CALIBRATION_ILLUMINANT2: u16 = 50779;
    pub const ACTIVE_AREA: u16 = 50829;
    pub const FORWARD_MATRIX1: u16 = 50964;
    pub const FORWARD_MATRIX2: u16 = 50965;
    pub const OPCODE_LIST1: u16 = 51008;
    pub const OPCODE_LIST2: u16 = 51009;
    pub const OPCODE_LIST3: u16 = 51022;
    pub const NOISE_PROFILE: u16 = 51041;
}

/// Size in bytes of one value of a TIFF field type, or `None` for an unknown type.
fn type_size(typ: u16) -> Option<usize> {
    Some(match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

/// Byte order of a TIFF-structured file from its first four bytes, `None` when they are
/// not a TIFF-family signature. BigTIFF is recognised (so it is refused, not passed on).
pub fn signature(data: &[u8]) -> Option<Endian> {
    match data.get(..4)? {
        // "IIRC"/"MMCR" are DNG camera profiles (DCP), TIFF-structured (DNG 1.7, 4.2);
        // "IIU\0" is Panasonic RW2; "IIRO", "IIRS" and "MMOR" are Olympus ORF.
        b"II*\0" | b"IIRC" | b"IIU\0" | b"IIRO" | b"IIRS" | b"II+\0" => Some(Endian::Little),
        b"MM\0*" | b"MMCR" | b"MMOR" | b"MM\0+" => Some(Endian::Big),
        _ => None,
    }
}

impl<'a> TiffFile<'a> {
    /// Parses the header and walks every reachable IFD. Tolerant of damage the pipeline
    /// may not care about: unreadable entries go to [`Ifd::damaged`], a broken Exif IFD is
    /// skipped.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        Self::parse_with(data, false)
    }

    /// [`TiffFile::parse`] for files that go on to a third-party decoder: also refuses any
    /// entry that claims more value bytes than the whole file holds (such a decoder would
    /// allocate them before reading: a count of 2^32 DOUBLEs is 32 GiB) and a broken Exif
    /// IFD. Values that merely run past the end (a truncated file) stay tolerated.
    pub fn parse_strict(data: &'a [u8]) -> Result<Self> {
        Self::parse_with(data, true)
    }

    fn parse_with(data: &'a [u8], strict: bool) -> Result<Self> {
        if data.len() < 8 {
            return Err(Error::decode("file too short for a TIFF header"));
        }
        let endian = signature(data)
            .ok_or_else(|| Error::decode("not a TIFF file (bad byte-order mark)"))?;
        if matches!(&data[..4], b"II+\0" | b"MM\0+") {
            return Err(Error::unsupported("BigTIFF files are not supported"));
        }
        let mut file = TiffFile {
            data,
            endian,
            chain: vec![],
            sub_ifds: vec![],
            exif: None,
        };
        let mut seen = std::collections::HashSet::new();
        let mut next = file.u32_at(4)? as usize;
        while next != 0 {
            let (ifd, after) = file.read_ifd(next, &mut seen, strict)?;
            file.chain.push(ifd);
            next = after;
        }
        if file.chain.is_empty() {
            return Err(Error::decode("TIFF file has no IFD"));
        }
        let mut stack: Vec<usize> = Vec::new();
        for ifd in &file.chain {
            stack.extend(file.offsets_of(ifd, tag::SUB_IFDS)?);
        }
        while let Some(off) = stack.pop() {
            let (ifd, _) = file.read_ifd(off, &mut seen, strict)?;
            stack.extend(file.offsets_of(&ifd, tag::SUB_IFDS)?);
            file.sub_ifds.push(ifd);
        }
        if let Some(off) = file.offsets_of(&file.chain[0], tag::EXIF_IFD)?.first() {
            // A broken Exif IFD must not stop our raw decode (EXIF is informational), but a
            // third-party decoder reads it too.
            match file.read_ifd(*off, &mut seen, strict) {
                Ok((i, _)) => file.exif = Some(i),
                Err(e) if strict => return Err(e),
                Err(_) => {}
            }
        }
        Ok(file)
    }

    fn offsets_of(&self, ifd: &Ifd, t: u16) -> Result<Vec<usize>> {
        Ok(self
            .uints(ifd, t)?
            .unwrap_or_default()
            .into_iter()
            .map(|v| v as usize)
            .collect())
    }

    fn read_ifd(
        &self,
        pos: usize,
        seen: &mut std::collections::HashSet<usize>,
        strict: bool,
    ) -> Result<(Ifd, usize)> {
        if !seen.insert(pos) {
            return Err(Error::decode(format!(
                "IFD at offset {pos} is referenced twice (a loop)"
            )));
        }
        if seen.len() > MAX_IFDS {
            return Err(Error::limits(format!("more than {MAX_IFDS} IFDs")));
        }
        let n = self.u16_at(pos)? as usize;
        if n > MAX_ENTRIES {
            return Err(Error::limits(format!(
                "IFD at offset {pos} claims {n} entries"
            )));
        }
        let mut ifd = Ifd {
            entries: BTreeMap::new(),
            damaged: BTreeMap::new(),
            position: pos,
        };
        for i in 0..n {
            let e = pos + 2 + 12 * i;
            let t = self.u16_at(e)?;
            let typ = self.u16_at(e + 2)?;
            let count = self.u32_at(e + 4)?;
            // Unknown types count as bytes, as third-party readers treat them.
            let size = type_size(typ);
            let total = size.unwrap_or(1) as u64 * u64::from(count);
            if strict && total > self.data.len() as u64 {
                return Err(Error::decode(format!(
                    "IFD at offset {pos}: tag {t} claims {count} values of type {typ} \
                     ({total} bytes) in a file of {} bytes",
                    self.data.len()
                )));
            }
            let offset = if total <= 4 {
                e + 8
            } else {
                self.u32_at(e + 8)? as usize
            };
            let entry = Entry { typ, count, offset };
            if size.is_none()
                || (offset as u64)
                    .checked_add(total)
                    .is_none_or(|end| end > self.data.len() as u64)
            {
                // Tolerate a broken tag the pipeline may not need; reading it fails cleanly.
                ifd.damaged.insert(t, entry);
                continue;
            }
            ifd.entries.insert(t, entry);
        }
        let next = self.u32_at(pos + 2 + 12 * n).unwrap_or(0) as usize;
        Ok((ifd, next))
    }

    /// True when the IFD has tag `t`, readable or damaged.
    pub fn has_tag(ifd: &Ifd, t: u16) -> bool {
        ifd.entries.contains_key(&t) || ifd.damaged.contains_key(&t)
    }

    fn bytes(&self, off: usize, len: usize) -> Result<&'a [u8]> {
        off.checked_add(len)
            .and_then(|end| self.data.get(off..end))
            .ok_or_else(|| {
                Error::decode(format!(
                    "offset {off} + {len} lies past the end of the file"
                ))
            })
    }

    pub fn u16_at(&self, off: usize) -> Result<u16> {
        let b = self.bytes(off, 2)?;
        Ok(match self.endian {
            Endian::Little => u16::from_le_bytes([b[0], b[1]]),
            Endian::Big => u16::from_be_bytes([b[0], b[1]]),
        })
    }

    pub fn u32_at(&self, off: usize) -> Result<u32> {
        let b = self.bytes(off, 4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(match self.endian {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }

    fn u64_at(&self, off: usize) -> Result<u64> {
        let b = self.bytes(off, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(match self.endian {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        })
    }

    /// Value `i` of an entry as `f64`, whatever its numeric type.
    fn value(&self, e: &Entry, i: usize) -> Result<f64> {
        let size = type_size(e.typ).unwrap_or(1);
        let off = e.offset + i * size;
        Ok(match e.typ {
            1 | 7 => f64::from(self.bytes(off, 1)?[0]),
            6 => f64::from(self.bytes(off, 1)?[0] as i8),
            3 => f64::from(self.u16_at(off)?),
            8 => f64::from(self.u16_at(off)? as i16),
            4 | 13 => f64::from(self.u32_at(off)?),
            9 => f64::from(self.u32_at(off)? as i32),
            5 => {
                let (n, d) = (self.u32_at(off)?, self.u32_at(off + 4)?);
                if d == 0 {
                    0.0
                } else {
                    f64::from(n) / f64::from(d)
                }
            }
            10 => {
                let (n, d) = (self.u32_at(off)? as i32, self.u32_at(off + 4)? as i32);
                if d == 0 {
                    0.0
                } else {
                    f64::from(n) / f64::from(d)
                }
            }
            11 => f64::from(f32::from_bits(self.u32_at(off)?)),
            12 => f64::from_bits(self.u64_at(off)?),
            16 => self.u64_at(off)? as f64,
            17 => self.u64_at(off)? as i64 as f64,
            _ => {
                return Err(Error::decode(format!(
                    "tag value of type {} is not numeric",
                    e.typ
                )));
            }
        })
    }

    /// All values of a numeric tag, or `None` when absent. Capped at `limit` values.
    pub fn numbers_capped(&self, ifd: &Ifd, t: u16, limit: usize) -> Result<Option<Vec<f64>>> {
        let Some(e) = ifd.entries.get(&t) else {
            return Ok(None);
        };
        if e.typ == 2 {
            return Err(Error::decode(format!("tag {t} is text, expected numbers")));
        }
        if e.count as usize > limit {
            return Err(Error::limits(format!(
                "tag {t} has {} values (limit {limit})",
                e.count
            )));
        }
        (0..e.count as usize)
            .map(|i| self.value(e, i))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// All values of a numeric tag (at most 65536), or `None` when absent.
    pub fn numbers(&self, ifd: &Ifd, t: u16) -> Result<Option<Vec<f64>>> {
        self.numbers_capped(ifd, t, 1 << 16)
    }

    /// Unsigned integer values (offsets, counts) without going through `f64`.
    pub fn uints(&self, ifd: &Ifd, t: u16) -> Result<Option<Vec<u64>>> {
        let Some(e) = ifd.entries.get(&t) else {
            return Ok(None);
        };
        if e.count as usize > 1 << 22 {
            return Err(Error::limits(format!("tag {t} has {} values", e.count)));
        }
        let size = type_size(e.typ).unwrap_or(1);
        (0..e.count as usize)
            .map(|i| {
                let off = e.offset + i * size;
                Ok(match e.typ {
                    1 | 7 => u64::from(self.bytes(off, 1)?[0]),
                    3 => u64::from(self.u16_at(off)?),
                    4 | 13 => u64::from(self.u32_at(off)?),
                    16 => self.u64_at(off)?,
                    _ => return Err(Error::decode(format!("tag {t} is not an unsigned integer"))),
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// First value of an unsigned tag.
    pub fn uint(&self, ifd: &Ifd, t: u16) -> Result<Option<u64>> {
        Ok(self.uints(ifd, t)?.and_then(|v| v.first().copied()))
    }

    /// First value of a numeric tag.
    pub fn number(&self, ifd: &Ifd, t: u16) -> Result<Option<f64>> {
        Ok(self
            .numbers_capped(ifd, t, 1 << 16)?
            .and_then(|v| v.first().copied()))
    }

    /// An ASCII tag, trimmed of NULs and spaces; `None` when absent or empty.
    pub fn text(&self, ifd: &Ifd, t: u16) -> Option<String> {
        let e = ifd.entries.get(&t)?;
        if e.typ != 2 && e.typ != 1 && e.typ != 7 {
            return None;
        }
        let b = self.bytes(e.offset, e.count as usize).ok()?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        let s = String::from_utf8_lossy(&b[..end]).trim().to_string();
        (!s.is_empty()).then_some(s)
    }

    /// Raw value bytes of a tag (for UNDEFINED blobs such as opcode lists).
    pub fn blob(&self, ifd: &Ifd, t: u16) -> Option<&'a [u8]> {
        let e = ifd.entries.get(&t)?;
        let size = type_size(e.typ)?;
        self.bytes(e.offset, size * e.count as usize).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian TIFF with one IFD of the given (tag, type, count, inline value) entries.
    fn tiny_tiff(entries: &[(u16, u16, u32, u32)], next: u32) -> Vec<u8> {
        let mut v = b"II*\0".to_vec();
        v.extend(8u32.to_le_bytes());
        v.extend((entries.len() as u16).to_le_bytes());
        for &(t, ty, c, val) in entries {
            v.extend(t.to_le_bytes());
            v.extend(ty.to_le_bytes());
            v.extend(c.to_le_bytes());
            v.extend(val.to_le_bytes());
        }
        v.extend(next.to_le_bytes());
        v
    }

    #[test]
    fn inline_values_are_read() {
        let f = tiny_tiff(&[(256, 3, 1, 640), (257, 4, 1, 480)], 0);
        let t = TiffFile::parse(&f).expect("parses");
        assert_eq!(t.uint(&t.chain[0], 256).expect("ok"), Some(640));
        assert_eq!(t.number(&t.chain[0], 257).expect("ok"), Some(480.0));
        assert_eq!(t.uint(&t.chain[0], 999).expect("ok"), None);
    }

    #[test]
    fn ifd_loop_is_an_error_not_a_hang() {
        let f = tiny_tiff(&[(256, 3, 1, 1)], 8);
        assert!(TiffFile::parse(&f).is_err());
    }

    #[test]
    fn values_past_the_end_are_dropped_not_read() {
        let f = tiny_tiff(&[(273, 4, 100, 1_000_000)], 0);
        let t = TiffFile::parse(&f).expect("parses");
        assert!(t.uints(&t.chain[0], 273).expect("ok").is_none());
    }

    #[test]
    fn strict_walk_refuses_counts_larger_than_the_file() {
        // 2^29 DOUBLEs (4 GiB) of tag 271 at offset 8: the tolerant walk keeps it as damaged.
        let f = tiny_tiff(&[(256, 3, 1, 1), (271, 12, 1 << 29, 8)], 0);
        let t = TiffFile::parse(&f).expect("tolerant");
        assert!(t.chain[0].damaged.contains_key(&271));
        assert!(TiffFile::has_tag(&t.chain[0], 271));
        let e = TiffFile::parse_strict(&f).err().expect("strict refuses");
        assert!(e.message().contains("tag 271"), "{e}");
        // An unknown type is counted as bytes.
        let f = tiny_tiff(&[(256, 3, 1, 1), (300, 99, u32::MAX, 8)], 0);
        assert!(TiffFile::parse(&f).is_ok());
        assert!(TiffFile::parse_strict(&f).is_err());
        // A value that only runs past the end (a truncated file) is tolerated.
        let f = tiny_tiff(&[(256, 3, 1, 1), (271, 2, 20, 30)], 0);
        assert!(TiffFile::parse_strict(&f).is_ok());
    }

    #[test]
    fn tiff_family_signatures() {
        for (magic, endian) in [
            (&b"IIU\0"[..], Endian::Little),
            (b"IIRO", Endian::Little),
            (b"IIRS", Endian::Little),
            (b"MMOR", Endian::Big),
        ] {
            let mut f = tiny_tiff(&[(256, 3, 1, 640)], 0);
            f[..4].copy_from_slice(magic);
            if endian == Endian::Big {
                // Rewrite as big-endian: offset 8, one entry, no next IFD.
                f = [
                    magic,
                    &[0, 0, 0, 8, 0, 1, 1, 0, 0, 3, 0, 0, 0, 1, 2, 128, 0, 0],
                ]
                .concat();
                f.extend([0u8; 4]);
            }
            let t = TiffFile::parse(&f).expect("parses");
            assert_eq!(t.endian, endian);
            assert_eq!(t.uint(&t.chain[0], 256).expect("ok"), Some(640));
            // A self-linked IFD in any of these is a loop.
            let at = f.len() - 4;
            f[at..].copy_from_slice(&if endian == Endian::Big {
                8u32.to_be_bytes()
            } else {
                8u32.to_le_bytes()
            });
            assert!(TiffFile::parse_strict(&f).is_err());
        }
        let e = TiffFile::parse(b"II+\0\x08\0\0\0\x10\0\0\0\0\0\0\0")
            .err()
            .expect("BigTIFF refused");
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
    }

    #[test]
    fn truncated_headers_are_errors() {
        let f = tiny_tiff(&[(256, 3, 1, 640)], 0);
        for len in 0..f.len() - 4 {
            let _ = TiffFile::parse(&f[..len]);
        }
        assert!(TiffFile::parse(b"II*\0\xff\xff\xff\x7f").is_err());
        assert!(TiffFile::parse(b"PK\x03\x04zzzz").is_err());
    }
}
