//! Lossless JPEG (ITU T.81 process 14, SOF3) decoder (its encoder, for tests, is
//! `ljpeg_encode`).
//!
//! DNG stores compressed raw tiles as lossless JPEG (DNG 1.7 spec, section 3.5, Compression
//! = 7): one frame, one interleaved scan, Huffman-coded differences against one of seven
//! predictors (T.81 annex H). The caller decodes tiles in parallel; this module decodes one
//! stream on one thread, so the inner loop is kept tight: a 64-bit bit buffer refilled eight
//! bytes at a time when no 0xFF byte is in sight, and an 11-bit Huffman lookup table that
//! also resolves the difference bits of short codes.
//!
//! Supported: predictors 1..=7, point transform, 1 to 4 components with 1x1 sampling,
//! precision 2..=16, restart intervals that are whole rows, the 16-bit difference (SSSS = 16).
//! Anything else (several scans, DNL, arithmetic coding, sub-sampling) is an `Unsupported`
//! error; corrupt or truncated data is a `Decode` error, never a panic.

use crate::error::{Error, Result};
use crate::limits::{Limits, try_vec};

/// A decoded lossless JPEG frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LjpegFrame {
    pub width: usize,
    pub height: usize,
    pub components: usize,
    pub precision: u8,
    /// `height * width * components` samples, row-major, components interleaved (in the
    /// order of the frame header).
    pub samples: Vec<u16>,
}

/// Bits resolved by one lookup in [`HuffTable::lut`]. 13 (a 32 KiB table, within L1) rather
/// than 11: 14-bit raws have codes plus extra bits of 11 to 13 bits, which then decode in one
/// lookup without the less predictable second step (callgrind on the bench's 24 MP and
/// 12 MP DNGs: 21 % fewer instructions in the row decoder, 0.36 instead of 0.39 branch
/// mispredictions per sample; about +15 % on the 24 MP file, flat on the 10-bit phone file).
const LUT_BITS: u32 = 13;
const LUT_SIZE: usize = 1 << LUT_BITS;
/// Lookup entry flag: the entry holds the whole difference (code and extra bits).
const LUT_FULL: i32 = 1 << 13;

/// One Huffman table (T.81 annex C) prepared for decoding.
struct HuffTable {
    /// Entry for each `LUT_BITS`-bit prefix: bits 0..8 the bits to consume (0: the code is
    /// longer than `LUT_BITS` or invalid), bits 8..13 SSSS, bit 13 [`LUT_FULL`], bits 14..
    /// the signed difference when full.
    lut: Vec<i32>,
    /// Canonical decoding for long codes (T.81 F.2.2.3): largest code of each length
    /// (-1 when none), first code of each length and index of its value.
    maxcode: [i32; 18],
    mincode: [i32; 17],
    valptr: [usize; 17],
    values: Vec<u8>,
}

