//! Shared helpers of the tests: locating the shared test data (and skipping visibly without
//! it), a hang watchdog, independent colorimetry (`colorimetry`) and image box means.
//!
//! Also compiled into the CLI tests and the library's unit tests through `#[path]`, so this
//! module must not name the `chiaro` crate.
#![allow(dead_code)]

pub mod colorimetry;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// `../shared/data` beside the repository, or `None` on a clone without it (CI has it).
pub fn shared_data() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    p.is_dir().then_some(p)
}

/// The shared data folder; without it, records that the running test is skipped and returns
/// `None` (use [`require_data!`], which returns from the test).
///
/// The record is a line `SKIPPED (no ../shared data): <test>` on stdout (shown by
/// `cargo test -- --nocapture`) and, when the environment variable `CHIARO_SKIP_LOG` names a
/// file, the same line appended to it: `scripts/test.sh` lists those at the end of the run.
pub fn data_or_skip() -> Option<PathBuf> {
    let data = shared_data();
    if data.is_none() {
        record_skip(&current_test());
    }
    data
}

/// `let data = common::require_data!();` gives the shared data folder, or records the skip
/// (see [`data_or_skip`]) and returns from the test.
#[allow(unused_macros)]
macro_rules! require_data {
    () => {
        match common::data_or_skip() {
            Some(data) => data,
            None => return,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use require_data;

/// Records a test skipped for lack of the shared data (see [`data_or_skip`]).
pub fn record_skip(test: &str) {
    let line = format!("SKIPPED (no ../shared data): {test}\n");
    print!("{line}");
    if let Some(log) = std::env::var_os("CHIARO_SKIP_LOG") {
        // One small O_APPEND write per line: parallel tests and test binaries do not interleave.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            panic!("cannot append to CHIARO_SKIP_LOG {log:?}: {e}");
        }
    }
}

/// `<test binary>::<test>`: libtest runs each test on a thread named after it.
fn current_test() -> String {
    let crate_name = env!("CARGO_CRATE_NAME");
    match std::thread::current().name() {
        Some(name) if name != "main" => format!("{crate_name}::{name}"),
        _ => format!("{crate_name}::(a test on the main thread)"),
    }
}

/// Runs `f` on its own thread and panics if it has not finished after `limit`.
///
/// A hang check, not a speed measurement (timings never go in tests; they live in the
/// benchmark): `limit` must be generous, many times what the work takes on a slow, busy
/// machine in a debug build, so that only a hang (or an absurd slowdown) trips it.
pub fn finishes_within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let out = f();
        // The receiver is gone only after a timeout, when nobody wants the value.
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(limit) {
        Ok(()) => worker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        // The worker panicked: its panic is the failure to report.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(out) => out,
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: not finished after {limit:?} (hang check, generous limit)")
        }
    }
}

/// The ColorChecker 24 (post-2014 edition) patches as XYZ relative to the chart's D50 white.
pub fn colorchecker_xyz_d50(data: &std::path::Path) -> Vec<[f64; 3]> {
    colorchecker(data)
        .iter()
        .map(|p| triple(&p["XYZ"], "XYZ"))
        .collect()
}

/// The patches of the post-2014 ColorChecker 24 in the reference values file.
pub fn colorchecker(data: &std::path::Path) -> Vec<serde_json::Value> {
    let v = colorimetry::json(data, "colorchecker24_reference_values.json");
    v["ColorChecker24 - After November 2014"]["patches"]
        .as_array()
        .expect("patches")
        .clone()
}

/// Three numbers of a JSON array.
pub fn triple(v: &serde_json::Value, what: &str) -> [f64; 3] {
    let a = v
        .as_array()
        .filter(|a| a.len() == 3)
        .unwrap_or_else(|| panic!("{what}: not three numbers: {v}"));
    [0, 1, 2].map(|i| a[i].as_f64().unwrap_or_else(|| panic!("{what}: {v}")))
}

