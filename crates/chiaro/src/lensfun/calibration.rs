//! A lens's calibration at one shot's focal length, f-number and distance, as lensfun 0.3
//! interpolates it (`lfLens::InterpolateDistortion`, `InterpolateTCA`,
//! `InterpolateVignetting`), and the [`Correction`] it gives.
//!
//! - Distortion and TCA: a cubic Hermite spline through the two calibrated focal lengths on
//!   each side (tangents from the outer ones, in index space), of the terms times the focal
//!   length (distortion; TCA's `cr cb br bb`), divided by it again. Outside the calibrated
//!   range the nearest calibration is taken as it is, never extrapolated.
//! - Vignetting: inverse-distance weighting (`d^-3.5`) of every calibration, the distance
//!   measured in focal length over the lens's focal range, `4 / f-number` and `0.1 /
//!   distance (m)`; none when no calibration is nearer than 1.

use serde::{Deserialize, Serialize};

use super::{Database, DistortionModel, Lens, TcaModel};
use crate::raw::ExifInfo;

/// The focus distance assumed when EXIF gives none (metres; as darktable: far away).
pub const DEFAULT_DISTANCE: f64 = 1000.0;

/// Distortion terms at the shot's focal length.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Distortion {
    pub model: DistortionModel,
    /// `[k1, 0, 0]` (poly3), `[k1, k2, 0]` (poly5), `[a, b, c]` (ptlens).
    pub terms: [f64; 3],
}

/// TCA terms at the shot's focal length.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tca {
    pub model: TcaModel,
    /// `[vr|kr, vb|kb, cr, cb, br, bb]`.
    pub terms: [f64; 6],
}

/// Everything the lens stage needs to correct one picture, resolved from the database: kept
/// in the recipe, so a sidecar reproduces the correction without the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The camera and lens as the database names them, and the file they came from.
    pub camera: String,
    pub lens: String,
    pub source: String,
    /// The shot: focal length (mm), f-number (0 unknown), focus distance (m).
    pub focal: f64,
    pub aperture: f64,
    pub distance: f64,
    /// Crop factors of the camera and of the calibration's camera.
    pub camera_crop: f64,
    pub lens_crop: f64,
    /// The calibration images' aspect ratio (long / short side).
    pub aspect: f64,
    /// Optical centre offset (units of half the shorter side).
    pub center: [f64; 2],
    pub distortion: Option<Distortion>,
    pub tca: Option<Tca>,
    /// Vignetting "pa" terms `[k1, k2, k3]`.
    pub vignetting: Option<[f64; 3]>,
    /// The EXIF facts it was looked up for (make, model, lens, focal length, f-number): a
    /// recipe carrying it onto another shot is looked up again ([`Correction::fits`]).
    pub shot: String,
}

/// The EXIF facts a lookup depends on, as one string.
fn shot_key(exif: &ExifInfo) -> String {
    format!(
        "{} | {} | {} | {} mm | f/{}",
        exif.make.as_deref().unwrap_or("").trim(),
        exif.model.as_deref().unwrap_or("").trim(),
        exif.lens_model.as_deref().unwrap_or("").trim(),
        exif.focal_length.unwrap_or(0.0),
        exif.f_number.unwrap_or(0.0)
    )
}

impl Correction {
    /// Whether this correction was looked up for a shot with `exif`'s facts.
    pub fn fits(&self, exif: &ExifInfo) -> bool {
        self.shot == shot_key(exif)
    }

    /// Finite numbers in their ranges (a recipe file can say anything).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let finite = [self.focal, self.aperture, self.distance, self.camera_crop]
            .into_iter()
            .chain([self.lens_crop, self.aspect, self.center[0], self.center[1]])
            .chain(self.distortion.iter().flat_map(|d| d.terms))
            .chain(self.tca.iter().flat_map(|t| t.terms))
            .chain(self.vignetting.iter().flatten().copied())
            .all(f64::is_finite);
        if !finite {
            return Err("a number that is not finite".into());
        }
        if self.camera_crop <= 0.0 || self.lens_crop <= 0.0 || self.aspect < 1.0 {
            return Err(format!(
                "crop factors {} and {} and aspect ratio {} (above 0, at least 1)",
                self.camera_crop, self.lens_crop, self.aspect
            ));
        }
        if self.center.iter().any(|c| c.abs() > 1.0) {
            return Err(format!(
                "optical centre offset {:?} (within 1)",
                self.center
            ));
        }
        Ok(())
    }

    /// A line for reports: what is corrected, for which lens, from where.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = &self.distortion {
            parts.push(format!("distortion {:?}", d.model).to_lowercase());
        }
        if let Some(t) = &self.tca {
            parts.push(format!("TCA {}", format!("{:?}", t.model).to_lowercase()));
        }
        if self.vignetting.is_some() {
            parts.push("vignetting".into());
        }
        let aperture = if self.aperture > 0.0 {
            format!(" f/{}", self.aperture)
        } else {
            String::new()
        };
        format!(
            "lensfun: {} on {} at {} mm{aperture} ({}): {}",
            self.lens,
            self.camera,
            self.focal,
            self.source,
            if parts.is_empty() {
                "nothing calibrated".into()
            } else {
                parts.join(", ")
            }
        )
    }
}

