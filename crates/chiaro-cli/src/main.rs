//! `chiaro`: the command-line front end of the chiaro engine. Parses options, runs the
//! library on each file (files in parallel), shows progress, and maps errors to exit codes.
//! All image work is in the `chiaro` library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use chiaro::color::spaces::OutputSpace;
use chiaro::io::{Compression, EncodeOptions, Format, Placement};
use chiaro::pipeline::{OutputSpec, Recipe};
use chiaro::stages::color::Color;
use chiaro::stages::demosaic::Demosaic;
use chiaro::stages::demosaic::DemosaicMethod;
use chiaro::stages::exposure::Exposure;
use chiaro::stages::highlights::{HighlightMode, Highlights};
use chiaro::stages::resize::ResizeSpec;
use chiaro::stages::white_balance::WbMode;
use chiaro::stages::white_balance::WhiteBalance;
use chiaro::{ErrorKind, Limits};

mod info;
mod lab;
mod looks;

#[derive(Parser)]
#[command(
    name = "chiaro",
    version,
    about = "chiaro: develop camera RAW and DNG files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Develop raw files into JPEG, PNG or TIFF images.
    Develop(Box<DevelopArgs>),
    /// Show what chiaro reads from a raw file.
    Info {
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Decode camera raws in this process instead of an isolated worker process.
        #[arg(long)]
        no_isolate: bool,
        /// A folder of lensfun XML files instead of the installed database.
        #[arg(long)]
        lens_db: Option<PathBuf>,
    },
    /// Extract the preview JPEG a raw file embeds (fast, nothing is developed).
    Thumbnail {
        file: PathBuf,
        /// The JPEG to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Replace an existing output file.
        #[arg(long)]
        overwrite: bool,
    },
    /// Looks: list, show, export as a 3D LUT, or render a contact sheet of them.
    Looks {
        #[command(subcommand)]
        command: looks::LooksCommand,
    },
    /// Image-quality lab: measure images against references.
    Lab {
        #[command(subcommand)]
        command: lab::LabCommand,
    },
    /// Internal: the isolated camera-raw decoder (request on stdin, reply on stdout).
    #[command(name = "__decode-worker", hide = true)]
    DecodeWorker,
}

