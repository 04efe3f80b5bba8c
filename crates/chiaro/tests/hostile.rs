//! Hostile input: truncated, bit-flipped, hand-crafted and foreign files must give errors
//! (or, where the bytes still describe an image, images), never panics, hangs or huge
//! allocations. Each test runs under a watchdog so a hang fails instead of blocking the suite.
//!
//! Every panic is caught with `catch_unwind` and reported with the input that caused it, so
//! a failure names the file, the offset or the mutation to reproduce it.

mod common;

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chiaro::color::matrix::Mat3;
use chiaro::io::{OutputImage, Pixels};
use chiaro::lab::synth::{self, Storage, SynthDng};
use chiaro::pipeline::{OutputSpec, Recipe};
use chiaro::raw::dng::ljpeg;
use chiaro::raw::tiff::{TiffFile, tag};
use chiaro::raw::{CfaPattern, ColorCalibration, RawImage, WorkerCommand, dng};
use chiaro::stages::demosaic::{Demosaic, DemosaicMethod};
use chiaro::stages::opcodes::{self, AreaSpec, GainMap, Opcode};
use chiaro::{ErrorKind, Limits};

// ---- harness ------------------------------------------------------------------------------

/// Generous bound for one test on a loaded 2-core machine; the whole file takes a few seconds.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Per-file hang check inside a test: generous on purpose (a hang, not a speed limit; speed
/// is the benchmark's business).
const HANG: Duration = Duration::from_secs(30);

/// Runs a test body on its own thread and fails if it does not finish within [`WATCHDOG`].
fn bounded(name: &'static str, body: impl FnOnce() + Send + 'static) {
    quiet_rawler_panics();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(body));
            let _ = tx.send(r);
        })
        .expect("spawn test thread");
    match rx.recv_timeout(WATCHDOG) {
        Ok(Ok(())) => {}
        Ok(Err(p)) => resume_unwind(p),
        Err(_) => panic!("{name} did not finish within {WATCHDOG:?}: a hang"),
    }
}

/// rawler panics on corrupt input by design and the library catches those panics; the
/// default hook would still print each one (from rawler's worker threads, outside the test
/// capture). The library's hook silences caught decoder panics; all others reach the
/// default hook.
fn quiet_rawler_panics() {
    chiaro::raw::isolate::quiet_caught_panics();
}

fn panic_text(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// Runs `f`, turning a panic into `Err(message)`.
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_text(p.as_ref()))
}

/// Fails listing every recorded problem (at most 20 shown).
#[track_caller]
fn assert_none(problems: &[String], what: &str) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n{}",
        problems.len(),
        problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// xorshift64*: deterministic pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The shared data; tests that call this start with `common::require_data!()`, which skips
/// them visibly on a clone without it.
fn shared() -> PathBuf {
    common::shared_data().expect("checked by require_data! at the start of the test")
}

fn repo_samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every DNG in the shared data, the stubs and the repo samples.
fn all_dngs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in [
        shared().join("raw"),
        shared().join("raw/stubs"),
        repo_samples(),
    ] {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.expect("dir entry").path();
            if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("dng")) {
                v.push(p);
            }
        }
    }
    v.sort();
    assert!(
        v.len() >= 4,
        "expected the shared and sample DNGs, found {v:?}"
    );
    v
}

/// Develops with the default recipe; `Err(panic message)` if it panics. The developed image
/// must be consistent with its stated size.
fn develop_guarded(raw: &RawImage) -> Result<Option<OutputImage>, String> {
    let r =
        guard(|| chiaro::pipeline::develop(raw, &Recipe::default(), &OutputSpec::default(), None))?;
    match r {
        Ok(d) => {
            let n = match &d.image.pixels {
                Pixels::U8(v) => v.len(),
                Pixels::U16(v) => v.len(),
                Pixels::F32(v) => v.len(),
            };
            if n != d.image.width * d.image.height * 3 {
                return Err(format!(
                    "developed {}x{} image holds {n} samples",
                    d.image.width, d.image.height
                ));
            }
            Ok(Some(d.image))
        }
        Err(_) => Ok(None),
    }
}

/// Decoded metadata equal (what a mutation of the header could change).
fn same_meta(a: &RawImage, b: &RawImage) -> bool {
    a.width() == b.width()
        && a.height() == b.height()
        && a.samples_per_pixel() == b.samples_per_pixel()
        && a.cfa() == b.cfa()
        && a.linearization() == b.linearization()
        && a.black() == b.black()
        && a.white() == b.white()
        && a.active_area() == b.active_area()
        && a.default_crop() == b.default_crop()
        && a.orientation() == b.orientation()
        && a.color() == b.color()
        && a.opcodes() == b.opcodes()
}

// ---- a small DNG builder for hand-crafted files --------------------------------------------

/// A little-endian TIFF with one IFD. Pixel data sits right after the header (offset 8), so
/// strip and tile offsets are known before the IFD is laid out; then IFD0, then the values
/// that do not fit in an entry.
#[derive(Clone)]
struct Tiff {
    data: Vec<u8>,
    entries: Vec<(u16, u16, u32, Vec<u8>)>,
}

const DATA_AT: u32 = 8;

impl Tiff {
    fn new(data: Vec<u8>) -> Self {
        Tiff {
            data,
            entries: Vec::new(),
        }
    }
    fn set(&mut self, t: u16, typ: u16, count: u32, bytes: Vec<u8>) -> &mut Self {
        self.entries.retain(|e| e.0 != t);
        self.entries.push((t, typ, count, bytes));
        self
    }
    fn remove(&mut self, t: u16) -> &mut Self {
        self.entries.retain(|e| e.0 != t);
        self
    }
    fn bytes(&mut self, t: u16, v: &[u8]) -> &mut Self {
        self.set(t, 1, v.len() as u32, v.to_vec())
    }
    fn ascii(&mut self, t: u16, s: &str) -> &mut Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.set(t, 2, b.len() as u32, b)
    }
    fn shorts(&mut self, t: u16, v: &[u16]) -> &mut Self {
        self.set(
            t,
            3,
            v.len() as u32,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        )
    }
    fn longs(&mut self, t: u16, v: &[u32]) -> &mut Self {
        self.set(
            t,
            4,
            v.len() as u32,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        )
    }
    fn rationals(&mut self, t: u16, v: &[f64]) -> &mut Self {
        let b = v
            .iter()
            .flat_map(|x| {
                [
                    ((x * 1e6).round() as u32).to_le_bytes(),
                    1_000_000u32.to_le_bytes(),
                ]
                .concat()
            })
            .collect();
        self.set(t, 5, v.len() as u32, b)
    }
    fn srationals(&mut self, t: u16, v: &[f64]) -> &mut Self {
        let b = v
            .iter()
            .flat_map(|x| {
                [
                    ((x * 1e6).round() as i32).to_le_bytes(),
                    1_000_000i32.to_le_bytes(),
                ]
                .concat()
            })
            .collect();
        self.set(t, 10, v.len() as u32, b)
    }
    fn undefined(&mut self, t: u16, v: &[u8]) -> &mut Self {
        self.set(t, 7, v.len() as u32, v.to_vec())
    }

    fn build(&self) -> Vec<u8> {
        let mut entries = self.entries.clone();
        entries.sort_by_key(|e| e.0);
        let ifd_at = (8 + self.data.len() + 1) & !1;
        let extra_at = ifd_at + 2 + 12 * entries.len() + 4;
        let mut out = b"II*\0".to_vec();
        out.extend((ifd_at as u32).to_le_bytes());
        out.extend(&self.data);
        out.resize(ifd_at, 0);
        out.extend((entries.len() as u16).to_le_bytes());
        let mut extra = Vec::new();
        for (t, typ, count, b) in &entries {
            out.extend(t.to_le_bytes());
            out.extend(typ.to_le_bytes());
            out.extend(count.to_le_bytes());
            if b.len() <= 4 {
                let mut v = b.clone();
                v.resize(4, 0);
                out.extend(v);
            } else {
                out.extend(((extra_at + extra.len()) as u32).to_le_bytes());
                extra.extend(b);
                if extra.len() % 2 == 1 {
                    extra.push(0);
                }
            }
        }
        out.extend(0u32.to_le_bytes());
        out.extend(extra);
        out
    }
}

/// The D750's ColorMatrix1 (XYZ D65 -> camera).
const D750_MATRIX: [f64; 9] = [
    0.902, -0.289, -0.0715, -0.4535, 1.2436, 0.2348, -0.0934, 0.1919, 0.7086,
];

/// A smooth 12-bit test mosaic (black 64, white 4095).
fn mosaic_samples(w: usize, h: usize) -> Vec<u16> {
    (0..w * h)
        .map(|i| {
            64 + ((i % w) * 2900 / w.max(1) + (i / w) * 1000 / h.max(1) + (i * 7919) % 97) as u16
        })
        .collect()
}

/// A valid uncompressed 16-bit CFA DNG of `w` x `h` in one strip.
fn cfa_dng(w: usize, h: usize) -> Tiff {
    let data: Vec<u8> = mosaic_samples(w, h)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut t = Tiff::new(data);
    t.longs(tag::NEW_SUBFILE_TYPE, &[0])
        .longs(tag::IMAGE_WIDTH, &[w as u32])
        .longs(tag::IMAGE_LENGTH, &[h as u32])
        .shorts(tag::BITS_PER_SAMPLE, &[16])
        .shorts(tag::COMPRESSION, &[1])
        .shorts(tag::PHOTOMETRIC, &[32803])
        .ascii(tag::MAKE, "Hostile")
        .ascii(tag::MODEL, "Test")
        .longs(tag::STRIP_OFFSETS, &[DATA_AT])
        .shorts(tag::SAMPLES_PER_PIXEL, &[1])
        .longs(tag::ROWS_PER_STRIP, &[h as u32])
        .longs(tag::STRIP_BYTE_COUNTS, &[(w * h * 2) as u32])
        .shorts(tag::CFA_REPEAT_PATTERN_DIM, &[2, 2])
        .bytes(tag::CFA_PATTERN, &[0, 1, 1, 2])
        .bytes(tag::DNG_VERSION, &[1, 4, 0, 0])
        .longs(tag::BLACK_LEVEL, &[64])
        .longs(tag::WHITE_LEVEL, &[4095])
        .srationals(tag::COLOR_MATRIX1, &D750_MATRIX)
        .shorts(tag::CALIBRATION_ILLUMINANT1, &[21])
        .rationals(tag::AS_SHOT_NEUTRAL, &[0.46, 1.0, 0.82]);
    t
}

/// A CFA DNG whose pixels are lossless-JPEG tiles: `pieces` in order, `tile` x `tile`.
fn tiled_ljpeg_dng(w: usize, h: usize, tile: usize, pieces: &[Vec<u8>]) -> Tiff {
    let mut t = cfa_dng(w, h);
    t.data = pieces.concat();
    let mut offsets = Vec::new();
    let mut at = DATA_AT;
    for p in pieces {
        offsets.push(at);
        at += p.len() as u32;
    }
    t.remove(tag::STRIP_OFFSETS)
        .remove(tag::STRIP_BYTE_COUNTS)
        .remove(tag::ROWS_PER_STRIP)
        .shorts(tag::COMPRESSION, &[7])
        .shorts(tag::BITS_PER_SAMPLE, &[12])
        .longs(tag::TILE_WIDTH, &[tile as u32])
        .longs(tag::TILE_LENGTH, &[tile as u32])
        .longs(tag::TILE_OFFSETS, &offsets)
        .longs(
            tag::TILE_BYTE_COUNTS,
            &pieces.iter().map(|p| p.len() as u32).collect::<Vec<_>>(),
        );
    t
}

/// A synthetic DNG via the library's own writer.
fn synth_dng(
    w: usize,
    h: usize,
    cfa: CfaPattern,
    storage: Storage,
    opcode_list2: Option<Vec<u8>>,
    orientation: u16,
) -> Vec<u8> {
    let m: Mat3 = [
        [D750_MATRIX[0], D750_MATRIX[1], D750_MATRIX[2]],
        [D750_MATRIX[3], D750_MATRIX[4], D750_MATRIX[5]],
        [D750_MATRIX[6], D750_MATRIX[7], D750_MATRIX[8]],
    ];
    let s = SynthDng {
        width: w,
        height: h,
        cfa,
        samples: mosaic_samples(w, h),
        bits: 12,
        black: 64,
        white: 4095,
        color: ColorCalibration {
            color_matrix1: Some(m),
            illuminant1: 21,
            as_shot_neutral: Some([0.46, 1.0, 0.82]),
            ..Default::default()
        },
        opcode_list2,
        opcode_list3: None,
        orientation,
        make: "Hostile".into(),
        model: "Synth".into(),
        storage,
    };
    synth::write_dng(&s).expect("synthetic DNG")
}

/// Decodes `bytes`; `Err(panic)` on a panic, else whether it decoded.
fn decode_guarded(bytes: &[u8]) -> Result<chiaro::Result<RawImage>, String> {
    guard(|| dng::decode(bytes, &Limits::default()))
}

// ---- truncation ---------------------------------------------------------------------------

#[test]
fn truncated_dngs_give_errors_not_panics() {
    let _data = common::require_data!();
    bounded("truncated_dngs_give_errors_not_panics", || {
        let mut problems = Vec::new();
        for path in all_dngs() {
            let bytes = read(&path);
            let full = dng::decode(&bytes, &Limits::default()).ok();
            let mut cuts: Vec<usize> = (0..bytes.len().min(4096)).step_by(5).collect();
            cuts.extend((1..200).map(|i| bytes.len() * i / 200));
            cuts.extend((1..=8).map(|k| bytes.len().saturating_sub(k)));
            cuts.sort_unstable();
            cuts.dedup();
            for n in cuts.into_iter().filter(|&n| n < bytes.len()) {
                match decode_guarded(&bytes[..n]) {
                    Err(p) => problems.push(format!("{}: cut at {n}: panic: {p}", path.display())),
                    Ok(Err(e)) => {
                        if e.message().is_empty() {
                            problems.push(format!(
                                "{}: cut at {n}: empty error message",
                                path.display()
                            ));
                        }
                    }
                    // Only acceptable when everything the image needs lies before the cut.
                    Ok(Ok(raw)) => {
                        let complete = full
                            .as_ref()
                            .is_some_and(|f| same_meta(f, &raw) && f.data() == raw.data());
                        if !complete {
                            problems.push(format!(
                                "{}: cut at {n} of {} decodes to a different image",
                                path.display(),
                                bytes.len()
                            ));
                        }
                    }
                }
            }
        }
        assert_none(&problems, "truncated DNGs");
    });
}

