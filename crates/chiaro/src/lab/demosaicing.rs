//! Demosaicing benchmark (`chiaro lab demosaic`): full-colour images are sampled through a
//! CFA, demosaiced by each method and scored against the original.
//!
//! Protocol (the one most papers use for Kodak-24, and chiaro's own tests):
//! - the image's code values (0..1) are sampled through the pattern;
//! - in the [`Domain::Linear`] domain they are sRGB-decoded first and the result encoded
//!   again, because the pipeline demosaics linear, white-balanced data;
//! - optional noise ([`NoiseProfile`]) is added to the linear mosaic: Poisson-Gaussian,
//!   approximated by a Gaussian of variance `a x + b` per channel (darktable's profiles);
//! - the result is clamped to 0..1 and rounded to the source's bit depth (8 or 16 bits);
//! - PSNR per channel, CPSNR, SSIM and CIEDE2000 are computed with `border` pixels left out
//!   on every side ([`compare`]).
//!
//! # Units
//! Scores in dB (PSNR, peak 1), SSIM 0..1, CIEDE2000 units; time in seconds, throughput in
//! megapixels per second (one call of the method over the whole image, on one thread).

use std::time::Instant;

use super::compare::{Comparison, Encoding, RgbImage, compare};
use super::rng::SplitMix;
use crate::color::transfer::Transfer;
use crate::error::{Error, Result};
use crate::raw::cfa::CfaPattern;
use crate::stages::demosaic::{DemosaicMethod, demosaic};

/// The domain the mosaic is demosaiced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// The sRGB code values as they are (the Kodak protocol).
    Srgb,
    /// Linear light: sRGB-decoded before sampling, encoded again before scoring.
    Linear,
}

impl Domain {
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "srgb" => Ok(Domain::Srgb),
            "linear" => Ok(Domain::Linear),
            _ => Err(Error::parameter(format!(
                "unknown domain '{name}' (expected srgb or linear)"
            ))),
        }
    }
}

/// A camera's measured noise at one ISO: variance `a[c] * x + b[c]` of a linear value `x`
/// (0..1 of the white level) in channel `c` (R, G, B).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NoiseProfile {
    pub name: String,
    pub iso: f64,
    pub a: [f64; 3],
    pub b: [f64; 3],
}

impl NoiseProfile {
    /// The profile `CAMERA@ISO` from darktable's `noiseprofiles.json` text: CAMERA matches
    /// `maker model` (or the model alone) case-insensitively; the profile of the nearest ISO
    /// is taken.
    pub fn find(json: &str, spec: &str) -> Result<Self> {
        let (camera, iso) = spec
            .rsplit_once('@')
            .and_then(|(c, i)| Some((c.trim(), i.trim().parse::<f64>().ok()?)))
            .filter(|(_, iso)| *iso > 0.0 && iso.is_finite())
            .ok_or_else(|| {
                Error::parameter(format!(
                    "noise '{spec}': expected CAMERA@ISO, e.g. 'NIKON D750@3200'"
                ))
            })?;
        let root: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::decode(format!("noise profiles: {e}")))?;
        let want = camera.to_ascii_lowercase();
        let mut best: Option<(f64, NoiseProfile)> = None;
        for maker in root["noiseprofiles"].as_array().into_iter().flatten() {
            let maker_name = maker["maker"].as_str().unwrap_or_default();
            for model in maker["models"].as_array().into_iter().flatten() {
                let model_name = model["model"].as_str().unwrap_or_default();
                let full = format!("{maker_name} {model_name}").to_ascii_lowercase();
                if full != want && model_name.to_ascii_lowercase() != want {
                    continue;
                }
                for p in model["profiles"].as_array().into_iter().flatten() {
                    let (Some(piso), Some(a), Some(b)) =
                        (p["iso"].as_f64(), triple(&p["a"]), triple(&p["b"]))
                    else {
                        continue;
                    };
                    let dist = (piso.ln() - iso.ln()).abs();
                    if best.as_ref().is_none_or(|(d, _)| dist < *d) {
                        let name = p["name"].as_str().unwrap_or(model_name).to_string();
                        best = Some((
                            dist,
                            NoiseProfile {
                                name,
                                iso: piso,
                                a,
                                b,
                            },
                        ));
                    }
                }
            }
        }
        best.map(|(_, p)| p).ok_or_else(|| {
            Error::parameter(format!("noise '{spec}': no profile for camera '{camera}'"))
        })
    }
}