impl HuffTable {
    /// Builds a table from the DHT counts per code length and the symbol values
    /// (T.81 C.2, generation of the code sizes and codes).
    fn new(counts: &[u8; 16], values: &[u8]) -> Result<Self> {
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        // An empty table is allowed (some writers fill unused slots); any code read with it
        // is then invalid.
        if total != values.len() {
            return Err(Error::decode(
                "Huffman table counts do not match its values",
            ));
        }
        if let Some(&v) = values.iter().find(|&&v| v > 16) {
            return Err(Error::decode(format!(
                "Huffman table holds difference category {v} (lossless allows 0..=16)"
            )));
        }
        let mut lut = vec![0i32; LUT_SIZE];
        let mut maxcode = [-1i32; 18];
        let mut mincode = [0i32; 17];
        let mut valptr = [0usize; 17];
        let mut code: u32 = 0;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let n = counts[len as usize - 1] as usize;
            if n > 0 {
                valptr[len as usize] = k;
                mincode[len as usize] = code as i32;
                for _ in 0..n {
                    if code >= (1 << len) {
                        return Err(Error::decode("Huffman table has too many codes"));
                    }
                    if len <= LUT_BITS {
                        fill_lut(&mut lut, code, len, values[k]);
                    }
                    code += 1;
                    k += 1;
                }
                maxcode[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Ok(HuffTable {
            lut,
            maxcode,
            mincode,
            valptr,
            values: values.to_vec(),
        })
    }
}

/// Fills the lookup entries of every prefix that starts with `code` (of `len` bits).
fn fill_lut(lut: &mut [i32], code: u32, len: u32, ssss: u8) {
    let shift = LUT_BITS - len;
    let first = (code << shift) as usize;
    for (j, e) in lut[first..first + (1 << shift)].iter_mut().enumerate() {
        let s = ssss as u32;
        *e = if s == 0 {
            LUT_FULL | len as i32
        } else if s == 16 {
            (32768 << 14) | LUT_FULL | len as i32
        } else if len + s <= LUT_BITS {
            // The extra bits follow the code inside the prefix.
            let extra = (j as u32) >> (shift - s);
            (extend(extra as i32, s) << 14) | LUT_FULL | (len + s) as i32
        } else {
            ((s as i32) << 8) | len as i32
        };
    }
}

/// Turns `s` received bits into a signed difference (T.81 F.2.2.1, EXTEND).
#[inline(always)]
fn extend(v: i32, s: u32) -> i32 {
    // Branch-free (the sign of a difference is unpredictable): `v < 2^(s-1)` makes the
    // shifted value all ones, which adds `1 - 2^s`.
    let negative = (v - (1 << (s - 1))) >> 31;
    v + (negative & (1 - (1 << s)))
}

/// MSB-first bit reader over entropy-coded data (T.81 F.2.2.5) that removes 0xFF00 stuffing
/// and stops at markers. Past a marker or the end it feeds zero bits and counts them, so a
/// truncated stream is detected by [`BitReader::overrun`] instead of reading out of bounds.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Unread bits, left-aligned.
    buf: u64,
    nbits: u32,
    /// Zero bits appended after the end of the real data (the tail of `buf`).
    fake: u32,
    at_marker: bool,
    /// An invalid Huffman code was seen.
    bad_code: bool,
}

/// True when one of the eight bytes of `w` is 0xFF.
#[inline(always)]
fn has_ff_byte(w: u64) -> bool {
    let v = !w;
    (v.wrapping_sub(0x0101_0101_0101_0101) & !v & 0x8080_8080_8080_8080) != 0
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            buf: 0,
            nbits: 0,
            fake: 0,
            at_marker: false,
            bad_code: false,
        }
    }

    /// Tops the buffer up to at least 57 bits.
    #[inline(always)]
    fn refill(&mut self) {
        if self.pos + 8 <= self.data.len() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.data[self.pos..self.pos + 8]);
            let w = u64::from_be_bytes(b);
            if !has_ff_byte(w) {
                let k = (64 - self.nbits) >> 3;
                let take = w >> (64 - 8 * k);
                self.buf |= take << (64 - self.nbits - 8 * k);
                self.nbits += 8 * k;
                self.pos += k as usize;
                return;
            }
        }
        self.refill_slow();
    }

    #[cold]
    fn refill_slow(&mut self) {
        while self.nbits <= 56 {
            if self.at_marker || self.pos >= self.data.len() {
                self.at_marker = true;
                self.fake += 64 - self.nbits;
                self.nbits = 64;
                return;
            }
            let b = self.data[self.pos];
            if b == 0xFF {
                if self.data.get(self.pos + 1) == Some(&0) {
                    self.pos += 2;
                } else {
                    self.at_marker = true;
                    continue;
                }
            } else {
                self.pos += 1;
            }
            self.buf |= (b as u64) << (56 - self.nbits);
            self.nbits += 8;
        }
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.nbits -= n;
    }

    /// True when bits past the end of the data were consumed.
    fn overrun(&self) -> bool {
        self.fake > self.nbits
    }

    /// Decodes one difference with table `t` (T.81 H.1.2.2 with F.2.2.3).
    #[inline(always)]
    fn diff(&mut self, t: &HuffTable) -> i32 {
        if self.nbits < 32 {
            self.refill();
        }
        let e = t.lut[(self.buf >> (64 - LUT_BITS)) as usize];
        if e & LUT_FULL != 0 {
            self.consume((e & 0xFF) as u32);
            return e >> 14;
        }
        let len = (e & 0xFF) as u32;
        if len != 0 {
            // A short code whose extra bits run past the prefix: SSSS is 1..=15 here (0 and
            // 16 always make full entries), so no case analysis is needed.
            self.consume(len);
            let s = ((e >> 8) & 0x1F) as u32;
            let v = (self.buf >> (64 - s)) as i32;
            self.consume(s);
            return extend(v, s);
        }
        let s = self.long_code(t);
        match s {
            0 => 0,
            16 => 32768,
            _ => {
                let v = (self.buf >> (64 - s)) as i32;
                self.consume(s);
                extend(v, s)
            }
        }
    }

    /// Decodes a code longer than the lookup table, returning its SSSS.
    #[cold]
    fn long_code(&mut self, t: &HuffTable) -> u32 {
        let peek = (self.buf >> 48) as i32;
        for len in LUT_BITS + 1..=16 {
            let code = peek >> (16 - len);
            if code <= t.maxcode[len as usize] {
                let value = usize::try_from(code - t.mincode[len as usize])
                    .ok()
                    .and_then(|d| t.values.get(t.valptr[len as usize] + d));
                if let Some(&v) = value {
                    self.consume(len);
                    return v as u32;
                }
                break;
            }
        }
        self.bad_code = true;
        // Consume something so that garbage ends in an error, not a loop of zeros.
        self.consume(16);
        0
    }

    /// Skips to the next marker, which must be RSTn with `n == expected`, and restarts the
    /// bit buffer after it (T.81 F.2.2.5 and E.2.4).
    fn restart(&mut self, expected: u8) -> Result<()> {
        self.buf = 0;
        self.nbits = 0;
        self.fake = 0;
        self.at_marker = false;
        let d = self.data;
        let mut p = self.pos;
        loop {
            while p < d.len() && d[p] != 0xFF {
                p += 1;
            }
            while p < d.len() && d[p] == 0xFF {
                p += 1;
            }
            match d.get(p) {
                None => return Err(Error::decode("restart marker missing (data truncated)")),
                Some(0) => p += 1,
                Some(&m) if m == 0xD0 + expected => {
                    self.pos = p + 1;
                    return Ok(());
                }
                Some(&m) => {
                    return Err(Error::decode(format!(
                        "expected restart marker RST{expected}, found marker 0x{m:02X}"
                    )));
                }
            }
        }
    }
}

