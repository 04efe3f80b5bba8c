//! 3D lookup tables: the `.cube` format, tetrahedral interpolation, and the `lut` stage.
//!
//! A `.cube` file (Adobe "Cube LUT Specification" 1.0) holds `LUT_3D_SIZE`^3 output RGB
//! triples, red changing fastest, over the input cube `DOMAIN_MIN`..`DOMAIN_MAX` (default
//! 0..1), with an optional `TITLE` and `#` comments. Tetrahedral interpolation (Kasson et
//! al. 1995, "Performing color space conversions with three-dimensional linear
//! interpolation") splits each grid cell into six tetrahedra along its main diagonal, so a
//! neutral input interpolates along the neutral axis only and any affine table (the identity)
//! is reproduced exactly.
//!
//! # Units
//! The `lut` stage takes and gives encoded display values (0..1 code values of the output
//! space, after its transfer function), as colour grading tools apply `.cube` files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};

/// Largest `LUT_3D_SIZE` read (256^3 triples, 200 MB of text, is the format's limit).
pub const MAX_SIZE: usize = 256;

/// Largest `.cube` file read, bytes (a 256^3 table in text is about 500 MB).
pub const MAX_FILE_BYTES: usize = 600 << 20;

/// A 3D table: `size`^3 RGB triples over `min..max` per channel, red index fastest. Built
/// only by [`Lut3d::from_fn`] and [`Lut3d::parse_cube`], so `size >= 2` and the data fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut3d {
    size: usize,
    pub min: [f32; 3],
    pub max: [f32; 3],
    pub title: Option<String>,
    data: Vec<[f32; 3]>,
}

impl Lut3d {
    /// Samples `f` on a `size`^3 grid over 0..1 (`size` at least 2).
    pub fn from_fn(size: usize, title: Option<String>, f: impl Fn([f32; 3]) -> [f32; 3]) -> Self {
        let size = size.clamp(2, MAX_SIZE);
        let step = 1.0 / (size - 1) as f32;
        let mut data = Vec::with_capacity(size * size * size);
        for b in 0..size {
            for g in 0..size {
                for r in 0..size {
                    data.push(f([r as f32 * step, g as f32 * step, b as f32 * step]));
                }
            }
        }
        Lut3d {
            size,
            min: [0.0; 3],
            max: [1.0; 3],
            title,
            data,
        }
    }