#[derive(Args)]
struct DevelopArgs {
    /// Raw files: DNG, camera raws, or NAME.raw with a NAME.toml sidecar; folders give
    /// the raw files in them (by extension).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Folders given as inputs are searched with their subfolders.
    #[arg(long)]
    recursive: bool,
    /// Output names in --out-dir: a template of {stem} (the input's name without its
    /// extension), {look} (the --look given, or "default") and {ext}.
    #[arg(long, requires = "out_dir", default_value = "{stem}.{ext}")]
    name: String,
    /// Output file (one input only).
    #[arg(short = 'o', long = "output", conflicts_with = "out_dir")]
    output: Option<PathBuf>,
    /// Output folder: each input becomes DIR/NAME.EXT.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// jpeg, png or tiff; default from the output's extension, else jpeg.
    #[arg(long)]
    format: Option<String>,
    /// Bits per sample: 8, 16 or 32 (float TIFF). Default: 8 for JPEG and PNG, 16 for TIFF
    /// (32 with --linear).
    #[arg(long)]
    bits: Option<u8>,
    /// srgb, display-p3, rec2020, prophoto, xyz or camera.
    #[arg(long)]
    colorspace: Option<String>,
    /// A DNG camera profile (.dcp): its matrices, HueSatMap, LookTable and tone curve
    /// instead of the file's colour.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// An Ultra HDR JPEG: the SDR picture plus a gain map with highlights up to 2 stops
    /// above SDR white, which HDR displays show and other viewers ignore.
    #[arg(long)]
    hdr: bool,
    /// Scene-referred output: no tone curve, no look, no transfer function.
    #[arg(long)]
    linear: bool,
    /// as-shot, auto, camera (daylight preset), daylight, cloudy, shade, tungsten,
    /// fluorescent, flash, KELVIN[,TINT], or gains:R,G,B (channel multipliers).
    #[arg(long)]
    wb: Option<String>,
    /// Exposure correction in EV, or `auto` (chosen from the scene, printed per file), or
    /// `auto+EV` / `auto-EV` (the automatic choice with a bias).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_exposure)]
    exposure: Option<(bool, f32)>,
    /// rcd-fit (default), rcd, mlri, malvar, bilinear, markesteijn or xtrans-fast (X-Trans).
    #[arg(long)]
    demosaic: Option<String>,
    /// A fast preview straight from the mosaic, no demosaicing: each 2x2 Bayer block (3x3
    /// for X-Trans) becomes one pixel, so the output is half (a third) the size.
    #[arg(long)]
    half_size: bool,
    /// Turn the picture clockwise by 90, 180 or 270 degrees (after the file's own
    /// orientation).
    #[arg(long, value_parser = ["90", "180", "270"])]
    rotate: Option<String>,
    /// Mirror the picture: h (left-right) or v (top-bottom), after --rotate.
    #[arg(long, value_parser = ["h", "v"])]
    flip: Option<String>,
    /// Resize the output in linear light (Lanczos-3, no ringing): the long edge in pixels
    /// (2048), a box to fit in (1920x1080) or a percentage (50%). Long edge and box never
    /// enlarge. Applied after --crop.
    #[arg(long, value_parser = parse_resize)]
    resize: Option<ResizeSpec>,
    /// Keep only X,Y,W,H of the output, in its upright pixels (after --rotate and --flip).
    #[arg(long, value_parser = parse_crop)]
    crop: Option<(usize, usize, usize, usize)>,
    /// Clipped highlights: blend (default: rebuilt from the channels that did not clip,
    /// rolling into white), clip (each channel at the sensor's white), reconstruct (each
    /// clipped channel rebuilt from the unclipped ones in the colour around the clipped
    /// areas: keeps the hue) or none (left as the white balance scales them).
    #[arg(long, value_parser = ["blend", "clip", "reconstruct", "none"])]
    highlights: Option<String>,
    /// Capture sharpening: off, or the amount of detail added (0-4; default 0.5, sigma
    /// 0.7 px, halos within 0.1 stop). Scene-linear output (--linear) is not sharpened.
    #[arg(long, value_parser = parse_sharpen)]
    sharpen: Option<f32>,
    /// Lens corrections: auto (default: the file's own, else lensfun's database), embedded
    /// (only the file's), lensfun (only the database's) or off.
    #[arg(long, value_parser = ["auto", "off", "embedded", "lensfun"])]
    lens: Option<String>,
    /// A folder of lensfun XML files to use instead of the installed database
    /// (/usr/share/lensfun/version_1, Debian's liblensfun-data-v1).
    #[arg(long)]
    lens_db: Option<PathBuf>,
    /// A built-in look (natural, authentic, vibrant, mono, mono-warm, soft, none; see
    /// `chiaro looks list`), a look TOML file, or a .cube 3D LUT (applied to the output's
    /// code values after the tone curve).
    #[arg(long)]
    look: Option<String>,
    /// A recipe TOML file: the stages it names replace the default ones, the rest stay (the
    /// options above override both).
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// TIFF compression: none, deflate or lzw, lossless, with a predictor (default: deflate
    /// at 8 bits, none at 16 and 32, where sensor noise leaves little to gain).
    #[arg(long, value_parser = ["none", "deflate", "lzw"])]
    compression: Option<String>,
    /// JPEG quality 1-100.
    #[arg(long, default_value_t = 92, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// Replace existing output files.
    #[arg(long, conflicts_with = "skip_existing")]
    overwrite: bool,
    /// Write the exact recipe used beside each output (OUTPUT.chiaro.toml), with the output
    /// options that are not part of a recipe (format, bits, --rotate, --crop, ...) in its
    /// header: `--recipe` with it and those options develops the same picture again.
    #[arg(long)]
    sidecar: bool,
    /// Leave inputs whose output already exists (a rerun of a batch goes on where it
    /// stopped); they count as skipped, not failed.
    #[arg(long)]
    skip_existing: bool,
    /// Flush each output to the disk (fsync) before it is renamed into place, so it
    /// survives a power cut. Outputs are always written atomically; this waits for the disk.
    #[arg(long)]
    sync: bool,
    /// Worker threads (default, or 0: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Decode camera raws in this process instead of an isolated worker process (a file
    /// that crashes the decoder then ends the whole batch).
    #[arg(long)]
    no_isolate: bool,
}

