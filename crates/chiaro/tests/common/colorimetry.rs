//! Colorimetry for ground truths, independent of the library.
//!
//! Every constant comes from the tables in `../shared/data/color/` (exported from
//! colour-science 0.4.7): the Bradford matrix (`chromatic_adaptation_transforms.json`),
//! white points (`illuminant_chromaticities_xy.json`, CIE 1931 2 degree observer), RGB
//! primaries (`rgb_colourspaces.json`) and the CIE 1931 colour-matching functions (for the
//! Planckian locus). Every formula is written out here and nothing calls chiaro, so an error
//! in the library's constants or matrix code cannot cancel out of a truth built with this.

use std::path::Path;

use serde_json::Value;

pub type M3 = [[f64; 3]; 3];
pub type V3 = [f64; 3];

/// Second radiation constant c2 = hc/k in m K (CODATA 2018; CIE 15 rounds it to 1.4388e-2).
pub const C2: f64 = 1.438_776_877e-2;

/// A JSON file of `data/color/`.
pub fn json(data: &Path, file: &str) -> Value {
    let path = data.join("color").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn number(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"))
}

fn pair(v: &Value, what: &str) -> [f64; 2] {
    let a = v
        .as_array()
        .filter(|a| a.len() == 2)
        .unwrap_or_else(|| panic!("{what}: not two numbers: {v}"));
    [number(&a[0], what), number(&a[1], what)]
}

fn mat3(v: &Value, what: &str) -> M3 {
    let rows = v
        .as_array()
        .filter(|a| a.len() == 3)
        .unwrap_or_else(|| panic!("{what}: not a 3x3 matrix: {v}"));
    [0, 1, 2].map(|r| super::triple(&rows[r], what))
}

/// The independent tables, loaded once per test.
pub struct Tables {
    /// Bradford cone response matrix (XYZ -> sharpened cone RGB).
    pub bradford: M3,
    illuminants: Value,
    spaces: Value,
    /// CIE 1931 2 degree colour-matching functions: (wavelength nm, x, y, z), 1 nm steps.
    cmf: Vec<[f64; 4]>,
}

impl Tables {
    pub fn load(data: &Path) -> Self {
        let cat = json(data, "chromatic_adaptation_transforms.json");
        let path = data.join("color/cmf_CIE_1931_2_Degree_Standard_Observer.csv");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let cmf: Vec<[f64; 4]> = text
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Vec<f64> = l
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse()
                            .unwrap_or_else(|e| panic!("{}: {l}: {e}", path.display()))
                    })
                    .collect();
                assert_eq!(v.len(), 4, "{}: {l}", path.display());
                [v[0], v[1], v[2], v[3]]
            })
            .collect();
        assert!(cmf.len() > 400, "{}: {} rows", path.display(), cmf.len());
        Tables {
            bradford: mat3(&cat["Bradford"], "Bradford"),
            illuminants: json(data, "illuminant_chromaticities_xy.json")
                ["CIE 1931 2 Degree Standard Observer"]
                .clone(),
            spaces: json(data, "rgb_colourspaces.json"),
            cmf,
        }
    }

    /// CIE xy of a named illuminant ("A", "D50", "D65", ...), CIE 1931 2 degree observer.
    pub fn illuminant(&self, name: &str) -> [f64; 2] {
        pair(&self.illuminants[name], name)
    }

    /// The primaries (R, G, B) and white of a named RGB space ("sRGB", "Display P3", ...).
    pub fn space(&self, name: &str) -> ([[f64; 2]; 3], [f64; 2]) {
        let s = &self.spaces[name];
        let p = s["primaries_xy"]
            .as_array()
            .filter(|a| a.len() == 3)
            .unwrap_or_else(|| panic!("{name}: primaries"));
        (
            [0, 1, 2].map(|i| pair(&p[i], name)),
            pair(&s["whitepoint_xy"], name),
        )
    }

    /// The table's own RGB -> XYZ matrix of a space (relative to the space's white).
    pub fn space_rgb_to_xyz(&self, name: &str) -> M3 {
        mat3(&self.spaces[name]["RGB_to_XYZ"], name)
    }

    /// Linear Bradford (von Kries in the Bradford cone space) from `from` white to `to` white.
    pub fn bradford(&self, from: [f64; 2], to: [f64; 2]) -> M3 {
        let s = mul_vec(&self.bradford, &xy_to_xyz(from));
        let d = mul_vec(&self.bradford, &xy_to_xyz(to));
        mul(
            &inv(&self.bradford),
            &mul(
                &diag(&[d[0] / s[0], d[1] / s[1], d[2] / s[2]]),
                &self.bradford,
            ),
        )
    }

    /// Linear RGB of a named space -> XYZ relative to the D50 white, Bradford-adapted from
    /// the space's white (as ICC v4 profiles do).
    pub fn rgb_to_xyz_d50(&self, name: &str) -> M3 {
        let (p, w) = self.space(name);
        mul(&self.bradford(w, self.illuminant("D50")), &rgb_to_xyz(p, w))
    }

    /// Chromaticity of a black body at `temperature` K (Planck's law through the CIE 1931
    /// colour-matching functions, 1 nm steps).
    pub fn planck_xy(&self, temperature: f64) -> [f64; 2] {
        let mut xyz = [0.0; 3];
        for &[nm, x, y, z] in &self.cmf {
            let l = nm * 1e-9;
            let m = l.powi(-5) / ((C2 / (l * temperature)).exp() - 1.0);
            xyz[0] += m * x;
            xyz[1] += m * y;
            xyz[2] += m * z;
        }
        let s = xyz[0] + xyz[1] + xyz[2];
        [xyz[0] / s, xyz[1] / s]
    }

    /// Correlated colour temperature (K) of a chromaticity by its definition: the black body
    /// closest in CIE 1960 uv (searched in mired from 1000 K to 100000 K).
    pub fn cct(&self, xy: [f64; 2]) -> f64 {
        let target = xy_to_uv(xy);
        let dist = |mired: f64| {
            let uv = xy_to_uv(self.planck_xy(1e6 / mired));
            (uv[0] - target[0]).powi(2) + (uv[1] - target[1]).powi(2)
        };
        let best = (10..=1000)
            .map(f64::from)
            .min_by(|&a, &b| dist(a).total_cmp(&dist(b)))
            .expect("non-empty range");
        // Golden-section refinement in the bracket around the coarse minimum.
        let (mut lo, mut hi) = (best - 1.0, best + 1.0);
        let r = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..60 {
            let (a, b) = (hi - r * (hi - lo), lo + r * (hi - lo));
            if dist(a) < dist(b) {
                hi = b;
            } else {
                lo = a;
            }
        }
        1e6 / (0.5 * (lo + hi))
    }
}