    /// Parses a `.cube` file's text; `what` names it in errors.
    pub fn parse_cube(text: &str, what: &str) -> Result<Self> {
        let bad =
            |line: usize, why: String| Error::parameter(format!("{what}: line {line}: {why}"));
        let (mut size, mut min, mut max, mut title) = (None, [0.0f32; 3], [1.0f32; 3], None);
        let mut data: Vec<[f32; 3]> = Vec::new();
        let triple = |words: &[&str], line: usize| -> Result<[f32; 3]> {
            let v: Vec<f32> = words
                .iter()
                .map(|w| w.parse::<f32>().ok().filter(|v| v.is_finite()))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(line, format!("not three numbers: {}", words.join(" "))))?;
            <[f32; 3]>::try_from(v)
                .map_err(|_| bad(line, format!("not three numbers: {}", words.join(" "))))
        };
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = l.split_whitespace().collect();
            match words[0] {
                "TITLE" => {
                    title = Some(l["TITLE".len()..].trim().trim_matches('"').to_string());
                }
                "LUT_3D_SIZE" => {
                    if size.is_some() {
                        return Err(bad(line, "a second LUT_3D_SIZE".into()));
                    }
                    let n = words
                        .get(1)
                        .and_then(|w| w.parse::<usize>().ok())
                        .filter(|n| (2..=MAX_SIZE).contains(n))
                        .ok_or_else(|| bad(line, format!("LUT_3D_SIZE must be 2..={MAX_SIZE}")))?;
                    size = Some(n);
                }
                "LUT_1D_SIZE" => {
                    return Err(bad(
                        line,
                        "1D tables are not supported; give a 3D .cube".into(),
                    ));
                }
                "DOMAIN_MIN" => min = triple(&words[1..], line)?,
                "DOMAIN_MAX" => max = triple(&words[1..], line)?,
                // Resolve's form of the domain: one range for all three channels.
                "LUT_3D_INPUT_RANGE" => {
                    let [lo, hi] = [1, 2].map(|i| {
                        words
                            .get(i)
                            .and_then(|w| w.parse::<f32>().ok())
                            .filter(|v| v.is_finite())
                    });
                    let (Some(lo), Some(hi)) = (lo, hi) else {
                        return Err(bad(line, "LUT_3D_INPUT_RANGE needs two numbers".into()));
                    };
                    (min, max) = ([lo; 3], [hi; 3]);
                }
                w if w.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c)) => {
                    let n = size.ok_or_else(|| bad(line, "data before LUT_3D_SIZE".into()))?;
                    if data.len() >= n * n * n {
                        return Err(bad(line, format!("more than {n}^3 entries")));
                    }
                    data.push(triple(&words, line)?);
                }
                other => return Err(bad(line, format!("unknown keyword '{other}'"))),
            }
        }
        let size = size.ok_or_else(|| Error::parameter(format!("{what}: no LUT_3D_SIZE")))?;
        if data.len() != size * size * size {
            return Err(Error::parameter(format!(
                "{what}: {} entries, LUT_3D_SIZE {size} needs {}",
                data.len(),
                size * size * size
            )));
        }
        if (0..3).any(|c| max[c] <= min[c]) {
            return Err(Error::parameter(format!(
                "{what}: DOMAIN_MAX must exceed DOMAIN_MIN in every channel"
            )));
        }
        Ok(Lut3d {
            size,
            min,
            max,
            title,
            data,
        })
    }

    /// Reads a `.cube` file (at most [`MAX_FILE_BYTES`]).
    pub fn read_cube(path: &Path) -> Result<Self> {
        let what = path.display().to_string();
        let bytes = crate::limits::read_side_file(path, MAX_FILE_BYTES)
            .map_err(|e| Error::parameter(format!("{what}: cannot read the LUT: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::parameter(format!("{what}: not a text file")))?;
        Self::parse_cube(&text, &what)
    }

    /// Grid points per axis.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The table as `.cube` text.
    pub fn to_cube(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.title {
            let _ = writeln!(s, "TITLE \"{}\"", t.replace('"', "'"));
        }
        let _ = writeln!(s, "LUT_3D_SIZE {}", self.size);
        let [a, b, c] = self.min;
        let _ = writeln!(s, "DOMAIN_MIN {a} {b} {c}");
        let [a, b, c] = self.max;
        let _ = writeln!(s, "DOMAIN_MAX {a} {b} {c}");
        for [r, g, b] in &self.data {
            let _ = writeln!(s, "{r:.6} {g:.6} {b:.6}");
        }
        s
    }

    /// The table at `rgb` by tetrahedral interpolation; inputs outside the domain (and NaN)
    /// take the nearest face's value.
    #[inline(always)]
    pub fn apply(&self, rgb: [f32; 3]) -> [f32; 3] {
        let n = self.size;
        let top = (n - 1) as f32;
        let mut i = [0usize; 3];
        let mut d = [0.0f32; 3];
        for c in 0..3 {
            let f = ((rgb[c] - self.min[c]) / (self.max[c] - self.min[c]) * top)
                .max(0.0)
                .min(top);
            let k = (f as usize).min(n - 2);
            i[c] = k;
            d[c] = f - k as f32;
        }
        let at = |r: usize, g: usize, b: usize| {
            self.data[(i[0] + r) + n * ((i[1] + g) + n * (i[2] + b))]
        };
        let (dr, dg, db) = (d[0], d[1], d[2]);
        let c000 = at(0, 0, 0);
        let c111 = at(1, 1, 1);
        // The tetrahedron holding the point: walk from c000 to c111 along the axes in the
        // order of decreasing fractions.
        let (first, second, w) = if dr > dg {
            if dg > db {
                (at(1, 0, 0), at(1, 1, 0), [dr, dg, db])
            } else if dr > db {
                (at(1, 0, 0), at(1, 0, 1), [dr, db, dg])
            } else {
                (at(0, 0, 1), at(1, 0, 1), [db, dr, dg])
            }
        } else if db > dg {
            (at(0, 0, 1), at(0, 1, 1), [db, dg, dr])
        } else if db > dr {
            (at(0, 1, 0), at(0, 1, 1), [dg, db, dr])
        } else {
            (at(0, 1, 0), at(1, 1, 0), [dg, dr, db])
        };
        std::array::from_fn(|c| {
            c000[c]
                + w[0] * (first[c] - c000[c])
                + w[1] * (second[c] - first[c])
                + w[2] * (c111[c] - second[c])
        })
    }
}

/// The `lut` stage: a `.cube` file applied to the encoded output values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LutStage {
    /// The `.cube` file (relative paths from the working folder).
    pub file: PathBuf,
    /// Blend with the input, 0..=1 (1: the table's output).
    pub strength: f32,
}

impl Default for LutStage {
    fn default() -> Self {
        LutStage {
            file: PathBuf::new(),
            strength: 1.0,
        }
    }
}

/// A table applied to rows of encoded RGB.
pub struct LutKernel {
    pub lut: Arc<Lut3d>,
    pub strength: f32,
}

impl PointKernel for LutKernel {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        let s = self.strength;
        for px in row.chunks_exact_mut(3) {
            let out = self.lut.apply([px[0], px[1], px[2]]);
            for (v, o) in px.iter_mut().zip(out) {
                *v += s * (o - *v);
            }
        }
    }
}