/// Truncation by zeroing the tail (the file keeps its size, so the decoders run on zeros).
#[test]
fn zeroed_tails_never_panic() {
    let _data = common::require_data!();
    bounded("zeroed_tails_never_panic", || {
        let mut problems = Vec::new();
        let files = [
            (
                "d750",
                read(&shared().join("raw/nikon_d750_rose_768x512.dng")),
            ),
            (
                "synth-ljpeg",
                synth_dng(
                    61,
                    37,
                    bayer("RGGB"),
                    Storage::LosslessJpeg { tile: 16 },
                    None,
                    1,
                ),
            ),
            (
                "synth-raw",
                synth_dng(61, 37, bayer("GBRG"), Storage::Uncompressed, None, 6),
            ),
        ];
        for (name, bytes) in &files {
            for i in 1..60 {
                let n = bytes.len() * i / 60;
                let mut b = bytes.clone();
                b[n..].fill(0);
                match decode_guarded(&b) {
                    Err(p) => problems.push(format!("{name}: zeroed from {n}: panic: {p}")),
                    Ok(Ok(raw)) if name.starts_with("synth") => {
                        if let Err(p) = develop_guarded(&raw) {
                            problems
                                .push(format!("{name}: zeroed from {n}: develop panicked: {p}"));
                        }
                    }
                    Ok(_) => {}
                }
            }
        }
        assert_none(&problems, "zeroed tails");
    });
}

// ---- bit flips ----------------------------------------------------------------------------

/// Applies 1-4 random mutations: a bit flip or an interesting byte value, `header` biased.
fn mutate(rng: &mut Rng, bytes: &[u8], header: usize) -> (Vec<u8>, String) {
    let mut b = bytes.to_vec();
    let mut log = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let i = if rng.below(4) < 3 {
            rng.below(header.clamp(1, b.len()))
        } else {
            rng.below(b.len())
        };
        match rng.below(3) {
            0 | 1 => {
                let bit = rng.below(8);
                b[i] ^= 1 << bit;
                log.push(format!("flip bit {bit} of byte {i}"));
            }
            _ => {
                let v = [0x00, 0xFF, 0x7F, 0x80, 0x01][rng.below(5)];
                b[i] = v;
                log.push(format!("byte {i} = {v:#04x}"));
            }
        }
    }
    (b, log.join(", "))
}

/// Bytes before the first strip or tile of any IFD (the structure a flip should hit).
fn header_len(bytes: &[u8]) -> usize {
    let t = &TiffFile::parse(bytes).expect("valid TIFF");
    t.chain
        .iter()
        .chain(&t.sub_ifds)
        .flat_map(|ifd| {
            [tag::STRIP_OFFSETS, tag::TILE_OFFSETS]
                .into_iter()
                .flat_map(move |tg| t.uints(ifd, tg).ok().flatten().unwrap_or_default())
        })
        .min()
        .map_or(bytes.len(), |o| (o as usize).min(bytes.len()))
}

/// Mutates `bytes` `variants` times; decodes each, develops those that decode (at most
/// `max_develop` whose metadata differs from the original, all when `None`).
fn fuzz_file(
    name: &str,
    bytes: &[u8],
    seed: u64,
    variants: usize,
    max_develop: Option<usize>,
    problems: &mut Vec<String>,
) -> (usize, usize) {
    let original = dng::decode(bytes, &Limits::default()).expect("original decodes");
    let header = header_len(bytes);
    let mut rng = Rng(seed);
    let (mut decoded, mut developed) = (0, 0);
    for v in 0..variants {
        let (b, what) = mutate(&mut rng, bytes, header);
        let raw = match decode_guarded(&b) {
            Err(p) => {
                problems.push(format!("{name} variant {v} ({what}): decode panicked: {p}"));
                continue;
            }
            Ok(Err(_)) => continue,
            Ok(Ok(raw)) => raw,
        };
        decoded += 1;
        let worth = match max_develop {
            None => true,
            Some(cap) => developed < cap && !same_meta(&raw, &original),
        };
        if worth {
            developed += 1;
            if let Err(p) = develop_guarded(&raw) {
                problems.push(format!(
                    "{name} variant {v} ({what}): develop panicked: {p}"
                ));
            }
        }
    }
    (decoded, developed)
}

fn bayer(name: &str) -> CfaPattern {
    CfaPattern::bayer(name).expect("Bayer pattern")
}

#[test]
fn bit_flipped_dngs_never_panic() {
    let _data = common::require_data!();
    bounded("bit_flipped_dngs_never_panic", || {
        let mut problems = Vec::new();
        let d750 = read(&shared().join("raw/nikon_d750_rose_768x512.dng"));
        let (dec, dev) = fuzz_file("d750", &d750, 0x5EED_D750, 400, Some(25), &mut problems);
        assert!(
            dec > 40,
            "only {dec} of 400 D750 variants decoded: the mutations are too destructive to test the pipeline"
        );
        assert!(
            dev > 0,
            "no D750 variant with changed metadata was developed"
        );
        for (name, storage, seed) in [
            ("synth uncompressed", Storage::Uncompressed, 11),
            ("synth ljpeg", Storage::LosslessJpeg { tile: 16 }, 12),
        ] {
            let bytes = synth_dng(48, 40, bayer("RGGB"), storage, None, 1);
            let (dec, _) = fuzz_file(name, &bytes, seed, 300, None, &mut problems);
            assert!(dec > 20, "{name}: only {dec} of 300 variants decoded");
        }
        assert_none(&problems, "bit-flipped DNGs");
    });
}

// ---- stubs, empty and foreign files --------------------------------------------------------

#[test]
fn stub_headers_give_clear_errors() {
    let _data = common::require_data!();
    bounded("stub_headers_give_clear_errors", || {
        let dir = shared().join("raw/stubs");
        let mut stubs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("stubs")
            .map(|e| e.expect("entry").path())
            .collect();
        stubs.sort();
        assert!(
            stubs.len() >= 10,
            "expected the 11 stubs, found {}",
            stubs.len()
        );
        let mut problems = Vec::new();
        for p in &stubs {
            let started = Instant::now();
            match guard(|| chiaro::raw::read_file(p, &Limits::default())) {
                Err(panic) => problems.push(format!("{}: panic: {panic}", p.display())),
                Ok(Ok(_)) => problems.push(format!(
                    "{}: a stub without image data decoded",
                    p.display()
                )),
                Ok(Err(e)) => {
                    let msg = e.to_string();
                    if !msg.contains(&p.display().to_string()) {
                        problems.push(format!(
                            "{}: message does not name the file: {msg}",
                            p.display()
                        ));
                    }
                    if !matches!(e.kind(), ErrorKind::Decode | ErrorKind::Unsupported) {
                        problems.push(format!(
                            "{}: kind {:?}, expected decode or unsupported: {msg}",
                            p.display(),
                            e.kind()
                        ));
                    }
                }
            }
            if started.elapsed() > HANG {
                problems.push(format!("{}: took {:?}", p.display(), started.elapsed()));
            }
        }
        assert_none(&problems, "stubs");
    });
}

/// The CLI prints one line per failed file, so an error message must be one line. rawler's
/// "caught a panic" message has a second line ("Please file a bug ..."), and it points to
/// another project's tracker: chiaro says what happened in its own words.
#[test]
fn camera_raw_errors_are_one_line() {
    let _data = common::require_data!();
    bounded("camera_raw_errors_are_one_line", || {
        let mut problems = Vec::new();
        for e in std::fs::read_dir(shared().join("raw/stubs")).expect("stubs") {
            let p = e.expect("entry").path();
            if let Ok(Err(e)) = guard(|| chiaro::raw::read_file(&p, &Limits::default())) {
                let m = e.to_string();
                if m.contains('\n')
                    || m.contains("github")
                    || m.to_lowercase().contains("file a bug")
                {
                    problems.push(format!("{}: {m:?}", p.display()));
                }
            }
        }
        assert_none(&problems, "multi-line error messages");
    });
}

#[test]
fn empty_and_garbage_files_are_rejected() {
    bounded("empty_and_garbage_files_are_rejected", || {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut rng = Rng(42);
        let junk = |n: usize, rng: &mut Rng| (0..n).map(|_| rng.next() as u8).collect::<Vec<u8>>();
        let mut tiff_no_dng = cfa_dng(16, 16);
        tiff_no_dng.remove(tag::DNG_VERSION);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty.dng", vec![]),
            ("empty.nef", vec![]),
            ("one.dng", vec![0x49]),
            ("zeros.dng", vec![0; 4096]),
            ("ff.cr2", vec![0xFF; 4096]),
            ("random.dng", junk(4096, &mut rng)),
            ("random.arw", junk(100_000, &mut rng)),
            ("tiff-header-only.dng", b"II*\0".to_vec()),
            (
                "tiff-bad-ifd.dng",
                [
                    b"II*\0".as_slice(),
                    &[0xFF, 0xFF, 0xFF, 0x7F],
                    &junk(64, &mut rng),
                ]
                .concat(),
            ),
            (
                "tiff-be-junk.nef",
                [b"MM\0*\0\0\0\x08".as_slice(), &junk(512, &mut rng)].concat(),
            ),
            ("text.dng", b"this is not a raw file\n".repeat(100)),
            ("plain-tiff.tif", tiff_no_dng.build()),
            (
                "jpeg.jpg",
                [&[0xFF, 0xD8, 0xFF, 0xE0][..], &junk(1000, &mut rng)].concat(),
            ),
        ];
        let mut problems = Vec::new();
        for (name, bytes) in &cases {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).expect("write");
            match guard(|| chiaro::raw::read_file(&p, &Limits::default())) {
                Err(panic) => problems.push(format!("{name}: panic: {panic}")),
                Ok(Ok(_)) => problems.push(format!("{name}: decoded")),
                Ok(Err(e)) => {
                    if !e.to_string().contains(&p.display().to_string()) {
                        problems.push(format!("{name}: message does not name the file: {e}"));
                    }
                    if matches!(
                        e.kind(),
                        ErrorKind::Parameter | ErrorKind::Encode | ErrorKind::Cancelled
                    ) {
                        problems.push(format!("{name}: kind {:?}: {e}", e.kind()));
                    }
                }
            }
            // The DNG reader on its own, too.
            match decode_guarded(bytes) {
                Err(panic) => problems.push(format!("{name}: dng::decode panicked: {panic}")),
                Ok(Ok(_)) => problems.push(format!("{name}: dng::decode decoded")),
                Ok(Err(_)) => {}
            }
        }
        // Every short prefix of garbage and of a TIFF header.
        for n in 0..64 {
            let g = junk(n, &mut rng);
            for b in [
                g.clone(),
                [b"II*\0".as_slice(), &g].concat(),
                [b"MM\0*".as_slice(), &g].concat(),
            ] {
                if let Err(panic) = decode_guarded(&b) {
                    problems.push(format!("{b:?}: panic: {panic}"));
                }
                if guard(|| dng::is_dng(&b)).is_err() {
                    problems.push(format!("{b:?}: is_dng panicked"));
                }
            }
        }
        // Missing files and folders are I/O errors naming the path.
        let missing = dir.path().join("missing.dng");
        let e = chiaro::raw::read_file(&missing, &Limits::default()).expect_err("missing file");
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert!(e.to_string().contains("missing.dng"), "{e}");
        let e = chiaro::raw::read_file(dir.path(), &Limits::default()).expect_err("a folder");
        assert!(
            e.to_string().contains(&dir.path().display().to_string()),
            "{e}"
        );
        assert_none(&problems, "garbage files");
    });
}

// ---- sizes, counts and structure the limits must refuse -------------------------------------

/// Decodes `bytes`, expecting an error of one of `kinds` within a second.
#[track_caller]
fn expect_refused(what: &str, bytes: &[u8], kinds: &[ErrorKind]) {
    let started = Instant::now();
    let r = decode_guarded(bytes).unwrap_or_else(|p| panic!("{what}: panic: {p}"));
    let elapsed = started.elapsed();
    match r {
        Ok(raw) => panic!("{what}: decoded a {}x{} image", raw.width(), raw.height()),
        Err(e) => assert!(
            kinds.contains(&e.kind()),
            "{what}: kind {:?} ({e}), expected one of {kinds:?}",
            e.kind()
        ),
    }
    assert!(elapsed < HANG, "{what}: hung for {elapsed:?}");
}