/// The progress bar of every long command.
fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn main() -> ExitCode {
    quiet_caught_decoder_panics();
    let cli = Cli::parse();
    match cli.command {
        Command::Develop(args) => develop(*args).unwrap_or_else(|e| {
            eprintln!("chiaro: {e:#}");
            ExitCode::from(2)
        }),
        // A file that cannot be read is a failed file (1), as in a batch, not a usage error.
        Command::Info {
            file,
            json,
            no_isolate,
            lens_db,
        } => match LensDb::new(lens_db.as_deref())
            .and_then(|db| info::run(&file, json, &RawReader::new(no_isolate), &db))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                // The library's message is complete on its own line; no cause chain.
                eprintln!("chiaro: {e}");
                ExitCode::from(1)
            }
        },
        Command::Thumbnail {
            file,
            output,
            overwrite,
        } => match thumbnail(&file, &output, overwrite) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("chiaro: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Looks { command } => match looks::run(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("chiaro: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Lab { command } => match lab::run(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("chiaro: {e}");
                ExitCode::from(1)
            }
        },
        Command::DecodeWorker => {
            ExitCode::from(u8::try_from(chiaro::raw::isolate::worker_main()).unwrap_or(1))
        }
    }
}

/// rawler panics on some hostile files; the library catches those panics and reports a
/// one-line error, so the default hook's multi-line report for them is only noise.
fn quiet_caught_decoder_panics() {
    chiaro::raw::isolate::quiet_caught_panics();
}

/// How raw files are read: camera raws in a worker process (this executable's hidden
/// `__decode-worker` command), unless `--no-isolate` or the executable cannot be found.
pub(crate) struct RawReader(Option<chiaro::raw::WorkerCommand>);

impl RawReader {
    fn new(no_isolate: bool) -> Self {
        let exe = std::env::current_exe().ok().filter(|_| !no_isolate);
        RawReader(exe.map(|e| chiaro::raw::WorkerCommand::new(e).arg("__decode-worker")))
    }
    pub(crate) fn read(
        &self,
        path: &Path,
        limits: &Limits,
    ) -> chiaro::Result<chiaro::raw::RawImage> {
        match &self.0 {
            Some(worker) => chiaro::raw::read_file_isolated(path, limits, worker),
            None => chiaro::raw::read_file(path, limits),
        }
    }
}

/// Everything fixed for the whole batch.
struct Job {
    recipe: Recipe,
    spec: OutputSpec,
    format: Format,
    quality: u8,
    /// TIFF compression (`None`: the default for the bits).
    compression: Option<Compression>,
    place: Placement,
    limits: Limits,
    reader: RawReader,
    /// Ultra HDR JPEG (SDR + gain map).
    hdr: bool,
    /// Leave inputs whose output exists.
    skip_existing: bool,
    /// A preview from the mosaic's blocks (`Frame::binned`).
    half_size: bool,
    /// Write the recipe beside each output.
    sidecar: bool,
    /// The user's turn of the picture, as an orientation code (1: none).
    turn: u16,
    /// The output rectangle to keep, in upright output pixels.
    crop: Option<(usize, usize, usize, usize)>,
    /// The output's size, from the rendered (cropped) size.
    resize: Option<ResizeSpec>,
    /// lensfun's database, read when a file first needs it.
    lens_db: LensDb,
}

/// lensfun's database: a folder given, or the installed one, read at most once.
pub(crate) struct LensDb {
    dir: Option<PathBuf>,
    db: std::sync::OnceLock<Option<chiaro::lensfun::Database>>,
}

impl LensDb {
    /// The folder `dir` (read now, so a bad one is a usage error) or the installed database.
    pub(crate) fn new(dir: Option<&Path>) -> anyhow::Result<Self> {
        let db = std::sync::OnceLock::new();
        if let Some(d) = dir {
            let loaded = chiaro::lensfun::Database::load_dir(d)
                .with_context(|| format!("--lens-db {}", d.display()))?;
            if loaded.lenses.is_empty() {
                bail!("--lens-db {}: no lenses in its XML files", d.display());
            }
            let _ = db.set(Some(loaded));
        }
        Ok(LensDb {
            dir: dir.map(Path::to_path_buf),
            db,
        })
    }

    fn get(&self) -> Option<&chiaro::lensfun::Database> {
        self.db
            .get_or_init(chiaro::lensfun::Database::system)
            .as_ref()
    }