/// Frame header (T.81 B.2.2) and scan header (B.2.3) facts the decoder needs.
struct Header {
    width: usize,
    height: usize,
    precision: u8,
    /// Frame component ids in frame order.
    ids: Vec<u8>,
    /// For each scan component: its index in the frame and its Huffman table slot.
    scan: Vec<(usize, usize)>,
    predictor: u8,
    pt: u8,
    restart_interval: usize,
    /// Offset of the entropy-coded data.
    data_start: usize,
}

/// Reads a big-endian u16 at `p`.
fn be16(d: &[u8], p: usize) -> Result<usize> {
    match d.get(p..p + 2) {
        Some(b) => Ok(((b[0] as usize) << 8) | b[1] as usize),
        None => Err(Error::decode("lossless JPEG header truncated")),
    }
}

/// Parses markers up to and including the first SOS (T.81 B.2), filling `tables`.
fn parse_header(d: &[u8], tables: &mut [Option<HuffTable>; 4]) -> Result<Header> {
    if d.len() < 2 || d[0] != 0xFF || d[1] != 0xD8 {
        return Err(Error::decode(
            "lossless JPEG stream does not start with SOI",
        ));
    }
    let mut p = 2;
    let mut frame: Option<(usize, usize, u8, Vec<u8>)> = None;
    let mut restart_interval = 0usize;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes (B.1.1.2).
        if d.get(p) != Some(&0xFF) {
            return Err(Error::decode(format!("expected a JPEG marker at byte {p}")));
        }
        while d.get(p) == Some(&0xFF) {
            p += 1;
        }
        let marker = *d
            .get(p)
            .ok_or_else(|| Error::decode("lossless JPEG header truncated"))?;
        p += 1;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue,
            0xD9 => return Err(Error::decode("lossless JPEG stream has no scan")),
            _ => {}
        }
        let len = be16(d, p)?;
        if len < 2 || p + len > d.len() {
            return Err(Error::decode(format!(
                "JPEG marker 0x{marker:02X} segment of {len} bytes runs past the data"
            )));
        }
        let seg = &d[p + 2..p + len];
        p += len;
        match marker {
            0xC4 => parse_dht(seg, tables)?,
            0xC3 => {
                if frame.is_some() {
                    return Err(Error::unsupported("lossless JPEG with several frames"));
                }
                frame = Some(parse_sof3(seg)?);
            }
            0xC0..=0xC2 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(Error::unsupported(format!(
                    "JPEG process SOF{} (only lossless SOF3 is supported)",
                    marker - 0xC0
                )));
            }
            0xCC => return Err(Error::unsupported("arithmetic-coded JPEG")),
            0xDC => return Err(Error::unsupported("JPEG with a DNL marker")),
            0xDD => {
                if seg.len() < 2 {
                    return Err(Error::decode("DRI segment too short"));
                }
                restart_interval = be16(seg, 0)?;
            }
            0xDA => {
                let (w, h, precision, ids) = frame
                    .take()
                    .ok_or_else(|| Error::decode("lossless JPEG scan before its frame header"))?;
                return parse_sos(seg, w, h, precision, ids, restart_interval, p);
            }
            // APPn, COM, DQT and anything else: skipped.
            _ => {}
        }
    }
}

/// Parses a DHT segment (T.81 B.2.4.2), which may define several tables.
fn parse_dht(mut seg: &[u8], tables: &mut [Option<HuffTable>; 4]) -> Result<()> {
    while !seg.is_empty() {
        if seg.len() < 17 {
            return Err(Error::decode("DHT segment truncated"));
        }
        let class = seg[0] >> 4;
        let slot = (seg[0] & 0x0F) as usize;
        let mut counts = [0u8; 16];
        counts.copy_from_slice(&seg[1..17]);
        let n: usize = counts.iter().map(|&c| c as usize).sum();
        if seg.len() < 17 + n {
            return Err(Error::decode("DHT segment truncated"));
        }
        if slot > 3 {
            return Err(Error::decode(format!(
                "Huffman table slot {slot} (0..=3 allowed)"
            )));
        }
        // Lossless coding uses DC-class tables only; AC tables are ignored.
        if class == 0 {
            tables[slot] = Some(HuffTable::new(&counts, &seg[17..17 + n])?);
        }
        seg = &seg[17 + n..];
    }
    Ok(())
}

