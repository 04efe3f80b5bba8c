//! chiaro-bench: times chiaro against LibRaw's `dcraw_emu` (16-bit TIFF) on a 24 MP and a
//! 12 MP DNG, and against darktable-cli and rawtherapee-cli (JPEG q92) on the 12 MP phone DNG.
//!
//! Run (from the repository root; `../shared/data` must sit beside it):
//!
//! ```sh
//! cargo build --release -p chiaro-cli && cargo run --release -p chiaro-bench
//! cargo run --release -p chiaro-bench -- --runs 5 --out /tmp/chiaro-bench   # options
//! cargo run --release -p chiaro-bench -- --rcd-only        # just the demosaic MP/s section
//! ```
//!
//! Options: `--runs N` (runs per command, default 3; the median is reported), `--out DIR`
//! (work folder, default `target/chiaro-bench`), `--regen` (rebuild the synthetic DNG),
//! `--no-libraw` (skip `dcraw_emu`), `--no-peers` (skip darktable and RawTherapee),
//! `--rcd-only` / `--decode-only` (only the demosaic / decode throughput section), `--data DIR`
//! (the shared data folder).
//!
//! Needs `target/release/chiaro` (built by the first command above) and GNU time as
//! `/usr/bin/time` for the peak resident memory of each child. The peers, on Debian/Ubuntu
//! (as root):
//!
//! ```sh
//! apt-get update && apt-get install -y libraw-bin darktable rawtherapee time
//! ```
//!
//! A peer that is not installed is skipped with a printed note. darktable-cli refuses to run
//! as root: when the bench runs as root it starts darktable-cli through
//! `runuser -u nobody --` (util-linux), with `HOME` and `--configdir` in a temporary folder
//! owned by `nobody`, and lets `nobody` write the output folder; no user is created.
//!
//! What it does:
//! 1. Synthesises `synth_24mp_d750.dng` into the work folder (once; reused afterwards):
//!    6000x4000 RGGB, 14 bits, lossless-JPEG tiles of 256x256, Nikon D750 colour tags from
//!    its DCP. The scene is an 8x8 mosaic of the Kodak images at native scale (portrait ones
//!    turned, every second copy mirrored) taken to the camera's RGB through the D750's D65
//!    ColorMatrix, with Poisson-Gaussian sensor noise, so that decoding, demosaicing and
//!    compression see real image statistics.
//! 2. For that file and `raw/phone_synth_lgg4_4200k_4032x3024.dng`: `chiaro develop FILE -o
//!    OUT.tif --bits 16 --overwrite` (the default pipeline, all cores), the same with
//!    `--jobs 1`, and `dcraw_emu -T -6 -o 1 -q 3 -w` (AHD, camera white balance, sRGB, 16-bit
//!    TIFF), run in turn (chiaro, chiaro --jobs 1, LibRaw, chiaro, ...) N times so that load
//!    from other work on the machine falls on all of them alike; prints the median wall
//!    time, CPU time and peak RSS side by side with the ratios.
//! 3. For the phone DNG only: `chiaro develop -o OUT.jpg --quality 92`,
//!    `darktable-cli FILE OUT.jpg --core --conf plugins/imageio/format/jpeg/quality=92` and
//!    `rawtherapee-cli -o OUT.jpg -j92 -Y -c FILE` (each peer with its default processing),
//!    alternated the same way.
//! 4. Times chiaro's passes in-process through the library: file read, decode
//!    (`raw::read_file`), prepare (`pipeline::prepare`), render (`pipeline::render`), encode
//!    (TIFF, 16 bits) and the atomic write. For each it prints the bytes the pass reads and
//!    writes and their rate, beside the rate of a plain `copy_from_slice` moving the same
//!    number of bytes (half read, half written) on one thread in the same run: the
//!    memory-bandwidth floor of a pass that only streamed its data once. Then the CLI's own
//!    path: render and TIFF write streamed band by band (overlapped), with and without the
//!    fsync of `--sync`.
//! 5. Demosaic throughput: the default (rcd-fit), RCD, MLRI and bilinear alone, one thread,
//!    on a 2048x2048 crop of the prepared 24 MP frame (megapixels per second).
//! 6. Decode throughput: `raw::read_file` of each file on one thread (lossless-JPEG tiles).
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
use chiaro::io::{EncodeOptions, Format, Placement};
use chiaro::lab::rng::SplitMix;
use chiaro::lab::synth::{Storage, SynthDng, write_dng};
use chiaro::pipeline::{OutputSpec, Recipe, Rendering, prepare, render};
use chiaro::raw::{CfaPattern, ColorCalibration};

