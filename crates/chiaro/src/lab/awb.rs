//! `chiaro lab awb --synthetic`: automatic white balance measured on spectral renders with
//! exact truth.
//!
//! A scene is a Mondrian of 8 x 6 patches (8 x 8 statistics pixels each, 64 x 48 in all, the
//! grid the estimators read) of measured reflectance spectra, each patch lit at its own
//! strength, rendered through a camera's measured spectral sensitivities under a light's
//! spectrum: camera RGB = sum over wavelength of reflectance x light x sensitivity (380-780
//! nm, 5 nm steps). The truth is the camera's response to a perfect white under the light.
//! Error: the angle between the estimated and the true camera RGB of the light (the
//! recovery angular error of colour constancy papers).
//!
//! Data (`../shared/data/color/`): the 190 reflectances and 10 camera sensitivities of
//! rawtoaces, the CIE illuminant spectra (A, D50-D75, FL1-FL12, LED-*), plus Planckian
//! radiators from 2000 to 12000 K.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::lab::rng::SplitMix;
use crate::pipeline::stage::Proxy;
use crate::stages::awb::{AwbMethod, angular_error};

/// Samples from 380 to 780 nm in 5 nm steps.
const BANDS: usize = 81;

/// Spectra on the common 380-780 nm, 5 nm grid.
pub struct Spectra {
    /// (camera, R G B sensitivity per band).
    pub cameras: Vec<(String, Vec<[f64; 3]>)>,
    pub reflectances: Vec<Vec<f64>>,
    /// (illuminant, power per band).
    pub lights: Vec<(String, Vec<f64>)>,
}

fn bad(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::parameter(format!("spectral data: {why}")).with_path(path)
}

/// The `spectral_data.data.main` table of a rawtoaces JSON file: per band (380, 385, ...,
/// 780 nm) its row of values.
fn rawtoaces_table(path: &Path) -> Result<Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(e).with_path(path))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(path, e))?;
    let main = v["spectral_data"]["data"]["main"]
        .as_object()
        .ok_or_else(|| bad(path, "no spectral_data.data.main table"))?;
    (0..BANDS)
        .map(|i| {
            let key = (380 + 5 * i).to_string();
            let row = main
                .get(&key)
                .and_then(|r| r.as_array())
                .ok_or_else(|| bad(path, format!("no {key} nm row")))?;
            row.iter()
                .map(|x| {
                    x.as_f64()
                        .ok_or_else(|| bad(path, "a value is not a number"))
                })
                .collect()
        })
        .collect()
}

/// Planck's law, relative power at `nm` for `kelvin` (the constant factor dropped).
fn planck(nm: f64, kelvin: f64) -> f64 {
    const C2: f64 = 1.438_776_877e-2; // second radiation constant, m K
    let m = nm * 1e-9;
    m.powi(-5) / ((C2 / (m * kelvin)).exp() - 1.0)
}