impl Database {
    /// The correction for a shot described by `exif`, or why there is none.
    pub fn correction(&self, exif: &ExifInfo) -> std::result::Result<Correction, String> {
        let (make, model) = match (exif.make.as_deref(), exif.model.as_deref()) {
            (Some(a), Some(b)) if !a.trim().is_empty() && !b.trim().is_empty() => (a, b),
            _ => return Err("the file names no camera make and model".into()),
        };
        let camera = self.camera(make, model);
        let lens_name = exif.lens_model.as_deref().unwrap_or("");
        let lens = self
            .lens(camera, exif.lens_make.as_deref(), lens_name)
            .ok_or_else(|| match (camera, lens_name.trim().is_empty()) {
                (None, _) => format!("camera {make} {model} is not in the lensfun database"),
                (Some(_), true) => "the file names no lens".to_string(),
                (Some(c), false) => format!(
                    "lens {lens_name:?} is not in the lensfun database for the {} ({})",
                    c.models[0], c.mount
                ),
            })?;
        let focal = match exif.focal_length.filter(|f| *f > 0.0) {
            Some(f) => f,
            None if lens.focal.0 > 0.0 && lens.focal.0 == lens.focal.1 => lens.focal.0,
            None => return Err("the file gives no focal length".into()),
        };
        let aperture = exif.f_number.filter(|a| *a > 0.0).unwrap_or(0.0);
        let camera_crop = camera.map_or(lens.crop, |c| c.crop);
        Ok(Correction {
            camera: camera.map_or_else(
                || format!("{make} {model} (not in the database; the lens's crop factor)"),
                |c| format!("{} {}", c.makers[0], c.models[0]),
            ),
            lens: lens.models[0].clone(),
            source: lens.source.display().to_string(),
            focal,
            aperture,
            distance: DEFAULT_DISTANCE,
            camera_crop,
            lens_crop: lens.crop,
            aspect: lens.aspect,
            center: [lens.center.0, lens.center.1],
            distortion: distortion(lens, focal),
            tca: tca(lens, focal),
            vignetting: (aperture > 0.0)
                .then(|| vignetting(lens, focal, aperture, DEFAULT_DISTANCE))
                .flatten(),
            shot: shot_key(exif),
        })
    }
}

/// Cubic Hermite through `y1` (t = 0) and `y2` (t = 1), tangents from the outer points
/// when there are any (lensfun's `_lf_interpolate`).
fn hermite(y0: Option<f64>, y1: f64, y2: f64, y3: Option<f64>, t: f64) -> f64 {
    let m1 = y0.map_or(y2 - y1, |y0| 0.5 * (y2 - y0));
    let m2 = y3.map_or(y2 - y1, |y3| 0.5 * (y3 - y1));
    let (t2, t3) = (t * t, t * t * t);
    (2.0 * t3 - 3.0 * t2 + 1.0) * y1
        + (t3 - 2.0 * t2 + t) * m1
        + (-2.0 * t3 + 3.0 * t2) * y2
        + (t3 - t2) * m2
}