    /// `recipe` with its lens stage resolved for `frame` when that stage wants lensfun's
    /// correction and has none yet (a recipe that carries one, as a sidecar does, keeps it);
    /// what the lens stage will do, or why lensfun gave nothing; and whether that is worth a
    /// warning (lensfun was asked for by name and gave nothing).
    pub(crate) fn resolve(
        &self,
        recipe: &Recipe,
        frame: &chiaro::pipeline::Frame,
    ) -> (Recipe, String, bool) {
        use chiaro::stages::lens::{LensCorrection, LensSource};
        let mut recipe = recipe.clone();
        let Some(lens) = recipe.get_mut::<LensCorrection>() else {
            return (recipe, "lens: no correction (no lens stage)".into(), false);
        };
        // A correction the recipe carries (a sidecar's) counts for the shot it was looked up
        // for; on any other it is looked up again.
        let carried = lens.lensfun.as_ref().is_some_and(|c| c.fits(frame.exif()));
        if carried || !lens.wants_lensfun(frame) {
            if carried {
                let c = frame.crop();
                lens.picture = Some([c.x, c.y, c.width, c.height]);
            }
            let said = lens.describe(frame);
            return (recipe, said, false);
        }
        let asked = lens.source == LensSource::Lensfun;
        // Not this shot's: never applied.
        lens.lensfun = None;
        let said = match self.get() {
            Some(db) => lens.resolve(frame, db),
            None => format!(
                "lens: no correction: no lensfun database {}",
                match &self.dir {
                    Some(d) => format!("in {}", d.display()),
                    None => "installed (Debian: liblensfun-data-v1; or --lens-db DIR)".into(),
                }
            ),
        };
        let warn = asked && lens.lensfun.is_none();
        (recipe, said, warn)
    }
}