/// Mean of the rows `y0..y1`, columns `x0..x1` of an interleaved RGB f32 image.
pub fn rect_mean(
    rgb: &[f32],
    width: usize,
    y0: usize,
    y1: usize,
    x0: usize,
    x1: usize,
) -> [f64; 3] {
    let mut s = [0.0f64; 3];
    for y in y0..y1 {
        for x in x0..x1 {
            for (c, v) in s.iter_mut().enumerate() {
                *v += f64::from(rgb[(y * width + x) * 3 + c]);
            }
        }
    }
    s.map(|v| v / ((y1 - y0) * (x1 - x0)) as f64)
}

/// Mean of a `size` x `size` box of an interleaved RGB f32 image centred at (cx, cy).
pub fn box_mean(rgb: &[f32], width: usize, cx: usize, cy: usize, size: usize) -> [f64; 3] {
    let h = size / 2;
    rect_mean(rgb, width, cy - h, cy + h, cx - h, cx + h)
}

/// A scene of Gaussian dots (`sigma` px) on a square grid of `spacing` px, dot centres at
/// `spacing / 2 + k spacing`: 0.05 background, 0.85 peaks.
pub fn dot_scene(spacing: f64, sigma: f64, x: f64, y: f64) -> f64 {
    let g = |v: f64| ((v - spacing / 2.0) / spacing).round() * spacing + spacing / 2.0;
    let d2 = (x - g(x)).powi(2) + (y - g(y)).powi(2);
    0.05 + 0.8 * (-d2 / (2.0 * sigma * sigma)).exp()
}

/// RMS and worst distance (px) of each dot's centroid, per channel, from its place on the
/// [`dot_scene`] grid, in a `w` x `h` interleaved RGB image; dots whose 25 px window leaves
/// the image are not counted. Samples above `floor` weigh by how much they exceed it.
pub fn dot_displacement(rgb: &[f32], w: usize, h: usize, spacing: f64, floor: f32) -> (f64, f64) {
    let (mut sum2, mut worst, mut n) = (0.0f64, 0.0f64, 0usize);
    let r = 12i64;
    for gy in 0..(h as f64 / spacing) as i64 {
        for gx in 0..(w as f64 / spacing) as i64 {
            let (px, py) = (
                gx as f64 * spacing + spacing / 2.0,
                gy as f64 * spacing + spacing / 2.0,
            );
            let (x0, y0) = (px as i64 - r, py as i64 - r);
            if x0 < 0 || y0 < 0 || x0 + 2 * r >= w as i64 || y0 + 2 * r >= h as i64 {
                continue;
            }
            for c in 0..3 {
                let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
                for y in y0..=y0 + 2 * r {
                    for x in x0..=x0 + 2 * r {
                        let v = rgb[(y as usize * w + x as usize) * 3 + c];
                        let wt = f64::from((v - floor).max(0.0));
                        sw += wt;
                        sx += wt * x as f64;
                        sy += wt * y as f64;
                    }
                }
                let d = ((sx / sw - px).powi(2) + (sy / sw - py).powi(2)).sqrt();
                sum2 += d * d;
                worst = worst.max(d);
                n += 1;
            }
        }
    }
    ((sum2 / n as f64).sqrt(), worst)
}

/// The point `p` a near-identity `map` takes to `(qx, qy)`, by fixed-point iteration
/// (`p += q - map(p)`, `iterations` times): where a lens correction that reads `q` from `p`
/// came from, to render a scene through the lens.
pub fn before_map(
    map: impl Fn(f64, f64) -> (f64, f64),
    qx: f64,
    qy: f64,
    iterations: usize,
) -> (f64, f64) {
    let (mut px, mut py) = (qx, qy);
    for _ in 0..iterations {
        let (sx, sy) = map(px, py);
        px += qx - sx;
        py += qy - sy;
    }
    (px, py)
}