/// Terms at `focal` from calibrations `(focal, terms)`; `scaled[k]`: term `k` is
/// interpolated times the focal length.
fn spline<const N: usize>(entries: &[(f64, [f64; N])], focal: f64, scaled: [bool; N]) -> [f64; N] {
    if let Some((_, t)) = entries.iter().find(|(f, _)| (*f - focal).abs() < 1e-9) {
        return *t;
    }
    let mut below: Vec<&(f64, [f64; N])> = entries.iter().filter(|e| e.0 < focal).collect();
    let mut above: Vec<&(f64, [f64; N])> = entries.iter().filter(|e| e.0 > focal).collect();
    below.sort_by(|a, b| b.0.total_cmp(&a.0));
    above.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (p1, p2) = match (below.first(), above.first()) {
        (Some(p1), Some(p2)) => (*p1, *p2),
        (Some(only), None) | (None, Some(only)) => return only.1,
        (None, None) => return [0.0; N],
    };
    let (p0, p3) = (below.get(1), above.get(1));
    let t = (focal - p1.0) / (p2.0 - p1.0);
    std::array::from_fn(|k| {
        let s = |f: f64| if scaled[k] { f } else { 1.0 };
        let y = |p: &(f64, [f64; N])| p.1[k] * s(p.0);
        hermite(p0.map(|p| y(p)), y(p1), y(p2), p3.map(|p| y(p)), t) / s(focal)
    })
}

/// The model of the first calibration and its terms at `focal`, from the calibrations of
/// that model only (lensfun ignores the others).
fn model_spline<M: Copy + PartialEq, const N: usize>(
    entries: impl Iterator<Item = (M, f64, [f64; N])> + Clone,
    focal: f64,
    scaled: [bool; N],
) -> Option<(M, [f64; N])> {
    let model = entries.clone().next()?.0;
    let same: Vec<(f64, [f64; N])> = entries
        .filter(|e| e.0 == model)
        .map(|(_, f, t)| (f, t))
        .collect();
    Some((model, spline(&same, focal, scaled)))
}

fn distortion(lens: &Lens, focal: f64) -> Option<Distortion> {
    let entries = lens.distortion.iter().map(|e| (e.model, e.focal, e.terms));
    model_spline(entries, focal, [true; 3]).map(|(model, terms)| Distortion { model, terms })
}

fn tca(lens: &Lens, focal: f64) -> Option<Tca> {
    let entries = lens.tca.iter().map(|e| (e.model, e.focal, e.terms));
    let scaled = [false, false, true, true, true, true];
    model_spline(entries, focal, scaled).map(|(model, terms)| Tca { model, terms })
}

fn vignetting(lens: &Lens, focal: f64, aperture: f64, distance: f64) -> Option<[f64; 3]> {
    // lensfun divides the focal difference by the lens's range when it has one.
    let span = if lens.focal.1 > lens.focal.0 {
        lens.focal.1 - lens.focal.0
    } else {
        1.0
    };
    let mut sum = [0.0; 3];
    let mut weight = 0.0;
    let mut nearest = f64::INFINITY;
    for v in &lens.vignetting {
        let d = (((focal - v.focal) / span).powi(2)
            + (4.0 / aperture - 4.0 / v.aperture).powi(2)
            + (0.1 / distance - 0.1 / v.distance).powi(2))
        .sqrt();
        if d < 1e-4 {
            return Some(v.terms);
        }
        nearest = nearest.min(d);
        let w = d.powf(-3.5);
        weight += w;
        for (s, t) in sum.iter_mut().zip(v.terms) {
            *s += w * t;
        }
    }
    (nearest <= 1.0 && weight > 0.0).then(|| sum.map(|s| s / weight))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hermite_passes_its_points_and_lines() {
        assert_eq!(hermite(None, 2.0, 5.0, None, 0.0), 2.0);
        assert_eq!(hermite(None, 2.0, 5.0, None, 1.0), 5.0);
        // Points on a line give the line.
        let v = hermite(Some(1.0), 2.0, 3.0, Some(4.0), 0.25);
        assert!((v - 2.25).abs() < 1e-12);
    }

    #[test]
    fn spline_of_scaled_terms_reproduces_k_over_f() {
        // Terms k(f) = c / f scale to a constant c: any focal gets c / f back exactly.
        let c = 0.42;
        let entries: Vec<(f64, [f64; 1])> = [18.0, 24.0, 35.0, 55.0]
            .iter()
            .map(|&f| (f, [c / f]))
            .collect();
        for f in [20.0, 30.0, 50.0] {
            let [k] = spline(&entries, f, [true]);
            assert!((k - c / f).abs() < 1e-12, "{f}: {k}");
        }
        // Outside the range the nearest calibration, not an extrapolation.
        assert_eq!(spline(&entries, 10.0, [true]), [c / 18.0]);
        assert_eq!(spline(&entries, 70.0, [true]), [c / 55.0]);
        assert_eq!(spline(&entries, 24.0, [true]), [c / 24.0]);
    }
}
