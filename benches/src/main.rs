//! chiaro-bench: times chiaro against LibRaw's `dcraw_emu` on a 24 MP and a 12 MP DNG.
//!
//! Run (from the repository root; `../shared/data` must sit beside it):
//!
//! ```sh
//! cargo build --release -p chiaro-cli && cargo run --release -p chiaro-bench
//! cargo run --release -p chiaro-bench -- --runs 5 --out /tmp/chiaro-bench   # options
//! ```
//!
//! Options: `--runs N` (runs per command, default 3; the median is reported), `--out DIR`
//! (work folder, default `target/chiaro-bench`), `--regen` (rebuild the synthetic DNG),
//! `--no-libraw` (skip `dcraw_emu`), `--data DIR` (the shared data folder).
//!
//! Needs: `target/release/chiaro` (built by the first command above), LibRaw's
//! `dcraw_emu` (Debian: `apt-get install libraw-bin`) and GNU time as `/usr/bin/time`
//! (`apt-get install time`) for the peak resident memory of each child.
//!
//! What it does:
//! 1. Synthesises `synth_24mp_d750.dng` into the work folder (once; reused afterwards):
//!    6000x4000 RGGB, 14 bits, lossless-JPEG tiles of 256x256, Nikon D750 colour tags from
//!    its DCP. The scene is an 8x8 mosaic of the Kodak images at native scale (portrait ones
//!    turned, every second copy mirrored) taken to the camera's RGB through the D750's D65
//!    ColorMatrix, with Poisson-Gaussian sensor noise, so that decoding, demosaicing and
//!    compression see real image statistics.
//! 2. For that file and `raw/phone_synth_lgg4_4200k_4032x3024.dng`, runs N times each:
//!    `chiaro develop FILE -o OUT.tif --bits 16 --overwrite` (the default pipeline, all
//!    cores), the same with `--jobs 1`, and `dcraw_emu -T -6 -o 1 -q 3 -w` (AHD, camera
//!    white balance, sRGB, 16-bit TIFF), and prints the median wall time, CPU time and peak
//!    RSS side by side with the ratios.
//! 3. Times chiaro's phases in-process through the library: file read, decode, develop,
//!    encode (TIFF, 16 bits) and the atomic write.
//!
//! A benchmark, not a test: nothing is asserted about the timings.

use std::error::Error;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use chiaro::color::matrix::{self, Mat3};
use chiaro::color::transfer::Transfer;
use chiaro::color::xy::{D65_XY, rgb_to_xyz_from_primaries};
use chiaro::io::{EncodeOptions, Format};
use chiaro::lab::synth::{Storage, SynthDng, write_dng};
use chiaro::pipeline::{OutputSpec, Recipe, develop};
use chiaro::raw::{CfaPattern, ColorCalibration};

type Res<T> = Result<T, Box<dyn Error>>;

struct Options {
    runs: usize,
    out: PathBuf,
    data: PathBuf,
    regen: bool,
    libraw: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chiaro-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn parse_args() -> Res<Options> {
    let mut o = Options {
        runs: 3,
        out: repo_root().join("target/chiaro-bench"),
        data: repo_root().join("../shared/data"),
        regen: false,
        libraw: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = value()?.parse::<usize>()?.max(1),
            "--out" => o.out = PathBuf::from(value()?),
            "--data" => o.data = PathBuf::from(value()?),
            "--regen" => o.regen = true,
            "--no-libraw" => o.libraw = false,
            "-h" | "--help" => {
                println!(
                    "chiaro-bench [--runs N] [--out DIR] [--data DIR] [--regen] [--no-libraw]"
                );
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a:?} (see --help)").into()),
        }
    }
    Ok(o)
}

