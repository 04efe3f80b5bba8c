//! Third-party decoders in a worker process, with memory and time limits.
//!
//! rawler is not panic-free or allocation-safe on hostile input: an allocation failure
//! aborts the process (it is not a panic, `catch_unwind` cannot stop it) and some
//! structures make it loop. [`read_file_isolated`] reads DNGs and sidecar dumps in this
//! process with chiaro's own hardened readers, runs the structural checks of
//! [`super::read_file`] on everything else, and hands the remaining bytes to a worker
//! process that decodes them and sends the [`RawImage`] back. The worker limits its own
//! address space (`RLIMIT_AS`, on Unix) before it reads the file; the parent kills it after
//! [`WorkerCommand::timeout`]. A worker that dies, is killed or sends anything but a
//! well-formed reply is one file's [`ErrorKind::Decode`] error.
//!
//! The library does not know how to start a worker: the caller names a program that calls
//! [`worker_main`] (the `chiaro` CLI runs itself as `chiaro __decode-worker`).
//!
//! # Protocol (version 1)
//! All integers little-endian. Request on the worker's stdin: `CHIAROQ1`, the memory limit
//! (u64), the four [`Limits`] fields (u64 each), the file length (u64) and the file bytes.
//! Reply on its stdout: `CHIAROR1`, then `0` and the image (see `put_image`) or `1`, an
//! error kind and a message. Lengths are u64 prefixes. Up to 64 KiB of other output before
//! the magic is skipped (a test harness used as a worker may print a banner); everything
//! after it is validated as hostile data against the caller's [`Limits`], then
//! [`RawImage::validate`] runs.

use std::cell::Cell;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use super::{BlackLevel, CfaPattern, ColorCalibration, ExifInfo, OpcodeLists, RawImage};
use crate::color::matrix::Mat3;
use crate::error::{Error, ErrorKind, Result};
use crate::image::Rect;
use crate::limits::{Limits, try_vec, try_with_capacity};
use crate::raw::dng::opcodes;

const REQUEST_MAGIC: &[u8; 8] = b"CHIAROQ1";
const REPLY_MAGIC: &[u8; 8] = b"CHIAROR1";
/// Output a worker may print before its reply (a test harness banner).
const MAX_PREAMBLE: usize = 64 << 10;
/// Longest string field in a reply.
const MAX_TEXT: usize = 64 << 10;
/// Most warnings in a reply.
const MAX_WARNINGS: usize = 1024;

/// Default address-space limit of a worker: ample for any camera raw (a 100 MP frame
/// decodes in well under 1 GiB), far below what a hostile count asks for.
pub const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;
/// Default wall-clock limit of one decode (a large raw takes a few seconds on 2 cores).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How to start a decoder worker: a program that calls [`worker_main`], its arguments, and
/// the limits it runs under.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Environment variables set for the worker (on top of the inherited environment).
    pub env: Vec<(OsString, OsString)>,
    /// Address-space limit in bytes the worker sets on itself (`RLIMIT_AS`; Unix only).
    pub memory_limit: u64,
    /// The worker is killed when a decode takes longer.
    pub timeout: Duration,
}

impl WorkerCommand {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        WorkerCommand {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            memory_limit: DEFAULT_MEMORY_LIMIT,
            timeout: DEFAULT_TIMEOUT,
        }
    }
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = bytes;
        self
    }
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// [`super::read_file`] with the third-party decoder in a worker process: DNGs and sidecar
/// dumps are read here, the structural checks run here, other formats are decoded by
/// `worker`. Errors name the file.
pub fn read_file_isolated(
    path: &Path,
    limits: &Limits,
    worker: &WorkerCommand,
) -> Result<RawImage> {
    super::read_file_inner(path, limits, |bytes| {
        decode_in_worker(bytes, limits, worker)
    })
    .map_err(|e| e.with_path(path))
}