#[test]
fn huge_declared_sizes_are_refused_by_limits() {
    bounded("huge_declared_sizes_are_refused_by_limits", || {
        use ErrorKind::{Decode, Limits as Lim};
        let base = cfa_dng(16, 16);
        let sized = |w: u32, h: u32| {
            let mut t = base.clone();
            t.longs(tag::IMAGE_WIDTH, &[w])
                .longs(tag::IMAGE_LENGTH, &[h])
                .longs(tag::ROWS_PER_STRIP, &[h]);
            t
        };
        // Past the sample limit: refused before anything else is looked at.
        expect_refused("60000x60000", &sized(60_000, 60_000).build(), &[Lim]);
        expect_refused("100000x16", &sized(100_000, 16).build(), &[Lim]);
        expect_refused(
            "u32::MAX square",
            &sized(u32::MAX, u32::MAX).build(),
            &[Lim],
        );
        let mut t = sized(65_535, 65_535);
        t.shorts(tag::PHOTOMETRIC, &[34892])
            .shorts(tag::SAMPLES_PER_PIXEL, &[3]);
        expect_refused("65535x65535 LinearRaw", &t.build(), &[Lim]);
        // LONG8 sizes (a BigTIFF type in a classic TIFF); products that overflow are in
        // overflowing_tag_values_are_errors_not_panics.
        let mut t = base.clone();
        t.set(tag::IMAGE_WIDTH, 16, 1, (1u64 << 40).to_le_bytes().to_vec())
            .set(tag::IMAGE_LENGTH, 16, 1, 1u64.to_le_bytes().to_vec());
        expect_refused("LONG8 2^40 x 1", &t.build(), &[Lim]);

        // Within the sample limit (720 MB of samples) but the file holds 512 bytes: the strip
        // must be found missing before the buffer is allocated.
        let mut t = sized(60_000, 6_000);
        t.longs(tag::STRIP_BYTE_COUNTS, &[720_000_000]);
        expect_refused("60000x6000 strip past the end", &t.build(), &[Decode]);
        let mut t = sized(60_000, 6_000);
        t.longs(tag::ROWS_PER_STRIP, &[1]);
        expect_refused("60000x6000 one strip for 6000", &t.build(), &[Decode]);

        // Tile counts.
        let tiles = |w: u32, h: u32, tw: u32, th: u32, n: usize, at: u32| {
            let mut t = sized(w, h);
            t.remove(tag::STRIP_OFFSETS)
                .remove(tag::STRIP_BYTE_COUNTS)
                .longs(tag::TILE_WIDTH, &[tw])
                .longs(tag::TILE_LENGTH, &[th])
                .longs(tag::TILE_OFFSETS, &vec![at; n])
                .longs(tag::TILE_BYTE_COUNTS, &vec![2; n]);
            t.build()
        };
        expect_refused(
            "1x1 tiles on 60000x6000",
            &tiles(60_000, 6_000, 1, 1, 4, DATA_AT),
            &[Lim],
        );
        expect_refused(
            "2x2 tiles on 4096x4096 (4 listed)",
            &tiles(4096, 4096, 2, 2, 4, DATA_AT),
            &[Lim, Decode],
        );
        expect_refused(
            "zero-size tiles",
            &tiles(16, 16, 0, 0, 4, DATA_AT),
            &[Decode],
        );
        expect_refused(
            "tiles larger than the limit",
            &tiles(16, 16, 1 << 20, 1 << 20, 1, DATA_AT),
            &[Decode, Lim],
        );
        // A tile count that matches (65536 tiles of 1x1 on 256x256) but tiles that are not in
        // the file, and one whose offset + count overflows u32.
        expect_refused(
            "65536 tiles past the end",
            &tiles(256, 256, 1, 1, 65_536, 1 << 30),
            &[Decode],
        );
        expect_refused(
            "tile at u32::MAX",
            &tiles(16, 16, 16, 16, 1, u32::MAX),
            &[Decode],
        );
        // 65536 tiles that all point at the same two bytes are a (silly) valid image, decoded
        // quickly.
        let started = Instant::now();
        let r = decode_guarded(&tiles(256, 256, 1, 1, 65_536, DATA_AT))
            .unwrap_or_else(|p| panic!("shared tiles: panic: {p}"));
        assert!(
            r.is_ok() && started.elapsed() < HANG,
            "shared tiles: {:?} in {:?}",
            r.err(),
            started.elapsed()
        );
        // An offset table that claims 2^30 entries.
        let mut t = base.clone();
        t.set(tag::STRIP_OFFSETS, 4, 1 << 30, vec![8, 0, 0, 0, 0, 0, 0, 0]);
        expect_refused("StripOffsets count 2^30", &t.build(), &[Decode, Lim]);

        // Tags with absurd counts: refused or ignored, never allocated.
        for (t_id, what) in [
            (tag::LINEARIZATION_TABLE, "LinearizationTable"),
            (tag::BLACK_LEVEL_DELTA_H, "BlackLevelDeltaH"),
            (tag::NOISE_PROFILE, "NoiseProfile"),
            (tag::OPCODE_LIST2, "OpcodeList2"),
            (tag::COLOR_MATRIX1, "ColorMatrix1"),
        ] {
            let mut t = base.clone();
            t.set(t_id, 4, u32::MAX / 4, vec![1, 0, 0, 0, 2, 0, 0, 0]);
            let b = t.build();
            let started = Instant::now();
            if let Err(p) = decode_guarded(&b) {
                panic!("{what} count u32::MAX/4: panic: {p}");
            }
            assert!(started.elapsed() < HANG, "{what}: hung");
        }

        // An opcode list whose GainMap claims 65535 x 65535 points x 4 planes is refused
        // (the opcode list is optional, so the image still decodes, with a warning).
        let gm = Opcode::GainMap(GainMap {
            area: AreaSpec::whole(1),
            points_v: 1,
            points_h: 1,
            spacing_v: 1.0,
            spacing_h: 1.0,
            origin_v: 0.0,
            origin_h: 0.0,
            map_planes: 1,
            gains: vec![1.0],
        });
        let mut list = opcodes::serialize_list(&[gm]);
        // points_v, points_h, map_planes sit after the 16-byte opcode header, 4-byte count
        // and 32-byte area.
        let at = 4 + 16 + 32;
        list[at..at + 4].copy_from_slice(&65_535u32.to_be_bytes());
        list[at + 4..at + 8].copy_from_slice(&65_535u32.to_be_bytes());
        list[at + 40..at + 44].copy_from_slice(&4u32.to_be_bytes());
        let mut t = base.clone();
        t.undefined(tag::OPCODE_LIST2, &list);
        let started = Instant::now();
        match decode_guarded(&t.build()) {
            Err(p) => panic!("huge GainMap: panic: {p}"),
            Ok(Ok(raw)) => assert!(
                raw.opcodes().list2.is_empty() && !raw.warnings().is_empty(),
                "huge GainMap accepted"
            ),
            Ok(Err(e)) => assert!(matches!(e.kind(), Decode | Lim), "huge GainMap: {e}"),
        }
        assert!(started.elapsed() < HANG);
    });
}

/// A file of bare IFDs: IFD `i` at a fixed offset, IFD0 with a DNGVersion tag; `next[i]` is
/// the IFD that IFD `i` chains to, `sub[i]` its SubIFDs (at most 8), `exif` IFD0's Exif IFD.
fn ifd_graph(next: &[Option<usize>], sub: &[Vec<usize>], exif: Option<usize>) -> Vec<u8> {
    // Room for 3 entries, the next pointer and 8 SubIFD offsets.
    let ifd_size = 2 + 3 * 12 + 4 + 32;
    let at = |i: usize| (8 + i * ifd_size) as u32;
    let mut out = b"II*\0".to_vec();
    out.extend(at(0).to_le_bytes());
    for i in 0..next.len() {
        let start = out.len();
        let subs = &sub[i];
        let n = usize::from(i == 0)
            + usize::from(!subs.is_empty())
            + usize::from(i == 0 && exif.is_some());
        let sub_at = (start + 2 + 12 * n + 4) as u32;
        let mut entries: Vec<(u16, u16, u32, [u8; 4])> = Vec::new();
        if i == 0 {
            entries.push((tag::DNG_VERSION, 1, 4, [1, 4, 0, 0]));
        }
        match subs.len() {
            0 => {}
            1 => entries.push((tag::SUB_IFDS, 4, 1, at(subs[0]).to_le_bytes())),
            k => entries.push((tag::SUB_IFDS, 4, k.min(8) as u32, sub_at.to_le_bytes())),
        }
        if let (0, Some(e)) = (i, exif) {
            entries.push((tag::EXIF_IFD, 4, 1, at(e).to_le_bytes()));
        }
        assert_eq!(entries.len(), n);
        out.extend((n as u16).to_le_bytes());
        for (t, typ, c, v) in &entries {
            out.extend(t.to_le_bytes());
            out.extend(typ.to_le_bytes());
            out.extend(c.to_le_bytes());
            out.extend(v);
        }
        out.extend(next[i].map_or(0, at).to_le_bytes());
        if subs.len() > 1 {
            for s in subs.iter().take(8) {
                out.extend(at(*s).to_le_bytes());
            }
        }
        out.resize(start + ifd_size, 0);
    }
    out
}

/// IFD structures with loops, long chains and wide SubIFD trees.
fn ifd_loop_cases() -> Vec<(&'static str, Vec<u8>)> {
    let none = |n: usize| vec![Vec::<usize>::new(); n];
    let chain: Vec<Option<usize>> = (0..2000).map(|i| (i + 1 < 2000).then_some(i + 1)).collect();
    let tree: Vec<Vec<usize>> = (0..600)
        .map(|i| {
            if i < 75 {
                (8 * i + 1..8 * i + 9).collect()
            } else {
                vec![]
            }
        })
        .collect();
    vec![
        ("IFD0 -> IFD0", ifd_graph(&[Some(0)], &none(1), None)),
        (
            "IFD0 -> 1 -> 2 -> 0",
            ifd_graph(&[Some(1), Some(2), Some(0)], &none(3), None),
        ),
        ("SubIFD is IFD0", ifd_graph(&[None], &[vec![0]], None)),
        (
            "IFD0 -> 1 -> 0, both with entries",
            ifd_graph(&[Some(1), Some(0), None], &[vec![], vec![2], vec![]], None),
        ),
        (
            "SubIFD of a SubIFD loops",
            ifd_graph(&[None, None, None], &[vec![1], vec![2], vec![1]], None),
        ),
        (
            "SubIFD chains back",
            ifd_graph(&[Some(1), None], &[vec![], vec![0, 1]], None),
        ),
        ("Exif IFD is IFD0", ifd_graph(&[None], &none(1), Some(0))),
        ("long chain", ifd_graph(&chain, &none(2000), None)),
        ("wide SubIFD tree", ifd_graph(&vec![None; 600], &tree, None)),
    ]
}

/// The same bytes with the DNGVersion tag renamed (ImageDescription), so that `read_file`
/// treats them as a camera raw.
fn without_dng_version(bytes: &[u8]) -> Vec<u8> {
    let mut plain = bytes.to_vec();
    if let Some(i) = plain
        .windows(2)
        .position(|w| w == tag::DNG_VERSION.to_le_bytes())
    {
        plain[i..i + 2].copy_from_slice(&270u16.to_le_bytes());
    }
    plain
}

#[test]
fn ifd_loops_terminate() {
    bounded("ifd_loops_terminate", || {
        let cases = ifd_loop_cases();
        let mut problems = Vec::new();
        for (what, bytes) in &cases {
            let started = Instant::now();
            match guard(|| TiffFile::parse(bytes).map(|t| t.chain.len() + t.sub_ifds.len())) {
                Err(p) => problems.push(format!("{what}: TiffFile::parse panicked: {p}")),
                Ok(Ok(n)) if n > 300 => problems.push(format!("{what}: walked {n} IFDs")),
                Ok(_) => {}
            }
            match decode_guarded(bytes) {
                Err(p) => problems.push(format!("{what}: dng::decode panicked: {p}")),
                Ok(Ok(_)) => problems.push(format!("{what}: dng::decode decoded an image")),
                Ok(Err(_)) => {}
            }
            if guard(|| dng::is_dng(bytes)).is_err() {
                problems.push(format!("{what}: is_dng panicked"));
            }
            if started.elapsed() > HANG {
                problems.push(format!("{what}: took {:?}", started.elapsed()));
            }
        }
        // The loops themselves are errors, not silently truncated chains.
        for what in [
            "IFD0 -> IFD0",
            "IFD0 -> 1 -> 2 -> 0",
            "SubIFD is IFD0",
            "long chain",
            "wide SubIFD tree",
        ] {
            let bytes = &cases.iter().find(|c| c.0 == what).expect("case").1;
            if TiffFile::parse(bytes).is_ok() {
                problems.push(format!("{what}: parsed without error"));
            }
        }
        assert_none(&problems, "IFD loops");
    });
}

/// Helper run in a child process by [`read_file_in_child`]: reads the file named by
/// `CHIARO_HOSTILE_FILE` and prints the outcome. Does nothing when run directly.
#[test]
#[ignore = "helper: run in a child process by the *_through_read_file tests"]
fn child_read_file() {
    let Some(p) = std::env::var_os("CHIARO_HOSTILE_FILE") else {
        return;
    };
    let outcome = match guard(|| chiaro::raw::read_file(Path::new(&p), &Limits::default())) {
        Err(panic) => format!("panic {panic}"),
        Ok(Ok(raw)) => format!("ok {}x{}", raw.width(), raw.height()),
        Ok(Err(e)) => format!("err {:?} {e}", e.kind()),
    };
    println!("CHILD-OUTCOME {}", outcome.replace('\n', " "));
}

/// Runs `read_file(path)` in a child process limited to `timeout` and about 2 GB of address
/// space, so that a hang or a runaway allocation fails the test instead of the machine.
/// `Ok(outcome line)` when the child finished; `Err(why)` on a hang or a crash.
#[cfg(unix)]
fn read_file_in_child(path: &Path, timeout: Duration) -> Result<String, String> {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("test executable");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2000000; exec \"$0\" \"$@\"")
        .arg(exe)
        .args([
            "child_read_file",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CHIARO_HOSTILE_FILE", path)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child test process");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            let mut out = String::new();
            if let Some(mut so) = child.stdout.take() {
                use std::io::Read;
                let _ = so.read_to_string(&mut out);
            }
            return match out
                .lines()
                .find_map(|l| l.split_once("CHILD-OUTCOME ").map(|(_, o)| o))
            {
                Some(o) => Ok(o.to_string()),
                None => Err(format!(
                    "child died ({status}): crash or allocation failure"
                )),
            };
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no result within {timeout:?}: a hang"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The same structures through `read_file`, which hands TIFF files that are not (valid)
/// DNGs to rawler. rawler follows IFD chains without loop detection: a 26-byte TIFF whose
/// IFD0 points to itself makes it allocate until the process dies.
#[cfg(unix)]
#[test]
fn ifd_loops_terminate_through_read_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut problems = Vec::new();
    for (what, bytes) in ifd_loop_cases() {
        for (ext, b) in [("dng", bytes.clone()), ("tif", without_dng_version(&bytes))] {
            let p = dir.path().join(format!("loop.{ext}"));
            std::fs::write(&p, &b).expect("write");
            match read_file_in_child(&p, HANG) {
                Err(why) => problems.push(format!("{what} (.{ext}): {why}")),
                Ok(o) if !o.starts_with("err") => problems.push(format!("{what} (.{ext}): {o}")),
                Ok(_) => {}
            }
        }
    }
    assert_none(&problems, "IFD loops through read_file");
}

