//! Camera colour to CIE XYZ (D50) by the DNG colour model (DNG 1.7 spec, chapter 6).
//!
//! The calibration holds up to two ColorMatrix / CameraCalibration / ForwardMatrix sets for
//! two illuminants. The set used for a shot is interpolated linearly in inverse colour
//! temperature of the shot's white point, and that white point is itself found from the
//! camera neutral through the interpolated matrix: a circular dependency. A plain fixed-point
//! iteration can oscillate between the two matrices for some phone profiles, so
//! [`ColorCalibration::neutral_to_xy`] solves the one-dimensional equation in the
//! interpolation weight by bisection, which always converges (see the function docs).

use super::matrix::{self, Mat3, Vec3};
use super::temperature::{illuminant_temperature, xy_to_temperature};
use super::xy::{D50_XY, bradford, xy_to_xyz, xyz_to_xy};

/// DNG colour calibration (DNG 1.7 spec, chapter 6). Matrices map as the spec says:
/// ColorMatrix XYZ -> reference camera, ForwardMatrix white-balanced camera -> XYZ D50,
/// CameraCalibration reference camera -> this camera.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColorCalibration {
    pub color_matrix1: Option<Mat3>,
    pub color_matrix2: Option<Mat3>,
    pub forward_matrix1: Option<Mat3>,
    pub forward_matrix2: Option<Mat3>,
    pub camera_calibration1: Option<Mat3>,
    pub camera_calibration2: Option<Mat3>,
    /// EXIF LightSource codes of the two calibrations (21 = D65, 17 = Standard A, ...).
    pub illuminant1: u16,
    pub illuminant2: u16,
    pub analog_balance: Option<[f64; 3]>,
    /// AsShotNeutral: the camera's neutral (reciprocal white-balance gains).
    pub as_shot_neutral: Option<[f64; 3]>,
    /// AsShotWhiteXY: the white point as CIE xy, used when no neutral is given.
    pub as_shot_white_xy: Option<[f64; 2]>,
    /// BaselineExposure in EV.
    pub baseline_exposure: f64,
    /// The profile's tables (HueSatMap, LookTable, tone curve), when the file has them.
    pub profile: super::profile::ProfileTables,
}

/// Everything the colour stages need for one development.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraColor {
    /// Camera neutral (the camera's response to the white), largest entry 1. White balance
    /// divides each CFA channel by it.
    pub neutral: Vec3,
    /// The white point as CIE xy.
    pub white_xy: [f64; 2],
    /// Maps white-balanced camera RGB (the neutral scaled to (1,1,1)) to XYZ relative to D50,
    /// so that white-balanced (1,1,1) is the D50 white with Y = 1.
    pub wb_camera_to_xyz_d50: Mat3,
}

impl ColorCalibration {
    /// True when at least one ColorMatrix is known.
    pub fn has_matrix(&self) -> bool {
        self.color_matrix1.is_some() || self.color_matrix2.is_some()
    }

    /// Interpolation weight of calibration 1 for a white of chromaticity `xy` (the weight the
    /// matrices, and a profile's two HueSatMaps, are blended with).
    pub fn weight1_at(&self, xy: [f64; 2]) -> f64 {
        self.weight1(xy_to_temperature(xy).0)
    }

    /// Interpolation weight of calibration 1 for a white of `temperature` kelvin (DNG 1.7
    /// chapter 6: linear in inverse temperature, clamped to the two calibrations' range).
    fn weight1(&self, temperature: f64) -> f64 {
        let (Some(_), Some(_)) = (self.color_matrix1, self.color_matrix2) else {
            return if self.color_matrix1.is_some() {
                1.0
            } else {
                0.0
            };
        };
        let t1 = illuminant_temperature(self.illuminant1);
        let t2 = illuminant_temperature(self.illuminant2);
        let (Some(t1), Some(t2)) = (t1, t2) else {
            return 1.0;
        };
        if (t1 - t2).abs() < 1.0 {
            return 1.0;
        }
        let (lo, hi, lo_is_1) = if t1 < t2 {
            (t1, t2, true)
        } else {
            (t2, t1, false)
        };
        let g = if temperature <= lo {
            1.0
        } else if temperature >= hi {
            0.0
        } else {
            (1.0 / temperature - 1.0 / hi) / (1.0 / lo - 1.0 / hi)
        };
        if lo_is_1 { g } else { 1.0 - g }
    }