/// Decodes `bytes` (a camera raw for a third-party decoder) in a worker process.
pub fn decode_in_worker(bytes: &[u8], limits: &Limits, worker: &WorkerCommand) -> Result<RawImage> {
    let failed = |why: String| Error::decode(format!("the camera-raw decoder {why}"));
    let mut child = Command::new(&worker.program)
        .args(&worker.args)
        .envs(worker.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            failed(format!(
                "worker {} could not be started: {e}",
                worker.program.display()
            ))
        })?;

    let mut request = Vec::with_capacity(56);
    request.extend_from_slice(REQUEST_MAGIC);
    for v in [
        worker.memory_limit,
        limits.max_dimension as u64,
        limits.max_samples as u64,
        limits.max_alloc_bytes as u64,
        limits.max_tiles as u64,
        bytes.len() as u64,
    ] {
        request.extend_from_slice(&v.to_le_bytes());
    }
    // Reply: at most the samples the limits allow plus metadata.
    let reply_cap = (limits.max_alloc_bytes as u64).saturating_add(64 << 20);
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let outcome = std::thread::scope(|scope| {
        scope.spawn(move || {
            // A worker that dies early closes the pipe: the write error is not the story.
            if let Some(mut w) = stdin {
                let _ = w.write_all(&request).and_then(|_| w.write_all(bytes));
            }
        });
        let out = scope.spawn(move || stdout.map(|r| read_capped(r, reply_cap, limits)));
        let err = scope.spawn(move || stderr.map(tail_of));
        let started = Instant::now();
        let mut nap = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if started.elapsed() > worker.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(failed(format!(
                        "did not finish within {} s and was stopped",
                        worker.timeout.as_secs_f64()
                    )));
                }
                Ok(None) => {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(Duration::from_millis(20));
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(failed(format!("worker could not be waited for: {e}")));
                }
            }
        };
        let out = out.join().ok().flatten();
        let err = err.join().ok().flatten().unwrap_or_default();
        (status, out, err)
    });
    let (status, out, stderr_tail) = outcome;
    let status = status?;
    if !status.success() {
        return Err(failed(describe_death(
            status,
            &stderr_tail,
            worker.memory_limit,
        )));
    }
    let reply = match out {
        Some(Ok(r)) => r,
        Some(Err(e)) => return Err(failed(format!("sent an unusable reply: {}", e.message()))),
        None => return Err(failed("sent no reply".into())),
    };
    match parse_reply(&reply, limits) {
        // The worker's answer: the image, or the decoder's own error.
        Ok(result) => result,
        Err(e) => Err(failed(format!("sent a malformed reply: {}", e.message()))),
    }
}

/// Reads a stream to its end, failing past `cap` bytes; grows fallibly.
fn read_capped(mut r: impl Read, cap: u64, limits: &Limits) -> Result<Vec<u8>> {
    let mut v: Vec<u8> = try_with_capacity(1 << 16, limits)?;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => return Ok(v),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(e)),
        };
        if (v.len() + n) as u64 > cap {
            // Keep draining so the worker is not blocked on a full pipe before it is waited.
            let _ = std::io::copy(&mut r, &mut std::io::sink());
            return Err(Error::limits(format!("reply larger than {cap} bytes")));
        }
        if v.capacity() - v.len() < n {
            let want = v.len().max(n);
            v.try_reserve(want)
                .map_err(|_| Error::limits("cannot allocate the worker's reply"))?;
        }
        v.extend_from_slice(&chunk[..n]);
    }
}

/// The last 4 KiB of the worker's error output (its last words, for the error message).
fn tail_of(mut r: impl Read) -> String {
    let mut tail: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = r.read(&mut chunk) {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > 8192 {
            tail.drain(..tail.len() - 4096);
        }
    }
    String::from_utf8_lossy(&tail).into_owned()
}

fn describe_death(status: std::process::ExitStatus, stderr: &str, memory_limit: u64) -> String {
    let oom = stderr.contains("memory allocation") || stderr.contains("out of memory");
    let mut why = match status.code() {
        Some(c) => format!("worker exited with status {c}"),
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                match status.signal() {
                    Some(s) => format!("worker was killed by signal {s}{}", signal_name(s)),
                    None => "worker died".to_string(),
                }
            }
            #[cfg(not(unix))]
            {
                "worker died".to_string()
            }
        }
    };
    if oom {
        why.push_str(&format!(
            " after running out of memory (limit {} MiB)",
            memory_limit >> 20
        ));
    }
    why
}

