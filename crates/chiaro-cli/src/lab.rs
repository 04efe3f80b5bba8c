//! `chiaro lab`: image-quality measurements.

use std::path::{Path, PathBuf};

use chiaro::Limits;
use chiaro::color::transfer::Transfer;
use chiaro::lab::compare::{Encoding, compare, read_image};
use chiaro::lab::demosaicing::{self, Domain, NoiseProfile};
use chiaro::raw::cfa::CfaPattern;
use chiaro::stages::demosaic::DemosaicMethod;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum LabCommand {
    /// Compare image B with reference A (PNG or TIFF of the same size): PSNR and SSIM per
    /// channel, colour PSNR, CIEDE2000 mean and 95th percentile.
    Compare {
        a: PathBuf,
        b: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The values are linear light (a `--linear` float TIFF), not sRGB-encoded.
        #[arg(long)]
        linear: bool,
    },
    /// Write chiaro's synthetic saturated validation set (chirps, star, gratings, petals) as
    /// 16-bit sRGB PNGs into DIR, for `lab demosaic` and for peers.
    SaturatedSet {
        dir: PathBuf,
        /// Side of each image in pixels.
        #[arg(long, default_value_t = 256)]
        size: usize,
    },
    /// Demosaicing benchmark: sample each full-colour image (PNG, TIFF; folders are searched)
    /// through a CFA, demosaic it with every method and score the result against it.
    Demosaic {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Comma-separated methods (default: every chiaro method for the pattern). Peers run
        /// beside them when installed: rawpy (LibRaw) and colour-demosaicing.
        #[arg(long, value_delimiter = ',')]
        methods: Option<Vec<String>>,
        /// Pixels left out on every side before scoring.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(0..=4096))]
        crop: u16,
        /// rggb, bggr, grbg, gbrg or xtrans.
        #[arg(long, default_value = "rggb")]
        cfa: String,
        /// srgb (the code values as they are) or linear (sRGB-decoded before sampling).
        #[arg(long, default_value = "srgb")]
        domain: String,
        /// Add a camera's measured noise: CAMERA@ISO, e.g. 'NIKON D750@3200'.
        #[arg(long)]
        noise: Option<String>,
        /// darktable's noiseprofiles.json (default: $CHIARO_NOISE_PROFILES, else
        /// ../shared/data/calibration/noiseprofiles.json).
        #[arg(long)]
        noise_profiles: Option<PathBuf>,
        /// Skip the peers even when they are installed.
        #[arg(long)]
        no_peers: bool,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
        /// Also write an HTML report with crops of every method side by side.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Automatic white balance: every estimator's angular error (median, mean, worst 25 %)
    /// on spectral renders with exact truth: Mondrians of measured reflectances seen through
    /// measured camera sensitivities under CIE and Planckian lights.
    Awb {
        /// Render synthetic scenes (the only source so far).
        #[arg(long, required = true)]
        synthetic: bool,
        /// Number of scenes.
        #[arg(long, default_value_t = 500)]
        scenes: usize,
        /// Seed of the scenes' draws (camera, light, patches, noise).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The colour data folder (rawtoaces spectra, CIE illuminants).
        #[arg(long, default_value = "../shared/data/color")]
        color_data: PathBuf,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// Prints JSON text (`serde_json::to_string_pretty`'s result) on stdout.
fn print_json(text: serde_json::Result<String>) -> Result<(), chiaro::Error> {
    let text = text.map_err(|e| chiaro::Error::parameter(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// `chiaro lab ...`.
pub fn run(command: LabCommand) -> Result<(), chiaro::Error> {
    match command {
        LabCommand::Compare { a, b, json, linear } => {
            let limits = Limits::default();
            let (ra, rb) = (read_image(&a, &limits)?, read_image(&b, &limits)?);
            let encoding = if linear {
                Encoding::Linear
            } else {
                Encoding::Srgb
            };
            let r = compare(&ra, &rb, encoding).map_err(|e| e.with_path(&b))?;
            if json {
                return print_json(serde_json::to_string_pretty(&r));
            }
            println!(
                "{} against {}: {}x{}",
                b.display(),
                a.display(),
                r.width,
                r.height
            );
            println!("{:<8} {:>10} {:>8}", "channel", "PSNR dB", "SSIM");
            for (c, name) in ["R", "G", "B"].iter().enumerate() {
                println!("{name:<8} {:>10.2} {:>8.4}", r.psnr[c], r.ssim[c]);
            }
            println!("{:<8} {:>10.2} {:>8.4}", "all", r.cpsnr, r.ssim_mean);
            println!(
                "CIEDE2000 mean {:.3}, 95th percentile {:.3}; largest sample difference {:.4}",
                r.de2000_mean, r.de2000_p95, r.max_abs
            );
            Ok(())
        }
        LabCommand::Awb {
            synthetic: _,
            scenes,
            seed,
            color_data,
            json,
        } => {
            let spectra = chiaro::lab::awb::Spectra::load(&color_data)?;
            let rows = chiaro::lab::awb::run_synthetic(&spectra, scenes.max(1), seed);
            if json {
                return print_json(serde_json::to_string_pretty(&rows));
            }
            println!(
                "{scenes} synthetic scenes ({} cameras, {} lights, {} reflectances), seed {seed}; \
                 angular error in degrees",
                spectra.cameras.len(),
                spectra.lights.len(),
                spectra.reflectances.len()
            );
            println!(
                "{:<16} {:>8} {:>8} {:>10} {:>8} {:>12}",
                "method", "median", "mean", "worst 25%", "failed", "us/estimate"
            );
            for r in rows {
                println!(
                    "{:<16} {:>8.2} {:>8.2} {:>10.2} {:>8} {:>12.1}",
                    r.method, r.median, r.mean, r.worst25, r.failed, r.micros
                );
            }
            Ok(())
        }
        LabCommand::SaturatedSet { dir, size } => {
            std::fs::create_dir_all(&dir).map_err(|e| chiaro::Error::io(e).with_path(&dir))?;
            let opts = chiaro::io::EncodeOptions {
                format: chiaro::io::Format::Png,
                quality: 100,
                icc_profile: Vec::new(),
                exif: Default::default(),
                software: format!("chiaro {}", env!("CARGO_PKG_VERSION")),
                compression: None,
            };
            for img in chiaro::lab::saturated::images(size.clamp(16, 4096)) {
                let pixels = img
                    .rgb
                    .iter()
                    .map(|&v| (Transfer::Srgb.encode(v.clamp(0.0, 1.0)) * 65535.0).round() as u16)
                    .collect();
                let out = chiaro::io::OutputImage {
                    width: img.width,
                    height: img.height,
                    pixels: chiaro::io::Pixels::U16(pixels),
                };
                let path = dir.join(format!("{}.png", img.name));
                let place = chiaro::io::Placement {
                    overwrite: true,
                    durable: false,
                };
                chiaro::io::write_image(&path, &out, &opts, place)
                    .map_err(|e| e.with_path(&path))?;
                println!("{}", path.display());
            }
            Ok(())
        }
        LabCommand::Demosaic {
            inputs,
            methods,
            crop,
            cfa,
            domain,
            noise,
            noise_profiles,
            no_peers,
            json,
            html,
        } => {
            let opts = demosaic_options(methods, crop, &cfa, &domain, noise, noise_profiles)?;
            let files = image_files(&inputs)?;
            let limits = Limits::default();
            let mut images = Vec::new();
            let progress = (!json).then(|| crate::progress_bar(files.len() as u64));
            for path in &files {
                let truth = read_image(path, &limits)?;
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                images.push(
                    demosaicing::evaluate_image(&name, truth, &opts)
                        .map_err(|e| e.with_path(path))?,
                );
                if let Some(p) = &progress {
                    p.inc(1);
                }
            }
            if let Some(p) = progress {
                p.finish_and_clear();
            }
            let mut report = demosaicing::report(images, &opts);
            if !no_peers {
                run_peers(&mut report, &opts, json);
            }
            if let Some(path) = &html {
                let place = chiaro::io::Placement {
                    overwrite: true,
                    durable: false,
                };
                chiaro::io::write_atomic(path, report.html().as_bytes(), place)
                    .map_err(|e| e.with_path(path))?;
            }
            if json {
                print_json(serde_json::to_string_pretty(&report))?;
            } else {
                print!("{}", report.table());
            }
            Ok(())
        }
    }
}

/// The benchmark's options from the command line.
fn demosaic_options(
    methods: Option<Vec<String>>,
    border: u16,
    cfa: &str,
    domain: &str,
    noise: Option<String>,
    noise_profiles: Option<PathBuf>,
) -> Result<demosaicing::Options, chiaro::Error> {
    let pattern = match cfa.to_ascii_lowercase().as_str() {
        "xtrans" | "x-trans" => CfaPattern::xtrans(),
        other => CfaPattern::bayer(&other.to_ascii_uppercase())?,
    };
    let methods = match methods {
        Some(names) => {
            let methods = names
                .iter()
                .map(|n| DemosaicMethod::from_name(n))
                .collect::<Result<Vec<_>, _>>()?;
            // A method that does not fit the pattern would run as its substitute under its
            // own name.
            if let Some(m) = methods.iter().find(|m| m.for_pattern(&pattern) != **m) {
                return Err(chiaro::Error::parameter(format!(
                    "{m} does not demosaic {} mosaics",
                    pattern.name()
                )));
            }
            methods
        }
        None => DemosaicMethod::ALL
            .into_iter()
            .filter(|m| m.for_pattern(&pattern) == *m)
            .collect(),
    };
    let noise = match noise {
        None => None,
        Some(spec) => {
            let path = noise_profiles
                .or_else(|| std::env::var_os("CHIARO_NOISE_PROFILES").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("../shared/data/calibration/noiseprofiles.json"));
            let text = std::fs::read_to_string(&path).map_err(|e| {
                chiaro::Error::parameter(format!(
                    "{}: cannot read noise profiles ({e}); give --noise-profiles",
                    path.display()
                ))
            })?;
            Some(NoiseProfile::find(&text, &spec).map_err(|e| e.with_path(&path))?)
        }
    };
    Ok(demosaicing::Options {
        methods,
        pattern,
        domain: Domain::from_name(domain)?,
        border: usize::from(border),
        noise,
        seed: 1,
    })
}

/// The PNG and TIFF files named, folders searched one level deep, sorted by name.
fn image_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, chiaro::Error> {
    let is_image = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "tif" | "tiff"))
    };
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input)
                .map_err(|e| chiaro::Error::parameter(format!("{}: {e}", input.display())))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    if files.is_empty() {
        return Err(chiaro::Error::parameter("no PNG or TIFF images found"));
    }
    Ok(files)
}

/// The peers' script (LibRaw through rawpy, colour-demosaicing).
const PEERS_PY: &str = include_str!("lab_peers.py");

/// Runs LibRaw (rawpy) and colour-demosaicing on the report's mosaics when they are
/// installed and adds their scores; says on stderr what was skipped and why.
fn run_peers(report: &mut demosaicing::Report, opts: &demosaicing::Options, quiet: bool) {
    let note = |why: &str| {
        if !quiet {
            eprintln!("peers: {why}");
        }
    };
    match peers(report, opts) {
        Ok(skipped) => skipped.iter().for_each(|s| note(s)),
        Err(why) => note(&format!("skipped ({why})")),
    }
}

fn peers(
    report: &mut demosaicing::Report,
    opts: &demosaicing::Options,
) -> anyhow::Result<Vec<String>> {
    use anyhow::Context;
    let dir = tempfile::tempdir().context("temporary folder")?;
    let mut images = Vec::new();
    for (k, img) in report.images.iter().enumerate() {
        let cfa = demosaicing::mosaic_of(&img.name, &img.truth, opts);
        let file = format!("{k}.npy");
        write_npy(&dir.path().join(&file), &cfa, &[img.height, img.width])?;
        images.push(serde_json::json!({"mosaic": file, "width": img.width, "height": img.height}));
    }
    let job = serde_json::json!({"pattern": opts.pattern.name(), "images": images});
    let job_path = dir.path().join("job.json");
    std::fs::write(&job_path, job.to_string())?;
    let script = dir.path().join("lab_peers.py");
    std::fs::write(&script, PEERS_PY)?;
    // `$CHIARO_PYTHON`, else `.venv/bin/python` when there is one (the test script's), else
    // `python3`.
    let python = std::env::var_os("CHIARO_PYTHON")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(".venv/bin/python")).filter(|p| p.exists()))
        .unwrap_or_else(|| PathBuf::from("python3"));
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(&job_path)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no message");
        anyhow::bail!("{} failed: {last}", python.display());
    }
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json"))?)?;
    let mut skipped: Vec<String> = results["skipped"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    if let Some(methods) = results["methods"].as_object() {
        for (name, runs) in methods {
            let mut found = Vec::new();
            for (img, run) in report
                .images
                .iter()
                .zip(runs.as_array().into_iter().flatten())
            {
                let Some(file) = run["result"].as_str() else {
                    found.push(None);
                    continue;
                };
                match read_npy(&dir.path().join(file), 3 * img.width * img.height) {
                    Ok(data) => found.push(Some((data, run["seconds"].as_f64().unwrap_or(0.0)))),
                    Err(e) => {
                        skipped.push(format!("{name} on {}: {e}", img.name));
                        found.push(None);
                    }
                }
            }
            if let Err(e) = report.add_peer(name, found, opts) {
                skipped.push(e.to_string());
            }
        }
    }
    Ok(skipped)
}

