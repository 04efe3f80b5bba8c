//! `chiaro`: the command-line front end of the chiaro engine. Parses options, runs the
//! library on each file (files in parallel), shows progress, and maps errors to exit codes.
//! All image work is in the `chiaro` library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use chiaro::batch::{DevelopOptions, FileReport, Job, LensDb, Outcome, Reader, expand_inputs};
use chiaro::io::{Format, Placement};
use chiaro::stages::resize::ResizeSpec;
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
    /// Develop many raw files into a folder, resumably (a rerun skips the outputs that
    /// exist), here on all cores or on a Ray cluster with --ray.
    Batch(Box<BatchArgs>),
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
    #[arg(long, requires = "out_dir", default_value = chiaro::batch::DEFAULT_NAME)]
    name: String,
    /// Output file (one input only).
    #[arg(short = 'o', long = "output", conflicts_with = "out_dir")]
    output: Option<PathBuf>,
    /// Output folder: each input becomes DIR/NAME.EXT.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Replace existing output files.
    #[arg(long, conflicts_with = "skip_existing")]
    overwrite: bool,
    /// Leave inputs whose output already exists (a rerun of a batch goes on where it
    /// stopped); they count as skipped, not failed.
    #[arg(long)]
    skip_existing: bool,
    #[command(flatten)]
    options: OptionArgs,
}

#[derive(Args)]
struct BatchArgs {
    /// Raw files and folders of them, as for `develop`.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Folders given as inputs are searched with their subfolders.
    #[arg(long)]
    recursive: bool,
    /// Output folder: each input becomes DIR/NAME.EXT.
    #[arg(long, required = true)]
    out_dir: PathBuf,
    /// Output names, as for `develop`.
    #[arg(long, default_value = chiaro::batch::DEFAULT_NAME)]
    name: String,
    /// Develop again the inputs whose outputs exist (by default a batch skips them, so a
    /// rerun goes on where the last one stopped).
    #[arg(long)]
    overwrite: bool,
    /// Develop on a Ray cluster: its address (`auto`: the running one; `local`: a new one on
    /// this machine), through the Python package's `chiaro.ray` (`pip install
    /// ./crates/chiaro-py ray`).
    #[arg(long)]
    ray: Option<String>,
    /// The Python interpreter that has the chiaro package and Ray (default: $CHIARO_PYTHON,
    /// else python3).
    #[arg(long, requires = "ray")]
    python: Option<PathBuf>,
    /// Files per Ray task.
    #[arg(long, default_value_t = 4, requires = "ray")]
    group: usize,
    #[command(flatten)]
    options: OptionArgs,
}

