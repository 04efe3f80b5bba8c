//! 3x3 matrices and vectors in `f64`, the arithmetic of colour calibration.

/// A row-major 3x3 matrix. `mul_vec` maps column vectors: `out = M * v`.
pub type Mat3 = [[f64; 3]; 3];
pub type Vec3 = [f64; 3];

pub const IDENTITY: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

pub fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

pub fn mul_vec(a: &Mat3, v: &Vec3) -> Vec3 {
    [
        a[0][0] * v[0] + a[0][1] * v[1] + a[0][2] * v[2],
        a[1][0] * v[0] + a[1][1] * v[1] + a[1][2] * v[2],
        a[2][0] * v[0] + a[2][1] * v[1] + a[2][2] * v[2],
    ]
}

pub fn diag(v: &Vec3) -> Mat3 {
    [[v[0], 0.0, 0.0], [0.0, v[1], 0.0], [0.0, 0.0, v[2]]]
}

pub fn scale(a: &Mat3, s: f64) -> Mat3 {
    a.map(|r| r.map(|x| x * s))
}

pub fn det(a: &Mat3) -> f64 {
    a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
        - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
        + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
}

/// The inverse, or `None` for a (near-)singular matrix.
pub fn invert(a: &Mat3) -> Option<Mat3> {
    let d = det(a);
    let norm: f64 = a.iter().flatten().map(|x| x.abs()).fold(0.0, f64::max);
    if !d.is_finite() || d.abs() <= 1e-12 * norm.powi(3).max(1e-300) {
        return None;
    }
    let c =
        |r0: usize, r1: usize, c0: usize, c1: usize| a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0];
    Some([
        [c(1, 2, 1, 2) / d, -c(0, 2, 1, 2) / d, c(0, 1, 1, 2) / d],
        [-c(1, 2, 0, 2) / d, c(0, 2, 0, 2) / d, -c(0, 1, 0, 2) / d],
        [c(1, 2, 0, 1) / d, -c(0, 2, 0, 1) / d, c(0, 1, 0, 1) / d],
    ])
}

/// Linear interpolation `a * (1 - t) + b * t`, element-wise.
pub fn lerp(a: &Mat3, b: &Mat3, t: f64) -> Mat3 {
    let mut m = *a;
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = a[i][j] * (1.0 - t) + b[i][j] * t;
        }
    }
    m
}

/// Converts to `f32` for per-pixel use.
pub fn to_f32(a: &Mat3) -> [[f32; 3]; 3] {
    a.map(|r| r.map(|x| x as f32))
}

/// Applies an `f32` matrix to one pixel.
#[inline(always)]
pub fn apply_f32(m: &[[f32; 3]; 3], p: [f32; 3]) -> [f32; 3] {
    [
        m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2],
        m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2],
        m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2],
    ]
}

/// Builds a matrix from nine row-major values.
pub fn from_slice(v: &[f64]) -> Option<Mat3> {
    (v.len() == 9 && v.iter().all(|x| x.is_finite()))
        .then(|| [[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_times_matrix_is_identity() {
        let a = [
            [0.9, -0.29, -0.07],
            [-0.45, 1.24, 0.23],
            [-0.09, 0.19, 0.71],
        ];
        let i = mul(&a, &invert(&a).expect("invertible"));
        for r in 0..3 {
            for c in 0..3 {
                assert!((i[r][c] - IDENTITY[r][c]).abs() < 1e-12);
            }
        }
        assert!(invert(&[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 1.0]]).is_none());
    }
}