#[cfg(unix)]
fn signal_name(s: i32) -> &'static str {
    match s {
        4 => " (SIGILL)",
        6 => " (SIGABRT)",
        7 => " (SIGBUS)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        _ => "",
    }
}

// ---- the worker -----------------------------------------------------------------------------

/// The worker's whole life: reads a request from stdin, limits its address space, decodes
/// the file with the third-party decoder and writes the reply to stdout. Returns the exit
/// code (0 when a reply, image or error, was written). Panics are silenced: the parent
/// reports them as one line.
pub fn worker_main() -> i32 {
    std::panic::set_hook(Box::new(|_| {}));
    let mut stdin = std::io::stdin().lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let reply = match read_request(&mut stdin) {
        Ok((limits, data)) => {
            match catch_unwind(AssertUnwindSafe(|| super::other_format(&data, &limits))) {
                Ok(r) => r,
                Err(_) => Err(Error::decode(
                    "the camera-raw decoder failed on this file (internal panic caught)",
                )),
            }
        }
        Err(e) => Err(e),
    };
    let written = write_reply(&mut out, &reply).and_then(|_| out.flush());
    if written.is_ok() { 0 } else { 3 }
}

fn read_request(r: &mut impl Read) -> Result<(Limits, Vec<u8>)> {
    let mut head = [0u8; 8 + 6 * 8];
    r.read_exact(&mut head)?;
    if &head[..8] != REQUEST_MAGIC {
        return Err(Error::parameter("not a chiaro decode request"));
    }
    let field = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&head[8 + 8 * i..16 + 8 * i]);
        u64::from_le_bytes(a)
    };
    let size = |i: usize| usize::try_from(field(i)).unwrap_or(usize::MAX);
    set_memory_limit(field(0));
    let limits = Limits {
        max_dimension: size(1),
        max_samples: size(2),
        max_alloc_bytes: size(3),
        max_tiles: size(4),
    };
    let len = size(5);
    let mut data = try_with_capacity::<u8>(len, &limits)?;
    r.take(len as u64).read_to_end(&mut data)?;
    if data.len() != len {
        return Err(Error::decode("request shorter than announced"));
    }
    Ok((limits, data))
}

/// Best effort: where the limit cannot be set the parent's timeout still applies.
fn set_memory_limit(bytes: u64) {
    #[cfg(unix)]
    {
        let _ = rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes);
    }
    #[cfg(not(unix))]
    {
        let _ = bytes;
    }
}

// ---- quiet caught panics ----------------------------------------------------------------------