/// Parses an SOF3 segment (T.81 B.2.2): precision, size and components.
fn parse_sof3(seg: &[u8]) -> Result<(usize, usize, u8, Vec<u8>)> {
    if seg.len() < 6 {
        return Err(Error::decode("SOF3 segment truncated"));
    }
    let precision = seg[0];
    let height = be16(seg, 1)?;
    let width = be16(seg, 3)?;
    let nf = seg[5] as usize;
    if !(2..=16).contains(&precision) {
        return Err(Error::decode(format!(
            "lossless JPEG precision {precision} (2..=16 allowed)"
        )));
    }
    if height == 0 {
        return Err(Error::unsupported(
            "lossless JPEG with the height in a DNL marker",
        ));
    }
    if width == 0 {
        return Err(Error::decode("lossless JPEG frame of width 0"));
    }
    if !(1..=4).contains(&nf) {
        return Err(Error::unsupported(format!(
            "lossless JPEG with {nf} components"
        )));
    }
    if seg.len() < 6 + 3 * nf {
        return Err(Error::decode("SOF3 segment truncated"));
    }
    let mut ids = Vec::with_capacity(nf);
    for c in 0..nf {
        let id = seg[6 + 3 * c];
        let sampling = seg[7 + 3 * c];
        if sampling != 0x11 {
            return Err(Error::unsupported(format!(
                "lossless JPEG component sampling {}x{} (only 1x1)",
                sampling >> 4,
                sampling & 0x0F
            )));
        }
        if ids.contains(&id) {
            return Err(Error::decode(format!(
                "lossless JPEG component id {id} repeated"
            )));
        }
        ids.push(id);
    }
    Ok((width, height, precision, ids))
}

/// Parses an SOS segment (T.81 B.2.3) against the frame.
fn parse_sos(
    seg: &[u8],
    width: usize,
    height: usize,
    precision: u8,
    ids: Vec<u8>,
    restart_interval: usize,
    data_start: usize,
) -> Result<Header> {
    let ns = *seg
        .first()
        .ok_or_else(|| Error::decode("SOS segment truncated"))? as usize;
    if seg.len() < 1 + 2 * ns + 3 {
        return Err(Error::decode("SOS segment truncated"));
    }
    if ns != ids.len() {
        return Err(Error::unsupported(format!(
            "lossless JPEG scan with {ns} of {} components (only one interleaved scan is supported)",
            ids.len()
        )));
    }
    let mut scan = Vec::with_capacity(ns);
    for k in 0..ns {
        let id = seg[1 + 2 * k];
        let slot = (seg[2 + 2 * k] >> 4) as usize;
        let f = ids
            .iter()
            .position(|&i| i == id)
            .ok_or_else(|| Error::decode(format!("scan names unknown component {id}")))?;
        if scan.iter().any(|&(g, _)| g == f) {
            return Err(Error::decode(format!("scan names component {id} twice")));
        }
        if slot > 3 {
            return Err(Error::decode(format!(
                "Huffman table slot {slot} (0..=3 allowed)"
            )));
        }
        scan.push((f, slot));
    }
    let predictor = seg[1 + 2 * ns];
    let pt = seg[3 + 2 * ns] & 0x0F;
    if !(1..=7).contains(&predictor) {
        return Err(Error::unsupported(format!(
            "lossless JPEG predictor {predictor}"
        )));
    }
    if pt >= precision {
        return Err(Error::decode(format!(
            "point transform {pt} not below the precision {precision}"
        )));
    }
    Ok(Header {
        width,
        height,
        precision,
        ids,
        scan,
        predictor,
        pt,
        restart_interval,
        data_start,
    })
}