type Res<T> = Result<T, Box<dyn Error>>;

struct Options {
    runs: usize,
    out: PathBuf,
    data: PathBuf,
    regen: bool,
    libraw: bool,
    peers: bool,
    rcd_only: bool,
    decode_only: bool,
    render_only: bool,
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
        peers: true,
        rcd_only: false,
        decode_only: false,
        render_only: false,
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
            "--no-peers" => o.peers = false,
            "--rcd-only" => o.rcd_only = true,
            "--decode-only" => o.decode_only = true,
            "--render-only" => o.render_only = true,
            "-h" | "--help" => {
                println!(
                    "chiaro-bench [--runs N] [--out DIR] [--data DIR] [--regen] [--no-libraw] \
                     [--no-peers] [--rcd-only] [--decode-only] [--render-only]"
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
    if opts.rcd_only {
        return demosaic_throughput(&synth, opts.runs);
    }
    if opts.decode_only {
        return decode_throughput(&[synth, phone], opts.runs);
    }
    if opts.render_only {
        return render_throughput(&[synth, phone], opts.runs);
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
        println!("note: dcraw_emu not found (apt-get install libraw-bin); LibRaw rows skipped");
    }
    let files = [synth.clone(), phone.clone()];

    println!(
        "\nchiaro-bench: {} run(s) per command, alternating, median reported; {} CPU core(s)",
        opts.runs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for file in &files {
        bench_file(file, &chiaro_bin, libraw, &opts)?;
    }
    bench_jpeg(&phone, &chiaro_bin, &opts)?;
    demosaic_throughput(&synth, opts.runs)?;
    decode_throughput(&files, opts.runs)
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

/// The D750 calibration from its DCP (matrices only: the peers ignore profile tables, and
/// the benchmark times the same work), with a daylight (D65) as-shot neutral.
fn d750_calibration(data: &Path) -> Res<ColorCalibration> {
    let path = data.join("calibration/dcp/NIKON D750.dcp");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let profile = chiaro::raw::dcp::parse(&bytes)?;
    let mut cal = ColorCalibration::default();
    profile.apply_to(&mut cal);
    cal.profile = Default::default();
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
                    let mut rng =
                        SplitMix(0x00C0_FFEE ^ (y as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
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
        opcode_list3: None,
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

/// A command the bench runs in turn with the others.
struct Contestant {
    label: String,
    program: PathBuf,
    args: Vec<OsString>,
    /// Environment set for the child (darktable's HOME).
    env: Vec<(OsString, OsString)>,
    samples: Vec<Sample>,
    /// Why the command was dropped, when it failed.
    failed: Option<String>,
}

impl Contestant {
    fn new(label: &str, program: impl Into<PathBuf>, args: Vec<OsString>) -> Self {
        Contestant {
            label: label.into(),
            program: program.into(),
            args,
            env: Vec::new(),
            samples: Vec::new(),
            failed: None,
        }
    }
}

/// Runs every contestant `runs` times in turn (A, B, C, A, B, C, ...), so that load from other
/// work on the machine falls on all of them alike. A contestant that fails is dropped with
/// its error kept.
fn alternate(contestants: &mut [Contestant], runs: usize, work: &Path) {
    for _ in 0..runs {
        for c in contestants.iter_mut().filter(|c| c.failed.is_none()) {
            match time_once(&c.program, &c.args, &c.env, work) {
                Ok(s) => c.samples.push(s),
                Err(e) => c.failed = Some(e.to_string()),
            }
        }
    }
}

/// Runs `program args` once under GNU time.
fn time_once(
    program: &Path,
    args: &[OsString],
    env: &[(OsString, OsString)],
    work: &Path,
) -> Res<Sample> {
    let report = work.join("time.txt");
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-o")
        .arg(&report)
        .args(["-f", "%U %S %M"])
        .arg(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()?;
    let wall = t.elapsed().as_secs_f64();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.trim().lines().rev().take(3).collect();
        return Err(format!(
            "{} failed ({}): {}",
            program.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
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
    Ok(Sample {
        wall,
        cpu: user + sys,
        rss_kib: rss,
    })
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

/// Prints the table of `contestants`, then each chiaro row's ratios to the row labelled
/// `reference` (when it ran).
fn print_table(contestants: &[Contestant], mpix: f64, reference: Option<&str>) {
    println!(
        "{:<40} {:>8} {:>17} {:>8} {:>7} {:>10}",
        "command", "wall (s)", "min..max", "CPU (s)", "MP/s", "peak RSS"
    );
    let mut rows = Vec::new();
    for c in contestants {
        if let Some(e) = &c.failed {
            println!("{:<40} failed: {e}", c.label);
            continue;
        }
        let r = summarise(&c.label, &c.samples);
        println!(
            "{:<40} {:>8.3} {:>8.3}..{:<8.3} {:>8.3} {:>7.1} {:>6.0} MiB",
            r.label,
            r.wall,
            r.wall_min,
            r.wall_max,
            r.cpu,
            mpix / r.wall,
            r.rss_mib
        );
        rows.push(r);
    }
    let Some(reference) = reference else { return };
    let Some(base) = rows.iter().find(|r| r.label.starts_with(reference)) else {
        return;
    };
    for r in rows.iter().filter(|r| r.label.starts_with("chiaro")) {
        println!(
            "  {} / {reference}: wall x{:.2}, CPU x{:.2}, peak RSS x{:.2}",
            r.label,
            r.wall / base.wall,
            r.cpu / base.cpu,
            r.rss_mib / base.rss_mib
        );
    }
}

fn bench_file(file: &Path, chiaro_bin: &Path, libraw: bool, opts: &Options) -> Res<()> {
    let name = file_name(file);
    let work = opts.out.join(name.trim_end_matches(".dng"));
    std::fs::create_dir_all(&work)?;
    let size_mb = std::fs::metadata(file)?.len() as f64 / 1e6;

    // In-process passes first (also warms the page cache for the timed commands).
    let phases = in_process_phases(file, &work, opts.runs)?;
    let mpix = phases.megapixels;

    let out_tif = work.join("chiaro.tif");
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
    let mut contestants = vec![
        Contestant::new(
            "chiaro develop (rcd-fit, 16-bit TIFF)",
            chiaro_bin,
            develop_args(None),
        ),
        Contestant::new(
            "chiaro develop --jobs 1",
            chiaro_bin,
            develop_args(Some("1")),
        ),
    ];
    // -Z names the output file (dcraw_emu otherwise writes beside the input).
    let mut lr_args: Vec<OsString> = ["-T", "-6", "-o", "1", "-q", "3", "-w", "-Z"]
        .map(OsString::from)
        .to_vec();
    lr_args.push(work.join("libraw.tiff").into());
    lr_args.push(file.into());
    if libraw {
        contestants.push(Contestant::new(
            "dcraw_emu -T -6 -o 1 -q 3 -w (AHD)",
            "dcraw_emu",
            lr_args.clone(),
        ));
    }
    alternate(&mut contestants, opts.runs, &work);

    let mut libraw_phases: Vec<(String, f64)> = Vec::new();
    if libraw {
        // One more run with LibRaw's own phase timings, printed below chiaro's.
        lr_args.insert(0, "-timing".into());
        let out = Command::new("dcraw_emu")
            .args(&lr_args)
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

    println!("\n== {name}: {mpix:.1} MP, {size_mb:.1} MB -> 16-bit TIFF ==");
    print_table(&contestants, mpix, libraw.then_some("dcraw_emu"));
    print_phases(&phases, opts.runs);
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

fn file_name(file: &Path) -> String {
    file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

// ---- JPEG q92 against darktable and RawTherapee ----------------------------------------

/// uid and gid of `nobody` from /etc/passwd, when the bench runs as root (darktable-cli
/// refuses root).
fn nobody_when_root() -> Option<(u32, u32)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    if uid.split_whitespace().next()? != "0" {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"nobody"))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

fn bench_jpeg(file: &Path, chiaro_bin: &Path, opts: &Options) -> Res<()> {
    let name = file_name(file);
    let work = opts.out.join("jpeg_q92");
    std::fs::create_dir_all(&work)?;
    let mut contestants = vec![Contestant::new(
        "chiaro develop (rcd-fit, JPEG q92)",
        chiaro_bin,
        [
            OsString::from("develop"),
            file.into(),
            "-o".into(),
            work.join("chiaro.jpg").into(),
            "--quality".into(),
            "92".into(),
            "--overwrite".into(),
        ]
        .to_vec(),
    )];
    let mut notes = Vec::new();
    if !opts.peers {
        notes.push("darktable and RawTherapee skipped (--no-peers)".to_string());
    } else {
        if tool_exists("darktable-cli") {
            let config = work.join("darktable-config");
            std::fs::create_dir_all(&config)?;
            let out = work.join("darktable.jpg");
            // darktable-cli will not overwrite; it would pick another name.
            let _ = std::fs::remove_file(&out);
            let mut args: Vec<OsString> = vec![
                file.into(),
                out.into(),
                "--apply-custom-presets".into(),
                "0".into(),
                "--core".into(),
                "--configdir".into(),
                config.clone().into(),
                "--library".into(),
                ":memory:".into(),
                "--conf".into(),
                "plugins/imageio/format/jpeg/quality=92".into(),
            ];
            let mut program = PathBuf::from("darktable-cli");
            if let Some((uid, gid)) = nobody_when_root() {
                for dir in [&work, &config] {
                    std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
                }
                // runuser resets HOME to nobody's (which does not exist): set it again.
                let home = OsString::from(format!("HOME={}", config.display()));
                args.splice(
                    0..0,
                    [
                        "-u".into(),
                        "nobody".into(),
                        "--".into(),
                        "env".into(),
                        home,
                        "darktable-cli".into(),
                    ],
                );
                program = PathBuf::from("runuser");
                notes.push("darktable-cli ran as `nobody` (runuser; it refuses root)".into());
            }
            let mut c = Contestant::new("darktable-cli (defaults, JPEG q92)", program, args);
            c.env.push(("HOME".into(), config.into()));
            contestants.push(c);
        } else {
            notes.push("darktable-cli not found (apt-get install darktable): skipped".into());
        }
        if tool_exists("rawtherapee-cli") {
            contestants.push(Contestant::new(
                "rawtherapee-cli -j92 (defaults)",
                "rawtherapee-cli",
                [
                    OsString::from("-o"),
                    work.join("rawtherapee.jpg").into(),
                    "-j92".into(),
                    "-Y".into(),
                    "-c".into(),
                    file.into(),
                ]
                .to_vec(),
            ));
        } else {
            notes.push("rawtherapee-cli not found (apt-get install rawtherapee): skipped".into());
        }
    }
    // darktable-cli never overwrites: clear its output before each of its runs.
    for _ in 0..opts.runs {
        let _ = std::fs::remove_file(work.join("darktable.jpg"));
        alternate(&mut contestants, 1, &work);
    }
    let mpix = {
        let raw = chiaro::raw::read_file(file, &chiaro::Limits::default())?;
        (raw.default_crop().width * raw.default_crop().height) as f64 / 1e6
    };
    println!("\n== {name}: {mpix:.1} MP -> JPEG q92 ==");
    for n in &notes {
        println!("note: {n}");
    }
    print_table(&contestants, mpix, None);
    if let Some(c) = contestants.first().filter(|c| c.failed.is_none()) {
        let ours = median(c.samples.iter().map(|s| s.wall).collect());
        for p in contestants[1..].iter().filter(|p| p.failed.is_none()) {
            let theirs = median(p.samples.iter().map(|s| s.wall).collect());
            println!("  chiaro / {}: wall x{:.2}", p.label, ours / theirs);
        }
    }
    Ok(())
}

// ---- in-process passes -----------------------------------------------------------------

struct Pass {
    label: &'static str,
    /// What the bytes counted are.
    bytes_what: &'static str,
    /// Bytes read plus bytes written.
    bytes: f64,
    /// (wall, CPU) seconds per run.
    times: Vec<(f64, f64)>,
    /// Rate of a one-thread `copy_from_slice` moving the same number of bytes, bytes/s.
    floor: f64,
}

struct Phases {
    megapixels: f64,
    passes: Vec<Pass>,
    /// The same develop with other settings: (label, wall, CPU), medians.
    extra: Vec<(String, f64, f64)>,
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

/// Bytes per second of a plain `copy_from_slice` that reads and writes `touched` bytes in all
/// (`touched / 2` copied), counted the same way as the passes (read + written). Best of 3,
/// buffers touched beforehand so no page faults are timed.
fn copy_rate(touched: f64) -> f64 {
    let n = ((touched / 2.0) as usize).max(1);
    let src = vec![1u8; n];
    let mut dst = vec![0u8; n];
    dst.copy_from_slice(&src);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * n as f64 / best
}

fn pixel_bytes(p: &chiaro::io::Pixels) -> usize {
    match p {
        chiaro::io::Pixels::U8(v) => v.len(),
        chiaro::io::Pixels::U16(v) => 2 * v.len(),
        chiaro::io::Pixels::F32(v) => 4 * v.len(),
    }
}

/// Times the passes through the library, `runs` times each.
fn in_process_phases(file: &Path, work: &Path, runs: usize) -> Res<Phases> {
    let limits = chiaro::Limits::default();
    let recipe = Recipe::default();
    let spec = OutputSpec {
        bits: 16,
        linear: false,
    };
    // The same render in linear float (no tone curve, no transfer, no quantisation) and with
    // the cheapest demosaic, to split render into its main parts.
    let linear = Recipe::default().linear();
    let linear_spec = OutputSpec {
        bits: 32,
        linear: true,
    };
    let mut bilinear = Recipe::default();
    bilinear.set(chiaro::stages::demosaic::Demosaic {
        method: chiaro::stages::demosaic::DemosaicMethod::Bilinear,
    });
    let mut t: [Vec<(f64, f64)>; 10] = Default::default();
    let mut sizes = [0usize; 7];
    let mut megapixels = 0.0;
    let out = work.join("in_process.tif");
    for _ in 0..runs {
        let file_bytes = timed(&mut t[0], || Ok(std::fs::read(file)?))?;
        let raw = timed(&mut t[1], || Ok(chiaro::raw::read_file(file, &limits)?))?;
        let frame = timed(&mut t[2], || Ok(prepare(&raw, &limits)?))?;
        let dev = timed(&mut t[3], || {
            Ok(render(&frame, &recipe, &spec, &limits, None)?)
        })?;
        megapixels = (dev.image.width * dev.image.height) as f64 / 1e6;
        let opts = EncodeOptions {
            format: Format::Tiff,
            quality: 92,
            icc_profile: chiaro::io::icc::for_output(&dev.info.profile)?,
            exif: raw.exif().clone(),
            software: "chiaro-bench".into(),
            compression: None,
        };
        let bytes = timed(&mut t[4], || Ok(chiaro::io::encode(&dev.image, &opts)?))?;
        timed(&mut t[5], || {
            Ok(chiaro::io::write_atomic(&out, &bytes, REPLACE)?)
        })?;
        sizes = [
            file_bytes.len(),
            2 * raw.data().len(),
            4 * frame.data().len(),
            pixel_bytes(&dev.image.pixels),
            bytes.len(),
            0,
            0,
        ];
        drop((dev, bytes, file_bytes));
        timed(&mut t[6], || {
            Ok(render(&frame, &linear, &linear_spec, &limits, None)?)
        })?;
        timed(&mut t[7], || {
            Ok(render(&frame, &bilinear, &spec, &limits, None)?)
        })?;
        for (i, durable) in [(8, false), (9, true)] {
            let place = Placement {
                overwrite: true,
                durable,
            };
            timed(&mut t[i], || {
                Ok(stream_tiff(&frame, &recipe, &spec, &limits, &out, place)?)
            })?;
        }
    }
    let [file_b, raw_b, plane_b, out_b, enc_b, ..] = sizes.map(|v| v as f64);
    let passes = [
        ("file read (page cache)", "file -> buffer", 2.0 * file_b),
        (
            "decode (raw::read_file)",
            "file read + compressed in, u16 raw out",
            2.0 * file_b + raw_b,
        ),
        (
            "prepare (u16 raw -> f32 CFA plane)",
            "u16 raw in, f32 plane out",
            raw_b + plane_b,
        ),
        (
            "render (default recipe, 16 bits)",
            "f32 plane in, u16 RGB out",
            plane_b + out_b,
        ),
        (
            "encode (TIFF 16-bit + ICC + EXIF)",
            "u16 RGB in, TIFF bytes out",
            out_b + enc_b,
        ),
        (
            "write (atomic: temp, rename)",
            "TIFF bytes in and to the file",
            2.0 * enc_b,
        ),
    ];
    let passes = passes
        .into_iter()
        .zip(t.iter())
        .map(|((label, bytes_what, bytes), times)| Pass {
            label,
            bytes_what,
            bytes,
            times: times.clone(),
            floor: copy_rate(bytes),
        })
        .collect();
    let extra_row = |label: &str, v: &[(f64, f64)]| {
        (
            label.to_string(),
            median(v.iter().map(|p| p.0).collect()),
            median(v.iter().map(|p| p.1).collect()),
        )
    };
    Ok(Phases {
        megapixels,
        passes,
        extra: vec![
            extra_row("render, linear f32 (no tone/transfer)", &t[6]),
            extra_row("render with bilinear instead of rcd-fit", &t[7]),
            extra_row("render + write streamed (the CLI's path)", &t[8]),
            extra_row("  the same, durable (--sync: fsync)", &t[9]),
        ],
    })
}

/// Renders `frame` straight into a 16-bit TIFF, band by band, as `chiaro develop` does.
fn stream_tiff(
    frame: &chiaro::pipeline::Frame,
    recipe: &Recipe,
    spec: &OutputSpec,
    limits: &chiaro::Limits,
    out: &Path,
    place: Placement,
) -> chiaro::Result<()> {
    let rendering = Rendering::new(frame, recipe, spec, limits, None)?;
    let opts = EncodeOptions {
        format: Format::Tiff,
        quality: 92,
        icc_profile: chiaro::io::icc::for_output(&rendering.profile())?,
        exif: frame.exif().clone(),
        software: "chiaro-bench".into(),
        compression: None,
    };
    rendering.write_tiff(out, &opts, place)?;
    Ok(())
}

/// Output placement of the in-process write: replace, no fsync (as the CLI by default).
const REPLACE: Placement = Placement {
    overwrite: true,
    durable: false,
};

fn print_phases(phases: &Phases, runs: usize) {
    println!(
        "in-process passes (library, median of {runs} runs; CPU = all threads; MB/s counts \
         bytes read + written; floor = one-thread copy_from_slice of the same bytes):"
    );
    println!(
        "  {:<36} {:>9} {:>8} {:>8} {:>9} {:>9} {:>6}  bytes counted",
        "pass", "wall", "CPU", "MB", "MB/s", "floor", "/floor"
    );
    let mut total = (0.0, 0.0);
    for p in &phases.passes {
        let wall = median(p.times.iter().map(|t| t.0).collect());
        let cpu = median(p.times.iter().map(|t| t.1).collect());
        // The file read is also inside decode: not added to the total.
        if !p.label.starts_with("file read") {
            total = (total.0 + wall, total.1 + cpu);
        }
        let rate = p.bytes / wall;
        println!(
            "  {:<36} {:>6.1} ms {:>5.0} ms {:>8.1} {:>9.0} {:>9.0} {:>5.1}%  {}",
            p.label,
            wall * 1e3,
            cpu * 1e3,
            p.bytes / 1e6,
            rate / 1e6,
            p.floor / 1e6,
            100.0 * rate / p.floor,
            p.bytes_what
        );
    }
    println!(
        "  {:<36} {:>6.1} ms {:>5.0} ms   ({:.1} MP/s end to end, excluding the separate file read)",
        "total (decode .. write)",
        total.0 * 1e3,
        total.1 * 1e3,
        phases.megapixels / total.0
    );
    for (label, wall, cpu) in &phases.extra {
        println!(
            "    {label:<34} {:>6.1} ms {:>5.0} ms",
            wall * 1e3,
            cpu * 1e3
        );
    }
}

// ---- demosaic throughput ---------------------------------------------------------------

/// RCD (and bilinear, for scale) alone on one thread, on a crop of the prepared frame.
fn demosaic_throughput(file: &Path, runs: usize) -> Res<()> {
    use chiaro::stages::demosaic::{DemosaicMethod, demosaic};
    let limits = chiaro::Limits::default();
    let raw = chiaro::raw::read_file(file, &limits)?;
    let frame = prepare(&raw, &limits)?;
    let pattern = frame.pattern().ok_or("the frame is not a CFA mosaic")?;
    let (fw, fh) = (frame.width(), frame.height());
    let (w, h) = (fw.min(2048), fh.min(2048));
    let (x0, y0) = (((fw - w) / 2) & !1, ((fh - h) / 2) & !1);
    let crop: Vec<f32> = (y0..y0 + h)
        .flat_map(|y| frame.data()[y * fw + x0..y * fw + x0 + w].iter().copied())
        .collect();
    let frame_pattern = *pattern;
    let pattern = pattern.shifted(y0, x0);
    println!(
        "\n== demosaic alone, one thread, {w}x{h} crop of {} (median of {} runs) ==",
        file_name(file),
        runs.max(3)
    );
    for method in [
        DemosaicMethod::RcdFit,
        DemosaicMethod::Rcd,
        DemosaicMethod::Mlri,
        DemosaicMethod::Bilinear,
    ] {
        let mut walls = Vec::new();
        for _ in 0..runs.max(3) {
            let t = Instant::now();
            let out = demosaic(method, &crop, w, h, &pattern)?;
            walls.push(t.elapsed().as_secs_f64());
            std::hint::black_box(out);
        }
        let best = walls.iter().copied().fold(f64::MAX, f64::min);
        let wall = median(walls);
        let mp = (w * h) as f64 / 1e6;
        println!(
            "  {:<10} median {:>7.1} ms {:>6.1} MP/s   best {:>7.1} ms {:>6.1} MP/s",
            method.name(),
            wall * 1e3,
            mp / wall,
            best * 1e3,
            mp / best
        );
    }
    // The whole frame on all threads: bands of rows, each demosaiced with the frame around
    // it as context (as the pipeline's tiles are).
    let threads = rayon::current_num_threads();
    println!(
        "  whole {fw}x{fh} frame, {threads} threads (bands of 320 rows), median of {} runs:",
        runs.max(3)
    );
    for method in [DemosaicMethod::RcdFit, DemosaicMethod::Rcd] {
        let mut walls = Vec::new();
        for _ in 0..runs.max(3) {
            let t = Instant::now();
            demosaic_bands(method, frame.data(), fw, fh, &frame_pattern)?;
            walls.push(t.elapsed().as_secs_f64());
        }
        let wall = median(walls);
        let mp = (fw * fh) as f64 / 1e6;
        println!(
            "  {:<10} median {:>7.1} ms {:>6.1} MP/s",
            method.name(),
            wall * 1e3,
            mp / wall
        );
    }
    Ok(())
}

/// `method` over the whole mosaic, bands of rows in parallel.
fn demosaic_bands(
    method: chiaro::stages::demosaic::DemosaicMethod,
    cfa: &[f32],
    w: usize,
    h: usize,
    pattern: &CfaPattern,
) -> Res<Vec<f32>> {
    use rayon::prelude::*;
    const BAND: usize = 320;
    let mut out = vec![0.0f32; 3 * w * h];
    out.par_chunks_mut(3 * w * BAND)
        .enumerate()
        .try_for_each(|(i, band)| {
            let rows = band.len() / (3 * w);
            let region = chiaro::image::Rect::new(0, i * BAND, w, rows);
            chiaro::stages::demosaic::demosaic_region(method, cfa, w, h, pattern, region, band)
        })?;
    Ok(out)
}

// ---- render throughput ---------------------------------------------------------------

/// `pipeline::render` alone (default recipe, 16 bits, all threads) with each Bayer demosaic
/// method, alternating, on the prepared frame of each file.
fn render_throughput(files: &[PathBuf], runs: usize) -> Res<()> {
    use chiaro::stages::demosaic::{Demosaic, DemosaicMethod};
    let limits = chiaro::Limits::default();
    let spec = OutputSpec {
        bits: 16,
        linear: false,
    };
    let methods = [
        DemosaicMethod::RcdFit,
        DemosaicMethod::Rcd,
        DemosaicMethod::Bilinear,
    ];
    let recipes = methods.map(|method| {
        let mut r = Recipe::default();
        r.set(Demosaic { method });
        r
    });
    println!(
        "\n== render alone (default recipe, 16 bits, all threads; median of {} runs) ==",
        runs.max(3)
    );
    for file in files {
        let raw = chiaro::raw::read_file(file, &limits)?;
        let frame = prepare(&raw, &limits)?;
        let mut t: [Vec<(f64, f64)>; 3] = Default::default();
        for _ in 0..runs.max(3) {
            for (times, recipe) in t.iter_mut().zip(&recipes) {
                timed(times, || Ok(render(&frame, recipe, &spec, &limits, None)?))?;
            }
        }
        println!("  {}", file_name(file));
        for (method, times) in methods.iter().zip(t) {
            let wall = median(times.iter().map(|v| v.0).collect());
            let cpu = median(times.iter().map(|v| v.1).collect());
            println!(
                "    {:<10} wall {:>7.1} ms   CPU {:>7.1} ms",
                method.name(),
                wall * 1e3,
                cpu * 1e3
            );
        }
    }
    Ok(())
}

// ---- decode throughput -----------------------------------------------------------------

/// `raw::read_file` alone on one thread (the tiles of a file are otherwise decoded in
/// parallel), megapixels per second.
fn decode_throughput(files: &[PathBuf], runs: usize) -> Res<()> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let limits = chiaro::Limits::default();
    println!(
        "\n== decode alone (raw::read_file), one thread, page cache warm (median of {} runs) ==",
        runs.max(3)
    );
    for file in files {
        let mut walls = Vec::new();
        let mut mp = 0.0;
        for _ in 0..runs.max(3) {
            let t = Instant::now();
            let raw = pool.install(|| chiaro::raw::read_file(file, &limits))?;
            walls.push(t.elapsed().as_secs_f64());
            mp = (raw.width() * raw.height()) as f64 / 1e6;
        }
        let best = walls.iter().copied().fold(f64::MAX, f64::min);
        let wall = median(walls);
        println!(
            "  {:<40} median {:>7.1} ms {:>6.1} MP/s   best {:>7.1} ms {:>6.1} MP/s",
            file_name(file),
            wall * 1e3,
            mp / wall,
            best * 1e3,
            mp / best
        );
    }
    Ok(())
}