/// Tag values whose products or sums overflow `usize`/`u64`: errors, not arithmetic panics.
#[test]
fn overflowing_tag_values_are_errors_not_panics() {
    bounded("overflowing_tag_values_are_errors_not_panics", || {
        type Edit = fn(&mut Tiff);
        let cases: [(&str, Edit); 5] = [
            (
                "LONG8 ImageWidth 2^64-1 x ImageLength 2^40 (dng::find_raw_ifd, w * h)",
                |t| {
                    t.set(tag::IMAGE_WIDTH, 16, 1, u64::MAX.to_le_bytes().to_vec())
                        .set(
                            tag::IMAGE_LENGTH,
                            16,
                            1,
                            (1u64 << 40).to_le_bytes().to_vec(),
                        );
                },
            ),
            (
                "FLOAT CFARepeatPatternDim f32::MAX (dng::read_cfa, rows * cols)",
                |t| {
                    t.set(
                        tag::CFA_REPEAT_PATTERN_DIM,
                        11,
                        2,
                        [f32::MAX.to_le_bytes(), f32::MAX.to_le_bytes()].concat(),
                    );
                },
            ),
            (
                "DOUBLE CFARepeatPatternDim 1e300 (dng::read_cfa, rows * cols)",
                |t| {
                    t.set(
                        tag::CFA_REPEAT_PATTERN_DIM,
                        12,
                        2,
                        [1e300f64.to_le_bytes(), 1e300f64.to_le_bytes()].concat(),
                    );
                },
            ),
            (
                "DefaultCropOrigin 4000 + DOUBLE DefaultCropSize f64::MAX (Rect::right via read_crop)",
                |t| {
                    t.rationals(tag::DEFAULT_CROP_ORIGIN, &[4000.0, 4000.0])
                        .set(
                            tag::DEFAULT_CROP_SIZE,
                            12,
                            2,
                            [f64::MAX.to_le_bytes(), f64::MAX.to_le_bytes()].concat(),
                        );
                },
            ),
            // Without overflow checks (release) 2 + usize::MAX wraps to 1 and the crop "fits".
            (
                "DefaultCropOrigin 2 + DOUBLE DefaultCropSize f64::MAX (wraps in release)",
                |t| {
                    t.longs(tag::DEFAULT_CROP_ORIGIN, &[2, 2]).set(
                        tag::DEFAULT_CROP_SIZE,
                        12,
                        2,
                        [f64::MAX.to_le_bytes(), f64::MAX.to_le_bytes()].concat(),
                    );
                },
            ),
        ];
        let mut problems = Vec::new();
        for (what, edit) in cases {
            let mut t = cfa_dng(24, 20);
            edit(&mut t);
            match decode_guarded(&t.build()) {
                Err(p) => problems.push(format!("{what}: decode panicked: {p}")),
                Ok(Ok(raw)) => {
                    if let Err(p) = develop_guarded(&raw) {
                        problems.push(format!("{what}: develop panicked: {p}"));
                    }
                }
                Ok(Err(_)) => {}
            }
        }
        assert_none(&problems, "overflowing tag values");
    });
}

// ---- lossless JPEG tiles that do not fit their DNG -----------------------------------------