/// Decodes a lossless JPEG stream (ITU T.81 process 14) into 16-bit samples.
pub fn decode(data: &[u8], limits: &Limits) -> Result<LjpegFrame> {
    let mut tables: [Option<HuffTable>; 4] = [None, None, None, None];
    let h = parse_header(data, &mut tables)?;
    let nc = h.ids.len();
    let n = limits.check_image(h.width, h.height, nc)?;
    let restart_rows = if h.restart_interval == 0 {
        0
    } else if h.restart_interval % h.width == 0 {
        h.restart_interval / h.width
    } else {
        return Err(Error::unsupported(format!(
            "restart interval of {} samples is not a whole number of {}-sample rows",
            h.restart_interval, h.width
        )));
    };
    let mut comp_tables: Vec<&HuffTable> = Vec::with_capacity(nc);
    let mut offsets = [0usize; 4];
    for (k, &(f, slot)) in h.scan.iter().enumerate() {
        let t = tables[slot]
            .as_ref()
            .ok_or_else(|| Error::decode(format!("Huffman table {slot} used but not defined")))?;
        comp_tables.push(t);
        offsets[k] = f;
    }
    // Every sample takes at least one bit (a Huffman code), so a stream too short for the
    // frame is refused before the frame is allocated.
    let entropy = &data[h.data_start..];
    if n / 8 > entropy.len() {
        return Err(Error::decode(format!(
            "{} bytes of data cannot hold a {}x{}x{nc} frame (truncated)",
            entropy.len(),
            h.width,
            h.height
        )));
    }
    let mut samples = try_vec::<u16>(n, limits)?;
    let mut rd = BitReader::new(entropy);
    let init = 1u16 << (h.precision - h.pt - 1);
    let row_len = h.width * nc;
    let ctx = RowCtx {
        tables: &comp_tables,
        init,
    };
    let mut rst = 0u8;
    for y in 0..h.height {
        let (above, rest) = samples.split_at_mut(y * row_len);
        let cur = &mut rest[..row_len];
        let first = restart_rows == 0 && y == 0 || restart_rows != 0 && y % restart_rows == 0;
        if first {
            decode_first_row(&mut rd, &ctx, cur);
        } else {
            let prev = &above[(y - 1) * row_len..];
            match h.predictor {
                1 => decode_row_p::<1>(&mut rd, &ctx, prev, cur),
                2 => decode_row_p::<2>(&mut rd, &ctx, prev, cur),
                3 => decode_row_p::<3>(&mut rd, &ctx, prev, cur),
                4 => decode_row_p::<4>(&mut rd, &ctx, prev, cur),
                5 => decode_row_p::<5>(&mut rd, &ctx, prev, cur),
                6 => decode_row_p::<6>(&mut rd, &ctx, prev, cur),
                _ => decode_row_p::<7>(&mut rd, &ctx, prev, cur),
            }
        }
        if rd.bad_code {
            return Err(Error::decode(format!("invalid Huffman code in row {y}")));
        }
        if rd.overrun() {
            return Err(Error::decode(format!(
                "lossless JPEG data ends in row {y} of {} (truncated)",
                h.height
            )));
        }
        if restart_rows != 0 && (y + 1) % restart_rows == 0 && y + 1 < h.height {
            rd.restart(rst)?;
            rst = (rst + 1) & 7;
        }
    }
    if h.pt > 0 {
        for s in samples.iter_mut() {
            *s = ((*s as u32) << h.pt) as u16;
        }
    }
    // Rows were decoded in scan order; put the components in frame order.
    let offsets = &offsets[..nc];
    if offsets.iter().enumerate().any(|(k, &f)| k != f) {
        let mut px = [0u16; 4];
        for pixel in samples.chunks_exact_mut(nc) {
            for (k, &f) in offsets.iter().enumerate() {
                px[f] = pixel[k];
            }
            pixel.copy_from_slice(&px[..nc]);
        }
    }
    Ok(LjpegFrame {
        width: h.width,
        height: h.height,
        components: nc,
        precision: h.precision,
        samples,
    })
}

/// What a row decoder needs besides the rows.
struct RowCtx<'t> {
    /// Huffman table of each scan component.
    tables: &'t [&'t HuffTable],
    /// Prediction of the first sample of a scan or restart interval, 2^(P-Pt-1).
    init: u16,
}

/// Decodes the first row of the scan or of a restart interval: the first pixel is
/// predicted by 2^(P-Pt-1), the others by their left neighbour (T.81 H.1.2.1).
/// Components are in scan order.
fn decode_first_row(rd: &mut BitReader, ctx: &RowCtx, cur: &mut [u16]) {
    let nc = ctx.tables.len();
    for (k, &t) in ctx.tables.iter().enumerate() {
        cur[k] = (ctx.init as i32).wrapping_add(rd.diff(t)) as u16;
    }
    for i in nc..cur.len() {
        let ra = cur[i - nc] as i32;
        cur[i] = ra.wrapping_add(rd.diff(ctx.tables[i % nc])) as u16;
    }
}

/// Decodes a row after the first of `NC` components in scan order: the first pixel is
/// predicted from above, the others by predictor `P` (T.81 table H.1), all arithmetic
/// modulo 2^16.
#[inline(always)]
fn decode_row<const P: u8, const NC: usize>(
    rd: &mut BitReader,
    ctx: &RowCtx,
    prev: &[u16],
    cur: &mut [u16],
) {
    let tables: [&HuffTable; NC] = std::array::from_fn(|k| ctx.tables[k]);
    let mut left = [0i32; NC];
    let mut above_left = [0i32; NC];
    let mut pixels = cur.chunks_exact_mut(NC).zip(prev.chunks_exact(NC));
    if let Some((c, p)) = pixels.next() {
        for k in 0..NC {
            let v = (p[k] as i32).wrapping_add(rd.diff(tables[k])) & 0xFFFF;
            c[k] = v as u16;
            left[k] = v;
            above_left[k] = p[k] as i32;
        }
    }
    for (c, p) in pixels {
        for k in 0..NC {
            let rb = p[k] as i32;
            let px = predict::<P>(left[k], rb, above_left[k]);
            let v = px.wrapping_add(rd.diff(tables[k])) & 0xFFFF;
            c[k] = v as u16;
            left[k] = v;
            above_left[k] = rb;
        }
    }
}

/// Decodes a row after the first for predictor `P`, dispatching on the component count.
fn decode_row_p<const P: u8>(rd: &mut BitReader, ctx: &RowCtx, prev: &[u16], cur: &mut [u16]) {
    match ctx.tables.len() {
        1 => decode_row::<P, 1>(rd, ctx, prev, cur),
        2 => decode_row::<P, 2>(rd, ctx, prev, cur),
        3 => decode_row::<P, 3>(rd, ctx, prev, cur),
        _ => decode_row::<P, 4>(rd, ctx, prev, cur),
    }
}