/// The development options `develop` and `batch` share.
#[derive(Args)]
struct OptionArgs {
    /// jpeg, png or tiff; default from the output's extension, else jpeg.
    #[arg(long)]
    format: Option<String>,
    /// Bits per sample: 8, 16 or 32 (float TIFF). Default: 8 for JPEG and PNG, 16 for TIFF
    /// (32 with --linear).
    #[arg(long)]
    bits: Option<u8>,
    /// srgb, adobe-rgb, display-p3, rec2020, prophoto, xyz or camera.
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
    /// as-shot, auto (shades of grey), auto:grey-world, auto:grey-edge, auto:max-rgb, camera
    /// (daylight preset), daylight, cloudy, shade, tungsten, fluorescent, flash,
    /// KELVIN[,TINT], or gains:R,G,B (channel multipliers).
    #[arg(long)]
    wb: Option<String>,
    /// Exposure correction in EV, or `auto` (chosen from the scene, printed per file), or
    /// `auto+EV` / `auto-EV` (the automatic choice with a bias).
    #[arg(long, allow_hyphen_values = true, value_parser = checked(chiaro::batch::parse_exposure))]
    exposure: Option<String>,
    /// rcd-fit (default), rcd, mlri, malvar, bilinear, markesteijn or xtrans-fast (X-Trans).
    #[arg(long)]
    demosaic: Option<String>,
    /// A fast preview straight from the mosaic, no demosaicing: each 2x2 Bayer block (3x3
    /// for X-Trans) becomes one pixel, so the output is half (a third) the size.
    #[arg(long)]
    half_size: bool,
    /// Turn the picture clockwise by 90, 180 or 270 degrees (after the file's own
    /// orientation).
    #[arg(long, value_parser = parse_rotate)]
    rotate: Option<u32>,
    /// Mirror the picture: h (left-right) or v (top-bottom), after --rotate.
    #[arg(long, value_parser = ["h", "v"])]
    flip: Option<String>,
    /// Resize the output in linear light (Lanczos-3, no ringing): the long edge in pixels
    /// (2048), a box to fit in (1920x1080) or a percentage (50%). Long edge and box never
    /// enlarge. Applied after --crop.
    #[arg(long, value_parser = checked(ResizeSpec::parse))]
    resize: Option<String>,
    /// Keep only X,Y,W,H of the output, in its upright pixels (after --rotate and --flip).
    #[arg(long, value_parser = checked(chiaro::batch::parse_crop))]
    crop: Option<String>,
    /// Clipped highlights: blend (default: rebuilt from the channels that did not clip,
    /// rolling into white), clip (each channel at the sensor's white), reconstruct (each
    /// clipped channel rebuilt from the unclipped ones in the colour around the clipped
    /// areas: keeps the hue) or none (left as the white balance scales them).
    #[arg(long, value_parser = ["blend", "clip", "reconstruct", "none"])]
    highlights: Option<String>,
    /// Capture sharpening: off, or the amount of detail added (0-4; default 0.5, sigma
    /// 0.7 px, halos within 0.1 stop). Scene-linear output (--linear) is not sharpened.
    #[arg(long, value_parser = checked(chiaro::batch::parse_sharpen))]
    sharpen: Option<String>,
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
    /// Write the exact recipe used beside each output (OUTPUT.chiaro.toml), with the output
    /// options that are not part of a recipe (format, bits, --rotate, --crop, ...) in its
    /// header: `--recipe` with it and those options develops the same picture again.
    #[arg(long)]
    sidecar: bool,
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

/// A clap value parser that checks text with one of the library's parsers and keeps it.
fn checked<T: 'static>(
    parse: fn(&str) -> chiaro::Result<T>,
) -> impl Fn(&str) -> Result<String, String> + Clone + Send + Sync + 'static {
    move |s| parse(s).map(|_| s.to_string()).map_err(|e| e.to_string())
}

fn parse_rotate(s: &str) -> Result<u32, String> {
    match s {
        "90" | "180" | "270" => s.parse().map_err(|_| String::new()),
        _ => Err(format!("'{s}': rotate by 90, 180 or 270")),
    }
}