fn triple(v: &serde_json::Value) -> Option<[f64; 3]> {
    let a = v.as_array()?;
    Some([
        a.first()?.as_f64()?,
        a.get(1)?.as_f64()?,
        a.get(2)?.as_f64()?,
    ])
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub methods: Vec<DemosaicMethod>,
    pub pattern: CfaPattern,
    pub domain: Domain,
    /// Pixels left out on every side before scoring.
    pub border: usize,
    pub noise: Option<NoiseProfile>,
    /// Seed of the noise (the same noise for every method of an image).
    pub seed: u64,
}

/// One method's figures on one image (or, in [`Report::means`], their means over the set).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Score {
    pub method: String,
    pub cpsnr: f64,
    pub psnr: [f64; 3],
    pub ssim: f64,
    pub de2000_mean: f64,
    pub de2000_p95: f64,
    pub seconds: f64,
    pub mpix_per_s: f64,
}

/// The figures of one image, and its results for the report's crops.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageResult {
    pub name: String,
    pub width: usize,
    pub height: usize,
    pub scores: Vec<Score>,
    /// Top-left corner and size of the crop the HTML report shows: the window where
    /// chiaro's methods disagree most with the truth.
    pub crop: [usize; 3],
    /// The truth, kept to score peers against.
    #[serde(skip)]
    pub truth: RgbImage,
    /// The crop of the truth and of each method's result, as scored, in `scores` order.
    #[serde(skip)]
    pub crops: Vec<RgbImage>,
}

/// A whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub pattern: String,
    pub domain: Domain,
    pub border: usize,
    pub noise: Option<NoiseProfile>,
    pub images: Vec<ImageResult>,
    /// Mean of each figure over the images, per method (time and throughput: totals).
    pub means: Vec<Score>,
}

/// Side of the report's crops, in pixels.
const CROP: usize = 64;

/// The mosaic every method of an image is given: the truth's code values sampled through
/// the pattern, in the options' domain, with their noise. Noise is seeded by `name`.
pub fn mosaic_of(name: &str, truth: &RgbImage, opts: &Options) -> Vec<f32> {
    let w = truth.width;
    let linear = opts.domain == Domain::Linear;
    let mut cfa: Vec<f32> = (0..w * truth.height)
        .map(|i| truth.data[3 * i + opts.pattern.color(i / w, i % w) as usize])
        .collect();
    if linear || opts.noise.is_some() {
        cfa.iter_mut().for_each(|v| *v = Transfer::Srgb.decode(*v));
    }
    if let Some(noise) = &opts.noise {
        add_noise(&mut cfa, w, &opts.pattern, noise, opts.seed ^ hash(name));
        if !linear {
            cfa.iter_mut()
                .for_each(|v| *v = Transfer::Srgb.encode(v.clamp(0.0, 1.0)));
        }
    }
    cfa
}

/// Scores a demosaiced result `out` (interleaved RGB in the options' domain) of `truth`:
/// encoded back to sRGB when demosaiced in linear light, clamped to 0..1, rounded to the
/// truth's bit depth (8 or 16; float truths are not rounded), compared inside the border.
/// Returns the score and the result as scored.
pub fn score(
    method: &str,
    truth: &RgbImage,
    mut out: Vec<f32>,
    seconds: f64,
    opts: &Options,
) -> Result<(Score, RgbImage)> {
    let (w, h) = (truth.width, truth.height);
    if out.len() != 3 * w * h {
        return Err(Error::parameter(format!(
            "{method}: the result has {} samples, not {}",
            out.len(),
            3 * w * h
        )));
    }
    let scale = match truth.bits {
        8 => Some(255.0f32),
        16 => Some(65535.0),
        _ => None,
    };
    let linear = opts.domain == Domain::Linear;
    for v in &mut out {
        let mut x = if linear {
            Transfer::Srgb.encode(v.clamp(0.0, 1.0))
        } else {
            *v
        };
        x = x.clamp(0.0, 1.0);
        if let Some(s) = scale {
            x = (x * s).round() / s;
        }
        *v = x;
    }
    let result = RgbImage {
        width: w,
        height: h,
        data: out,
        bits: truth.bits,
    };
    let c: Comparison = compare(
        &cropped(truth, opts.border),
        &cropped(&result, opts.border),
        Encoding::Srgb,
    )?;
    let score = Score {
        method: method.to_string(),
        cpsnr: c.cpsnr,
        psnr: c.psnr,
        ssim: c.ssim_mean,
        de2000_mean: c.de2000_mean,
        de2000_p95: c.de2000_p95,
        seconds,
        mpix_per_s: (w * h) as f64 / 1e6 / seconds.max(1e-9),
    };
    Ok((score, result))
}