impl Spectra {
    /// Reads the spectra from `color_dir` (`../shared/data/color`).
    pub fn load(color_dir: &Path) -> Result<Spectra> {
        let cam_dir = color_dir.join("rawtoaces/camera");
        let mut names: Vec<_> = std::fs::read_dir(&cam_dir)
            .map_err(|e| Error::io(e).with_path(&cam_dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        let cameras = names
            .iter()
            .map(|p| {
                let t = rawtoaces_table(p)?;
                let rgb = t
                    .iter()
                    .map(|r| match r[..] {
                        [a, b, c] => Ok([a, b, c]),
                        _ => Err(bad(p, "a camera row is not R, G, B")),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let name = p.file_stem().map_or(String::new(), |s| {
                    s.to_string_lossy().trim_end_matches("_380_780_5").into()
                });
                Ok((name, rgb))
            })
            .collect::<Result<Vec<_>>>()?;
        let training = color_dir.join("rawtoaces/training/training_spectral.json");
        let t = rawtoaces_table(&training)?;
        let reflectances = (0..t[0].len())
            .map(|k| {
                t.iter()
                    .map(|row| row.get(k).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect();
        let csv_path = color_dir.join("illuminants_spd_CIE.csv");
        let csv =
            std::fs::read_to_string(&csv_path).map_err(|e| Error::io(e).with_path(&csv_path))?;
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let rows: Vec<Vec<f64>> = lines
            .map(|l| {
                l.split(',')
                    .map(|v| v.trim().parse().unwrap_or(f64::NAN))
                    .collect()
            })
            .filter(|r: &Vec<f64>| {
                let nm = r[0];
                (380.0..=780.0).contains(&nm) && (nm as usize) % 5 == 0
            })
            .collect();
        if rows.len() != BANDS || cameras.is_empty() {
            return Err(bad(
                &csv_path,
                "expected 380-780 nm in 5 nm steps and cameras",
            ));
        }
        // E is flat (no real light); B and C are obsolete filtered tungsten.
        let mut lights: Vec<(String, Vec<f64>)> = header
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, n)| !matches!(**n, "E" | "B" | "C"))
            .map(|(i, n)| (n.to_string(), rows.iter().map(|r| r[i]).collect()))
            .collect();
        for k in (2000..=12000).step_by(500) {
            let spd = (0..BANDS)
                .map(|i| planck(380.0 + 5.0 * i as f64, f64::from(k)))
                .collect();
            lights.push((format!("Planck {k} K"), spd));
        }
        Ok(Spectra {
            cameras,
            reflectances,
            lights,
        })
    }
}

/// The camera RGB of `reflectance` under `light`.
fn render(reflectance: &[f64], light: &[f64], camera: &[[f64; 3]]) -> [f64; 3] {
    let mut rgb = [0.0; 3];
    for i in 0..BANDS {
        for c in 0..3 {
            rgb[c] += reflectance[i] * light[i] * camera[i][c];
        }
    }
    rgb
}

/// One synthetic scene: its statistics grid and the true camera RGB of the light.
pub struct Scene {
    pub proxy: Proxy,
    pub truth: [f64; 3],
    pub camera: usize,
    pub light: usize,
}

/// A Mondrian of `reflectances` (indices drawn by `rng`) under light `light` seen by camera
/// `camera`, exposed so its brightest sample is 0.9, with a little sensor noise.
pub fn scene(s: &Spectra, camera: usize, light: usize, rng: &mut SplitMix) -> Scene {
    let (cols, rows, cell) = (8, 6, 8);
    let (w, h) = (cols * cell, rows * cell);
    let cam = &s.cameras[camera].1;
    let spd = &s.lights[light].1;
    let patches: Vec<[f64; 3]> = (0..cols * rows)
        .map(|_| {
            let r = &s.reflectances[(rng.next_u64() % s.reflectances.len() as u64) as usize];
            let strength = 0.15 + 0.85 * rng.uniform();
            render(r, spd, cam).map(|v| v * strength)
        })
        .collect();
    let top = patches.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    let k = if top > 0.0 { 0.9 / top } else { 1.0 };
    let mut rgb = Vec::with_capacity(3 * w * h);
    for y in 0..h {
        for x in 0..w {
            let p = patches[(y / cell) * cols + x / cell];
            // Shot-like noise, 0.3 % at full scale.
            rgb.extend(p.map(|v| (v * k + 0.003 * (v * k).sqrt() * rng.normal()).max(0.0) as f32));
        }
    }
    let peak = rgb
        .chunks_exact(3)
        .map(|p| p[0].max(p[1]).max(p[2]))
        .collect();
    Scene {
        proxy: Proxy {
            width: w,
            height: h,
            scale: 1,
            rgb,
            peak,
        },
        truth: render(&vec![1.0; BANDS], spd, cam),
        camera,
        light,
    }
}

/// One method's angular errors over the scenes, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub method: String,
    pub scenes: usize,
    pub median: f64,
    pub mean: f64,
    /// Mean of the worst quarter of the scenes.
    pub worst25: f64,
    /// Scenes where the method gave no estimate (counted at the error of unity gains).
    pub failed: usize,
    /// Mean time of one estimate on the 64 x 48 grid, microseconds (one thread).
    pub micros: f64,
}

pub fn summarise(method: &str, errors: &mut [f64], failed: usize, micros: f64) -> Summary {
    errors.sort_by(f64::total_cmp);
    let n = errors.len();
    let median = if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        errors[n / 2]
    } else {
        (errors[n / 2 - 1] + errors[n / 2]) / 2.0
    };
    let worst = &errors[n - n.div_ceil(4).min(n)..];
    Summary {
        method: method.into(),
        scenes: n,
        median,
        mean: errors.iter().sum::<f64>() / n.max(1) as f64,
        worst25: worst.iter().sum::<f64>() / worst.len().max(1) as f64,
        failed,
        micros,
    }
}

/// Every estimator on `scenes` synthetic scenes (camera and light drawn by `seed`).
pub fn run_synthetic(s: &Spectra, scenes: usize, seed: u64) -> Vec<Summary> {
    let mut rng = SplitMix(seed);
    let all: Vec<Scene> = (0..scenes)
        .map(|_| {
            let camera = (rng.next_u64() % s.cameras.len() as u64) as usize;
            let light = (rng.next_u64() % s.lights.len() as u64) as usize;
            scene(s, camera, light, &mut rng)
        })
        .collect();
    AwbMethod::ALL
        .iter()
        .map(|m| {
            let mut failed = 0;
            let start = std::time::Instant::now();
            let estimates: Vec<Option<[f64; 3]>> =
                all.iter().map(|sc| m.estimate(&sc.proxy)).collect();
            let micros = start.elapsed().as_secs_f64() * 1e6 / all.len().max(1) as f64;
            let mut errors: Vec<f64> = all
                .iter()
                .zip(estimates)
                .map(|(sc, est)| {
                    let est = est.unwrap_or_else(|| {
                        failed += 1;
                        [1.0; 3]
                    });
                    angular_error(est, sc.truth)
                })
                .collect();
            summarise(m.name(), &mut errors, failed, micros)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spectra made here: two cameras, three lights, reflectances of flat greys and of
    /// smooth colours.
    fn toy() -> Spectra {
        let band = |i: usize| i as f64 / (BANDS - 1) as f64;
        let cam = |shift: f64| {
            (0..BANDS)
                .map(|i| {
                    let x = band(i);
                    let g = |c: f64| (-((x - c) / 0.12).powi(2)).exp();
                    [g(0.8 + shift), g(0.5), g(0.2 - shift)]
                })
                .collect()
        };
        Spectra {
            cameras: vec![("a".into(), cam(0.0)), ("b".into(), cam(0.05))],
            reflectances: vec![
                vec![0.5; BANDS],
                (0..BANDS).map(|i| 0.2 + 0.6 * band(i)).collect(),
            ],
            lights: vec![
                ("flat".into(), vec![1.0; BANDS]),
                ("warm".into(), (0..BANDS).map(|i| 0.3 + band(i)).collect()),
                ("cool".into(), (0..BANDS).map(|i| 1.3 - band(i)).collect()),
            ],
        }
    }

    #[test]
    fn grey_scenes_are_solved_by_every_method() {
        let mut s = toy();
        s.reflectances.truncate(1);
        let mut rng = SplitMix(7);
        for light in 0..3 {
            let sc = scene(&s, 1, light, &mut rng);
            for m in [
                AwbMethod::GreyWorld,
                AwbMethod::ShadesOfGrey,
                AwbMethod::MaxRgb,
            ] {
                let est = m.estimate(&sc.proxy).expect("estimates");
                // Only the 0.3 % noise stands between the estimate and the light.
                assert!(angular_error(est, sc.truth) < 0.5, "{m:?} light {light}");
            }
        }
    }

    #[test]
    fn summary_takes_median_mean_and_worst_quarter() {
        let mut e = vec![4.0, 1.0, 3.0, 2.0, 10.0, 6.0, 5.0, 7.0];
        let s = summarise("x", &mut e, 0, 0.0);
        assert_eq!((s.median, s.mean, s.worst25), (4.5, 4.75, 8.5));
    }

    #[test]
    fn planck_peaks_where_wien_says() {
        // Wien's displacement: peak wavelength 2.897771955e-3 m K / T.
        let t = 5000.0;
        let peak = (300..3000)
            .map(|nm| nm as f64)
            .max_by(|a, b| planck(*a, t).total_cmp(&planck(*b, t)))
            .expect("some");
        assert!((peak - 2.897_771_955e6 / t).abs() < 1.0, "{peak}");
    }
}