    fn pick(&self, a: Option<Mat3>, b: Option<Mat3>, g: f64) -> Option<Mat3> {
        match (a, b) {
            (Some(a), Some(b)) => Some(matrix::lerp(&b, &a, g)),
            (a, b) => a.or(b),
        }
    }

    /// AnalogBalance x CameraCalibration at weight `g` (identity where absent).
    fn ab_cc(&self, g: f64) -> Mat3 {
        let ab = matrix::diag(&self.analog_balance.unwrap_or([1.0; 3]));
        let cc = self
            .pick(self.camera_calibration1, self.camera_calibration2, g)
            .unwrap_or(matrix::IDENTITY);
        matrix::mul(&ab, &cc)
    }

    /// XYZ -> camera matrix at weight `g`: AB * CC * CM.
    fn xyz_to_camera(&self, g: f64) -> Mat3 {
        let cm = self
            .pick(self.color_matrix1, self.color_matrix2, g)
            .unwrap_or(matrix::IDENTITY);
        matrix::mul(&self.ab_cc(g), &cm)
    }

    /// Camera neutral (largest entry 1) of a white of chromaticity `xy`.
    pub fn xy_to_neutral(&self, xy: [f64; 2]) -> Vec3 {
        let g = self.weight1(xy_to_temperature(xy).0);
        normalize_max(matrix::mul_vec(&self.xyz_to_camera(g), &xy_to_xyz(xy)))
    }

    /// White-point chromaticity of a camera neutral.
    ///
    /// The unknown is the interpolation weight `g` in [0, 1]: `f(g)` = weight of the white
    /// that the matrix at `g` gives for the neutral. `f(0) - 0 >= 0` and `f(1) - 1 <= 0`,
    /// so bisection on `f(g) - g` finds a consistent white where fixed-point iteration
    /// `g <- f(g)` may cycle.
    pub fn neutral_to_xy(&self, neutral: Vec3) -> [f64; 2] {
        let xy_at = |g: f64| {
            let m = matrix::invert(&self.xyz_to_camera(g)).unwrap_or(matrix::IDENTITY);
            xyz_to_xy(matrix::mul_vec(&m, &neutral))
        };
        if !(self.color_matrix1.is_some() && self.color_matrix2.is_some()) {
            return xy_at(self.weight1(5000.0));
        }
        let h = |g: f64| self.weight1(xy_to_temperature(xy_at(g)).0) - g;
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        if h(lo) <= 0.0 {
            return xy_at(lo);
        }
        if h(hi) >= 0.0 {
            return xy_at(hi);
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if h(mid) > 0.0 { lo = mid } else { hi = mid }
        }
        xy_at(0.5 * (lo + hi))
    }

    /// The colour transform for a shot whose camera neutral is `neutral`
    /// (DNG 1.7 chapter 6, "Mapping Camera Color Space to CIE XYZ Space").
    pub fn camera_color(&self, neutral: Vec3) -> CameraColor {
        let neutral = normalize_max(neutral);
        let white_xy = self.neutral_to_xy(neutral);
        let g = self.weight1(xy_to_temperature(white_xy).0);
        let camera_to_pcs = match self.pick(self.forward_matrix1, self.forward_matrix2, g) {
            Some(fm) => {
                let fm = normalize_forward_matrix(&fm);
                let individual_to_reference =
                    matrix::invert(&self.ab_cc(g)).unwrap_or(matrix::IDENTITY);
                let reference_white = matrix::mul_vec(&individual_to_reference, &neutral);
                let d = matrix::diag(&reference_white.map(|v| 1.0 / v.max(1e-9)));
                matrix::mul(&fm, &matrix::mul(&d, &individual_to_reference))
            }
            None => {
                let pcs_to_camera =
                    matrix::mul(&self.xyz_to_camera(g), &bradford(D50_XY, white_xy));
                let reach = matrix::mul_vec(&pcs_to_camera, &xy_to_xyz(D50_XY));
                let scale = reach.iter().copied().fold(f64::MIN, f64::max);
                let pcs_to_camera = matrix::scale(&pcs_to_camera, 1.0 / scale.max(1e-9));
                matrix::invert(&pcs_to_camera).unwrap_or(matrix::IDENTITY)
            }
        };
        CameraColor {
            neutral,
            white_xy,
            wb_camera_to_xyz_d50: matrix::mul(&camera_to_pcs, &matrix::diag(&neutral)),
        }
    }
}