pub fn mul(a: &M3, b: &M3) -> M3 {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

pub fn mul_vec(a: &M3, v: &V3) -> V3 {
    a.map(|row| row[0] * v[0] + row[1] * v[1] + row[2] * v[2])
}

pub fn diag(v: &V3) -> M3 {
    [[v[0], 0.0, 0.0], [0.0, v[1], 0.0], [0.0, 0.0, v[2]]]
}

/// `a * (1 - t) + b * t`.
pub fn lerp(a: &M3, b: &M3, t: f64) -> M3 {
    let mut m = *a;
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = a[i][j] * (1.0 - t) + b[i][j] * t;
        }
    }
    m
}

/// Inverse by the adjugate; panics on a singular matrix.
pub fn inv(a: &M3) -> M3 {
    let cof = |r: usize, c: usize| {
        let (r0, r1) = ((r + 1) % 3, (r + 2) % 3);
        let (c0, c1) = ((c + 1) % 3, (c + 2) % 3);
        a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0]
    };
    let det = a[0][0] * cof(0, 0) + a[0][1] * cof(0, 1) + a[0][2] * cof(0, 2);
    assert!(det.abs() > 1e-12, "singular matrix {a:?}");
    // inverse[i][j] = cofactor[j][i] / det (the cyclic cofactors carry their own sign).
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = cof(j, i) / det;
        }
    }
    m
}

/// XYZ with Y = 1 of a chromaticity.
pub fn xy_to_xyz(xy: [f64; 2]) -> V3 {
    [xy[0] / xy[1], 1.0, (1.0 - xy[0] - xy[1]) / xy[1]]
}

/// CIE 1960 uv of a chromaticity.
pub fn xy_to_uv(xy: [f64; 2]) -> [f64; 2] {
    let d = -2.0 * xy[0] + 12.0 * xy[1] + 3.0;
    [4.0 * xy[0] / d, 6.0 * xy[1] / d]
}

/// RGB -> XYZ of a space from its primaries and white (SMPTE RP 177): the columns are the
/// primaries' XYZ scaled so that RGB (1, 1, 1) is the white with Y = 1.
pub fn rgb_to_xyz(primaries: [[f64; 2]; 3], white: [f64; 2]) -> M3 {
    let p = primaries.map(xy_to_xyz);
    let m = [0, 1, 2].map(|r| [p[0][r], p[1][r], p[2][r]]);
    let s = mul_vec(&inv(&m), &xy_to_xyz(white));
    mul(&m, &diag(&s))
}

/// sRGB decoding (IEC 61966-2-1): a code value 0..1 to linear light.
pub fn srgb_to_linear(v: f64) -> f64 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// CIELAB (CIE 15) of XYZ relative to the white `white` (its XYZ, Y = 1).
pub fn xyz_to_lab(xyz: V3, white: V3) -> V3 {
    let (e, k) = (216.0 / 24389.0, 24389.0 / 27.0);
    let f = |t: f64| {
        if t > e {
            t.cbrt()
        } else {
            (k * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (
        f(xyz[0] / white[0]),
        f(xyz[1] / white[1]),
        f(xyz[2] / white[2]),
    );
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// Largest absolute difference between two matrices.
pub fn max_diff(a: &M3, b: &M3) -> f64 {
    (0..3)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| (a[i][j] - b[i][j]).abs())
        .fold(0.0, f64::max)
}