fn run() -> Res<()> {
    let opts = parse_args()?;
    if !opts.data.is_dir() {
        return Err(format!(
            "test data not found at {} (use --data)",
            opts.data.display()
        )
        .into());
    }
    let chiaro_bin = repo_root().join("target/release/chiaro");
    if !chiaro_bin.is_file() {
        return Err(format!(
            "{} missing: run `cargo build --release -p chiaro-cli` first",
            chiaro_bin.display()
        )
        .into());
    }
    if !Path::new("/usr/bin/time").is_file() {
        return Err(
            "/usr/bin/time (GNU time) is needed for peak memory: apt-get install time".into(),
        );
    }
    let libraw = opts.libraw && tool_exists("dcraw_emu");
    if opts.libraw && !libraw {
        eprintln!(
            "chiaro-bench: dcraw_emu not found (apt-get install libraw-bin); LibRaw rows are skipped"
        );
    }
    std::fs::create_dir_all(&opts.out)?;

    let synth = opts.out.join("synth_24mp_d750.dng");
    if opts.regen || !synth.is_file() {
        let t = Instant::now();
        let bytes = synthesise_24mp(&opts.data)?;
        std::fs::write(&synth, &bytes)?;
        println!(
            "synthesised {} ({:.1} MB) in {:.1} s",
            synth.display(),
            bytes.len() as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    let phone = opts.data.join("raw/phone_synth_lgg4_4200k_4032x3024.dng");
    let files = [synth, phone];

    println!(
        "\nchiaro-bench: {} run(s) per command, median reported; {} CPU core(s)",
        opts.runs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for file in &files {
        bench_file(file, &chiaro_bin, libraw, &opts)?;
    }
    Ok(())
}

fn tool_exists(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

// ---- synthetic 24 MP DNG ------------------------------------------------------------------

const SYNTH_W: usize = 6000;
const SYNTH_H: usize = 4000;
const CELL_W: usize = 768;
const CELL_H: usize = 512;

/// A Kodak image as linear RGB in a 768x512 landscape cell (portrait images turned).
struct Cell {
    rgb: Vec<f32>,
}

fn load_kodak(path: &Path) -> Res<Cell> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("png too large")?];
    let info = reader.next_frame(&mut buf)?;
    let (w, h) = (info.width as usize, info.height as usize);
    if info.color_type != png::ColorType::Rgb || info.bit_depth != png::BitDepth::Eight {
        return Err(format!("{}: 8-bit RGB expected", path.display()).into());
    }
    let lut: Vec<f32> = (0..256)
        .map(|v| Transfer::Srgb.decode(v as f32 / 255.0))
        .collect();
    let mut rgb = vec![0.0f32; CELL_W * CELL_H * 3];
    let portrait = match (w, h) {
        (CELL_W, CELL_H) => false,
        (CELL_H, CELL_W) => true,
        _ => {
            return Err(format!("{}: {w}x{h}, expected 768x512 or 512x768", path.display()).into());
        }
    };
    for y in 0..CELL_H {
        for x in 0..CELL_W {
            // Portrait images are turned a quarter: cell (x, y) <- image (y, x).
            let (sx, sy) = if portrait { (y, x) } else { (x, y) };
            for c in 0..3 {
                rgb[(y * CELL_W + x) * 3 + c] = lut[usize::from(buf[(sy * w + sx) * 3 + c])];
            }
        }
    }
    Ok(Cell { rgb })
}

/// SplitMix64: a small, fast, deterministic generator for the noise.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// A standard normal deviate (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The D750 calibration from its DCP, with a daylight (D65) as-shot neutral.
fn d750_calibration(data: &Path) -> Res<ColorCalibration> {
    let path = data.join("calibration/dcp/NIKON D750.dcp");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let profile = chiaro::raw::dcp::parse(&bytes)?;
    let mut cal = ColorCalibration::default();
    profile.apply_to(&mut cal);
    cal.as_shot_neutral = Some(cal.xy_to_neutral(D65_XY));
    Ok(cal)
}

/// The D65 ColorMatrix (XYZ -> camera) of a calibration: the one whose illuminant is D65
/// (EXIF 21), else the second, else the first.
fn d65_color_matrix(cal: &ColorCalibration) -> Res<Mat3> {
    let m = match (cal.illuminant1, cal.illuminant2) {
        (21, _) => cal.color_matrix1,
        (_, 21) => cal.color_matrix2,
        _ => cal.color_matrix2.or(cal.color_matrix1),
    };
    m.ok_or_else(|| "the profile has no ColorMatrix".into())
}

fn synthesise_24mp(data: &Path) -> Res<Vec<u8>> {
    let cal = d750_calibration(data)?;
    // Linear sRGB (D65) -> XYZ -> D750 camera RGB, scaled so that a white at the scene's
    // brightest (Kodak value 255) puts the strongest camera channel at 85 % of white.
    let srgb_to_xyz = rgb_to_xyz_from_primaries([[0.64, 0.33], [0.30, 0.60], [0.15, 0.06]], D65_XY);
    let to_cam = matrix::mul(&d65_color_matrix(&cal)?, &srgb_to_xyz);
    let white_cam = matrix::mul_vec(&to_cam, &[1.0; 3]);
    let peak = white_cam.iter().copied().fold(f64::MIN, f64::max);
    let to_cam = matrix::to_f32(&matrix::scale(&to_cam, 0.85 / peak));

    let cells: Vec<Cell> = (1..=24)
        .map(|i| load_kodak(&data.join(format!("kodak24/kodim{i:02}.png"))))
        .collect::<Res<_>>()?;
    let cfa = CfaPattern::bayer("RGGB")?;
    let (black, white) = (600u16, 15520u16);
    let range = f64::from(white - black);
    // Poisson-Gaussian noise in normalised units, variance = a * x + b (about ISO 800 on a
    // full-frame sensor: ~10 DN read noise, shot noise of a ~8000 e- full well).
    let (a, b) = (1.2e-4f64, 4.0e-7f64);

    let mut samples = vec![0u16; SYNTH_W * SYNTH_H];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rows_per = SYNTH_H.div_ceil(threads);
    std::thread::scope(|s| {
        for (band, chunk) in samples.chunks_mut(rows_per * SYNTH_W).enumerate() {
            let (cells, cfa) = (&cells, &cfa);
            s.spawn(move || {
                for (i, row) in chunk.chunks_mut(SYNTH_W).enumerate() {
                    let y = band * rows_per + i;
                    let mut rng = Rng(0x00C0_FFEE ^ (y as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
                    for (x, out) in row.iter_mut().enumerate() {
                        let (cy, cx) = (y / CELL_H, x / CELL_W);
                        let k = (cy * 8 + cx) % 24;
                        let mirror = (cy * 8 + cx) / 24 % 2 == 1;
                        let (py, px) = (
                            y % CELL_H,
                            if mirror {
                                CELL_W - 1 - x % CELL_W
                            } else {
                                x % CELL_W
                            },
                        );
                        let p = &cells[k].rgb[(py * CELL_W + px) * 3..][..3];
                        let c = usize::from(cfa.color(y, x));
                        let v = f64::from(
                            to_cam[c][0] * p[0] + to_cam[c][1] * p[1] + to_cam[c][2] * p[2],
                        )
                        .max(0.0);
                        let noisy = v + (a * v + b).sqrt() * rng.normal();
                        let dn = f64::from(black) + noisy * range;
                        *out = dn.round().clamp(0.0, 16383.0) as u16;
                    }
                }
            });
        }
    });

    let dng = SynthDng {
        width: SYNTH_W,
        height: SYNTH_H,
        cfa,
        samples,
        bits: 14,
        black,
        white,
        color: cal,
        opcode_list2: None,
        orientation: 1,
        make: "NIKON CORPORATION".into(),
        model: "NIKON D750 (chiaro-bench synthetic)".into(),
        storage: Storage::LosslessJpeg { tile: 256 },
    };
    Ok(write_dng(&dng)?)
}

// ---- external commands -----------------------------------------------------------------

/// One run of a child: wall seconds, user + system CPU seconds, peak RSS in KiB.
#[derive(Clone, Copy)]
struct Sample {
    wall: f64,
    cpu: f64,
    rss_kib: f64,
}

/// Runs `program args` `runs` times under GNU time and returns the per-run samples.
fn time_command(program: &Path, args: &[OsString], runs: usize, work: &Path) -> Res<Vec<Sample>> {
    let report = work.join("time.txt");
    let mut samples = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new("/usr/bin/time")
            .arg("-o")
            .arg(&report)
            .args(["-f", "%U %S %M"])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        let wall = t.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                program.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        let text = std::fs::read_to_string(&report)?;
        // GNU time prefixes "Command exited with non-zero status" lines; the figures are last.
        let fields: Vec<f64> = text
            .lines()
            .last()
            .unwrap_or("")
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("cannot parse GNU time output {text:?}: {e}"))?;
        let [user, sys, rss] = fields[..] else {
            return Err(format!("unexpected GNU time output {text:?}").into());
        };
        samples.push(Sample {
            wall,
            cpu: user + sys,
            rss_kib: rss,
        });
    }
    Ok(samples)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

struct Row {
    label: String,
    wall: f64,
    wall_min: f64,
    wall_max: f64,
    cpu: f64,
    rss_mib: f64,
}

fn summarise(label: &str, s: &[Sample]) -> Row {
    let walls: Vec<f64> = s.iter().map(|s| s.wall).collect();
    Row {
        label: label.into(),
        wall: median(walls.clone()),
        wall_min: walls.iter().copied().fold(f64::MAX, f64::min),
        wall_max: walls.iter().copied().fold(f64::MIN, f64::max),
        cpu: median(s.iter().map(|s| s.cpu).collect()),
        rss_mib: median(s.iter().map(|s| s.rss_kib / 1024.0).collect()),
    }
}

fn bench_file(file: &Path, chiaro_bin: &Path, libraw: bool, opts: &Options) -> Res<()> {
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let work = opts.out.join(name.trim_end_matches(".dng"));
    std::fs::create_dir_all(&work)?;
    let size_mb = std::fs::metadata(file)?.len() as f64 / 1e6;

    // In-process phases first (also warms the page cache for the timed commands).
    let phases = in_process_phases(file, &work, opts.runs)?;
    let mpix = phases.megapixels;

    let out_tif = work.join("chiaro.tif");
    let mut rows = Vec::new();
    let develop_args = |jobs: Option<&str>| {
        let mut a: Vec<OsString> = vec![
            "develop".into(),
            file.into(),
            "-o".into(),
            out_tif.clone().into(),
        ];
        a.extend(["--bits", "16", "--overwrite"].map(OsString::from));
        if let Some(j) = jobs {
            a.extend(["--jobs", j].map(OsString::from));
        }
        a
    };
    rows.push(summarise(
        "chiaro develop (RCD, 16-bit TIFF)",
        &time_command(chiaro_bin, &develop_args(None), opts.runs, &work)?,
    ));
    rows.push(summarise(
        "chiaro develop --jobs 1",
        &time_command(chiaro_bin, &develop_args(Some("1")), opts.runs, &work)?,
    ));
    let mut libraw_phases: Vec<(String, f64)> = Vec::new();
    if libraw {
        // -Z names the output file (dcraw_emu otherwise writes beside the input).
        let mut args: Vec<OsString> = ["-T", "-6", "-o", "1", "-q", "3", "-w", "-Z"]
            .map(OsString::from)
            .to_vec();
        args.push(work.join("libraw.tiff").into());
        args.push(file.into());
        rows.push(summarise(
            "dcraw_emu -T -6 -o 1 -q 3 -w (AHD)",
            &time_command(Path::new("dcraw_emu"), &args, opts.runs, &work)?,
        ));
        // One more run with LibRaw's own phase timings, printed below chiaro's.
        args.insert(0, "-timing".into());
        let out = Command::new("dcraw_emu")
            .args(&args)
            .stdin(Stdio::null())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        libraw_phases = text
            .lines()
            .filter_map(|l| {
                let (name, t) = l.rsplit_once("LibRaw::")?.1.split_once(':')?;
                Some((
                    name.to_string(),
                    t.trim()
                        .trim_end_matches("msec")
                        .trim()
                        .parse::<f64>()
                        .ok()?,
                ))
            })
            .collect();
    }

    println!("\n== {name}: {mpix:.1} MP, {size_mb:.1} MB ==");
    println!(
        "{:<36} {:>10} {:>17} {:>9} {:>8} {:>10}",
        "command", "wall (s)", "min..max", "CPU (s)", "MP/s", "peak RSS"
    );
    for r in &rows {
        println!(
            "{:<36} {:>10.3} {:>8.3}..{:<8.3} {:>9.3} {:>8.1} {:>7.0} MiB",
            r.label,
            r.wall,
            r.wall_min,
            r.wall_max,
            r.cpu,
            mpix / r.wall,
            r.rss_mib
        );
    }
    if let Some(lr) = rows.iter().find(|r| r.label.starts_with("dcraw_emu")) {
        for r in rows.iter().filter(|r| r.label.starts_with("chiaro")) {
            println!(
                "  {} / LibRaw: wall x{:.2}, CPU x{:.2}, peak RSS x{:.2}",
                r.label,
                r.wall / lr.wall,
                r.cpu / lr.cpu,
                r.rss_mib / lr.rss_mib
            );
        }
    }
    println!(
        "in-process phases (library, median of {} runs; CPU = all threads):",
        opts.runs
    );
    let main_rows = phases.rows.iter().filter(|r| !r.0.starts_with("  "));
    let (total, total_cpu) = main_rows.fold((0.0, 0.0), |(w, c), r| (w + r.1, c + r.2));
    println!(
        "  {:<44} {:>10} {:>7} {:>10}",
        "phase", "wall", "share", "CPU"
    );
    for (label, wall, cpu) in &phases.rows {
        println!(
            "  {label:<44} {:>7.1} ms {:>5.1} % {:>7.0} ms",
            wall * 1e3,
            100.0 * wall / total,
            cpu * 1e3
        );
    }
    println!(
        "  {:<44} {:>7.1} ms {:>7} {:>7.0} ms",
        "total",
        total * 1e3,
        "",
        total_cpu * 1e3
    );
    if !libraw_phases.is_empty() {
        println!(
            "LibRaw's own phase timings (dcraw_emu -timing, one run; the rest is the TIFF write):"
        );
        for (name, ms) in &libraw_phases {
            println!("  {name:<44} {ms:>8.1} ms");
        }
    }
    Ok(())
}

struct Phases {
    megapixels: f64,
    /// (label, median wall seconds, median CPU seconds of the whole process).
    rows: Vec<(String, f64, f64)>,
}

/// CPU time (user + system, all threads) of this process so far, in seconds, from
/// `/proc/self/stat` (clock ticks of 1/100 s, Linux's USER_HZ).
fn process_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (tick(11) + tick(12)) / 100.0
}

/// Runs `f`, pushing its wall and CPU seconds onto `into`.
fn timed<T>(into: &mut Vec<(f64, f64)>, f: impl FnOnce() -> Res<T>) -> Res<T> {
    let (t, c) = (Instant::now(), process_cpu());
    let r = f()?;
    into.push((t.elapsed().as_secs_f64(), process_cpu() - c));
    Ok(r)
}

/// Times decode, develop, encode and write through the library, `runs` times each.
fn in_process_phases(file: &Path, work: &Path, runs: usize) -> Res<Phases> {
    let limits = chiaro::Limits::default();
    let recipe = Recipe::default();
    let spec = OutputSpec {
        bits: 16,
        linear: false,
    };
    // The same develop in linear float (no tone curve, no transfer, no quantisation) and
    // with the cheapest demosaic, to split develop into its main parts.
    let linear = Recipe::default().linear();
    let linear_spec = OutputSpec {
        bits: 32,
        linear: true,
    };
    let mut bilinear = Recipe::default();
    bilinear.set(chiaro::stages::demosaic::Demosaic {
        method: chiaro::stages::demosaic::DemosaicMethod::Bilinear,
    });
    let mut t: [Vec<(f64, f64)>; 7] = Default::default();
    let mut megapixels = 0.0;
    let out = work.join("in_process.tif");
    for _ in 0..runs {
        timed(&mut t[0], || Ok(std::fs::read(file)?))?;
        let raw = timed(&mut t[1], || Ok(chiaro::raw::read_file(file, &limits)?))?;
        let dev = timed(&mut t[2], || Ok(develop(&raw, &recipe, &spec, None)?))?;
        megapixels = (dev.image.width * dev.image.height) as f64 / 1e6;
        let opts = EncodeOptions {
            format: Format::Tiff,
            quality: 92,
            icc_profile: chiaro::io::icc::for_output(&dev.profile)?,
            exif: raw.exif().clone(),
            software: "chiaro-bench".into(),
        };
        let bytes = timed(&mut t[3], || Ok(chiaro::io::encode(&dev.image, &opts)?))?;
        timed(&mut t[4], || {
            Ok(chiaro::io::write_atomic(&out, &bytes, true)?)
        })?;
        drop((dev, bytes));
        timed(&mut t[5], || {
            Ok(develop(&raw, &linear, &linear_spec, None)?)
        })?;
        timed(&mut t[6], || Ok(develop(&raw, &bilinear, &spec, None)?))?;
    }
    let labels = [
        "  of which the file read (page cache)",
        "decode (read_file: read + parse + unpack)",
        "develop (default recipe, 16 bits)",
        "encode (TIFF 16-bit + ICC + EXIF)",
        "write (atomic: temp file, fsync, rename)",
        "  develop, linear f32 (no tone/transfer)",
        "  develop with bilinear instead of RCD",
    ];
    let row = |i: usize| {
        let v = &t[i];
        (
            labels[i].to_string(),
            median(v.iter().map(|p| p.0).collect()),
            median(v.iter().map(|p| p.1).collect()),
        )
    };
    Ok(Phases {
        megapixels,
        rows: [1, 0, 2, 5, 6, 3, 4].map(row).to_vec(),
    })
}