/// Scores every method of `opts` on one image of code values 0..1.
pub fn evaluate_image(name: &str, truth: RgbImage, opts: &Options) -> Result<ImageResult> {
    let (w, h) = (truth.width, truth.height);
    let least = opts.border.saturating_mul(2).saturating_add(8);
    if w <= least || h <= least {
        return Err(Error::parameter(format!(
            "{name}: {w}x{h} is too small for a {} pixel border",
            opts.border
        )));
    }
    let cfa = mosaic_of(name, &truth, opts);
    let mut scores = Vec::new();
    let mut results = Vec::new();
    for &method in &opts.methods {
        let start = Instant::now();
        let out = demosaic(method, &cfa, w, h, &opts.pattern)?;
        let seconds = start.elapsed().as_secs_f64();
        let (s, r) = score(method.name(), &truth, out, seconds, opts)?;
        scores.push(s);
        results.push(r);
    }
    let crop = worst_window(&truth, &results, opts.border);
    let crops = std::iter::once(&truth)
        .chain(&results)
        .map(|r| crop_of(r, crop))
        .collect();
    Ok(ImageResult {
        name: name.to_string(),
        width: w,
        height: h,
        scores,
        crop,
        truth,
        crops,
    })
}

/// Puts the per-image results together: means of the quality figures, total time.
pub fn report(images: Vec<ImageResult>, opts: &Options) -> Report {
    let pixels: f64 = images.iter().map(|i| (i.width * i.height) as f64).sum();
    let means = opts
        .methods
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let scores: Vec<&Score> = images.iter().map(|img| &img.scores[k]).collect();
            mean_score(m.name(), &scores, pixels)
        })
        .collect();
    Report {
        pattern: opts.pattern.name(),
        domain: opts.domain,
        border: opts.border,
        noise: opts.noise.clone(),
        images,
        means,
    }
}

/// Means of the quality figures over a set, total time and throughput over `pixels`.
fn mean_score(method: &str, scores: &[&Score], pixels: f64) -> Score {
    let n = scores.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Score) -> f64| scores.iter().map(|s| f(s)).sum::<f64>() / n;
    let seconds: f64 = scores.iter().map(|s| s.seconds).sum();
    Score {
        method: method.to_string(),
        cpsnr: mean(&|s| s.cpsnr),
        psnr: [0, 1, 2].map(|c| mean(&|s| s.psnr[c])),
        ssim: mean(&|s| s.ssim),
        de2000_mean: mean(&|s| s.de2000_mean),
        de2000_p95: mean(&|s| s.de2000_p95),
        seconds,
        mpix_per_s: pixels / 1e6 / seconds.max(1e-9),
    }
}

/// The `[x, y, size]` square of an image.
fn crop_of(img: &RgbImage, [x0, y0, size]: [usize; 3]) -> RgbImage {
    sub_image(img, x0, y0, size, size)
}

/// The `w` x `h` rectangle of an image from (`x0`, `y0`).
fn sub_image(img: &RgbImage, x0: usize, y0: usize, w: usize, h: usize) -> RgbImage {
    let mut data = Vec::with_capacity(3 * w * h);
    for y in y0..y0 + h {
        let row = 3 * (y * img.width + x0);
        data.extend_from_slice(&img.data[row..row + 3 * w]);
    }
    RgbImage {
        width: w,
        height: h,
        data,
        bits: img.bits,
    }
}