#[test]
fn hostile_ljpeg_streams_are_errors() {
    bounded("hostile_ljpeg_streams_are_errors", || {
        let (w, h, tile) = (32usize, 32usize, 16usize);
        let samples = mosaic_samples(tile, tile);
        let good = ljpeg::encode(&samples, tile, tile, 1, 12, 1).expect("encode");
        let ok = tiled_ljpeg_dng(w, h, tile, &vec![good.clone(); 4]).build();
        let raw = dng::decode(&ok, &Limits::default()).expect("the well-formed tiled DNG decodes");
        assert_eq!((raw.width(), raw.height()), (w, h));

        let small = ljpeg::encode(&samples[..64], 8, 8, 1, 12, 1).expect("encode");
        let two = ljpeg::encode(&mosaic_samples(16, 16), 8, 16, 2, 12, 1).expect("encode");
        let wide = ljpeg::encode(&mosaic_samples(64, 4), 64, 4, 1, 12, 1).expect("encode");
        let big = ljpeg::encode(&mosaic_samples(64, 64), 64, 64, 1, 12, 1).expect("encode");
        let mut huge_sof = good.clone();
        let sof = huge_sof
            .windows(2)
            .position(|p| p == [0xFF, 0xC3])
            .expect("SOF3");
        huge_sof[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        let mut big_frame_small_data = good.clone();
        big_frame_small_data[sof + 5..sof + 9].copy_from_slice(&[0x17, 0x70, 0x17, 0x70]); // 6000x6000
        let mut no_eoi = good.clone();
        no_eoi.truncate(good.len() - 2);
        let mut rng = Rng(7);
        let mut garbage_scan = good[..good
            .windows(2)
            .position(|p| p == [0xFF, 0xDA])
            .expect("SOS")
            + 10]
            .to_vec();
        garbage_scan.extend((0..400).map(|_| rng.next() as u8));
        let cases: Vec<(&str, Vec<Vec<u8>>, bool)> = vec![
            (
                "frames smaller than the tile",
                vec![small.clone(); 4],
                false,
            ),
            (
                "two-component frames (same sample count)",
                vec![two.clone(); 4],
                true,
            ),
            (
                "wide flat frames (same sample count)",
                vec![wide.clone(); 4],
                true,
            ),
            ("frames larger than the tile", vec![big.clone(); 4], true),
            ("SOF claims 65535x65535", vec![huge_sof.clone(); 4], false),
            (
                "SOF claims 6000x6000, data for 16x16",
                vec![big_frame_small_data.clone(); 4],
                false,
            ),
            (
                "one tile empty",
                vec![good.clone(), good.clone(), vec![], good.clone()],
                false,
            ),
            ("tiles of zeros", vec![vec![0; good.len()]; 4], false),
            ("tiles of 0xFF", vec![vec![0xFF; good.len()]; 4], false),
            (
                "tile without EOI",
                vec![good.clone(), no_eoi.clone(), good.clone(), good.clone()],
                true,
            ),
            ("garbage entropy data", vec![garbage_scan.clone(); 4], true),
        ];
        let mut problems = Vec::new();
        for (what, pieces, may_decode) in &cases {
            let bytes = tiled_ljpeg_dng(w, h, tile, pieces).build();
            let started = Instant::now();
            match decode_guarded(&bytes) {
                Err(p) => problems.push(format!("{what}: panic: {p}")),
                Ok(Ok(raw)) => {
                    if !may_decode {
                        problems.push(format!("{what}: decoded"));
                    }
                    if let Err(p) = develop_guarded(&raw) {
                        problems.push(format!("{what}: develop panicked: {p}"));
                    }
                }
                Ok(Err(e)) => {
                    if e.message().is_empty() {
                        problems.push(format!("{what}: empty message"));
                    }
                }
            }
            if started.elapsed() > HANG {
                problems.push(format!("{what}: took {:?}", started.elapsed()));
            }
        }
        assert_none(&problems, "hostile lossless-JPEG tiles");
    });
}

// ---- odd geometry and metadata through the whole pipeline ----------------------------------

#[test]
fn tiny_and_odd_images_develop_or_fail_cleanly() {
    bounded("tiny_and_odd_images_develop_or_fail_cleanly", || {
        let cfas = [
            bayer("RGGB"),
            bayer("BGGR"),
            bayer("GRBG"),
            bayer("GBRG"),
            CfaPattern::xtrans(),
        ];
        let methods = [
            DemosaicMethod::Bilinear,
            DemosaicMethod::Malvar,
            DemosaicMethod::Rcd,
            DemosaicMethod::Markesteijn,
        ];
        let sizes = [
            (1, 1),
            (2, 2),
            (3, 3),
            (1, 9),
            (9, 1),
            (5, 4),
            (7, 13),
            (17, 3),
            (6, 6),
            (13, 7),
        ];
        let mut problems = Vec::new();
        let mut developed = 0;
        for (si, &(w, h)) in sizes.iter().enumerate() {
            for (ci, cfa) in cfas.iter().enumerate() {
                let orientation = 1 + ((si + ci) % 8) as u16;
                let bytes = synth_dng(w, h, *cfa, Storage::Uncompressed, None, orientation);
                let raw = match decode_guarded(&bytes) {
                    Err(p) => {
                        problems.push(format!("{w}x{h} {}: decode panicked: {p}", cfa.name()));
                        continue;
                    }
                    Ok(Err(_)) => continue,
                    Ok(Ok(r)) => r,
                };
                for m in methods {
                    let mut recipe = Recipe::default();
                    recipe.set(Demosaic { method: m });
                    for bits in [8, 32] {
                        let spec = OutputSpec {
                            bits,
                            linear: bits == 32,
                        };
                        let r = recipe.clone();
                        let r = if spec.linear { r.linear() } else { r };
                        match guard(|| chiaro::pipeline::develop(&raw, &r, &spec, None)) {
                            Err(p) => problems.push(format!(
                                "{w}x{h} {} orientation {orientation} {m:?} {bits}-bit: panic: {p}",
                                cfa.name()
                            )),
                            Ok(Ok(d)) => {
                                developed += 1;
                                let (ow, oh) = if orientation >= 5 { (h, w) } else { (w, h) };
                                if (d.image.width, d.image.height) != (ow, oh) {
                                    problems.push(format!(
                                        "{w}x{h} orientation {orientation}: output {}x{}",
                                        d.image.width, d.image.height
                                    ));
                                }
                            }
                            Ok(Err(_)) => {}
                        }
                    }
                }
            }
        }
        assert!(developed > 100, "only {developed} tiny images developed");
        assert_none(&problems, "tiny images");
    });
}

/// Hand-made metadata at the edges of what the reader accepts: each variant decodes and
/// develops, or fails with an error.
#[test]
fn odd_metadata_never_panics() {
    bounded("odd_metadata_never_panics", || {
        const W: u32 = 24;
        const H: u32 = 20;
        type Edit = fn(&mut Tiff);
        let cases: Vec<(&str, Edit)> = vec![
            ("1x1 active area", |t| {
                t.longs(tag::ACTIVE_AREA, &[3, 5, 4, 6]);
            }),
            ("active area past the image", |t| {
                t.longs(tag::ACTIVE_AREA, &[0, 0, H + 1, W]);
            }),
            ("inverted active area", |t| {
                t.longs(tag::ACTIVE_AREA, &[10, 10, 2, 2]);
            }),
            ("odd active area origin", |t| {
                t.longs(tag::ACTIVE_AREA, &[1, 3, H - 1, W - 2]);
            }),
            ("crop 1x1", |t| {
                t.longs(tag::DEFAULT_CROP_ORIGIN, &[7, 7])
                    .longs(tag::DEFAULT_CROP_SIZE, &[1, 1]);
            }),
            ("crop past the area", |t| {
                t.longs(tag::DEFAULT_CROP_ORIGIN, &[20, 0])
                    .longs(tag::DEFAULT_CROP_SIZE, &[30, 30]);
            }),
            ("crop of NaN doubles", |t| {
                t.set(
                    tag::DEFAULT_CROP_ORIGIN,
                    12,
                    2,
                    [f64::NAN.to_le_bytes(), (-1.0f64).to_le_bytes()].concat(),
                )
                .set(
                    tag::DEFAULT_CROP_SIZE,
                    12,
                    2,
                    [f64::INFINITY.to_le_bytes(), 5.0f64.to_le_bytes()].concat(),
                );
            }),
            ("CFA dim 0x0", |t| {
                t.shorts(tag::CFA_REPEAT_PATTERN_DIM, &[0, 0])
                    .bytes(tag::CFA_PATTERN, &[]);
            }),
            ("CFA dim 3x1", |t| {
                t.shorts(tag::CFA_REPEAT_PATTERN_DIM, &[3, 1])
                    .bytes(tag::CFA_PATTERN, &[0, 1, 2]);
            }),
            ("CFA 1x3 stripes", |t| {
                t.shorts(tag::CFA_REPEAT_PATTERN_DIM, &[1, 3])
                    .bytes(tag::CFA_PATTERN, &[0, 1, 2]);
            }),
            ("CFA without blue", |t| {
                t.bytes(tag::CFA_PATTERN, &[0, 1, 1, 0]);
            }),
            ("CFA colour 200", |t| {
                t.bytes(tag::CFA_PATTERN, &[0, 1, 200, 2]);
            }),
            ("CFAPlaneColor of 7", |t| {
                t.bytes(tag::CFA_PLANE_COLOR, &[0, 1, 2, 3, 4, 5, 6]);
            }),
            ("CFA layout 2", |t| {
                t.shorts(tag::CFA_LAYOUT, &[2]);
            }),
            ("black above white", |t| {
                t.longs(tag::BLACK_LEVEL, &[5000]);
            }),
            ("white 0", |t| {
                t.longs(tag::WHITE_LEVEL, &[0]);
            }),
            ("white NaN", |t| {
                t.set(tag::WHITE_LEVEL, 11, 1, f32::NAN.to_le_bytes().to_vec());
            }),
            ("black NaN", |t| {
                t.set(tag::BLACK_LEVEL, 11, 1, f32::NAN.to_le_bytes().to_vec());
            }),
            ("black -inf", |t| {
                t.set(
                    tag::BLACK_LEVEL,
                    11,
                    1,
                    f32::NEG_INFINITY.to_le_bytes().to_vec(),
                );
            }),
            ("black repeat 8x8 with 1 value", |t| {
                t.shorts(tag::BLACK_LEVEL_REPEAT_DIM, &[8, 8]);
            }),
            ("black repeat 0x0", |t| {
                t.shorts(tag::BLACK_LEVEL_REPEAT_DIM, &[0, 0]);
            }),
            ("black repeat 3x3 with 9 values", |t| {
                t.shorts(tag::BLACK_LEVEL_REPEAT_DIM, &[3, 3])
                    .longs(tag::BLACK_LEVEL, &[60, 61, 62, 63, 64, 65, 66, 67, 68]);
            }),
            ("black deltas of the wrong count", |t| {
                t.srationals(tag::BLACK_LEVEL_DELTA_H, &[1.0; 5]);
            }),
            ("black deltas of huge values", |t| {
                t.set(
                    tag::BLACK_LEVEL_DELTA_V,
                    11,
                    H,
                    [0xFFu8, 0xFF, 0x7F, 0x7F].repeat(H as usize),
                );
            }),
            ("linearization table of 1", |t| {
                t.shorts(tag::LINEARIZATION_TABLE, &[4000]);
            }),
            ("linearization table of zeros", |t| {
                t.shorts(tag::LINEARIZATION_TABLE, &[0; 16]);
            }),
            ("linearization table rising", |t| {
                t.shorts(
                    tag::LINEARIZATION_TABLE,
                    &(0..4096u16)
                        .map(|v| v.saturating_mul(16))
                        .collect::<Vec<_>>(),
                );
            }),
            ("bits per sample 0", |t| {
                t.shorts(tag::BITS_PER_SAMPLE, &[0]);
            }),
            ("bits per sample 64", |t| {
                t.shorts(tag::BITS_PER_SAMPLE, &[64]);
            }),
            ("bits per sample 12 (packed)", |t| {
                t.shorts(tag::BITS_PER_SAMPLE, &[12]);
            }),
            ("bits per sample 1", |t| {
                t.shorts(tag::BITS_PER_SAMPLE, &[1]);
            }),
            ("rows per strip 0", |t| {
                t.longs(tag::ROWS_PER_STRIP, &[0]);
            }),
            ("rows per strip 7 with one strip", |t| {
                t.longs(tag::ROWS_PER_STRIP, &[7]);
            }),
            ("compression 99", |t| {
                t.shorts(tag::COMPRESSION, &[99]);
            }),
            ("float samples", |t| {
                t.shorts(tag::SAMPLE_FORMAT, &[3]);
            }),
            ("LinearRaw with one sample", |t| {
                t.shorts(tag::PHOTOMETRIC, &[34892]);
            }),
            ("LinearRaw with 3 samples in 1/3 of the data", |t| {
                t.shorts(tag::PHOTOMETRIC, &[34892])
                    .shorts(tag::SAMPLES_PER_PIXEL, &[3]);
            }),
            ("CFA with 3 samples", |t| {
                t.shorts(tag::SAMPLES_PER_PIXEL, &[3]);
            }),
            ("orientation 0", |t| {
                t.shorts(tag::ORIENTATION, &[0]);
            }),
            ("orientation 9000", |t| {
                t.shorts(tag::ORIENTATION, &[9000]);
            }),
            ("singular colour matrix", |t| {
                t.srationals(tag::COLOR_MATRIX1, &[0.0; 9]);
            }),
            ("colour matrix of huge values", |t| {
                t.set(tag::COLOR_MATRIX1, 12, 9, f64::MAX.to_le_bytes().repeat(9));
            }),
            ("colour matrix with NaN", |t| {
                t.set(
                    tag::COLOR_MATRIX1,
                    12,
                    9,
                    [
                        f64::NAN.to_le_bytes().to_vec(),
                        1.0f64.to_le_bytes().repeat(8),
                    ]
                    .concat(),
                );
            }),
            ("forward matrix of zeros", |t| {
                t.srationals(tag::FORWARD_MATRIX1, &[0.0; 9]);
            }),
            ("camera calibration singular", |t| {
                t.srationals(tag::CAMERA_CALIBRATION1, &[0.0; 9]);
            }),
            ("two matrices, odd illuminants", |t| {
                t.srationals(tag::COLOR_MATRIX2, &D750_MATRIX)
                    .shorts(tag::CALIBRATION_ILLUMINANT1, &[255])
                    .shorts(tag::CALIBRATION_ILLUMINANT2, &[0]);
            }),
            ("as-shot neutral of zeros", |t| {
                t.rationals(tag::AS_SHOT_NEUTRAL, &[0.0, 0.0, 0.0]);
            }),
            ("as-shot neutral tiny", |t| {
                t.rationals(tag::AS_SHOT_NEUTRAL, &[1e-6, 1.0, 1e-6]);
            }),
            ("as-shot white xy off the locus", |t| {
                t.remove(tag::AS_SHOT_NEUTRAL)
                    .rationals(tag::AS_SHOT_WHITE_XY, &[0.9, 0.0]);
            }),
            ("as-shot white xy zero", |t| {
                t.remove(tag::AS_SHOT_NEUTRAL)
                    .rationals(tag::AS_SHOT_WHITE_XY, &[0.0, 0.0]);
            }),
            ("analog balance of zeros", |t| {
                t.rationals(tag::ANALOG_BALANCE, &[0.0, 0.0, 0.0]);
            }),
            ("baseline exposure +1000 EV", |t| {
                t.srationals(tag::BASELINE_EXPOSURE, &[1000.0]);
            }),
            ("baseline exposure -1000 EV", |t| {
                t.srationals(tag::BASELINE_EXPOSURE, &[-1000.0]);
            }),
            ("no colour tags at all", |t| {
                t.remove(tag::COLOR_MATRIX1)
                    .remove(tag::AS_SHOT_NEUTRAL)
                    .remove(tag::CALIBRATION_ILLUMINANT1);
            }),
            ("noise profile odd count", |t| {
                t.set(tag::NOISE_PROFILE, 12, 3, 1.0f64.to_le_bytes().repeat(3));
            }),
            ("default scale non-square", |t| {
                t.rationals(tag::DEFAULT_SCALE_TAG, &[1.0, 2.0]);
            }),
            ("text where numbers belong", |t| {
                t.ascii(tag::IMAGE_WIDTH, "twenty-four");
            }),
            ("unknown field types", |t| {
                t.set(tag::WHITE_LEVEL, 99, 1, vec![1, 2, 3, 4]).set(
                    tag::BLACK_LEVEL,
                    0,
                    1,
                    vec![1, 2, 3, 4],
                );
            }),
        ];
        let mut problems = Vec::new();
        let mut developed = 0;
        for (what, edit) in &cases {
            let mut t = cfa_dng(W as usize, H as usize);
            edit(&mut t);
            let bytes = t.build();
            match decode_guarded(&bytes) {
                Err(p) => problems.push(format!("{what}: decode panicked: {p}")),
                Ok(Err(_)) => {}
                Ok(Ok(raw)) => match develop_guarded(&raw) {
                    Err(p) => problems.push(format!("{what}: develop panicked: {p}")),
                    Ok(Some(_)) => developed += 1,
                    Ok(None) => {}
                },
            }
        }
        assert!(developed > 20, "only {developed} variants developed");
        assert_none(&problems, "odd metadata");
    });
}

/// Opcodes with extreme parameters in OpcodeList1, 2 and 3: the reader keeps them or drops
/// them with a warning; the pipeline applies them or fails with an error.
#[test]
fn hostile_opcodes_never_panic() {
    let _data = common::require_data!();
    bounded("hostile_opcodes_never_panic", || {
        let area = |top, left, bottom, right, plane, planes, row_pitch, col_pitch| AreaSpec {
            top,
            left,
            bottom,
            right,
            plane,
            planes,
            row_pitch,
            col_pitch,
        };
        let m = u32::MAX;
        let gain_map = |area: AreaSpec,
                        pv: u32,
                        ph: u32,
                        sv: f64,
                        sh: f64,
                        ov: f64,
                        oh: f64,
                        planes: u32,
                        g: f32| {
            Opcode::GainMap(GainMap {
                area,
                points_v: pv,
                points_h: ph,
                spacing_v: sv,
                spacing_h: sh,
                origin_v: ov,
                origin_h: oh,
                map_planes: planes,
                gains: vec![g; (pv * ph * planes) as usize],
            })
        };
        let ops: Vec<(&str, Opcode)> = vec![
            (
                "vignette huge k",
                Opcode::FixVignetteRadial {
                    k: [1e300, -1e300, 1e300, -1e300, 1e300],
                    cx: 0.5,
                    cy: 0.5,
                },
            ),
            (
                "vignette far centre",
                Opcode::FixVignetteRadial {
                    k: [1.0, 0.0, 0.0, 0.0, 0.0],
                    cx: -1e12,
                    cy: 1e12,
                },
            ),
            (
                "vignette centre on a corner",
                Opcode::FixVignetteRadial {
                    k: [0.5; 5],
                    cx: 0.0,
                    cy: 0.0,
                },
            ),
            (
                "bad pixel constant 0",
                Opcode::FixBadPixelsConstant {
                    constant: 0,
                    bayer_phase: 7,
                },
            ),
            (
                "bad pixel constant matches all",
                Opcode::FixBadPixelsConstant {
                    constant: 64,
                    bayer_phase: 0,
                },
            ),
            (
                "bad pixel list out of range",
                Opcode::FixBadPixelsList {
                    bayer_phase: m,
                    points: vec![[0, 0], [m, m], [1_000_000, 3], [19, 23]],
                    rects: vec![
                        [0, 0, 1000, 1000],
                        [5, 5, 1, 1],
                        [m - 1, 0, m, 10],
                        [0, 0, m, m],
                    ],
                },
            ),
            (
                "trim to 1x1",
                Opcode::TrimBounds {
                    top: 3,
                    left: 3,
                    bottom: 4,
                    right: 4,
                },
            ),
            (
                "trim past the image",
                Opcode::TrimBounds {
                    top: 0,
                    left: 0,
                    bottom: m,
                    right: m,
                },
            ),
            (
                "trim outside the image",
                Opcode::TrimBounds {
                    top: 1000,
                    left: 1000,
                    bottom: 2000,
                    right: 2000,
                },
            ),
            (
                "map table of 1",
                Opcode::MapTable {
                    area: AreaSpec::whole(1),
                    table: vec![65535],
                },
            ),
            (
                "map table on plane 9",
                Opcode::MapTable {
                    area: area(0, 0, 0, 0, 9, 3, 1, 1),
                    table: vec![0, 1, 2],
                },
            ),
            (
                "polynomial huge",
                Opcode::MapPolynomial {
                    area: AreaSpec::whole(3),
                    coefficients: vec![1e300, -1e300, 1e300],
                },
            ),
            (
                "polynomial outside",
                Opcode::MapPolynomial {
                    area: area(m - 2, m - 2, m, m, 0, m, m, m),
                    coefficients: vec![0.5],
                },
            ),
            (
                "gain map 1x1 point",
                gain_map(AreaSpec::whole(1), 1, 1, 0.0, 0.0, 0.0, 0.0, 1, 2.0),
            ),
            (
                "gain map far origin",
                gain_map(
                    AreaSpec::whole(1),
                    2,
                    2,
                    1e-300,
                    1e-300,
                    1e300,
                    -1e300,
                    1,
                    0.5,
                ),
            ),
            (
                "gain map huge gains",
                gain_map(AreaSpec::whole(3), 3, 3, 0.5, 0.5, 0.0, 0.0, 4, f32::MAX),
            ),
            (
                "gain map zero gains",
                gain_map(
                    area(1, 1, 19, 23, 0, 1, 2, 2),
                    2,
                    2,
                    1.0,
                    1.0,
                    0.0,
                    0.0,
                    1,
                    0.0,
                ),
            ),
            (
                "gain map many planes, area on plane 2",
                gain_map(
                    area(0, 0, 0, 0, 2, 1, 1, 1),
                    2,
                    3,
                    1.0,
                    0.5,
                    0.0,
                    0.0,
                    3,
                    1.5,
                ),
            ),
            (
                "delta per row, wide pitch",
                Opcode::DeltaPerRow {
                    area: area(0, 0, 1000, 5, 0, 1, 7, 1),
                    deltas: vec![1e30; 143],
                },
            ),
            (
                "delta per column, past the image",
                Opcode::DeltaPerColumn {
                    area: area(0, 20, 5, 40, 0, 1, 1, 1),
                    deltas: vec![-1e30; 20],
                },
            ),
            (
                "scale per row, all planes",
                Opcode::ScalePerRow {
                    area: area(0, 0, 20, 24, 0, 3, 1, 1),
                    scales: vec![f32::MAX; 20],
                },
            ),
            (
                "scale per column, pitch 3",
                Opcode::ScalePerColumn {
                    area: area(2, 1, 18, 23, 0, 1, 1, 3),
                    scales: vec![0.0; 8],
                },
            ),
            (
                "required unknown opcode",
                Opcode::Unsupported {
                    id: 4_000_001,
                    optional: false,
                },
            ),
            (
                "fisheye warp far outside the image",
                Opcode::WarpRectilinear(opcodes::WarpRectilinear {
                    planes: vec![opcodes::WarpPlane {
                        radial: std::array::from_fn(|i| if i < 4 { -1e12 } else { 0.0 }),
                        tangential: [0.0; 2],
                        valid: [0.0, 1.0],
                    }],
                    cx: 0.0,
                    cy: 1.0,
                    reciprocal: false,
                    second: false,
                    fisheye: true,
                }),
            ),
            (
                "rectilinear warp far outside the image",
                Opcode::WarpRectilinear(opcodes::WarpRectilinear {
                    planes: vec![opcodes::WarpPlane::rectilinear(
                        [1e9, -1e12, 3e15, f64::MAX],
                        [1e300, -1e300],
                    )],
                    cx: 1.0,
                    cy: 0.0,
                    reciprocal: false,
                    second: false,
                    fisheye: false,
                }),
            ),
            (
                "reciprocal warp through zero",
                Opcode::WarpRectilinear(opcodes::WarpRectilinear {
                    planes: vec![opcodes::WarpPlane {
                        radial: std::array::from_fn(|i| if i == 1 { -1.0 } else { 0.5 }),
                        tangential: [0.0; 2],
                        valid: [0.0, 1.0],
                    }],
                    cx: 0.5,
                    cy: 0.5,
                    reciprocal: true,
                    second: true,
                    fisheye: false,
                }),
            ),
            (
                "optional unknown opcode",
                Opcode::Unsupported {
                    id: 4_000_000,
                    optional: true,
                },
            ),
        ];
        let mut problems = Vec::new();
        let mut developed = 0;
        let check = |what: &str,
                     list_tag: u16,
                     list: &[u8],
                     problems: &mut Vec<String>,
                     developed: &mut usize| {
            let mut t = cfa_dng(24, 20);
            t.undefined(list_tag, list);
            match decode_guarded(&t.build()) {
                Err(p) => problems.push(format!("{what} in list {list_tag}: decode panicked: {p}")),
                Ok(Err(_)) => {}
                Ok(Ok(raw)) => match develop_guarded(&raw) {
                    Err(p) => {
                        problems.push(format!("{what} in list {list_tag}: develop panicked: {p}"))
                    }
                    Ok(Some(_)) => *developed += 1,
                    Ok(None) => {}
                },
            }
        };
        for list_tag in [tag::OPCODE_LIST1, tag::OPCODE_LIST2, tag::OPCODE_LIST3] {
            for (what, op) in &ops {
                check(
                    what,
                    list_tag,
                    &opcodes::serialize_list(std::slice::from_ref(op)),
                    &mut problems,
                    &mut developed,
                );
            }
            let all: Vec<Opcode> = ops.iter().map(|(_, o)| o.clone()).collect();
            check(
                "all opcodes",
                list_tag,
                &opcodes::serialize_list(&all),
                &mut problems,
                &mut developed,
            );
        }
        // Mutated lists, including the phone DNG's real per-site gain maps.
        let phone = read(&shared().join("raw/phone_synth_lgg4_4200k_4032x3024.dng"));
        let pt = TiffFile::parse(&phone).expect("phone DNG");
        let real = pt
            .chain
            .iter()
            .chain(&pt.sub_ifds)
            .find_map(|i| pt.blob(i, tag::OPCODE_LIST2))
            .expect("phone OpcodeList2")
            .to_vec();
        let mixed = opcodes::serialize_list(
            &ops.iter()
                .map(|(_, o)| o.clone())
                .filter(|o| {
                    !matches!(
                        o,
                        Opcode::Unsupported {
                            optional: false,
                            ..
                        }
                    )
                })
                .collect::<Vec<_>>(),
        );
        let mut rng = Rng(0x0bc0de);
        for (name, list) in [("phone list", &real), ("mixed list", &mixed)] {
            for v in 0..60 {
                let (b, what) = mutate(&mut rng, list, list.len());
                let list_tag = [tag::OPCODE_LIST1, tag::OPCODE_LIST2, tag::OPCODE_LIST3][v % 3];
                check(
                    &format!("{name} variant {v} ({what})"),
                    list_tag,
                    &b,
                    &mut problems,
                    &mut developed,
                );
            }
        }
        assert!(developed > 50, "only {developed} opcode variants developed");
        assert_none(&problems, "hostile opcodes");
    });
}

// ---- camera raws through rawler -----------------------------------------------------------

/// rawler is not panic-free; its panics must become errors, and truncated or flipped camera
/// raws must not hang.
#[cfg(feature = "rawler")]
#[test]
fn mangled_camera_raws_never_panic() {
    let _data = common::require_data!();
    bounded("mangled_camera_raws_never_panic", || {
        let dir = shared().join("raw/stubs");
        let mut problems = Vec::new();
        let mut rng = Rng(0xCA3E);
        for e in std::fs::read_dir(&dir).expect("stubs") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("dng")) {
                continue;
            }
            let bytes = read(&p);
            let mut variants: Vec<(String, Vec<u8>)> = (1..12)
                .map(|i| {
                    (
                        format!("cut at {}", bytes.len() * i / 12),
                        bytes[..bytes.len() * i / 12].to_vec(),
                    )
                })
                .collect();
            for v in 0..12 {
                let (b, what) = mutate(&mut rng, &bytes, 1024);
                variants.push((format!("variant {v} ({what})"), b));
            }
            for (what, b) in variants {
                let started = Instant::now();
                match guard(|| chiaro::raw::rawler_bridge::decode(&p, &b, &Limits::default())) {
                    Err(panic) => {
                        problems.push(format!("{} {what}: panic escaped: {panic}", p.display()))
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        if !matches!(
                            e.kind(),
                            ErrorKind::Decode | ErrorKind::Unsupported | ErrorKind::Limits
                        ) {
                            problems.push(format!("{} {what}: kind {:?}", p.display(), e.kind()));
                        }
                    }
                }
                if started.elapsed() > HANG {
                    problems.push(format!(
                        "{} {what}: took {:?}",
                        p.display(),
                        started.elapsed()
                    ));
                }
            }
        }
        assert_none(&problems, "mangled camera raws");
    });
}

