//! A small lossless JPEG (ITU T.81 process 14) encoder: optimal Huffman tables, any
//! predictor, point transform, row restarts. Test support only (feature `test-support`):
//! it writes the compressed DNGs the tests and the benchmark decode.

use super::ljpeg::predict;
use crate::error::{Error, Result};

/// Encodes samples as a lossless JPEG stream with the given predictor, one optimal Huffman
/// table per component and no restarts. Used by tests and to synthesise compressed DNGs.
pub fn encode(
    samples: &[u16],
    width: usize,
    height: usize,
    components: usize,
    precision: u8,
    predictor: u8,
) -> Result<Vec<u8>> {
    encode_with(
        samples, width, height, components, precision, predictor, 0, 0,
    )
}

/// [`encode`] with a point transform `pt` (the low `pt` bits of every sample are dropped,
/// T.81 H.1.1) and a restart interval in pixels (0 for none; it must be a whole number of
/// rows, the only kind [`decode`](super::ljpeg::decode) accepts).
#[allow(clippy::too_many_arguments)]
pub fn encode_with(
    samples: &[u16],
    width: usize,
    height: usize,
    components: usize,
    precision: u8,
    predictor: u8,
    pt: u8,
    restart_interval: u16,
) -> Result<Vec<u8>> {
    let nc = components;
    if !(1..=65535).contains(&width) || !(1..=65535).contains(&height) {
        return Err(Error::parameter(format!(
            "cannot encode a {width}x{height} frame"
        )));
    }
    if !(1..=4).contains(&nc) || !(2..=16).contains(&precision) || !(1..=7).contains(&predictor) {
        return Err(Error::parameter(format!(
            "cannot encode {nc} components, precision {precision}, predictor {predictor}"
        )));
    }
    if pt >= precision || pt > 15 {
        return Err(Error::parameter(format!("point transform {pt} too large")));
    }
    let ri = restart_interval as usize;
    if ri != 0 && ri % width != 0 {
        return Err(Error::parameter(
            "restart interval must be a whole number of rows",
        ));
    }
    let restart_rows = ri / width;
    if width.checked_mul(height).and_then(|n| n.checked_mul(nc)) != Some(samples.len()) {
        return Err(Error::parameter(
            "sample count does not match the frame size",
        ));
    }
    let max = if precision == 16 {
        u16::MAX
    } else {
        (1u16 << precision) - 1
    };
    if samples.iter().any(|&s| s > max) {
        return Err(Error::parameter(format!(
            "sample above {max} for precision {precision}"
        )));
    }
    // Differences per sample, in scan order (T.81 H.1.2).
    let row_len = width * nc;
    let init = 1i32 << (precision - pt - 1);
    let at = |i: usize| (samples[i] >> pt) as i32;
    let mut diffs = Vec::with_capacity(samples.len());
    for y in 0..height {
        let first = if restart_rows == 0 {
            y == 0
        } else {
            y % restart_rows == 0
        };
        for x in 0..width {
            for c in 0..nc {
                let i = y * row_len + x * nc + c;
                let px = if first {
                    if x == 0 { init } else { at(i - nc) }
                } else if x == 0 {
                    at(i - row_len)
                } else {
                    let (ra, rb, rc) = (at(i - nc), at(i - row_len), at(i - row_len - nc));
                    match predictor {
                        1 => predict::<1>(ra, rb, rc),
                        2 => predict::<2>(ra, rb, rc),
                        3 => predict::<3>(ra, rb, rc),
                        4 => predict::<4>(ra, rb, rc),
                        5 => predict::<5>(ra, rb, rc),
                        6 => predict::<6>(ra, rb, rc),
                        _ => predict::<7>(ra, rb, rc),
                    }
                };
                let mut d = (at(i) - px) & 0xFFFF;
                if d > 32768 {
                    d -= 65536;
                }
                diffs.push(d);
            }
        }
    }
    // One optimal table per component (T.81 K.2).
    let mut freq = vec![[0u32; 17]; nc];
    for (i, &d) in diffs.iter().enumerate() {
        freq[i % nc][category(d) as usize] += 1;
    }
    let specs: Vec<([u8; 16], Vec<u8>)> = freq.iter().map(optimal_table).collect();
    let codes: Vec<[(u32, u32); 17]> = specs.iter().map(|(c, v)| code_table(c, v)).collect();

    let mut out = vec![0xFF, 0xD8];
    let mut dht = Vec::new();
    for (c, (counts, values)) in specs.iter().enumerate() {
        dht.push(c as u8);
        dht.extend_from_slice(counts);
        dht.extend_from_slice(values);
    }
    segment(&mut out, 0xC4, &dht);
    let mut sof = vec![precision];
    sof.extend_from_slice(&(height as u16).to_be_bytes());
    sof.extend_from_slice(&(width as u16).to_be_bytes());
    sof.push(nc as u8);
    for c in 0..nc {
        sof.extend_from_slice(&[c as u8, 0x11, 0]);
    }
    segment(&mut out, 0xC3, &sof);
    if ri != 0 {
        segment(&mut out, 0xDD, &restart_interval.to_be_bytes());
    }
    let mut sos = vec![nc as u8];
    for c in 0..nc {
        sos.extend_from_slice(&[c as u8, (c as u8) << 4]);
    }
    sos.extend_from_slice(&[predictor, 0, pt]);
    segment(&mut out, 0xDA, &sos);
    let mut w = BitWriter { out, acc: 0, n: 0 };
    let mut rst = 0u8;
    for (i, &d) in diffs.iter().enumerate() {
        if restart_rows != 0 && i > 0 && i % (row_len * restart_rows) == 0 {
            w.flush();
            w.out.extend_from_slice(&[0xFF, 0xD0 + rst]);
            rst = (rst + 1) & 7;
        }
        let s = category(d);
        let (code, len) = codes[i % nc][s as usize];
        w.put(code, len);
        if s != 0 && s != 16 {
            let v = if d < 0 { d - 1 } else { d };
            w.put(v as u32 & ((1 << s) - 1), s);
        }
    }
    w.flush();
    let mut out = w.out;
    out.extend_from_slice(&[0xFF, 0xD9]);
    Ok(out)
}

