//! Chromaticity coordinates, white points and chromatic adaptation.

use super::matrix::{self, Mat3, Vec3};

/// CIE xy of the D50 white (the ICC and DNG profile connection space white).
pub const D50_XY: [f64; 2] = [0.3457, 0.3585];
/// CIE xy of D65.
pub const D65_XY: [f64; 2] = [0.3127, 0.3290];

/// XYZ with Y = 1 of a chromaticity.
pub fn xy_to_xyz(xy: [f64; 2]) -> Vec3 {
    let y = xy[1].max(1e-9);
    [xy[0] / y, 1.0, (1.0 - xy[0] - xy[1]) / y]
}

/// Chromaticity of an XYZ triple (D50 when the triple is black or invalid).
pub fn xyz_to_xy(v: Vec3) -> [f64; 2] {
    let s = v[0] + v[1] + v[2];
    if s.is_nan() || s <= 0.0 || !s.is_finite() {
        D50_XY
    } else {
        [v[0] / s, v[1] / s]
    }
}

/// Bradford cone response matrix (Lam 1985), as used by ICC v4 and the DNG SDK.
const BRADFORD: Mat3 = [
    [0.8951, 0.2664, -0.1614],
    [-0.7502, 1.7135, 0.0367],
    [0.0389, -0.0685, 1.0296],
];

/// Linear Bradford adaptation taking XYZ seen under `from` white to XYZ under `to` white.
pub fn bradford(from: [f64; 2], to: [f64; 2]) -> Mat3 {
    let s = matrix::mul_vec(&BRADFORD, &xy_to_xyz(from));
    let d = matrix::mul_vec(&BRADFORD, &xy_to_xyz(to));
    // Clamp cone ratios like the DNG SDK so absurd white points cannot blow up the matrix.
    let ratio = |i: usize| {
        if s[i] > 0.0 && d[i] > 0.0 {
            (d[i] / s[i]).clamp(0.1, 10.0)
        } else {
            1.0
        }
    };
    let scale = matrix::diag(&[ratio(0), ratio(1), ratio(2)]);
    let inv = matrix::invert(&BRADFORD).unwrap_or(matrix::IDENTITY);
    matrix::mul(&inv, &matrix::mul(&scale, &BRADFORD))
}

/// The RGB -> XYZ matrix of a space given its primaries and white chromaticities
/// (SMPTE RP 177): columns are the primaries scaled so RGB (1,1,1) maps to the white, Y = 1.
pub fn rgb_to_xyz_from_primaries(primaries: [[f64; 2]; 3], white: [f64; 2]) -> Mat3 {
    let p = primaries.map(xy_to_xyz);
    let m = [
        [p[0][0], p[1][0], p[2][0]],
        [p[0][1], p[1][1], p[2][1]],
        [p[0][2], p[1][2], p[2][2]],
    ];
    let s = matrix::mul_vec(
        &matrix::invert(&m).unwrap_or(matrix::IDENTITY),
        &xy_to_xyz(white),
    );
    matrix::mul(&m, &matrix::diag(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bradford_maps_source_white_to_destination_white() {
        let m = bradford(D65_XY, D50_XY);
        let w = matrix::mul_vec(&m, &xy_to_xyz(D65_XY));
        let d50 = xy_to_xyz(D50_XY);
        for i in 0..3 {
            assert!((w[i] - d50[i]).abs() < 1e-9);
        }
    }

    #[test]
    fn srgb_matrix_matches_iec_61966() {
        let m = rgb_to_xyz_from_primaries([[0.64, 0.33], [0.30, 0.60], [0.15, 0.06]], D65_XY);
        assert!(
            (m[0][0] - 0.4124).abs() < 1e-3
                && (m[1][1] - 0.7152).abs() < 1e-3
                && (m[2][2] - 0.9505).abs() < 1e-3
        );
    }
}