// ---- headerless dumps ---------------------------------------------------------------------

#[test]
fn headerless_sidecar_errors_are_clear() {
    bounded("headerless_sidecar_errors_are_clear", || {
        let dir = tempfile::tempdir().expect("temp dir");
        let good = "width = 8\nheight = 6\ndtype = \"u16le\"\nbits = 12\ncfa = \"RGGB\"\nblack = 64\nwhite = 4095\n";
        let body16: Vec<u8> = mosaic_samples(8, 6)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        // (name, sidecar text or None for none, raw bytes, expected kinds, words the message must hold)
        type Case = (
            &'static str,
            Option<String>,
            Vec<u8>,
            &'static [ErrorKind],
            &'static [&'static str],
        );
        use ErrorKind::{Decode, Parameter, Unsupported};
        const LIMITS: ErrorKind = ErrorKind::Limits;
        let cases: Vec<Case> = vec![
            (
                "short",
                Some(good.into()),
                body16[..50].to_vec(),
                &[Decode],
                &["50", "96"],
            ),
            ("empty", Some(good.into()), vec![], &[Decode], &["96"]),
            (
                "offset past the end",
                Some(format!("{good}offset = 1000\n")),
                body16.clone(),
                &[Decode],
                &["96"],
            ),
            (
                "bad dtype",
                Some(good.replace("u16le", "f32")),
                body16.clone(),
                &[Unsupported, Parameter],
                &["dtype", "f32"],
            ),
            (
                "missing width",
                Some(good.replace("width = 8\n", "")),
                body16.clone(),
                &[Parameter],
                &["width"],
            ),
            (
                "missing cfa",
                Some(good.replace("cfa = \"RGGB\"\n", "")),
                body16.clone(),
                &[Parameter],
                &["cfa"],
            ),
            (
                "unknown field",
                Some(format!("{good}gamma = 2.2\n")),
                body16.clone(),
                &[Parameter],
                &["gamma"],
            ),
            (
                "width as text",
                Some(good.replace("width = 8", "width = \"eight\"")),
                body16.clone(),
                &[Parameter],
                &["width"],
            ),
            (
                "negative width",
                Some(good.replace("width = 8", "width = -8")),
                body16.clone(),
                &[Parameter],
                &["width"],
            ),
            (
                "zero width",
                Some(good.replace("width = 8", "width = 0")),
                body16.clone(),
                &[Decode, Parameter],
                &[],
            ),
            (
                "huge size",
                Some(
                    good.replace("width = 8", "width = 60000")
                        .replace("height = 6", "height = 60000"),
                ),
                body16.clone(),
                &[LIMITS],
                &[],
            ),
            (
                "bits 20",
                Some(good.replace("bits = 12", "bits = 20")),
                body16.clone(),
                &[Parameter],
                &["20"],
            ),
            (
                "bits 12 in u8",
                Some(good.replace("u16le", "u8")),
                body16.clone(),
                &[Parameter],
                &["u8"],
            ),
            (
                "bits 0",
                Some(good.replace("bits = 12", "bits = 0")),
                body16.clone(),
                &[Parameter],
                &[],
            ),
            (
                "bad cfa",
                Some(good.replace("RGGB", "RGBX")),
                body16.clone(),
                &[Parameter, Unsupported],
                &["RGBX"],
            ),
            (
                "cfa without blue",
                Some(good.replace("RGGB", "RGGR")),
                body16.clone(),
                &[Parameter, Unsupported],
                &["blue"],
            ),
            (
                "three black levels",
                Some(good.replace("black = 64", "black = [1, 2, 3]")),
                body16.clone(),
                &[Parameter],
                &["black"],
            ),
            (
                "black above white",
                Some(good.replace("black = 64", "black = 5000")),
                body16.clone(),
                &[Decode, Parameter],
                &["white"],
            ),
            (
                "short colour matrix",
                Some(format!("{good}color_matrix_d65 = [1.0, 0.0]\n")),
                body16.clone(),
                &[Parameter],
                &["color_matrix_d65"],
            ),
            (
                "negative gains",
                Some(format!("{good}wb_gains = [2.0, -1.0, 1.5]\n")),
                body16.clone(),
                &[Parameter],
                &["wb_gains"],
            ),
            (
                "not TOML",
                Some("width = = 8 {{{".into()),
                body16.clone(),
                &[Parameter],
                &["toml"],
            ),
        ];
        let mut problems = Vec::new();
        for (name, side, body, kinds, words) in &cases {
            let stem = name.replace(' ', "_");
            let raw_path = dir.path().join(format!("{stem}.raw"));
            std::fs::write(&raw_path, body).expect("write raw");
            if let Some(s) = side {
                std::fs::write(dir.path().join(format!("{stem}.toml")), s).expect("write sidecar");
            }
            let started = Instant::now();
            match guard(|| chiaro::raw::read_file(&raw_path, &Limits::default())) {
                Err(p) => problems.push(format!("{name}: panic: {p}")),
                Ok(Ok(_)) => problems.push(format!("{name}: decoded")),
                Ok(Err(e)) => {
                    let msg = e.to_string();
                    if !kinds.contains(&e.kind()) {
                        problems.push(format!(
                            "{name}: kind {:?}, expected {kinds:?}: {msg}",
                            e.kind()
                        ));
                    }
                    if !msg.contains(&stem) {
                        problems.push(format!("{name}: message does not name the file: {msg}"));
                    }
                    let lower = msg.to_ascii_lowercase();
                    for w in *words {
                        if !lower.contains(&w.to_ascii_lowercase()) {
                            problems.push(format!("{name}: message lacks '{w}': {msg}"));
                        }
                    }
                }
            }
            if started.elapsed() > HANG {
                problems.push(format!("{name}: took {:?}", started.elapsed()));
            }
        }
        // The good sidecar itself works (the cases above differ from it in one thing each).
        let ok = dir.path().join("good.raw");
        std::fs::write(&ok, &body16).expect("write");
        std::fs::write(dir.path().join("good.toml"), good).expect("write");
        let raw = chiaro::raw::read_file(&ok, &Limits::default()).expect("the good sidecar reads");
        assert_eq!((raw.width(), raw.height()), (8, 6));
        assert_none(&problems, "headerless sidecars");
    });
}

/// A `.raw` whose sidecar is missing should say so rather than fail as an unknown camera raw.
#[test]
fn headerless_raw_without_sidecar_names_the_sidecar() {
    bounded("headerless_raw_without_sidecar_names_the_sidecar", || {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("dump.raw");
        std::fs::write(&p, vec![0u8; 96]).expect("write");
        let e = chiaro::raw::read_file(&p, &Limits::default()).expect_err("no sidecar");
        assert!(
            e.to_string().contains("dump.toml"),
            "message should name the missing sidecar: {e}"
        );
    });
}

// ---- the decoder worker ---------------------------------------------------------------------

/// Helper run as a decoder worker process by [`test_worker`]: serves one request on stdin and
/// stdout and exits before libtest prints its summary. Does nothing when run directly.
#[test]
#[ignore = "helper: run as a decoder worker process by the isolation tests"]
fn decode_worker_helper() {
    if std::env::var_os("CHIARO_TEST_DECODE_WORKER").is_none() {
        return;
    }
    std::process::exit(chiaro::raw::isolate::worker_main());
}

/// This test binary as a decoder worker (the parent skips libtest's banner before the
/// reply), limited to 2 GiB of address space. The timeout is generous for a loaded 2-core
/// machine: it only turns a hang into an error, and no test asserts on time.
fn test_worker() -> WorkerCommand {
    let mut w = WorkerCommand::new(std::env::current_exe().expect("test executable"));
    for a in [
        "decode_worker_helper",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ] {
        w = w.arg(a);
    }
    w.env("CHIARO_TEST_DECODE_WORKER", "1")
        .env("RUST_BACKTRACE", "0")
        .memory_limit(2 << 30)
        .timeout(Duration::from_secs(60))
}

/// Writes `bytes` to `dir/name` and reads it with `read_file_isolated`. `Err(problem)` when
/// it panicked, failed with a kind other than decode/unsupported/limits, or gave a message
/// that is not one printable line starting with the file's name.
fn read_isolated(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    worker: &WorkerCommand,
) -> Result<chiaro::Result<RawImage>, String> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    let r = guard(|| chiaro::raw::read_file_isolated(&p, &Limits::default(), worker))
        .map_err(|panic| format!("panic: {panic}"))?;
    if let Err(e) = &r {
        let line = e.to_string();
        if !matches!(
            e.kind(),
            ErrorKind::Decode | ErrorKind::Unsupported | ErrorKind::Limits
        ) {
            return Err(format!("kind {:?}: {line}", e.kind()));
        }
        if line.chars().any(char::is_control) || !line.starts_with(&p.display().to_string()) {
            return Err(format!("not one printable line naming the file: {line:?}"));
        }
    }
    Ok(r)
}

/// A worker that dies, is killed, hangs, sends garbage or cannot start is one file's
/// one-line decode error.
#[cfg(unix)]
#[test]
fn dead_and_misbehaving_workers_are_one_line_errors() {
    let _data = common::require_data!();
    bounded("dead_and_misbehaving_workers_are_one_line_errors", || {
        let dir = tempfile::tempdir().expect("temp dir");
        // A camera raw that passes chiaro's own checks, so it goes to the worker.
        let mrw = read(&shared().join("raw/stubs/Minolta.mrw"));
        let sh = |script: &str| WorkerCommand::new("sh").arg("-c").arg(script);
        let cases = [
            ("killed", sh("kill -9 $$")),
            ("aborted", sh("cat >/dev/null; kill -6 $$")),
            ("exit 3", sh("cat >/dev/null; exit 3")),
            (
                "garbage",
                sh("cat >/dev/null; printf 'CHIAROR1\\000\\377\\377\\377garbage'"),
            ),
            ("no reply", sh("cat >/dev/null")),
            ("banner only", sh("echo hello")),
            // The parent stops it after the 2 s timeout under test (no time is asserted).
            (
                "hangs",
                WorkerCommand::new("sleep")
                    .arg("600")
                    .timeout(Duration::from_secs(2)),
            ),
            ("missing", WorkerCommand::new("/nonexistent/chiaro-worker")),
        ];
        let mut problems = Vec::new();
        for (what, worker) in &cases {
            match read_isolated(dir.path(), "bad.mrw", &mrw, worker) {
                Err(p) => problems.push(format!("{what}: {p}")),
                Ok(Ok(_)) => problems.push(format!("{what}: decoded")),
                Ok(Err(e)) => {
                    if e.kind() != ErrorKind::Decode || !e.message().contains("decoder") {
                        problems.push(format!("{what}: {e}"));
                    }
                }
            }
        }
        // The real worker on a file that makes rawler allocate 8 GB: under a 1 GiB address
        // space the allocation fails, the worker aborts, and that is this file's error.
        let mut huge = mrw.clone();
        huge[24..32].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8, 0xFD, 0xE8, 0xFD, 0xE8]);
        match read_isolated(
            dir.path(),
            "huge.mrw",
            &huge,
            &test_worker().memory_limit(1 << 30),
        ) {
            Err(p) => problems.push(format!("8 GB MRW: {p}")),
            Ok(Ok(_)) => problems.push("8 GB MRW: decoded".into()),
            Ok(Err(e)) => {
                if !e.message().contains("worker") {
                    problems.push(format!("8 GB MRW: not a worker death: {e}"));
                }
            }
        }
        assert_none(&problems, "misbehaving workers");
    });
}

/// The worker's reply carries the whole image: rawler's decode of the sample DNG through the
/// worker equals the in-process decode.
#[cfg(all(unix, feature = "rawler"))]
#[test]
fn worker_round_trip_equals_in_process_decode() {
    bounded("worker_round_trip_equals_in_process_decode", || {
        let p = repo_samples().join("nikon_d750_rose_768x512.dng");
        let bytes = read(&p);
        let limits = Limits::default();
        let here = chiaro::raw::rawler_bridge::decode(&p, &bytes, &limits).expect("rawler");
        let there = chiaro::raw::isolate::decode_in_worker(&bytes, &limits, &test_worker())
            .expect("worker");
        assert_eq!(there.data(), here.data());
        assert_eq!(there.cfa(), here.cfa());
        assert_eq!(there.black(), here.black());
        assert_eq!(there.white(), here.white());
        assert_eq!(there.color(), here.color());
        assert_eq!(there.exif(), here.exif());
        assert_eq!(there.active_area(), here.active_area());
        assert_eq!(there.default_crop(), here.default_crop());
        assert_eq!(there.format(), here.format());
    });
}

// ---- the cases of the issue ---------------------------------------------------------------