/// Scales a vector so its largest entry is 1 (a tiny positive floor keeps it invertible).
pub fn normalize_max(v: Vec3) -> Vec3 {
    let m = v.iter().copied().fold(f64::MIN, f64::max);
    if m > 0.0 && m.is_finite() {
        v.map(|x| (x / m).max(1e-6))
    } else {
        [1.0; 3]
    }
}

/// Rescales a ForwardMatrix so camera (1,1,1) maps exactly to the D50 white, as the DNG
/// SDK does for profiles whose rows were rounded.
fn normalize_forward_matrix(fm: &Mat3) -> Mat3 {
    let xyz = matrix::mul_vec(fm, &[1.0; 3]);
    let d50 = xy_to_xyz(D50_XY);
    let s = [0, 1, 2].map(|i| {
        if xyz[i].abs() > 1e-9 {
            d50[i] / xyz[i]
        } else {
            1.0
        }
    });
    matrix::mul(&matrix::diag(&s), fm)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LG G4 (LG-H815) profile from its DCP: Standard A and D65 calibrations.
    fn lg_g4() -> ColorCalibration {
        ColorCalibration {
            color_matrix1: Some([
                [1.1265, -0.5266, -0.0103],
                [-0.3413, 1.1201, 0.2473],
                [-0.0269, 0.0926, 0.5681],
            ]),
            color_matrix2: Some([
                [0.6722, -0.0892, -0.1099],
                [-0.3924, 1.2159, 0.1980],
                [-0.0701, 0.1914, 0.5442],
            ]),
            forward_matrix1: Some([
                [0.6497, 0.1838, 0.1308],
                [0.1999, 0.9269, -0.1268],
                [0.0072, -0.3094, 1.1273],
            ]),
            forward_matrix2: Some([
                [0.6925, 0.1616, 0.1101],
                [0.2658, 0.8776, -0.1434],
                [0.0256, -0.1638, 0.9633],
            ]),
            illuminant1: 17,
            illuminant2: 21,
            ..Default::default()
        }
    }

    #[test]
    fn neutral_of_a_white_maps_back_to_that_white() {
        let cal = lg_g4();
        for t in [2500.0, 2850.0, 3500.0, 4200.0, 5000.0, 6500.0, 8000.0] {
            let xy = super::super::temperature::temperature_to_xy(t, 0.0);
            let n = cal.xy_to_neutral(xy);
            let back = cal.neutral_to_xy(n);
            assert!(
                (back[0] - xy[0]).abs() < 1e-6 && (back[1] - xy[1]).abs() < 1e-6,
                "{t}: {xy:?} -> {back:?}"
            );
        }
    }

    #[test]
    fn white_balanced_white_maps_to_d50() {
        for fm in [true, false] {
            let mut cal = lg_g4();
            if !fm {
                cal.forward_matrix1 = None;
                cal.forward_matrix2 = None;
            }
            let n = cal.xy_to_neutral(super::super::temperature::temperature_to_xy(4200.0, 5.0));
            let c = cal.camera_color(n);
            let w = matrix::mul_vec(&c.wb_camera_to_xyz_d50, &[1.0; 3]);
            let d50 = xy_to_xyz(D50_XY);
            for i in 0..3 {
                assert!((w[i] - d50[i]).abs() < 1e-6, "fm={fm}: {w:?}");
            }
        }
    }
}