thread_local! {
    static GUARDED: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` under `catch_unwind`, marking the thread so that [`quiet_caught_panics`]'s hook
/// keeps a panic in `f` off stderr.
#[cfg(feature = "rawler")]
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    GUARDED.with(|g| g.set(g.get() + 1));
    let r = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get().saturating_sub(1)));
    r
}

/// Installs (once) a panic hook that prints nothing for panics the library catches and
/// reports as errors: panics on a thread inside a guarded third-party decode, and panics
/// located in third-party decoder sources (rawler, or any crate from the registry) on the
/// threads they spawn. Every other panic goes to the previous hook. A process-wide setting,
/// so the application decides: the `chiaro` CLI calls it at start-up.
pub fn quiet_caught_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let guarded = GUARDED.with(|g| g.get() > 0);
            let third_party = info.location().is_some_and(|l| {
                let f = l.file();
                f.contains("rawler")
                    || f.contains(".cargo/registry")
                    || f.contains(".cargo\\registry")
            });
            if !guarded && !third_party {
                previous(info);
            }
        }));
    });
}

// ---- reply encoding -------------------------------------------------------------------------

fn write_reply(w: &mut impl Write, reply: &Result<RawImage>) -> std::io::Result<()> {
    w.write_all(REPLY_MAGIC)?;
    match reply {
        Ok(img) => {
            w.write_all(&[0])?;
            put_image(w, img)
        }
        Err(e) => {
            w.write_all(&[1, kind_code(e.kind())])?;
            put_str(w, e.message())
        }
    }
}

fn kind_code(k: ErrorKind) -> u8 {
    match k {
        ErrorKind::Decode => 0,
        ErrorKind::Unsupported => 1,
        ErrorKind::Limits => 2,
        ErrorKind::Parameter => 3,
        ErrorKind::Io => 4,
        ErrorKind::Encode => 5,
        ErrorKind::Cancelled => 6,
    }
}

fn put_u64(w: &mut impl Write, v: u64) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}
fn put_f64(w: &mut impl Write, v: f64) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}
fn put_str(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    let s = &s.as_bytes()[..s.len().min(MAX_TEXT)];
    put_u64(w, s.len() as u64)?;
    w.write_all(s)
}
fn put_opt_str(w: &mut impl Write, s: &Option<String>) -> std::io::Result<()> {
    match s {
        Some(s) => {
            w.write_all(&[1])?;
            put_str(w, s)
        }
        None => w.write_all(&[0]),
    }
}
fn put_f64s(w: &mut impl Write, v: &[f64]) -> std::io::Result<()> {
    put_u64(w, v.len() as u64)?;
    v.iter().try_for_each(|&x| put_f64(w, x))
}
fn put_f32s(w: &mut impl Write, v: &[f32]) -> std::io::Result<()> {
    put_u64(w, v.len() as u64)?;
    v.iter().try_for_each(|&x| w.write_all(&x.to_le_bytes()))
}
fn put_u16s(w: &mut impl Write, v: &[u16]) -> std::io::Result<()> {
    put_u64(w, v.len() as u64)?;
    let mut buf = Vec::with_capacity(1 << 16);
    for chunk in v.chunks(1 << 15) {
        buf.clear();
        chunk
            .iter()
            .for_each(|x| buf.extend_from_slice(&x.to_le_bytes()));
        w.write_all(&buf)?;
    }
    Ok(())
}
fn put_opt_f64s(w: &mut impl Write, v: Option<&[f64]>) -> std::io::Result<()> {
    match v {
        Some(v) => {
            w.write_all(&[1])?;
            put_f64s(w, v)
        }
        None => w.write_all(&[0]),
    }
}
fn put_rect(w: &mut impl Write, r: &Rect) -> std::io::Result<()> {
    [r.x, r.y, r.width, r.height]
        .iter()
        .try_for_each(|&v| put_u64(w, v as u64))
}
fn flat(m: &Option<Mat3>) -> Option<Vec<f64>> {
    m.map(|m| m.iter().flatten().copied().collect())
}

/// The image, field by field, in the order `get_image` reads it.
fn put_image(w: &mut impl Write, img: &RawImage) -> std::io::Result<()> {
    for v in [img.width, img.height, img.samples_per_pixel] {
        put_u64(w, v as u64)?;
    }
    let (cw, ch) = (img.cfa.width(), img.cfa.height());
    w.write_all(&[cw as u8, ch as u8])?;
    for y in 0..ch {
        for x in 0..cw {
            w.write_all(&[img.cfa.color(y, x)])?;
        }
    }
    put_u16s(w, &img.data)?;
    match &img.linearization {
        Some(t) => {
            w.write_all(&[1])?;
            put_u16s(w, t)?;
        }
        None => w.write_all(&[0])?,
    }
    put_u64(w, img.black.repeat_rows as u64)?;
    put_u64(w, img.black.repeat_cols as u64)?;
    put_f32s(w, &img.black.values)?;
    put_f32s(w, &img.black.delta_h)?;
    put_f32s(w, &img.black.delta_v)?;
    put_f32s(w, &img.white)?;
    put_rect(w, &img.active_area)?;
    put_rect(w, &img.default_crop)?;
    put_u64(w, u64::from(img.orientation))?;
    let c = &img.color;
    for m in [
        &c.color_matrix1,
        &c.color_matrix2,
        &c.forward_matrix1,
        &c.forward_matrix2,
        &c.camera_calibration1,
        &c.camera_calibration2,
    ] {
        put_opt_f64s(w, flat(m).as_deref())?;
    }
    put_u64(w, u64::from(c.illuminant1))?;
    put_u64(w, u64::from(c.illuminant2))?;
    put_opt_f64s(w, c.analog_balance.as_ref().map(|v| &v[..]))?;
    put_opt_f64s(w, c.as_shot_neutral.as_ref().map(|v| &v[..]))?;
    put_opt_f64s(w, c.as_shot_white_xy.as_ref().map(|v| &v[..]))?;
    put_f64(w, c.baseline_exposure)?;
    for list in [&img.opcodes.list1, &img.opcodes.list2, &img.opcodes.list3] {
        let blob = opcodes::serialize_list(list);
        put_u64(w, blob.len() as u64)?;
        w.write_all(&blob)?;
    }
    let noise: Vec<f64> = img
        .noise_profile
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .collect();
    put_f64s(w, &noise)?;
    let e = &img.exif;
    for s in [&e.make, &e.model, &e.lens_make, &e.lens_model, &e.date_time] {
        put_opt_str(w, s)?;
    }
    for v in [
        e.exposure_time,
        e.f_number,
        e.iso.map(f64::from),
        e.focal_length,
    ] {
        put_opt_f64s(w, v.as_ref().map(std::slice::from_ref))?;
    }
    put_str(w, &img.format)?;
    let warnings = &img.warnings[..img.warnings.len().min(MAX_WARNINGS)];
    put_u64(w, warnings.len() as u64)?;
    warnings.iter().try_for_each(|s| put_str(w, s))
}

// ---- reply decoding (hostile data) ----------------------------------------------------------

struct Reader<'a> {
    b: &'a [u8],
    p: usize,
}

fn malformed(what: &str) -> Error {
    Error::decode(what)
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .p
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| malformed("reply ends early"))?;
        let s = &self.b[self.p..end];
        self.p = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn usize(&mut self) -> Result<usize> {
        usize::try_from(self.u64()?).map_err(|_| malformed("size out of range"))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    /// A length prefix for `elem`-byte items, checked against what is left.
    fn len(&mut self, elem: usize, max: usize) -> Result<usize> {
        let n = self.usize()?;
        if n > max || n.saturating_mul(elem) > self.b.len() - self.p {
            return Err(malformed(&format!("length {n} out of range")));
        }
        Ok(n)
    }
    fn flag(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(malformed("bad presence flag")),
        }
    }
    fn str(&mut self) -> Result<String> {
        let n = self.len(1, MAX_TEXT)?;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn opt_str(&mut self) -> Result<Option<String>> {
        Ok(if self.flag()? {
            Some(self.str()?)
        } else {
            None
        })
    }
    fn f64s(&mut self, max: usize) -> Result<Vec<f64>> {
        let n = self.len(8, max)?;
        (0..n).map(|_| self.f64()).collect()
    }
    fn opt_f64s(&mut self, exact: usize) -> Result<Option<Vec<f64>>> {
        if !self.flag()? {
            return Ok(None);
        }
        let v = self.f64s(exact)?;
        if v.len() != exact {
            return Err(malformed("wrong number of values"));
        }
        Ok(Some(v))
    }
    fn f32s(&mut self, max: usize) -> Result<Vec<f32>> {
        let n = self.len(4, max)?;
        let b = self.take(n * 4)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn u16s(&mut self, max: usize, limits: &Limits) -> Result<Vec<u16>> {
        let n = self.len(2, max)?;
        let b = self.take(n * 2)?;
        let mut v = try_vec::<u16>(n, limits)?;
        for (d, c) in v.iter_mut().zip(b.chunks_exact(2)) {
            *d = u16::from_le_bytes([c[0], c[1]]);
        }
        Ok(v)
    }
    fn rect(&mut self) -> Result<Rect> {
        Ok(Rect::new(
            self.usize()?,
            self.usize()?,
            self.usize()?,
            self.usize()?,
        ))
    }
    fn small(&mut self, max: u64) -> Result<u64> {
        let v = self.u64()?;
        if v > max {
            return Err(malformed(&format!("value {v} out of range")));
        }
        Ok(v)
    }
}

/// Parses a reply: `Ok(decode result)` when well-formed, `Err` when malformed.
fn parse_reply(bytes: &[u8], limits: &Limits) -> Result<Result<RawImage>> {
    let start = bytes
        .windows(REPLY_MAGIC.len())
        .take(MAX_PREAMBLE)
        .position(|w| w == REPLY_MAGIC)
        .ok_or_else(|| malformed("no reply header"))?;
    let mut r = Reader {
        b: bytes,
        p: start + REPLY_MAGIC.len(),
    };
    let result = match r.u8()? {
        0 => Ok(get_image(&mut r, limits)?),
        1 => {
            let kind = match r.u8()? {
                0 => ErrorKind::Decode,
                1 => ErrorKind::Unsupported,
                2 => ErrorKind::Limits,
                3 => ErrorKind::Parameter,
                4 => ErrorKind::Io,
                5 => ErrorKind::Encode,
                6 => ErrorKind::Cancelled,
                _ => return Err(malformed("unknown error kind")),
            };
            Err(Error::new(kind, r.str()?))
        }
        _ => return Err(malformed("unknown reply status")),
    };
    if r.p != bytes.len() {
        return Err(malformed("trailing bytes after the reply"));
    }
    Ok(result)
}

fn mat(v: Option<Vec<f64>>) -> Option<Mat3> {
    v.map(|v| [[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]])
}

fn get_image(r: &mut Reader, limits: &Limits) -> Result<RawImage> {
    let (width, height, spp) = (r.usize()?, r.usize()?, r.usize()?);
    let samples = limits.check_image(width, height, spp)?;
    let (cw, ch) = (r.u8()? as usize, r.u8()? as usize);
    if !(1..=6).contains(&cw) || !(1..=6).contains(&ch) {
        return Err(malformed("CFA size out of range"));
    }
    let colors = r.take(cw * ch)?.to_vec();
    let cfa = CfaPattern::new(cw, ch, &colors)?;
    let data = r.u16s(samples, limits)?;
    if data.len() != samples {
        return Err(malformed("sample count does not match the image size"));
    }
    let linearization = if r.flag()? {
        Some(r.u16s(1 << 16, limits)?)
    } else {
        None
    };
    let repeat_rows = r.small(8)? as usize;
    let repeat_cols = r.small(8)? as usize;
    let black = BlackLevel {
        repeat_rows,
        repeat_cols,
        values: r.f32s(64)?,
        delta_h: r.f32s(limits.max_dimension)?,
        delta_v: r.f32s(limits.max_dimension)?,
    };
    let white = r.f32s(3)?;
    let active_area = r.rect()?;
    let default_crop = r.rect()?;
    let orientation = r.small(8)? as u16;
    let mut m = Vec::with_capacity(6);
    for _ in 0..6 {
        m.push(mat(r.opt_f64s(9)?));
    }
    let illuminant1 = r.small(u64::from(u16::MAX))? as u16;
    let illuminant2 = r.small(u64::from(u16::MAX))? as u16;
    let three = |v: Option<Vec<f64>>| v.map(|v| [v[0], v[1], v[2]]);
    let color = ColorCalibration {
        color_matrix1: m[0],
        color_matrix2: m[1],
        forward_matrix1: m[2],
        forward_matrix2: m[3],
        camera_calibration1: m[4],
        camera_calibration2: m[5],
        illuminant1,
        illuminant2,
        analog_balance: three(r.opt_f64s(3)?),
        as_shot_neutral: three(r.opt_f64s(3)?),
        as_shot_white_xy: r.opt_f64s(2)?.map(|v| [v[0], v[1]]),
        baseline_exposure: r.f64()?,
        // Camera raws through rawler carry no profile tables.
        profile: Default::default(),
    };
    let mut list = || -> Result<Vec<opcodes::Opcode>> {
        let n = r.len(1, usize::MAX)?;
        opcodes::parse_list(r.take(n)?, limits)
    };
    let (list1, list2, list3) = (list()?, list()?, list()?);
    let noise = r.f64s(64)?;
    if noise.len() % 2 != 0 {
        return Err(malformed("odd noise profile"));
    }
    let exif = ExifInfo {
        make: r.opt_str()?,
        model: r.opt_str()?,
        lens_make: r.opt_str()?,
        lens_model: r.opt_str()?,
        date_time: r.opt_str()?,
        exposure_time: r.opt_f64s(1)?.map(|v| v[0]),
        f_number: r.opt_f64s(1)?.map(|v| v[0]),
        iso: r
            .opt_f64s(1)?
            .map(|v| v[0])
            .filter(|v| (0.0..=f64::from(u32::MAX)).contains(v))
            .map(|v| v as u32),
        focal_length: r.opt_f64s(1)?.map(|v| v[0]),
    };
    let format = r.str()?;
    let n = r.len(8, MAX_WARNINGS)?;
    let warnings = (0..n).map(|_| r.str()).collect::<Result<Vec<_>>>()?;
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
        opcodes: OpcodeLists {
            list1,
            list2,
            list3,
        },
        noise_profile: noise.chunks_exact(2).map(|p| (p[0], p[1])).collect(),
        exif,
        format,
        warnings,
    };
    image.validate()?;
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RawImage {
        let mut black = BlackLevel::uniform(64.0);
        black.delta_v = vec![1.0; 4];
        RawImage {
            width: 6,
            height: 4,
            samples_per_pixel: 1,
            data: (0..24).map(|v| v * 100).collect(),
            cfa: CfaPattern::bayer("GRBG").expect("cfa"),
            linearization: Some(vec![0, 10, 20]),
            black,
            white: vec![4000.0],
            active_area: Rect::new(1, 0, 5, 4),
            default_crop: Rect::new(0, 0, 4, 4),
            orientation: 6,
            color: ColorCalibration {
                color_matrix1: Some([[1.0, 0.5, 0.25], [0.0, 1.0, 0.0], [0.1, 0.2, 0.9]]),
                illuminant1: 21,
                as_shot_neutral: Some([0.5, 1.0, 0.7]),
                baseline_exposure: 0.5,
                ..Default::default()
            },
            opcodes: OpcodeLists::default(),
            noise_profile: vec![(1e-5, 2e-7)],
            exif: ExifInfo {
                make: Some("Maker\u{1b}[2J".into()),
                iso: Some(400),
                f_number: Some(2.8),
                ..Default::default()
            },
            format: "test".into(),
            warnings: vec!["w1".into()],
        }
    }

    fn encode(r: &Result<RawImage>) -> Vec<u8> {
        let mut v = b"banner\n".to_vec();
        write_reply(&mut v, r).expect("write to a Vec");
        v
    }

    #[test]
    fn replies_round_trip() {
        let img = sample();
        let back = parse_reply(&encode(&Ok(img.clone())), &Limits::default())
            .expect("well-formed")
            .expect("an image");
        assert_eq!(back.data, img.data);
        assert_eq!(back.cfa, img.cfa);
        assert_eq!(back.black, img.black);
        assert_eq!(back.color, img.color);
        assert_eq!(back.exif, img.exif);
        assert_eq!(back.noise_profile, img.noise_profile);
        assert_eq!(
            (back.active_area, back.default_crop, back.orientation),
            (img.active_area, img.default_crop, img.orientation)
        );
        assert_eq!(back.linearization, img.linearization);
        assert_eq!(back.warnings, img.warnings);
        let err = parse_reply(
            &encode(&Err(Error::unsupported("no such camera"))),
            &Limits::default(),
        )
        .expect("well-formed");
        let e = err.expect_err("an error");
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(e.message(), "no such camera");
    }

    #[test]
    fn damaged_replies_are_errors_not_panics() {
        let good = encode(&Ok(sample()));
        let limits = Limits::default();
        // Every truncation and a spread of byte changes: an error or a valid image.
        for len in 0..good.len() {
            assert!(parse_reply(&good[..len], &limits).is_err() || len == good.len());
        }
        let mut rng = 0x1234_5678_9abc_def0u64;
        for _ in 0..3000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut b = good.clone();
            let at = (rng as usize) % b.len();
            b[at] = (rng >> 32) as u8;
            if let Ok(Ok(img)) = parse_reply(&b, &limits) {
                assert!(img.validate().is_ok());
            }
        }
        // A reply that claims a huge image in a few bytes is refused before allocating.
        let mut huge = REPLY_MAGIC.to_vec();
        huge.push(0);
        for v in [60_000u64, 60_000, 1] {
            huge.extend(v.to_le_bytes());
        }
        huge.extend([2, 2, 0, 1, 1, 2]);
        huge.extend((3_600_000_000u64).to_le_bytes());
        let e = parse_reply(&huge, &limits).expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Limits, "{e}");
    }
}