/// Endian-aware field access for mutating TIFF structures in place.
fn get16(b: &[u8], at: usize, big: bool) -> u16 {
    let a = [b[at], b[at + 1]];
    if big {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}
fn get32(b: &[u8], at: usize, big: bool) -> u32 {
    let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}
fn put16(b: &mut [u8], at: usize, v: u16, big: bool) {
    if at + 2 <= b.len() {
        b[at..at + 2].copy_from_slice(&if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
}
fn put32(b: &mut [u8], at: usize, v: u32, big: bool) {
    if at + 4 <= b.len() {
        b[at..at + 4].copy_from_slice(&if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
}

/// Position of entry `t` in the IFD at `ifd` (a linear search of the entry table).
fn entry_pos(b: &[u8], ifd: usize, t: u16, big: bool) -> Option<usize> {
    let n = get16(b, ifd, big) as usize;
    (0..n)
        .map(|i| ifd + 2 + 12 * i)
        .find(|&e| e + 12 <= b.len() && get16(b, e, big) == t)
}

/// A BMFF box: offset, size, end of its parent.
type BoxAt = (usize, usize, usize);

/// Every box of a CR3, depth-first, descending into the containers rawler reads.
fn bmff_boxes(b: &[u8], start: usize, end: usize, depth: usize, out: &mut Vec<BoxAt>) {
    let mut at = start;
    while at + 8 <= end && depth < 12 {
        let size = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        if size < 8 || at + size > end {
            return;
        }
        out.push((at, size, end));
        let typ = &b[at + 4..at + 8];
        let skip = match typ {
            b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" => Some(8),
            b"stsd" => Some(16),
            b"CRAW" => Some(90),
            b"uuid" if b.get(at + 8) == Some(&0x85) => Some(24),
            _ => None,
        };
        if let Some(skip) = skip.filter(|&s| s <= size) {
            bmff_boxes(b, at + skip, at + size, depth + 1, out);
        }
        at += size;
    }
}

/// The hostile files the issue names, each refused by chiaro's own checks before a
/// third-party decoder sees it: through `read_file_isolated` (the error must not be a worker
/// death) and through the in-process `read_file` in a child process under a 2 GB
/// address-space limit (the child must finish with an error; its timeout is generous).
#[cfg(unix)]
#[test]
fn issue_cases_are_refused_before_the_third_party_decoder() {
    let _data = common::require_data!();
    let dir = tempfile::tempdir().expect("temp dir");
    let stub = |n: &str| read(&shared().join("raw/stubs").join(n));
    let mut cases: Vec<(&str, &str, Vec<u8>, &str)> = Vec::new();

    // RW2 whose IFD links to itself (rawler grew to 3.9 GB).
    let mut rw2 = stub("Panasonic.rw2");
    let ifd = get32(&rw2, 4, false) as usize;
    let n = get16(&rw2, ifd, false) as usize;
    put32(&mut rw2, ifd + 2 + 12 * n, ifd as u32, false);
    cases.push(("RW2 IFD linked to itself", "self.rw2", rw2, "loop"));

    // A NEF whose Make claims 2^32-1 DOUBLEs (rawler allocated 32 GiB and aborted).
    let mut nef = stub("Nikon.nef");
    let ifd = get32(&nef, 4, false) as usize;
    let e = entry_pos(&nef, ifd, tag::MAKE, false).expect("Make");
    put16(&mut nef, e + 2, 12, false);
    put32(&mut nef, e + 4, u32::MAX, false);
    cases.push(("NEF entry count 2^32 DOUBLEs", "count.nef", nef, "claims"));

    // The same in an ORF-signed file and in a SubIFD-free TIFF of unknown make.
    let mut orf = without_dng_version(&cfa_dng(16, 16).build());
    orf[..4].copy_from_slice(b"IIRO");
    let ifd = get32(&orf, 4, false) as usize;
    let e = entry_pos(&orf, ifd, tag::STRIP_OFFSETS, false).expect("StripOffsets");
    put32(&mut orf, e + 4, 1 << 30, false);
    cases.push(("ORF entry count 2^30 LONGs", "count.orf", orf, "claims"));

    // DNGs whose DNGVersion is damaged: a huge count, a wrong type, a wrong count.
    let dng_stub = stub("DNG.dng");
    let ifd = get32(&dng_stub, 4, true) as usize;
    let e = entry_pos(&dng_stub, ifd, tag::DNG_VERSION, true).expect("DNGVersion");
    let mut d = dng_stub.clone();
    put16(&mut d, e + 2, 12, true);
    put32(&mut d, e + 4, 1 << 30, true);
    cases.push((
        "DNGVersion of 2^30 DOUBLEs",
        "version1.dng",
        d,
        "DNGVersion",
    ));
    let good = cfa_dng(16, 16).build();
    let ifd = get32(&good, 4, false) as usize;
    let e = entry_pos(&good, ifd, tag::DNG_VERSION, false).expect("DNGVersion");
    let mut d = good.clone();
    put16(&mut d, e + 2, 3, false);
    cases.push(("DNGVersion as SHORTs", "version2.dng", d, "DNGVersion"));
    let mut d = good.clone();
    put32(&mut d, e + 4, 3, false);
    cases.push(("DNGVersion of 3 BYTEs", "version3.dng", d, "DNGVersion"));

    // CR3 with a zero-size box (rawler looped, 3.2 GB in 4 s), a 64-bit size of 2^63 and a
    // table count of 2^32-1.
    let cr3 = stub("CanonRaw.cr3");
    let mut boxes = Vec::new();
    bmff_boxes(&cr3, 0, cr3.len(), 0, &mut boxes);
    let moov = boxes
        .iter()
        .find(|b| &cr3[b.0 + 4..b.0 + 8] == b"moov")
        .expect("moov")
        .0;
    let mut z = cr3.clone();
    z[moov + 8..moov + 12].copy_from_slice(&0u32.to_be_bytes());
    cases.push(("CR3 zero-size box", "zero.cr3", z, "size 0"));
    let mut l = cr3.clone();
    l[moov + 8..moov + 12].copy_from_slice(&1u32.to_be_bytes());
    l[moov + 16..moov + 24].copy_from_slice(&(1u64 << 63).to_be_bytes());
    cases.push(("CR3 64-bit size 2^63", "large.cr3", l, "runs past"));
    if let Some(t) = boxes.iter().find(|b| {
        matches!(
            &cr3[b.0 + 4..b.0 + 8],
            b"stsz" | b"stsc" | b"stts" | b"co64"
        )
    }) {
        let mut c = cr3.clone();
        let at = if &cr3[t.0 + 4..t.0 + 8] == b"stsz" {
            t.0 + 16
        } else {
            t.0 + 12
        };
        c[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        // stsz with a constant sample size has no table; make it a table of 2^32-1.
        if &cr3[t.0 + 4..t.0 + 8] == b"stsz" {
            c[t.0 + 12..t.0 + 16].copy_from_slice(&0u32.to_be_bytes());
        }
        cases.push(("CR3 table of 2^32-1 entries", "table.cr3", c, "table"));
    }

    let worker = test_worker();
    let mut problems = Vec::new();
    for (what, name, bytes, word) in &cases {
        match read_isolated(dir.path(), name, bytes, &worker) {
            Err(p) => problems.push(format!("{what}: {p}")),
            Ok(Ok(_)) => problems.push(format!("{what}: decoded")),
            Ok(Err(e)) => {
                let m = e.message();
                if m.contains("camera-raw decoder") || !m.contains(word) {
                    problems.push(format!("{what}: not refused by chiaro's checks: {e}"));
                }
            }
        }
        let p = dir.path().join(name);
        match read_file_in_child(&p, Duration::from_secs(60)) {
            Err(why) => problems.push(format!("{what} in process: {why}")),
            Ok(o) if !o.starts_with("err") => problems.push(format!("{what} in process: {o}")),
            Ok(_) => {}
        }
    }
    assert_none(&problems, "the issue's hostile files");
}

/// A small DNG that claims 20000x20000 by pointing every strip at the same bytes is refused
/// by the piece-size check before the 800 MB sample buffer is allocated (the message is the
/// pre-check's), uncompressed and lossless-JPEG alike.
#[test]
fn tiny_dng_claiming_a_huge_image_is_refused_before_allocating() {
    bounded(
        "tiny_dng_claiming_a_huge_image_is_refused_before_allocating",
        || {
            let n = 20_000usize;
            let mut t = cfa_dng(16, 16);
            t.longs(tag::IMAGE_WIDTH, &[n as u32])
                .longs(tag::IMAGE_LENGTH, &[n as u32])
                .longs(tag::ROWS_PER_STRIP, &[1]);
            // Uncompressed: each one-row strip is 40000 bytes, all at the same offset.
            let mut u = t.clone();
            u.data = vec![0; 2 * n];
            u.longs(tag::STRIP_OFFSETS, &vec![DATA_AT; n])
                .longs(tag::STRIP_BYTE_COUNTS, &vec![2 * n as u32; n]);
            // Lossless JPEG: one-row strips of 2500 bytes (one bit per sample) at one offset.
            let mut j = t.clone();
            j.data = vec![0; n / 8];
            j.shorts(tag::COMPRESSION, &[7])
                .longs(tag::STRIP_OFFSETS, &vec![DATA_AT; n])
                .longs(tag::STRIP_BYTE_COUNTS, &vec![n as u32 / 8; n]);
            // And strips too short for their rows.
            let mut s = t.clone();
            s.data = vec![0; 2 * n];
            s.longs(tag::STRIP_OFFSETS, &vec![DATA_AT; n])
                .longs(tag::STRIP_BYTE_COUNTS, &vec![100; n]);
            for (what, tiff, word) in [
                ("uncompressed", u, "needs at least"),
                ("lossless JPEG", j, "needs at least"),
                ("short strips", s, "holds 100 bytes"),
            ] {
                let bytes = tiff.build();
                assert!(bytes.len() < 400_000, "{what}: the file is small");
                let e = decode_guarded(&bytes)
                    .unwrap_or_else(|p| panic!("{what}: panic {p}"))
                    .expect_err("refused");
                assert_eq!(e.kind(), ErrorKind::Decode, "{what}: {e}");
                assert!(e.message().contains(word), "{what}: {e}");
            }
        },
    );
}

// ---- structure-aware mutation fuzzing -------------------------------------------------------

/// One structure-aware mutation of a TIFF-family file: an entry's count, type, value offset
/// or tag, an IFD's entry count or next link (to itself, IFD0, another IFD, past the end),
/// or an entry turned into a SubIFD pointer back to its own IFD. 1-3 per mutant.
fn tiff_mutant(rng: &mut Rng, seed: &[u8]) -> (Vec<u8>, String) {
    let t = TiffFile::parse(seed).expect("seed parses");
    let big = t.endian == chiaro::raw::tiff::Endian::Big;
    let ifds: Vec<(usize, usize)> = t
        .chain
        .iter()
        .chain(&t.sub_ifds)
        .chain(t.exif.as_ref())
        .map(|i| (i.position, get16(seed, i.position, big) as usize))
        .collect();
    let len = seed.len() as u32;
    let mut b = seed.to_vec();
    let mut what = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let (pos, n) = ifds[rng.below(ifds.len())];
        let e = pos + 2 + 12 * rng.below(n.max(1));
        let pick = |rng: &mut Rng, v: &[u32]| v[rng.below(v.len())];
        match rng.below(7) {
            0 => {
                let old = get32(&b, e + 4, big);
                let c = pick(
                    rng,
                    &[
                        0,
                        1,
                        u32::MAX,
                        1 << 30,
                        len,
                        len / 2,
                        old.wrapping_add(1),
                        old * 2,
                    ],
                );
                put32(&mut b, e + 4, c, big);
                what.push(format!("entry@{e} count {c}"));
            }
            1 => {
                let any = 1 + rng.below(12) as u32;
                let ty = pick(rng, &[0, 2, 7, 12, 13, 16, 99, 0xFFFF, any]);
                put16(&mut b, e + 2, ty as u16, big);
                what.push(format!("entry@{e} type {ty}"));
            }
            2 => {
                let o = pick(rng, &[e as u32, pos as u32, len, len - 1, u32::MAX, 0, 8]);
                put32(&mut b, e + 8, o, big);
                what.push(format!("entry@{e} offset {o}"));
            }
            3 => {
                let c = pick(rng, &[0, 0xFFFF, n as u32 + 1, 4097, 1]);
                put16(&mut b, pos, c as u16, big);
                what.push(format!("IFD@{pos} entry count {c}"));
            }
            4 => {
                let other = ifds[rng.below(ifds.len())].0 as u32;
                let first = get32(&b, 4, big);
                let to = pick(rng, &[pos as u32, first, other, len, u32::MAX, len - 2]);
                put32(&mut b, pos + 2 + 12 * n, to, big);
                what.push(format!("IFD@{pos} next {to}"));
            }
            5 => {
                let id = pick(
                    rng,
                    &[
                        u32::from(tag::DNG_VERSION),
                        u32::from(tag::SUB_IFDS),
                        u32::from(tag::EXIF_IFD),
                        u32::from(tag::STRIP_OFFSETS),
                        u32::from(tag::TILE_BYTE_COUNTS),
                        0,
                        0xFFFF,
                    ],
                );
                put16(&mut b, e, id as u16, big);
                what.push(format!("entry@{e} tag {id}"));
            }
            _ => {
                put16(&mut b, e, tag::SUB_IFDS, big);
                put16(&mut b, e + 2, 4, big);
                put32(&mut b, e + 4, 1, big);
                put32(&mut b, e + 8, pos as u32, big);
                what.push(format!("entry@{e} SubIFD -> own IFD@{pos}"));
            }
        }
    }
    (b, what.join(", "))
}

/// What became of the mutants: decoded, refused by chiaro's checks or readers, refused by
/// the third-party decoder in the worker, or the worker died.
#[derive(Default, Debug)]
struct Outcomes {
    decoded: usize,
    refused: usize,
    decoder_error: usize,
    worker_died: usize,
}

/// Checks one mutant end to end: the walkers and the DNG reader directly (in-process), then
/// `read_file_isolated` (camera raws go to the worker). Problems are appended.
fn check_mutant(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    what: &str,
    worker: &WorkerCommand,
    problems: &mut Vec<String>,
    outcomes: &mut Outcomes,
) {
    if let Err(p) = guard(|| {
        let _ = TiffFile::parse(bytes).map(|t| t.chain.len());
        let _ = TiffFile::parse_strict(bytes).map(|t| t.chain.len());
        let _ = chiaro::raw::bmff::check(bytes);
        let _ = dng::decode(bytes, &Limits::default());
    }) {
        problems.push(format!(
            "{name} ({what}): panic in the walkers or DNG reader: {p}"
        ));
    }
    match read_isolated(dir, name, bytes, worker) {
        Err(p) => problems.push(format!("{name} ({what}): {p}")),
        Ok(Ok(raw)) => {
            outcomes.decoded += 1;
            if raw.validate().is_err() {
                problems.push(format!("{name} ({what}): decoded an invalid image"));
            }
        }
        Ok(Err(e)) if e.message().contains("camera-raw decoder") => {
            // Contained by the worker; shown to spot structures the walkers could refuse.
            eprintln!("{name} ({what}): {e}");
            outcomes.worker_died += 1;
        }
        Ok(Err(e)) if e.message().starts_with("camera raw") => outcomes.decoder_error += 1,
        Ok(Err(_)) => outcomes.refused += 1,
    }
}

/// TIFF-structure mutations of DNGs (read in-process) and of TIFF-based camera raws (CR2,
/// NEF, RW2, IIQ and an ORF-signed file: checked here, then decoded in the worker).
/// Seeded, so a failure names a reproducible mutation. Bounded by the watchdog.
#[cfg(unix)]
#[test]
fn tiff_structure_mutations_never_panic_or_escape() {
    let _data = common::require_data!();
    bounded("tiff_structure_mutations_never_panic_or_escape", || {
        let dir = tempfile::tempdir().expect("temp dir");
        let stubs = shared().join("raw/stubs");
        let tile = ljpeg::encode(&mosaic_samples(16, 16), 16, 16, 1, 12, 1).expect("encode");
        let mut orf = without_dng_version(&cfa_dng(16, 16).build());
        orf[..4].copy_from_slice(b"IIRO");
        let seeds: Vec<(&str, Vec<u8>, usize)> = vec![
            ("strip.dng", cfa_dng(16, 16).build(), 300),
            (
                "tiles.dng",
                tiled_ljpeg_dng(
                    32,
                    32,
                    16,
                    &[tile.clone(), tile.clone(), tile.clone(), tile],
                )
                .build(),
                300,
            ),
            ("stub.dng", read(&stubs.join("DNG.dng")), 150),
            (
                "synth.dng",
                synth_dng(24, 16, bayer("RGGB"), Storage::Uncompressed, None, 1),
                150,
            ),
            ("stub.nef", read(&stubs.join("Nikon.nef")), 60),
            ("stub.cr2", read(&stubs.join("CanonRaw.cr2")), 60),
            ("stub.rw2", read(&stubs.join("Panasonic.rw2")), 60),
            ("stub.iiq", read(&stubs.join("PhaseOne.iiq")), 40),
            ("plain.orf", orf, 40),
        ];
        let worker = test_worker().timeout(Duration::from_secs(30));
        let mut rng = Rng(0x7165_7E57);
        let mut problems = Vec::new();
        let mut outcomes = Outcomes::default();
        for (name, seed, n) in &seeds {
            for _ in 0..*n {
                let (b, what) = tiff_mutant(&mut rng, seed);
                check_mutant(
                    dir.path(),
                    name,
                    &b,
                    &what,
                    &worker,
                    &mut problems,
                    &mut outcomes,
                );
            }
        }
        assert_none(&problems, "TIFF structure mutations");
        // The mutations reach every layer: DNGs that still decode, files refused by the
        // walkers, and camera raws that got as far as the decoder in the worker.
        eprintln!("TIFF mutants: {outcomes:?}");
        assert!(
            outcomes.decoded > 0 && outcomes.refused > 0 && outcomes.decoder_error > 0,
            "{outcomes:?}"
        );
    });
}

/// BMFF box mutations of the CR3 stub: sizes of 0, 1 with 64-bit sizes (huge, too small,
/// one past the parent), below the header and past the parent; box types swapped for
/// containers; table counts of 2^32-1; plus nesting 40 deep.
#[cfg(unix)]
#[test]
fn bmff_box_mutations_never_panic_or_escape() {
    let _data = common::require_data!();
    bounded("bmff_box_mutations_never_panic_or_escape", || {
        let dir = tempfile::tempdir().expect("temp dir");
        let cr3 = read(&shared().join("raw/stubs/CanonRaw.cr3"));
        let mut boxes = Vec::new();
        bmff_boxes(&cr3, 0, cr3.len(), 0, &mut boxes);
        assert!(boxes.len() > 10, "the stub's boxes are found");
        let worker = test_worker().timeout(Duration::from_secs(30));
        let mut rng = Rng(0xB0C5);
        let mut problems = Vec::new();
        let mut outcomes = Outcomes::default();
        for _ in 0..150 {
            let mut b = cr3.clone();
            let mut what = Vec::new();
            for _ in 0..1 + rng.below(2) {
                let (at, size, parent_end) = boxes[rng.below(boxes.len())];
                let set32 = |b: &mut Vec<u8>, p: usize, v: u32| {
                    if p + 4 <= b.len() {
                        b[p..p + 4].copy_from_slice(&v.to_be_bytes());
                    }
                };
                match rng.below(5) {
                    0 => {
                        set32(&mut b, at, 0);
                        what.push(format!("box@{at} size 0"));
                    }
                    1 => {
                        let past = (parent_end - at + 1) as u64;
                        let large =
                            [u64::MAX, 1 << 40, 1 << 63, 8, 15, past, size as u64][rng.below(7)];
                        set32(&mut b, at, 1);
                        if at + 16 <= b.len() {
                            b[at + 8..at + 16].copy_from_slice(&large.to_be_bytes());
                        }
                        what.push(format!("box@{at} size 1, 64-bit {large}"));
                    }
                    2 => {
                        let past = (parent_end - at + 1) as u32;
                        let s = [7, 1 + rng.below(7) as u32, past, size as u32 + 1, u32::MAX]
                            [rng.below(5)];
                        set32(&mut b, at, s);
                        what.push(format!("box@{at} size {s}"));
                    }
                    3 => {
                        let t: &[u8; 4] = [
                            b"moov", b"trak", b"uuid", b"stsd", b"CRAW", b"CMT1", b"stsz", b"co64",
                        ][rng.below(8)];
                        b[at + 4..at + 8].copy_from_slice(t);
                        what.push(format!("box@{at} type {}", String::from_utf8_lossy(t)));
                    }
                    _ => {
                        let p = at + 8 + 4 * rng.below(4);
                        set32(&mut b, p, u32::MAX);
                        what.push(format!("box@{at} field@{p} = 2^32-1"));
                    }
                }
            }
            check_mutant(
                dir.path(),
                "m.cr3",
                &b,
                &what.join(", "),
                &worker,
                &mut problems,
                &mut outcomes,
            );
        }
        // Nesting far deeper than any CR3, inside a well-formed file.
        let mut nested = 8u32.to_be_bytes().to_vec();
        nested.extend(b"free");
        for _ in 0..40 {
            let mut outer = ((nested.len() + 8) as u32).to_be_bytes().to_vec();
            outer.extend(b"trak");
            outer.extend(nested);
            nested = outer;
        }
        let mut deep = cr3[..boxes[0].1].to_vec(); // the ftyp box
        deep.extend(((nested.len() + 8) as u32).to_be_bytes());
        deep.extend(b"moov");
        deep.extend(nested);
        check_mutant(
            dir.path(),
            "deep.cr3",
            &deep,
            "nested 40 deep",
            &worker,
            &mut problems,
            &mut outcomes,
        );
        match chiaro::raw::bmff::check(&deep) {
            Err(e) if e.message().contains("nested") => {}
            other => problems.push(format!("deep nesting: {:?}", other.err())),
        }
        assert_none(&problems, "BMFF box mutations");
        eprintln!("BMFF mutants: {outcomes:?}");
        assert!(
            outcomes.refused > 0 && outcomes.decoder_error > 0,
            "{outcomes:?}"
        );
    });
}

/// Lossless-JPEG segment mutations: marker bytes, segment lengths, Huffman tables (class and
/// slot, code counts, values), frame and scan headers (precision, size, components,
/// selectors, predictor, point transform), restart intervals and the entropy-coded data.
/// Decoded directly and as a DNG tile.
#[test]
fn lossless_jpeg_mutations_never_panic() {
    bounded("lossless_jpeg_mutations_never_panic", || {
        let limits = Limits::default();
        let seeds: Vec<(Vec<u8>, bool)> = vec![
            (
                ljpeg::encode(&mosaic_samples(16, 16), 16, 16, 1, 12, 1).expect("encode"),
                true,
            ),
            (
                ljpeg::encode(&mosaic_samples(16, 8), 8, 8, 2, 14, 6).expect("encode"),
                false,
            ),
            (
                ljpeg::encode(&mosaic_samples(6, 16), 6, 4, 4, 16, 7).expect("encode"),
                false,
            ),
            (
                ljpeg::encode_with(&mosaic_samples(16, 16), 16, 16, 1, 12, 4, 1, 32)
                    .expect("encode"),
                true,
            ),
        ];
        // Segment list: (marker position, marker, length field) up to SOS.
        let segments = |b: &[u8]| {
            let mut out = Vec::new();
            let mut p = 2;
            while p + 4 <= b.len() && b[p] == 0xFF {
                let m = b[p + 1];
                let len = u16::from_be_bytes([b[p + 2], b[p + 3]]) as usize;
                out.push((p, m, len));
                if m == 0xDA {
                    break;
                }
                p += 2 + len;
            }
            out
        };
        let set8 = |b: &mut Vec<u8>, at: usize, v: u8| {
            if let Some(x) = b.get_mut(at) {
                *x = v;
            }
        };
        let mut rng = Rng(0x1DC7);
        let mut problems = Vec::new();
        for (seed, as_tile) in &seeds {
            let segs = segments(seed);
            let sos = segs.iter().find(|s| s.1 == 0xDA).expect("SOS");
            let data_start = sos.0 + 2 + sos.2;
            for _ in 0..400 {
                let mut b = seed.clone();
                let mut what = Vec::new();
                for _ in 0..1 + rng.below(2) {
                    let (p, m, len) = segs[rng.below(segs.len())];
                    if b.len() < data_start + 2 {
                        break; // truncated by an earlier mutation
                    }
                    let v8 = |rng: &mut Rng, v: &[u8]| v[rng.below(v.len())];
                    match rng.below(7) {
                        0 => {
                            let l = [0, 1, 2, len - 1, len + 1, 0xFFFF][rng.below(6)] as u16;
                            set8(&mut b, p + 2, (l >> 8) as u8);
                            set8(&mut b, p + 3, l as u8);
                            what.push(format!("segment {m:02X} length {l}"));
                        }
                        1 => {
                            let nm =
                                v8(&mut rng, &[0xC0, 0xC1, 0xC4, 0xD9, 0xD8, 0xDA, 0xDD, 0x00]);
                            set8(&mut b, p + 1, nm);
                            what.push(format!("marker {m:02X} -> {nm:02X}"));
                        }
                        2 => {
                            // A DHT: class/slot byte, one of the 16 counts, or a value.
                            let Some(&(d, _, dl)) = segs.iter().find(|s| s.1 == 0xC4) else {
                                continue;
                            };
                            let at = match rng.below(3) {
                                0 => d + 4,
                                1 => d + 5 + rng.below(16),
                                _ => d + 21 + rng.below(dl.saturating_sub(19).max(1)),
                            };
                            let v = v8(&mut rng, &[0x20, 0x05, 0x1F, 0xFF, 17, 16, 0]);
                            set8(&mut b, at, v);
                            what.push(format!("DHT byte {at} = {v}"));
                        }
                        3 => {
                            let Some(&(f, ..)) = segs.iter().find(|s| s.1 == 0xC3) else {
                                continue;
                            };
                            // precision, height, width, component count, a sampling factor.
                            match rng.below(4) {
                                0 => set8(&mut b, f + 4, v8(&mut rng, &[0, 1, 2, 17, 255])),
                                1 => {
                                    let v = [0u16, 1, 0xFFFF][rng.below(3)];
                                    let at = f + 5 + 2 * rng.below(2);
                                    set8(&mut b, at, (v >> 8) as u8);
                                    set8(&mut b, at + 1, v as u8);
                                }
                                2 => set8(&mut b, f + 9, v8(&mut rng, &[0, 5, 255])),
                                _ => set8(&mut b, f + 11, v8(&mut rng, &[0x00, 0xFF, 0x22])),
                            }
                            what.push("SOF3 field".into());
                        }
                        4 => {
                            // SOS: component count, a table selector, predictor, point transform.
                            let s = sos.0;
                            let ns = b[s + 4] as usize;
                            match rng.below(4) {
                                0 => set8(&mut b, s + 4, v8(&mut rng, &[0, 5, 255])),
                                1 => set8(&mut b, s + 6, v8(&mut rng, &[0x40, 0xF0, 0x11])),
                                2 => set8(&mut b, s + 5 + 2 * ns, v8(&mut rng, &[0, 8, 255])),
                                _ => set8(&mut b, s + 7 + 2 * ns, v8(&mut rng, &[15, 16, 0xFF])),
                            }
                            what.push("SOS field".into());
                        }
                        5 => {
                            // Entropy-coded data: truncated, all ones, stray markers, zeros.
                            let at = data_start + rng.below(b.len() - data_start);
                            match rng.below(4) {
                                0 => b.truncate(at),
                                1 => b[at..].iter_mut().for_each(|x| *x = 0xFF),
                                2 => {
                                    b.insert(at, 0xD0 + rng.below(8) as u8);
                                    b.insert(at, 0xFF);
                                }
                                _ => b[at..].iter_mut().for_each(|x| *x = 0),
                            }
                            what.push(format!("entropy data from {at}"));
                        }
                        _ => {
                            // A restart interval segment right after SOI.
                            let ri = [1u16, 16, 0xFFFF, 0][rng.below(4)];
                            let mut seg = vec![0xFF, 0xDD, 0, 4];
                            seg.extend(ri.to_be_bytes());
                            b.splice(2..2, seg);
                            what.push(format!("DRI {ri}"));
                        }
                    }
                }
                let what = what.join(", ");
                match guard(|| ljpeg::decode(&b, &limits)) {
                    Err(p) => problems.push(format!("ljpeg ({what}): panic {p}")),
                    Ok(Ok(f)) => {
                        if f.samples.len() != f.width * f.height * f.components {
                            problems.push(format!("ljpeg ({what}): frame of the wrong size"));
                        }
                    }
                    Ok(Err(_)) => {}
                }
                if *as_tile {
                    let dng = tiled_ljpeg_dng(16, 16, 16, &[b.clone()]).build();
                    if let Err(p) = decode_guarded(&dng) {
                        problems.push(format!("ljpeg tile ({what}): panic {p}"));
                    }
                }
            }
        }
        assert_none(&problems, "lossless JPEG mutations");
    });
}