/// A little-endian float32 `.npy` file (format version 1.0, C order).
fn write_npy(path: &Path, data: &[f32], shape: &[usize]) -> std::io::Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes)
}

/// The samples of a little-endian float32 `.npy` file of `len` samples (as `write_npy` and
/// numpy write them for a C-ordered `<f4` array).
fn read_npy(path: &Path, len: usize) -> anyhow::Result<Vec<f32>> {
    let bytes = std::fs::read(path)?;
    anyhow::ensure!(
        bytes.starts_with(b"\x93NUMPY") && bytes.len() >= 10,
        "{}: not a .npy file",
        path.display()
    );
    let (major, hl) = (bytes[6], &bytes[8..]);
    let (header_len, start) = if major == 1 {
        (usize::from(u16::from_le_bytes([hl[0], hl[1]])), 10)
    } else {
        anyhow::ensure!(bytes.len() >= 12, "{}: truncated", path.display());
        (
            u32::from_le_bytes([hl[0], hl[1], hl[2], hl[3]]) as usize,
            12,
        )
    };
    let header = String::from_utf8_lossy(bytes.get(start..start + header_len).unwrap_or_default());
    anyhow::ensure!(
        header.contains("'<f4'") && header.contains("'fortran_order': False"),
        "{}: expected little-endian float32 in C order, got {header}",
        path.display()
    );
    let data = &bytes[(start + header_len).min(bytes.len())..];
    anyhow::ensure!(
        data.len() == 4 * len,
        "{}: {} bytes of samples, expected {}",
        path.display(),
        data.len(),
        4 * len
    );
    Ok(data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}