fn develop(args: DevelopArgs) -> anyhow::Result<ExitCode> {
    let inputs = expand_inputs(&args.inputs, args.recursive)?;
    // A bad --name fails before any folder is made.
    output_name(&args.name, "stem", "look", "ext")?;
    if args.output.is_some() && inputs.len() > 1 {
        bail!(
            "-o names one output file; use --out-dir for {} inputs",
            inputs.len()
        );
    }
    if args.output.is_none() && args.out_dir.is_none() {
        bail!("give -o OUTPUT or --out-dir DIR");
    }
    let format = match (&args.format, &args.output) {
        (Some(f), Some(o)) => {
            let given = Format::from_name(f)?;
            // Data of one format under another's extension would mislead every program that
            // opens it.
            match Format::from_path(o) {
                Some(named) if named != given => bail!(
                    "{}: the name says {} but --format says {}; change one of them",
                    o.display(),
                    named.extension(),
                    given.extension()
                ),
                _ => given,
            }
        }
        (Some(f), None) => Format::from_name(f)?,
        (None, Some(o)) => Format::from_path(o)
            .with_context(|| format!("{}: unknown output extension; use --format", o.display()))?,
        (None, None) => Format::Jpeg,
    };
    let bits = args.bits.unwrap_or(match format {
        Format::Tiff if args.linear => 32,
        Format::Tiff => 16,
        _ => 8,
    });
    if !format.supports_bits(bits) {
        bail!("{} cannot hold {bits}-bit samples", format.extension());
    }
    let compression = args
        .compression
        .as_deref()
        .map(Compression::from_name)
        .transpose()?;
    if compression.is_some() && format != Format::Tiff {
        bail!(
            "--compression is for TIFF; {} has its own",
            format.extension()
        );
    }
    let recipe = build_recipe(&args)?;
    if args.hdr && (format != Format::Jpeg || bits != 8 || args.linear) {
        bail!("--hdr writes an Ultra HDR JPEG: it takes JPEG output at 8 bits, without --linear");
    }
    if args.hdr && args.resize.is_some() {
        bail!("--resize does not work with --hdr yet (the gain map would need resizing too)");
    }
    let degrees = args.rotate.as_deref().map_or(Ok(0), str::parse)?;
    let flip = args.flip.as_deref().and_then(|f| f.chars().next());
    let turn = chiaro::stages::orientation::turn_code(degrees, flip)
        .context("--rotate takes 90, 180 or 270 and --flip h or v")?;
    let job = Job {
        hdr: args.hdr,
        skip_existing: args.skip_existing,
        half_size: args.half_size,
        sidecar: args.sidecar,
        turn,
        crop: args.crop,
        resize: args.resize,
        lens_db: LensDb::new(args.lens_db.as_deref())?,
        recipe,
        spec: OutputSpec {
            bits,
            linear: args.linear,
        },
        format,
        quality: args.quality,
        compression,
        place: Placement {
            overwrite: args.overwrite,
            durable: args.sync,
        },
        limits: Limits::default(),
        reader: RawReader::new(args.no_isolate),
    };

    let outputs: Vec<PathBuf> = match (&args.output, &args.out_dir) {
        (Some(o), _) => {
            if let Some(dir) = o.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("{}: cannot create folder", dir.display()))?;
            }
            vec![o.clone()]
        }
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create folder", dir.display()))?;
            let look = args.look.as_deref().map_or("default".into(), |l| {
                Path::new(l)
                    .file_stem()
                    .map_or(l.into(), |s| s.to_string_lossy().into_owned())
            });
            inputs
                .iter()
                .map(|i| {
                    let stem = i.file_stem().unwrap_or(i.as_os_str()).to_string_lossy();
                    output_name(&args.name, &stem, &look, format.extension()).map(|n| dir.join(n))
                })
                .collect::<anyhow::Result<_>>()?
        }
        (None, None) => unreachable!("checked above"),
    };
    let mut seen = std::collections::HashMap::new();
    for (input, output) in inputs.iter().zip(&outputs) {
        if let Some(first) = seen.insert(output, input) {
            bail!(
                "{} and {} would both be written to {}; develop them into different folders",
                first.display(),
                input.display(),
                output.display()
            );
        }
    }

    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        // A second Ctrl-C while finishing up is ignored; files in flight are abandoned
        // before their atomic rename, so no partial output is left.
        let _ = ctrlc::set_handler(move || cancel.store(true, Ordering::SeqCst));
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    // 0 is rayon's "all cores", as no --jobs is.
    if let Some(j) = args.jobs {
        pool = pool.num_threads(j);
    }
    let pool = pool.build().context("cannot start worker threads")?;

    let bar = progress_bar(inputs.len() as u64);
    let start = Instant::now();
    let results: Vec<Result<Notes, chiaro::Error>> = pool.install(|| {
        inputs
            .par_iter()
            .zip(&outputs)
            .map(|(input, output)| {
                let r = develop_one(&job, input, output, &cancel);
                match &r {
                    Ok(notes) => {
                        // Choices made from the image (automatic exposure, white balance).
                        for (stage, note) in notes {
                            bar.suspend(|| {
                                eprintln!("chiaro: {}: {stage}: {note}", input.display())
                            });
                        }
                        bar.set_message(format!("{}", output.display()))
                    }
                    Err(e) if e.kind() != ErrorKind::Cancelled => {
                        bar.suspend(|| eprintln!("chiaro: {e}"))
                    }
                    Err(_) => {}
                }
                bar.inc(1);
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    let stopped = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.kind() == ErrorKind::Cancelled))
        .count();
    let failed = results.iter().filter(|r| r.is_err()).count() - stopped;
    let skipped = results
        .iter()
        .filter(|r| matches!(r, Ok(notes) if notes.iter().any(|n| n.0 == SKIPPED)))
        .count();
    let done = results.len() - failed - stopped - skipped;
    let cancelled = cancel.load(Ordering::SeqCst);
    eprintln!(
        "chiaro: developed {done} of {} file(s), {failed} failed{}{}, in {:.2} s",
        results.len(),
        if skipped > 0 {
            format!(", {skipped} skipped (their outputs exist)")
        } else {
            String::new()
        },
        if cancelled {
            format!(", {stopped} cancelled")
        } else {
            String::new()
        },
        start.elapsed().as_secs_f64(),
    );
    Ok(if cancelled {
        ExitCode::from(130)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Choices a development made from the image, by stage, and its warnings.
type Notes = Vec<(&'static str, String)>;

/// The note of an input left alone by `--skip-existing`.
const SKIPPED: &str = "skipped";

fn develop_one(
    job: &Job,
    input: &Path,
    output: &Path,
    cancel: &AtomicBool,
) -> Result<Notes, chiaro::Error> {
    let (notes, recipe) = develop_file(job, input, output, cancel)?;
    let skipped = notes.iter().any(|n| n.0 == SKIPPED);
    if job.sidecar && !skipped {
        let mut name = output.as_os_str().to_owned();
        name.push(".chiaro.toml");
        let text = format!(
            "# chiaro {}: the recipe of {}; `chiaro develop --recipe` with this file \
             develops it again\n# with the same output options: {}\n{}",
            env!("CARGO_PKG_VERSION"),
            output.display(),
            output_options(job),
            recipe.to_toml()?
        );
        let place = Placement {
            overwrite: true,
            durable: job.place.durable,
        };
        chiaro::io::write_atomic(Path::new(&name), text.as_bytes(), place)
            .map_err(|e| e.with_path(Path::new(&name)))?;
    }
    Ok(notes)
}

/// The options of a job that are not part of its recipe, as command-line options.
fn output_options(job: &Job) -> String {
    let mut o = vec![
        format!("--format {}", job.format.extension()),
        format!("--bits {}", job.spec.bits),
    ];
    if job.spec.linear {
        o.push("--linear".into());
    }
    if job.format == Format::Jpeg {
        o.push(format!("--quality {}", job.quality));
    }
    if let Some(r) = job.resize {
        o.push(format!("--resize {}", r.to_arg()));
    }
    if let Some(c) = job.compression {
        o.push(format!("--compression {}", format!("{c:?}").to_lowercase()));
    }
    if job.hdr {
        o.push("--hdr".into());
    }
    if job.half_size {
        o.push("--half-size".into());
    }
    // The --rotate/--flip pair that gives the job's turn.
    let pairs = [0, 90, 180, 270].into_iter().flat_map(|d| {
        [None, Some('h'), Some('v')]
            .into_iter()
            .map(move |f| (d, f))
    });
    let turn = pairs
        .filter(|&(d, f)| chiaro::stages::orientation::turn_code(d, f) == Some(job.turn))
        .min_by_key(|&(d, f)| (f.is_some(), d));
    if let Some((d, f)) = turn.filter(|&t| t != (0, None)) {
        if d > 0 {
            o.push(format!("--rotate {d}"));
        }
        if let Some(f) = f {
            o.push(format!("--flip {f}"));
        }
    }
    if let Some((x, y, w, h)) = job.crop {
        o.push(format!("--crop {x},{y},{w},{h}"));
    }
    o.join(" ")
}

/// Develops one file; gives what to report and the recipe used (the job's, with the lens
/// correction resolved for the file).
fn develop_file(
    job: &Job,
    input: &Path,
    output: &Path,
    cancel: &AtomicBool,
) -> Result<(Notes, Recipe), chiaro::Error> {
    if cancel.load(Ordering::SeqCst) {
        return Err(chiaro::Error::new(ErrorKind::Cancelled, "cancelled"));
    }
    if job.skip_existing && output.exists() {
        let notes = vec![(SKIPPED, format!("{} exists", output.display()))];
        return Ok((notes, job.recipe.clone()));
    }
    if !job.place.overwrite && output.exists() {
        return Err(chiaro::Error::new(
            ErrorKind::Io,
            "exists; use --overwrite to replace it, or --skip-existing to leave it",
        )
        .with_path(output));
    }
    // The sensor samples are dropped once the frame is prepared, before the output exists.
    let (frame, recipe, lens_note) = {
        let raw = job.reader.read(input, &job.limits)?;
        let mut frame =
            chiaro::pipeline::prepare(&raw, &job.limits).map_err(|e| e.with_path(input))?;
        if job.half_size {
            frame = frame.binned(&job.limits).map_err(|e| e.with_path(input))?;
        }
        // Lens corrections are centred on the whole picture, before the user's crop.
        let (recipe, said, warn) = job.lens_db.resolve(&job.recipe, &frame);
        let frame = reframe(frame, job.turn, job.crop).map_err(|e| e.with_path(input))?;
        (frame, recipe, warn.then_some(said))
    };
    let with_lens_note = |info| {
        let mut notes = report(info);
        notes.extend(lens_note.clone().map(|n| ("warning", n)));
        notes
    };
    if job.hdr {
        let (dev, map) =
            chiaro::pipeline::hdr::ultra_hdr(&frame, &recipe, &job.limits, Some(cancel))
                .map_err(|e| e.with_path(input))?;
        let opts = EncodeOptions {
            format: Format::Jpeg,
            quality: job.quality,
            icc_profile: chiaro::io::icc::for_output(&dev.info.profile)
                .map_err(|e| e.with_path(output))?,
            exif: frame.exif().clone(),
            software: format!("chiaro {}", env!("CARGO_PKG_VERSION")),
            compression: None,
        };
        let bytes = chiaro::io::ultrahdr::encode(&dev.image, &opts, &map)
            .map_err(|e| e.with_path(output))?;
        chiaro::io::write_atomic(output, &bytes, job.place).map_err(|e| e.with_path(output))?;
        return Ok((with_lens_note(dev.info), recipe));
    }
    let mut rendering =
        chiaro::pipeline::Rendering::new(&frame, &recipe, &job.spec, &job.limits, Some(cancel))
            .map_err(|e| e.with_path(input))?;
    if let Some(spec) = job.resize {
        let (w, h) = rendering.size();
        let (tw, th) = chiaro::stages::resize::target_size(w, h, spec);
        rendering = rendering
            .resize_to(tw, th)
            .map_err(|e| e.with_path(input))?;
    }
    let opts = EncodeOptions {
        format: job.format,
        quality: job.quality,
        icc_profile: chiaro::io::icc::for_output(&rendering.profile())
            .map_err(|e| e.with_path(output))?,
        exif: frame.exif().clone(),
        software: format!("chiaro {}", env!("CARGO_PKG_VERSION")),
        compression: job.compression,
    };
    // TIFF takes its rows while they are rendered (the write overlaps the work and the whole
    // output never sits in memory); the other encoders take a whole image.
    if job.format == Format::Tiff {
        let info = rendering
            .write_tiff(output, &opts, job.place)
            .map_err(|e| e.with_path(input))?;
        return Ok((with_lens_note(info), recipe));
    }
    let dev = rendering.image().map_err(|e| e.with_path(input))?;
    drop(frame);
    if cancel.load(Ordering::SeqCst) {
        return Err(chiaro::Error::new(ErrorKind::Cancelled, "cancelled"));
    }
    chiaro::io::write_image(output, &dev.image, &opts, job.place)
        .map_err(|e| e.with_path(output))?;
    Ok((with_lens_note(dev.info), recipe))
}

/// The frame turned by orientation code `turn` after its own orientation, then cropped to
/// `crop` (x, y, w, h in upright output pixels).
fn reframe(
    frame: chiaro::pipeline::Frame,
    turn: u16,
    crop: Option<(usize, usize, usize, usize)>,
) -> Result<chiaro::pipeline::Frame, chiaro::Error> {
    use chiaro::stages::orientation;
    let code = orientation::compose(frame.orientation(), turn);
    let frame = frame.with_orientation(code)?;
    let Some(rect) = crop else {
        return Ok(frame);
    };
    let c = frame.crop();
    let (ow, oh) = orientation::oriented_size(code, c.width, c.height);
    let (x, y, w, h) =
        orientation::source_rect(code, c.width, c.height, rect).ok_or_else(|| {
            chiaro::Error::parameter(format!(
                "--crop {},{},{},{} lies outside the {ow}x{oh} picture",
                rect.0, rect.1, rect.2, rect.3
            ))
        })?;
    frame.with_crop(chiaro::image::Rect::new(c.x + x, c.y + y, w, h))
}

/// `chiaro thumbnail`: the file's embedded preview JPEG, written as it is.
fn thumbnail(file: &Path, output: &Path, overwrite: bool) -> Result<(), chiaro::Error> {
    if Format::from_path(output) != Some(Format::Jpeg) {
        return Err(chiaro::Error::parameter(format!(
            "{}: a preview is a JPEG; name the output .jpg",
            output.display()
        )));
    }
    let bytes = chiaro::limits::read_file_bounded(file, &Limits::default())
        .map_err(|e| e.with_path(file))?;
    let jpeg = chiaro::raw::preview::embedded_jpeg(&bytes).ok_or_else(|| {
        chiaro::Error::new(ErrorKind::Unsupported, "no embedded preview JPEG").with_path(file)
    })?;
    let place = Placement {
        overwrite,
        durable: false,
    };
    chiaro::io::write_atomic(output, jpeg, place).map_err(|e| e.with_path(output))
}

/// File extensions of camera raws that a folder given as input contributes (any case).
const RAW_EXTENSIONS: &[&str] = &[
    "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "rw2", "orf", "pef",
    "srw", "iiq", "3fr", "x3f", "mrw", "erf", "kdc", "dcr", "mos", "raw",
];

/// The inputs with each folder replaced by the raw files in it (sorted; with `recursive`,
/// its subfolders' too). A folder without raws is an error.
fn expand_inputs(inputs: &[PathBuf], recursive: bool) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot list folder", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            // Linked folders are not followed: a link loop would never end.
            let linked = p
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink());
            if p.is_dir() {
                if recursive && !linked {
                    walk(&p, recursive, out)?;
                }
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| RAW_EXTENSIONS.iter().any(|r| r.eq_ignore_ascii_case(e)))
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for i in inputs {
        if i.is_dir() {
            let before = out.len();
            walk(i, recursive, &mut out)?;
            if out.len() == before {
                bail!(
                    "{}: no raw files in this folder{}",
                    i.display(),
                    if recursive {
                        " or below"
                    } else {
                        " (--recursive searches subfolders)"
                    }
                );
            }
        } else {
            out.push(i.clone());
        }
    }
    Ok(out)
}

/// An output file name from the `--name` template.
fn output_name(template: &str, stem: &str, look: &str, ext: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .with_context(|| format!("--name {template:?}: a '{{' without its '}}'"))?;
        out.push_str(match &rest[open + 1..open + close] {
            "stem" => stem,
            "look" => look,
            "ext" => ext,
            other => bail!("--name {template:?}: unknown field {{{other}}} (stem, look, ext)"),
        });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    if out.is_empty() || out.contains(['/', '\\']) {
        bail!("--name {template:?} gives {out:?}, not a file name");
    }
    Ok(out)
}

/// `--crop X,Y,W,H`: four whole numbers, width and height above 0.
fn parse_crop(text: &str) -> Result<(usize, usize, usize, usize), String> {
    let v: Vec<usize> = text
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{text}' is not X,Y,W,H (four whole numbers)"))?;
    match v[..] {
        [x, y, w, h] if w > 0 && h > 0 => Ok((x, y, w, h)),
        _ => Err(format!(
            "'{text}' is not X,Y,W,H with a width and height above 0"
        )),
    }
}

fn parse_sharpen(text: &str) -> Result<f32, String> {
    match text.trim() {
        "off" | "none" => Ok(0.0),
        t => t
            .parse::<f32>()
            .ok()
            .filter(|a| (0.0..=4.0).contains(a))
            .ok_or_else(|| format!("'{text}' is not off or an amount from 0 to 4")),
    }
}

fn parse_resize(text: &str) -> Result<ResizeSpec, String> {
    ResizeSpec::parse(text).map_err(|e| e.to_string())
}

/// What a development reports per file: its choices (by stage), then its warnings.
fn report(info: chiaro::pipeline::RenderInfo) -> Notes {
    let warnings = info.warnings.into_iter().map(|w| ("warning", w));
    info.notes.into_iter().chain(warnings).collect()
}

/// `--exposure`: `EV`, `auto`, `auto+EV` or `auto-EV`, as (automatic, EV).
fn parse_exposure(text: &str) -> Result<(bool, f32), String> {
    let t = text.trim();
    let (auto, rest) = match t.strip_prefix("auto") {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let ev = if auto && rest.is_empty() {
        0.0
    } else {
        rest.parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                format!("'{text}' is not an exposure: give EV (e.g. 1.5), auto, or auto+EV")
            })?
    };
    Ok((auto, ev))
}

/// The recipe: a file or the default, then a look, then the command-line overrides.
fn build_recipe(args: &DevelopArgs) -> anyhow::Result<Recipe> {
    let mut recipe = match &args.recipe {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read recipe", p.display()))?;
            Recipe::from_toml_over_defaults(&text).with_context(|| p.display().to_string())?
        }
        None => Recipe::default(),
    };
    if let Some(look) = &args.look {
        if args.linear {
            bail!("--look and --linear exclude each other: a look is display-referred");
        }
        if Path::new(look)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("cube"))
        {
            recipe.set(chiaro::stages::look::lut::LutStage {
                file: PathBuf::from(look),
                strength: 1.0,
            });
        } else {
            for stage in chiaro::pipeline::recipe::look(look)? {
                recipe.set_boxed(stage);
            }
        }
    }
    if let Some(wb) = &args.wb {
        recipe.set(WhiteBalance {
            mode: WbMode::parse(wb)?,
        });
    }
    if let Some(d) = &args.demosaic {
        recipe.set(Demosaic {
            method: DemosaicMethod::from_name(d)?,
        });
    }
    if let Some(amount) = args.sharpen {
        let mut sharpen = recipe
            .get::<chiaro::stages::sharpen::Sharpen>()
            .copied()
            .unwrap_or_default();
        sharpen.amount = amount;
        recipe.set(sharpen);
    }
    if let Some(l) = &args.lens {
        let mut lens = recipe
            .get::<chiaro::stages::lens::LensCorrection>()
            .cloned()
            .unwrap_or_default();
        lens.source = chiaro::stages::lens::LensSource::from_name(l)?;
        lens.lensfun = None;
        recipe.set(lens);
    }
    if let Some(h) = &args.highlights {
        let mode = match h.as_str() {
            "clip" => HighlightMode::Clip,
            "none" => HighlightMode::None,
            "reconstruct" => HighlightMode::Reconstruct,
            _ => HighlightMode::Blend,
        };
        recipe.set(Highlights { mode });
    }
    if args.colorspace.is_some() || args.profile.is_some() {
        let mut c = recipe.get::<Color>().cloned().unwrap_or_default();
        if let Some(cs) = &args.colorspace {
            c.space = OutputSpace::from_name(cs)?;
        }
        if let Some(p) = &args.profile {
            c.profile = Some(p.clone());
        }
        recipe.set(c);
    }
    if let Some((auto, ev)) = args.exposure {
        // Keep the recipe's choice about BaselineExposure; without one, display output uses
        // it (`--linear` turns it off below).
        let baseline = recipe.get::<Exposure>().is_none_or(|e| e.baseline);
        recipe.set(Exposure { ev, baseline, auto });
    }
    if args.linear {
        recipe = recipe.linear();
    }
    recipe.validate()?;
    Ok(recipe)
}