/// The seven lossless predictors of T.81 table H.1 (Ra left, Rb above, Rc above-left).
#[inline(always)]
pub(super) fn predict<const P: u8>(ra: i32, rb: i32, rc: i32) -> i32 {
    match P {
        1 => ra,
        2 => rb,
        3 => rc,
        4 => ra + rb - rc,
        5 => ra + ((rb - rc) >> 1),
        6 => rb + ((ra - rc) >> 1),
        _ => (ra + rb) >> 1,
    }
}

/// The encoder, for tests and synthetic DNGs only (feature `test-support`).
#[cfg(any(test, feature = "test-support"))]
pub use super::ljpeg_encode::{encode, encode_with};

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random generator for test data.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }
    }

    /// A smooth gradient with noise, like a raw tile, within `precision` bits.
    fn test_image(w: usize, h: usize, nc: usize, precision: u8, seed: u64) -> Vec<u16> {
        let max = ((1u32 << precision) - 1) as f64;
        let mut rng = Lcg(seed);
        let mut v = Vec::with_capacity(w * h * nc);
        for y in 0..h {
            for x in 0..w {
                for c in 0..nc {
                    let base =
                        (x as f64 / w as f64 * 0.6 + y as f64 / h as f64 * 0.3 + c as f64 * 0.03)
                            * max;
                    let noise = (rng.next() % 64) as f64 - 32.0;
                    v.push((base + noise * max / 1024.0).clamp(0.0, max) as u16);
                }
            }
        }
        v
    }

    #[test]
    fn round_trip_every_predictor_component_count_and_precision() {
        for precision in [2u8, 8, 10, 12, 14, 16] {
            for nc in 1..=4 {
                for predictor in 1..=7 {
                    let (w, h) = (37, 11);
                    let img = test_image(w, h, nc, precision, predictor as u64 * 31 + nc as u64);
                    let jpeg = encode(&img, w, h, nc, precision, predictor).expect("encode");
                    let f = decode(&jpeg, &Limits::default()).expect("decode");
                    assert_eq!(
                        (f.width, f.height, f.components, f.precision),
                        (w, h, nc, precision)
                    );
                    assert_eq!(f.samples, img, "P{precision} nc{nc} predictor {predictor}");
                }
            }
        }
    }

    #[test]
    fn round_trip_extreme_values_use_the_16_bit_difference() {
        // Alternating 0 and 65535 forces differences of -32768/32768 (SSSS = 16) and wraps.
        let (w, h) = (9, 5);
        let img: Vec<u16> = (0..w * h)
            .map(|i| if (i + i / w) % 2 == 0 { 0 } else { 65535 })
            .collect();
        for predictor in 1..=7 {
            let jpeg = encode(&img, w, h, 1, 16, predictor).expect("encode");
            let f = decode(&jpeg, &Limits::default()).expect("decode");
            assert_eq!(f.samples, img, "predictor {predictor}");
        }
        let mut rng = Lcg(7);
        let noise: Vec<u16> = (0..w * h * 2).map(|_| rng.next() as u16).collect();
        let jpeg = encode(&noise, w, h, 2, 16, 4).expect("encode");
        assert_eq!(
            decode(&jpeg, &Limits::default()).expect("decode").samples,
            noise
        );
    }

    #[test]
    fn round_trip_with_point_transform_drops_low_bits() {
        let (w, h) = (13, 7);
        let img = test_image(w, h, 2, 12, 3);
        let jpeg = encode_with(&img, w, h, 2, 12, 6, 2, 0).expect("encode");
        let f = decode(&jpeg, &Limits::default()).expect("decode");
        let want: Vec<u16> = img.iter().map(|&v| v >> 2 << 2).collect();
        assert_eq!(f.samples, want);
    }

    #[test]
    fn round_trip_with_restart_intervals() {
        for (w, h, nc, rows) in [
            (17usize, 23usize, 2usize, 1usize),
            (16, 20, 1, 3),
            (5, 40, 4, 7),
        ] {
            let img = test_image(w, h, nc, 14, 11);
            for predictor in [1, 4, 7] {
                let ri = (w * rows) as u16;
                let jpeg = encode_with(&img, w, h, nc, 14, predictor, 0, ri).expect("encode");
                assert!(jpeg.windows(2).any(|p| p == [0xFF, 0xD1]), "has RST1");
                let f = decode(&jpeg, &Limits::default()).expect("decode");
                assert_eq!(f.samples, img, "{w}x{h} rows {rows} predictor {predictor}");
            }
        }
    }

    #[test]
    fn restart_marker_out_of_sequence_is_an_error() {
        let img = test_image(8, 8, 1, 12, 5);
        let mut jpeg = encode_with(&img, 8, 8, 1, 12, 1, 0, 8).expect("encode");
        let p = jpeg
            .windows(2)
            .position(|p| p == [0xFF, 0xD1])
            .expect("RST1 present");
        jpeg[p + 1] = 0xD5;
        let e = decode(&jpeg, &Limits::default()).expect_err("bad restart");
        assert_eq!(e.kind(), crate::ErrorKind::Decode);
    }

    #[test]
    fn odd_and_tiny_sizes_round_trip() {
        for (w, h) in [(1usize, 1usize), (1, 9), (9, 1), (3, 3), (255, 2)] {
            let img = test_image(w, h, 3, 10, 9);
            let jpeg = encode(&img, w, h, 3, 10, 5).expect("encode");
            assert_eq!(
                decode(&jpeg, &Limits::default()).expect("decode").samples,
                img
            );
        }
        // A constant image: one symbol per table.
        let flat = vec![77u16; 40];
        let jpeg = encode(&flat, 8, 5, 1, 8, 1).expect("encode");
        assert_eq!(
            decode(&jpeg, &Limits::default()).expect("decode").samples,
            flat
        );
    }

    #[test]
    fn truncated_streams_are_errors() {
        let img = test_image(64, 32, 2, 12, 1);
        let jpeg = encode(&img, 64, 32, 2, 12, 1).expect("encode");
        // The last bytes of the scan are the EOI marker and up to a byte of padding.
        for cut in (0..jpeg.len() - 3).step_by(7) {
            let r = decode(&jpeg[..cut], &Limits::default());
            assert!(r.is_err(), "cut at {cut} of {} decoded", jpeg.len());
        }
    }

    #[test]
    fn random_garbage_is_an_error_not_a_panic() {
        let img = test_image(32, 16, 2, 12, 2);
        let jpeg = encode(&img, 32, 16, 2, 12, 1).expect("encode");
        let mut rng = Lcg(99);
        for _ in 0..2000 {
            let mut bad = jpeg.clone();
            for _ in 0..1 + rng.next() % 8 {
                let i = rng.next() as usize % bad.len();
                bad[i] = rng.next() as u8;
            }
            let _ = decode(&bad, &Limits::default());
        }
        for len in 0..200 {
            let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            assert!(decode(&junk, &Limits::default()).is_err());
            let mut headed = vec![0xFF, 0xD8];
            headed.extend_from_slice(&junk);
            let _ = decode(&headed, &Limits::default());
        }
    }

    #[test]
    fn entropy_garbage_after_valid_headers_is_an_error() {
        let img = test_image(32, 16, 1, 12, 2);
        let jpeg = encode(&img, 32, 16, 1, 12, 1).expect("encode");
        let sos = jpeg
            .windows(2)
            .position(|p| p == [0xFF, 0xDA])
            .expect("SOS");
        let start = sos + 2 + 8; // SOS length is 8 for one component
        let mut rng = Lcg(3);
        let mut errors = 0;
        for _ in 0..200 {
            let mut bad = jpeg[..start].to_vec();
            bad.extend((0..40).map(|_| rng.next() as u8));
            if decode(&bad, &Limits::default()).is_err() {
                errors += 1;
            }
        }
        assert_eq!(errors, 200, "40 bytes cannot hold 512 samples");
    }

    #[test]
    fn huge_frame_is_refused_by_limits() {
        // A valid stream for a 1x1 frame, then patch the SOF3 size to 65535 x 65535.
        let jpeg = encode(&[5], 1, 1, 1, 8, 1).expect("encode");
        let sof = jpeg
            .windows(2)
            .position(|p| p == [0xFF, 0xC3])
            .expect("SOF3");
        let mut big = jpeg.clone();
        big[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        let e = decode(&big, &Limits::default()).expect_err("huge");
        assert_eq!(e.kind(), crate::ErrorKind::Limits);
        let small = Limits {
            max_samples: 100,
            ..Limits::default()
        };
        let img = test_image(20, 20, 1, 8, 1);
        let jpeg = encode(&img, 20, 20, 1, 8, 1).expect("encode");
        assert_eq!(
            decode(&jpeg, &small).expect_err("limit").kind(),
            crate::ErrorKind::Limits
        );
    }

    #[test]
    fn unsupported_features_are_reported_as_unsupported() {
        let img = test_image(4, 4, 2, 8, 1);
        let jpeg = encode(&img, 4, 4, 2, 8, 1).expect("encode");
        let sof = jpeg
            .windows(2)
            .position(|p| p == [0xFF, 0xC3])
            .expect("SOF3");
        // Baseline DCT frame.
        let mut b = jpeg.clone();
        b[sof + 1] = 0xC0;
        assert_eq!(
            decode(&b, &Limits::default()).expect_err("sof0").kind(),
            crate::ErrorKind::Unsupported
        );
        // 2x1 sampling.
        let mut b = jpeg.clone();
        b[sof + 2 + 2 + 6 + 1] = 0x21;
        assert_eq!(
            decode(&b, &Limits::default()).expect_err("sampling").kind(),
            crate::ErrorKind::Unsupported
        );
        // A scan with only one of the two components.
        let sos = jpeg
            .windows(2)
            .position(|p| p == [0xFF, 0xDA])
            .expect("SOS");
        let mut b = jpeg.clone();
        b[sos + 4] = 1;
        assert_eq!(
            decode(&b, &Limits::default()).expect_err("scan").kind(),
            crate::ErrorKind::Unsupported
        );
    }

    #[test]
    fn encoder_rejects_bad_parameters() {
        assert!(encode(&[0; 4], 2, 2, 1, 8, 0).is_err());
        assert!(encode(&[0; 4], 2, 2, 1, 8, 8).is_err());
        assert!(encode(&[0; 4], 2, 2, 1, 1, 1).is_err());
        assert!(encode(&[0; 3], 2, 2, 1, 8, 1).is_err());
        assert!(encode(&[256; 4], 2, 2, 1, 8, 1).is_err());
        assert!(encode(&[0; 10], 2, 1, 5, 8, 1).is_err());
    }

    /// Tile (offset, length) pairs and [width, height, tile width, tile length].
    type Tiles = (Vec<(usize, usize)>, [usize; 4]);

    /// Test-only TIFF walk: the tiles of the raw IFD (the IFD with NewSubfileType 0).
    fn dng_tiles(f: &[u8]) -> Option<Tiles> {
        let le = f.get(..2)? == b"II";
        let u16_at = |p: usize| -> Option<usize> {
            let b = f.get(p..p + 2)?;
            Some(if le {
                u16::from_le_bytes([b[0], b[1]])
            } else {
                u16::from_be_bytes([b[0], b[1]])
            } as usize)
        };
        let u32_at = |p: usize| -> Option<usize> {
            let b = f.get(p..p + 4)?;
            let a = [b[0], b[1], b[2], b[3]];
            Some(if le {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            } as usize)
        };
        let entries = |ifd: usize| -> Option<Vec<(usize, usize, usize, usize)>> {
            let n = u16_at(ifd)?;
            (0..n)
                .map(|i| {
                    let e = ifd + 2 + 12 * i;
                    Some((u16_at(e)?, u16_at(e + 2)?, u32_at(e + 4)?, e + 8))
                })
                .collect()
        };
        let value = |typ: usize, count: usize, at: usize, i: usize| -> Option<usize> {
            let size = if typ == 3 { 2 } else { 4 };
            let base = if size * count <= 4 { at } else { u32_at(at)? };
            if typ == 3 {
                u16_at(base + 2 * i)
            } else {
                u32_at(base + 4 * i)
            }
        };
        let ifd0 = u32_at(4)?;
        let mut ifds = vec![ifd0];
        if let Some(sub) = entries(ifd0)?.into_iter().find(|e| e.0 == 330) {
            for k in 0..sub.2 {
                ifds.push(value(4, sub.2, sub.3, k)?);
            }
        }
        for ifd in ifds {
            let es = entries(ifd)?;
            let get = |tag: usize| es.iter().find(|e| e.0 == tag).copied();
            if get(254).map(|e| value(e.1, e.2, e.3, 0)) != Some(Some(0)) {
                continue;
            }
            let num = |tag| get(tag).and_then(|e| value(e.1, e.2, e.3, 0));
            let (offs, counts) = (get(324)?, get(325)?);
            let tiles = (0..offs.2)
                .map(|i| {
                    Some((
                        value(offs.1, offs.2, offs.3, i)?,
                        value(counts.1, counts.2, counts.3, i)?,
                    ))
                })
                .collect::<Option<Vec<_>>>()?;
            return Some((tiles, [num(256)?, num(257)?, num(322)?, num(323)?]));
        }
        None
    }

    use crate::test_common as common;

    #[test]
    fn phone_dng_tiles_decode_to_10_bit_values() {
        let data = common::require_data!();
        let f = std::fs::read(data.join("raw/phone_synth_lgg4_4200k_4032x3024.dng"))
            .expect("phone dng");
        let (tiles, [w, h, tw, th]) = dng_tiles(&f).expect("raw IFD with tiles");
        assert_eq!((w, h, tw, th), (4032, 3024, 256, 256));
        assert_eq!(tiles.len(), w.div_ceil(tw) * h.div_ceil(th));
        let mut hist_min = u16::MAX;
        let mut hist_max = 0u16;
        for &(off, len) in &tiles {
            let fr = decode(&f[off..off + len], &Limits::default()).expect("tile decodes");
            assert_eq!(fr.width * fr.components, tw);
            assert_eq!(fr.height, th);
            for &s in &fr.samples {
                hist_min = hist_min.min(s);
                hist_max = hist_max.max(s);
            }
        }
        assert!(hist_max <= 1023, "max {hist_max}");
        assert!(hist_min < 200, "min {hist_min}");
    }

    /// Decoding speed on the phone DNG (run with `--ignored --nocapture` in release).
    #[test]
    #[ignore]
    fn bench_phone_dng_tiles() {
        let data = common::require_data!();
        let f = std::fs::read(data.join("raw/phone_synth_lgg4_4200k_4032x3024.dng"))
            .expect("phone dng");
        let (tiles, _) = dng_tiles(&f).expect("tiles");
        let t = std::time::Instant::now();
        let mut n = 0;
        for _ in 0..5 {
            for &(off, len) in &tiles {
                n += decode(&f[off..off + len], &Limits::default())
                    .expect("tile")
                    .samples
                    .len();
            }
        }
        let s = t.elapsed().as_secs_f64();
        eprintln!(
            "{:.1} Msamples/s single-threaded ({:.1} ms per 12 MP)",
            n as f64 / s / 1e6,
            s * 1e3 / 5.0
        );
    }
}
