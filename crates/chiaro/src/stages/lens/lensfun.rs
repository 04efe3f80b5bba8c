//! lensfun's models applied to a picture: distortion and TCA as a [`Mapping`] for the warp,
//! vignetting as the gain of the position read (or on its own, per pixel).
//!
//! Coordinates (lensfun 0.3 `lfModifier`): pixel `i` of a picture `W + 1` pixels wide sits
//! at `i`; with `size` the shorter of `W` and `H`, the normalised coordinate is
//! `x_n = cc ((2 x - W) / size - centre_x)`, where `cc = sqrt(a_cal^2 + 1) / sqrt(a^2 + 1) *
//! lens_crop / camera_crop` carries the picture into the calibration camera's frame (`a`,
//! `a_cal`: the picture's and the calibration's aspect ratios). 1 is then half the shorter
//! side of the calibration's image. For each corrected position, distortion gives the
//! distorted radius `r_d = r_u f(r_u)`; TCA then scales red and blue about the centre;
//! vignetting divides by `1 + k1 r^2 + k2 r^4 + k3 r^6` of the radius over the calibration's
//! half-diagonal, at the position read (the uncorrected image's).
//!
//! # Units
//! Positions in frame pixels; the picture is the frame's crop (DefaultCrop).

use super::warp::Mapping;
use crate::image::Rect;
use crate::lensfun::{Correction, DistortionModel, TcaModel};

/// A correction laid over one picture.
#[derive(Debug, Clone)]
pub struct LensfunMap {
    /// Normalised units per pixel (`2 cc / size`).
    scale: f64,
    /// Picture centre (frame pixels) plus the optical centre offset.
    centre: (f64, f64),
    /// 1 / (calibration half-diagonal in normalised units).
    inv_diagonal: f64,
    correction: Correction,
}

impl LensfunMap {
    /// `correction` on the picture `crop` of a frame.
    pub fn new(correction: &Correction, crop: Rect) -> Self {
        let w = (crop.width.max(2) - 1) as f64;
        let h = (crop.height.max(2) - 1) as f64;
        let size = w.min(h);
        let aspect = w.max(h) / size;
        let arc = (correction.aspect * correction.aspect + 1.0).sqrt();
        let cc =
            arc / (aspect * aspect + 1.0).sqrt() * correction.lens_crop / correction.camera_crop;
        let scale = 2.0 * cc / size;
        // x_n = scale * (x - x0) - cc * cx, so the optical centre sits at x0 + cx * size / 2.
        let centre = (
            crop.x as f64 + 0.5 * w + 0.5 * correction.center[0] * size,
            crop.y as f64 + 0.5 * h + 0.5 * correction.center[1] * size,
        );
        LensfunMap {
            scale,
            centre,
            inv_diagonal: 1.0 / arc,
            correction: correction.clone(),
        }
    }

    fn normalise(&self, x: f64, y: f64) -> (f64, f64) {
        (
            (x - self.centre.0) * self.scale,
            (y - self.centre.1) * self.scale,
        )
    }

    fn pixels(&self, u: f64, v: f64) -> (f64, f64) {
        (
            self.centre.0 + u / self.scale,
            self.centre.1 + v / self.scale,
        )
    }

    /// Whether the correction moves pixels (distortion or TCA), not only brightens them.
    pub fn moves(&self) -> bool {
        self.correction.distortion.is_some() || self.correction.tca.is_some()
    }

    /// The devignetting gain of a pixel at (`x`, `y`) of the uncorrected picture.
    pub fn devignetting(&self, x: f64, y: f64) -> Option<f32> {
        let [k1, k2, k3] = self.correction.vignetting?;
        let (u, v) = self.normalise(x, y);
        let r2 = (u * u + v * v) * self.inv_diagonal * self.inv_diagonal;
        let c = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        // A hostile calibration cannot make a pixel negative or infinite.
        Some((1.0 / c.max(1e-3)) as f32)
    }
}

impl LensfunMap {
    /// Normalised position after the distortion, for output pixel (`x`, `y`).
    fn distorted(&self, x: f64, y: f64) -> (f64, f64) {
        let (u, v) = self.normalise(x, y);
        let Some(d) = &self.correction.distortion else {
            return (u, v);
        };
        let r2 = u * u + v * v;
        let [a, b, c] = d.terms;
        let f = match d.model {
            DistortionModel::Poly3 => 1.0 - a + a * r2,
            DistortionModel::Poly5 => 1.0 + a * r2 + b * r2 * r2,
            DistortionModel::Ptlens => {
                let r = r2.sqrt();
                a * r2 * r + b * r2 + c * r + 1.0 - a - b - c
            }
        };
        (u * f, v * f)
    }

    /// TCA's scale of a distorted position for `plane` (1 for green, or without TCA).
    fn tca_scale(&self, plane: usize, u: f64, v: f64) -> f64 {
        let Some(t) = self.correction.tca.as_ref().filter(|_| plane != 1) else {
            return 1.0;
        };
        let [v0, v1, c0, c1, b0, b1] = t.terms;
        let (lin, cub, quad) = [(v0, c0, b0), (v1, c1, b1)][usize::from(plane == 2)];
        match t.model {
            TcaModel::Linear => lin,
            TcaModel::Poly3 => {
                let r = (u * u + v * v).sqrt();
                quad * r * r + cub * r + lin
            }
        }
    }
}

impl Mapping for LensfunMap {
    fn source(&self, plane: usize, x: f64, y: f64) -> (f64, f64) {
        let (u, v) = self.distorted(x, y);
        let s = self.tca_scale(plane, u, v);
        self.pixels(u * s, v * s)
    }

    fn sources(&self, x: f64, y: f64) -> [(f64, f64); 3] {
        let (u, v) = self.distorted(x, y);
        std::array::from_fn(|c| {
            let s = self.tca_scale(c, u, v);
            self.pixels(u * s, v * s)
        })
    }

    fn shared(&self) -> bool {
        self.correction.tca.is_none()
    }

    fn gain(&self, x: f64, y: f64) -> Option<f32> {
        self.devignetting(x, y)
    }
}