impl Report {
    /// The table `chiaro lab demosaic` prints: CPSNR per image and method, then the means of
    /// every figure.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut t = String::new();
        let _ = writeln!(
            t,
            "CFA {}, {} domain, {} px border{}: CPSNR dB",
            self.pattern,
            match self.domain {
                Domain::Srgb => "sRGB",
                Domain::Linear => "linear",
            },
            self.border,
            self.noise
                .as_ref()
                .map(|n| format!(", noise {}", n.name))
                .unwrap_or_default()
        );
        let _ = write!(t, "{:<20}", "image");
        for s in &self.means {
            let _ = write!(t, " {:>12}", s.method);
        }
        t.push('\n');
        for img in &self.images {
            let _ = write!(t, "{:<20}", truncate(&img.name, 20));
            for s in &img.scores {
                let _ = write!(t, " {:>12.2}", s.cpsnr);
            }
            t.push('\n');
        }
        let rows: [(&str, &Figure); 6] = [
            ("mean CPSNR", &|s| format!("{:.2}", s.cpsnr)),
            ("mean PSNR R/G/B", &|s| {
                format!("{:.1}/{:.1}/{:.1}", s.psnr[0], s.psnr[1], s.psnr[2])
            }),
            ("mean SSIM", &|s| format!("{:.4}", s.ssim)),
            ("mean dE2000", &|s| format!("{:.3}", s.de2000_mean)),
            ("time s", &|s| format!("{:.3}", s.seconds)),
            ("MP/s", &|s| format!("{:.1}", s.mpix_per_s)),
        ];
        for (label, f) in rows {
            let _ = write!(t, "{label:<20}");
            for s in &self.means {
                let _ = write!(t, " {:>12}", f(s));
            }
            t.push('\n');
        }
        t
    }
}

/// How a table row shows a score.
type Figure = dyn Fn(&Score) -> String;