impl Stage for LutStage {
    fn name(&self) -> &'static str {
        "lut"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::Encoded, Signal::Encoded)
    }
    fn order(&self) -> u32 {
        850
    }
    fn validate(&self) -> Result<()> {
        if self.file.as_os_str().is_empty() {
            return Err(Error::parameter("lut: `file` names no .cube file"));
        }
        if !(0.0..=1.0).contains(&self.strength) {
            return Err(Error::parameter(format!(
                "lut: strength {} is outside 0..=1",
                self.strength
            )));
        }
        Ok(())
    }
    fn plan(&self, _: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        let lut = Lut3d::read_cube(&self.file)?;
        Ok(Some(Kernel::Point(Box::new(LutKernel {
            lut: Arc::new(lut),
            strength: self.strength,
        }))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_points() -> Vec<[f32; 3]> {
        (0..2000)
            .map(|i| {
                let f = |k: f32| (i as f32 * k).fract();
                [f(0.6180339), f(0.7548777), f(0.5698403)]
            })
            .collect()
    }

    #[test]
    fn identity_table_changes_nothing_beyond_a_16_bit_step() {
        let lut = Lut3d::from_fn(33, None, |c| c);
        for p in sample_points() {
            let out = lut.apply(p);
            for c in 0..3 {
                assert!((out[c] - p[c]).abs() <= 1.0 / 65535.0, "{p:?} -> {out:?}");
            }
        }
    }

    #[test]
    fn a_33_point_table_of_a_curve_matches_the_curve() {
        // A strong non-linear, cross-channel grade on code values (an S-curve, a
        // saturation boost that leaves the 0..1 range, a channel mix), evaluated directly in the
        // test.
        let f = |[r, g, b]: [f32; 3]| {
            let s = |v: f32| v * v * (3.0 - 2.0 * v);
            let y = 0.3 * r + 0.6 * g + 0.1 * b;
            let sat = |v: f32| y + 1.6 * (v - y);
            [
                s(sat(r)),
                sat(g).max(0.0).powf(1.8),
                (1.0 - s(b)) * 0.5 + 0.5 * r * (2.0 - r),
            ]
        };
        let lut = Lut3d::from_fn(33, None, f);
        for p in sample_points() {
            let (got, want) = (lut.apply(p), f(p));
            for c in 0..3 {
                assert!(
                    (got[c] - want[c]).abs() < 3.0 / 255.0,
                    "{p:?}: {got:?} vs {want:?}"
                );
            }
        }
    }

    #[test]
    fn neutral_inputs_interpolate_along_the_neutral_axis() {
        // A table that is neutral on the grey axis and wild elsewhere keeps greys neutral.
        let lut = Lut3d::from_fn(9, None, |[r, g, b]| {
            let m = (r + g + b) / 3.0;
            [m + (r - g), m + (g - b) * 2.0, m + (b - r)]
        });
        for i in 0..=100 {
            let v = i as f32 / 100.0;
            let o = lut.apply([v; 3]);
            assert!((o[0] - v).abs() < 1e-6 && (o[1] - v).abs() < 1e-6 && (o[2] - v).abs() < 1e-6);
        }
    }

    #[test]
    fn cube_text_round_trips_and_honours_the_domain() {
        let mut lut = Lut3d::from_fn(5, Some("t".into()), |[r, g, b]| [g, b, r]);
        let back = Lut3d::parse_cube(&lut.to_cube(), "mem").expect("parses");
        assert_eq!(back.size(), 5);
        assert_eq!(back.title.as_deref(), Some("t"));
        assert!(
            back.data
                .iter()
                .zip(&lut.data)
                .all(|(a, b)| (0..3).all(|c| (a[c] - b[c]).abs() < 1e-6))
        );
        // A domain of 0..2: input 1.0 is the middle of the table.
        lut.max = [2.0; 3];
        let o = lut.apply([1.0, 0.5, 0.0]);
        assert!(
            (o[0] - 0.25).abs() < 1e-6 && (o[1] - 0.0).abs() < 1e-6 && (o[2] - 0.5).abs() < 1e-6
        );
    }

    #[test]
    fn broken_cube_files_are_clear_errors() {
        for (text, want) in [
            ("0 0 0\n", "before LUT_3D_SIZE"),
            ("LUT_3D_SIZE 2\n0 0 0\n", "entries"),
            ("LUT_3D_SIZE 1\n", "LUT_3D_SIZE must be"),
            ("LUT_3D_SIZE 99999\n", "LUT_3D_SIZE must be"),
            ("LUT_1D_SIZE 16\n", "1D tables"),
            (
                "LUT_3D_SIZE 2\nDOMAIN_MIN 1 1 1\nDOMAIN_MAX 0 0 0\n",
                "DOMAIN_MAX",
            ),
            ("LUT_3D_SIZE 2\nBOGUS\n", "unknown keyword"),
            ("LUT_3D_SIZE 2\n0 0 nan\n", "three numbers"),
            (
                "LUT_3D_SIZE 3\n0 0 0\nLUT_3D_SIZE 2\n",
                "second LUT_3D_SIZE",
            ),
        ] {
            let mut t = text.to_string();
            if want == "DOMAIN_MAX" {
                t.push_str(&"0 0 0\n".repeat(8));
            }
            let m = Lut3d::parse_cube(&t, "x.cube").expect_err(text).to_string();
            assert!(m.contains("x.cube") && m.contains(want), "{text:?}: {m}");
        }
        assert!(
            Lut3d::apply(&Lut3d::from_fn(2, None, |c| c), [f32::NAN, 2.0, -1.0])
                .iter()
                .all(|v| v.is_finite())
        );
    }
}