impl OptionArgs {
    /// The library's options; `overwrite` and `skip_existing` come from the command.
    fn options(&self, name: &str, overwrite: bool, skip_existing: bool) -> DevelopOptions {
        DevelopOptions {
            format: self.format.clone(),
            bits: self.bits,
            colorspace: self.colorspace.clone(),
            profile: self.profile.clone(),
            hdr: self.hdr,
            linear: self.linear,
            wb: self.wb.clone(),
            exposure: self.exposure.clone(),
            demosaic: self.demosaic.clone(),
            half_size: self.half_size,
            rotate: self.rotate,
            flip: self.flip.clone(),
            resize: self.resize.clone(),
            crop: self.crop.clone(),
            highlights: self.highlights.clone(),
            sharpen: self.sharpen.clone(),
            lens: self.lens.clone(),
            lens_db: self.lens_db.clone(),
            look: self.look.clone(),
            recipe: self.recipe.clone(),
            compression: self.compression.clone(),
            quality: Some(self.quality),
            name: Some(name.to_string()),
            overwrite,
            skip_existing,
            sync: self.sync,
            sidecar: self.sidecar,
        }
    }
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
        Command::Batch(args) => batch(*args).unwrap_or_else(|e| {
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
            .map_err(anyhow::Error::from)
            .and_then(|db| info::run(&file, json, &raw_reader(no_isolate), &db))
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
pub(crate) fn raw_reader(no_isolate: bool) -> Reader {
    let exe = std::env::current_exe().ok().filter(|_| !no_isolate);
    Reader(exe.map(|e| chiaro::raw::WorkerCommand::new(e).arg("__decode-worker")))
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create folder", dir.display()))
}

fn develop(args: DevelopArgs) -> anyhow::Result<ExitCode> {
    let inputs = expand_inputs(&args.inputs, args.recursive)?;
    if args.output.is_some() && inputs.len() > 1 {
        bail!(
            "-o names one output file; use --out-dir for {} inputs",
            inputs.len()
        );
    }
    let options = args
        .options
        .options(&args.name, args.overwrite, args.skip_existing);
    let reader = raw_reader(args.options.no_isolate);
    let job = Job::new(&options, args.output.as_deref(), reader)?;
    let outputs = match (&args.output, &args.out_dir) {
        (Some(o), _) => {
            if let Some(dir) = o.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_dir(dir)?;
            }
            vec![o.clone()]
        }
        (None, Some(dir)) => {
            let outputs = job.outputs_in(&options, &inputs, dir)?;
            create_dir(dir)?;
            outputs
        }
        (None, None) => bail!("give -o OUTPUT or --out-dir DIR"),
    };
    run_local(&job, &inputs, &outputs, args.options.jobs)
}

/// `chiaro batch`: a resumable `develop --out-dir` here, or the same on a Ray cluster.
fn batch(args: BatchArgs) -> anyhow::Result<ExitCode> {
    let inputs = expand_inputs(&args.inputs, args.recursive)?;
    let options = args
        .options
        .options(&args.name, args.overwrite, !args.overwrite);
    let job = Job::new(&options, None, raw_reader(args.options.no_isolate))?;
    let outputs = job.outputs_in(&options, &inputs, &args.out_dir)?;
    create_dir(&args.out_dir)?;
    match &args.ray {
        None => run_local(&job, &inputs, &outputs, args.options.jobs),
        Some(address) => run_on_ray(&args, address, &options, &inputs),
    }
}

/// Hands the batch to the Python package's Ray driver (`python -m chiaro.ray`): the file
/// list on its standard input, the options as JSON; its exit code is the batch's.
fn run_on_ray(
    args: &BatchArgs,
    address: &str,
    options: &DevelopOptions,
    inputs: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let python = args
        .python
        .clone()
        .or_else(|| std::env::var_os("CHIARO_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"));
    let mut cmd = std::process::Command::new(&python);
    cmd.args(["-m", "chiaro.ray", "--address", address, "--options"])
        .arg(options.to_json()?)
        .arg("--group")
        .arg(args.group.to_string())
        .arg("--out-dir")
        .arg(&args.out_dir)
        .arg("--inputs-from-stdin")
        .stdin(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("{}: cannot start Python for --ray", python.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        for i in inputs {
            let line = i
                .to_str()
                .with_context(|| format!("{}: not a UTF-8 path", i.display()))?;
            writeln!(stdin, "{line}").context("cannot give the file list to Python")?;
        }
    }
    let status = child.wait().context("the Ray driver")?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}

/// Develops the batch on this machine's cores, with progress, per-file messages, a summary
/// line, Ctrl-C and the exit code (1 when a file failed, 130 when cancelled).
fn run_local(
    job: &Job,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
    jobs: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        // A second Ctrl-C while finishing up is ignored; files in flight are abandoned
        // before their atomic rename, so no partial output is left.
        let _ = ctrlc::set_handler(move || cancel.store(true, Ordering::SeqCst));
    }
    let bar = progress_bar(inputs.len() as u64);
    let each = |r: &FileReport| {
        match &r.outcome {
            // Choices made from the image (automatic exposure, white balance).
            Outcome::Done(notes) => {
                for (stage, note) in notes {
                    bar.suspend(|| eprintln!("chiaro: {}: {stage}: {note}", r.input.display()));
                }
                bar.set_message(format!("{}", r.output.display()))
            }
            Outcome::Failed(e) => bar.suspend(|| eprintln!("chiaro: {e}")),
            Outcome::Skipped | Outcome::Cancelled => {}
        }
        bar.inc(1);
    };
    // 0 is "all cores", as no --jobs is.
    let report = job.run(inputs, outputs, jobs.unwrap_or(0), &cancel, &each)?;
    bar.finish_and_clear();
    let (skipped, stopped, failed) = (report.skipped(), report.cancelled(), report.failed());
    let cancelled = cancel.load(Ordering::SeqCst);
    eprintln!(
        "chiaro: developed {} of {} file(s), {failed} failed{}{}, in {:.2} s",
        report.done(),
        report.files.len(),
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
        report.seconds,
    );
    Ok(if cancelled {
        ExitCode::from(130)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