fn truncate(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// The image without `border` pixels on every side.
fn cropped(img: &RgbImage, border: usize) -> RgbImage {
    let (w, h) = (img.width - 2 * border, img.height - 2 * border);
    sub_image(img, border, border, w, h)
}

/// The [`CROP`]-sized window (inside the border) with the largest squared error summed over
/// all methods: where zipper, false colour and maze show.
fn worst_window(truth: &RgbImage, results: &[RgbImage], border: usize) -> [usize; 3] {
    let (w, h) = (truth.width, truth.height);
    let size = CROP.min(w - 2 * border).min(h - 2 * border);
    let step = (size / 4).max(1);
    let mut best = (f64::MIN, border, border);
    let mut y = border;
    while y + size <= h - border {
        let mut x = border;
        while x + size <= w - border {
            let mut e = 0.0f64;
            for r in results {
                for yy in (y..y + size).step_by(2) {
                    for xx in (x..x + size).step_by(2) {
                        let i = 3 * (yy * w + xx);
                        for c in 0..3 {
                            e += f64::from(r.data[i + c] - truth.data[i + c]).powi(2);
                        }
                    }
                }
            }
            if e > best.0 {
                best = (e, x, y);
            }
            x += step;
        }
        y += step;
    }
    [best.1, best.2, size]
}

/// Adds Gaussian noise of variance `a x + b` to the linear mosaic `cfa` (row length `w`).
fn add_noise(cfa: &mut [f32], w: usize, pattern: &CfaPattern, p: &NoiseProfile, seed: u64) {
    let mut rng = SplitMix(seed);
    for (i, v) in cfa.iter_mut().enumerate() {
        let c = pattern.color(i / w, i % w) as usize;
        let x = f64::from(*v).max(0.0);
        let sd = (p.a[c] * x + p.b[c]).max(0.0).sqrt();
        *v = (f64::from(*v) + sd * rng.normal()) as f32;
    }
}

/// FNV-1a of a name, so each image gets its own noise.
fn hash(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

/// Enlargement of the report's crops (nearest neighbour, so single-pixel errors stay
/// visible).
const ZOOM: usize = 4;

impl Report {
    /// Adds a peer's results (a method run outside chiaro on the same mosaics), one entry
    /// per image in the report's order. A peer must have run on every image (`Some`);
    /// otherwise, or when a result does not fit its image, it is an error and the report is
    /// left as it was.
    pub fn add_peer(
        &mut self,
        method: &str,
        results: Vec<Option<(Vec<f32>, f64)>>,
        opts: &Options,
    ) -> Result<()> {
        if results.len() != self.images.len() || results.iter().any(Option::is_none) {
            return Err(Error::parameter(format!(
                "peer {method}: results missing for some images"
            )));
        }
        let mut scored = Vec::new();
        for (img, r) in self.images.iter().zip(results.into_iter().flatten()) {
            let (out, seconds) = r;
            let (s, result) = score(method, &img.truth, out, seconds, opts)?;
            scored.push((s, crop_of(&result, img.crop)));
        }
        let pixels: f64 = self
            .images
            .iter()
            .map(|i| (i.width * i.height) as f64)
            .sum();
        self.means.push(mean_score(
            method,
            &scored.iter().map(|(s, _)| s).collect::<Vec<_>>(),
            pixels,
        ));
        for (img, (s, crop)) in self.images.iter_mut().zip(scored) {
            img.scores.push(s);
            img.crops.push(crop);
        }
        Ok(())
    }

    /// A self-contained HTML page: the table of means, then per image its scores and the crop
    /// where chiaro's methods err most, truth first, every method beside it, enlarged.
    pub fn html(&self) -> String {
        use std::fmt::Write;
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut h = String::from(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>chiaro lab demosaic</title>\
             <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
             td,th{padding:2px 8px;text-align:right}th{background:#eee}\
             figure{display:inline-block;margin:4px;text-align:center}\
             img{image-rendering:pixelated}</style></head><body>\n",
        );
        let _ = writeln!(
            h,
            "<h1>Demosaicing</h1><p>CFA {}, {} domain, {} px border{}.</p>",
            esc(&self.pattern),
            match self.domain {
                Domain::Srgb => "sRGB",
                Domain::Linear => "linear",
            },
            self.border,
            self.noise
                .as_ref()
                .map(|n| format!(", noise {}", esc(&n.name)))
                .unwrap_or_default()
        );
        h.push_str("<table><tr><th>method</th><th>CPSNR dB</th><th>PSNR R/G/B</th><th>SSIM</th><th>dE2000</th><th>dE2000 p95</th><th>time s</th><th>MP/s</th></tr>\n");
        for s in &self.means {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{:.2}</td><td>{:.2} / {:.2} / {:.2}</td><td>{:.4}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.1}</td></tr>",
                esc(&s.method),
                s.cpsnr,
                s.psnr[0],
                s.psnr[1],
                s.psnr[2],
                s.ssim,
                s.de2000_mean,
                s.de2000_p95,
                s.seconds,
                s.mpix_per_s
            );
        }
        h.push_str("</table>\n");
        for img in &self.images {
            let [x, y, size] = img.crop;
            let _ = writeln!(
                h,
                "<h2>{}</h2><p>{}x{}; crop at ({x}, {y}), {size} px, x{ZOOM}</p><div>",
                esc(&img.name),
                img.width,
                img.height
            );
            let mut figure = |label: String, rgb: &RgbImage| {
                let uri = zoomed_png(rgb).map(|png| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(png)
                });
                if let Ok(b64) = uri {
                    let _ = writeln!(
                        h,
                        "<figure><img width=\"{0}\" height=\"{0}\" src=\"data:image/png;base64,{b64}\"><figcaption>{label}</figcaption></figure>",
                        size * ZOOM
                    );
                }
            };
            figure("truth".to_string(), &img.crops[0]);
            for (s, r) in img.scores.iter().zip(&img.crops[1..]) {
                figure(format!("{} {:.2} dB", esc(&s.method), s.cpsnr), r);
            }
            h.push_str("</div>\n");
        }
        h.push_str("</body></html>\n");
        h
    }
}

/// An image enlarged [`ZOOM`] times, as an 8-bit PNG.
fn zoomed_png(img: &RgbImage) -> Result<Vec<u8>> {
    let (w, h) = (img.width * ZOOM, img.height * ZOOM);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let i = 3 * ((y / ZOOM) * img.width + x / ZOOM);
            rgb.extend(
                img.data[i..i + 3]
                    .iter()
                    .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8),
            );
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let err = |e: png::EncodingError| Error::encode(format!("PNG: {e}"));
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(&rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}