/// Appends a marker segment.
fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// SSSS of a difference (T.81 table H.2).
fn category(d: i32) -> u32 {
    if d == 32768 {
        16
    } else {
        32 - d.unsigned_abs().leading_zeros()
    }
}

/// Code lengths limited to 16 bits for the given SSSS frequencies (T.81 K.2, figures
/// K.1 to K.4), returned as DHT counts and values.
fn optimal_table(freq: &[u32; 17]) -> ([u8; 16], Vec<u8>) {
    // Symbol 17 is the reserved one that keeps any code from being all ones.
    let mut f = [0u64; 18];
    for (a, &b) in f.iter_mut().zip(freq.iter()) {
        *a = b as u64;
    }
    f[17] = 1;
    let mut size = [0usize; 18];
    let mut others = [usize::MAX; 18];
    loop {
        let mut v1 = usize::MAX;
        for i in 0..18 {
            if f[i] > 0 && (v1 == usize::MAX || f[i] <= f[v1]) {
                v1 = i;
            }
        }
        let mut v2 = usize::MAX;
        for i in 0..18 {
            if f[i] > 0 && i != v1 && (v2 == usize::MAX || f[i] <= f[v2]) {
                v2 = i;
            }
        }
        if v2 == usize::MAX {
            break;
        }
        f[v1] += f[v2];
        f[v2] = 0;
        let mut i = v1;
        size[i] += 1;
        while others[i] != usize::MAX {
            i = others[i];
            size[i] += 1;
        }
        others[i] = v2;
        let mut j = v2;
        size[j] += 1;
        while others[j] != usize::MAX {
            j = others[j];
            size[j] += 1;
        }
    }
    let mut bits = [0u32; 40];
    for &s in &size {
        if s > 0 {
            bits[s] += 1;
        }
    }
    // Limit code lengths to 16 (figure K.3).
    for i in (17..40).rev() {
        while bits[i] > 0 {
            let mut j = i - 2;
            while bits[j] == 0 {
                j -= 1;
            }
            bits[i] -= 2;
            bits[i - 1] += 1;
            bits[j + 1] += 2;
            bits[j] -= 1;
        }
    }
    // Drop the reserved code (the longest).
    let mut i = 16;
    while bits[i] == 0 {
        i -= 1;
    }
    bits[i] -= 1;
    let mut counts = [0u8; 16];
    for l in 1..=16 {
        counts[l - 1] = bits[l] as u8;
    }
    // Values sorted by their unlimited code size (figure K.4).
    let mut values = Vec::new();
    for s in 1..40 {
        for (sym, &sz) in size.iter().enumerate().take(17) {
            if sz == s {
                values.push(sym as u8);
            }
        }
    }
    (counts, values)
}

/// Canonical codes (T.81 C.2): for each SSSS, its (code, length).
fn code_table(counts: &[u8; 16], values: &[u8]) -> [(u32, u32); 17] {
    let mut t = [(0u32, 0u32); 17];
    let mut code = 0u32;
    let mut k = 0;
    for len in 1..=16u32 {
        for _ in 0..counts[len as usize - 1] {
            if let Some(&v) = values.get(k) {
                t[v as usize] = (code, len);
            }
            code += 1;
            k += 1;
        }
        code <<= 1;
    }
    t
}

/// MSB-first bit writer with 0xFF00 stuffing (T.81 F.1.2.3).
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, v: u32, len: u32) {
        self.acc = (self.acc << len) | (v as u64 & ((1u64 << len) - 1));
        self.n += len;
        while self.n >= 8 {
            self.n -= 8;
            let b = (self.acc >> self.n) as u8;
            self.out.push(b);
            if b == 0xFF {
                self.out.push(0);
            }
        }
    }

    /// Pads the last byte with one bits (T.81 F.1.2.3).
    fn flush(&mut self) {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
        self.acc = 0;
    }
}
