//! The table part of a DNG camera profile (DNG 1.7 chapter 6, "Applying the Hue/Saturation/
//! Value Mapping Table" and "Applying the Look Table"): hue/saturation/value maps applied in
//! linear ProPhoto RGB after the colour matrix, and the profile's tone curve.
//!
//! A map has `hue x sat x val` entries of (hue shift in degrees, saturation scale, value
//! scale), stored with value divisions outermost, then hue, then saturation. The pixel's
//! HSV (hexcone, hue in 0..6) indexes it: hue wraps around, saturation runs from 0 to 1 over
//! `sat - 1` steps, value likewise over `val - 1` (a single value division makes the map 2.5D);
//! the entries are interpolated linearly along each axis. With the sRGB value encoding (3D
//! maps) the value axis is indexed by the sRGB-encoded value and the value scale multiplies
//! the encoded value, as the DNG SDK's reference does (the result decoded again; above 1,
//! scene-referred values keep the ratio the scale gives at 1). The shifted hue, the scaled
//! saturation (at most 1) and the scaled value are turned back into RGB. Pixels with a
//! negative channel (outside ProPhoto) pass unchanged.
//!
//! # Units
//! In and out: linear ProPhoto RGB (D50), scene-referred.

use super::transfer::Transfer;

/// One hue/saturation/value map; built only by [`HsvMap::new`], which checks its sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct HsvMap {
    hue_divisions: usize,
    sat_divisions: usize,
    val_divisions: usize,
    /// The value axis is indexed by sRGB-encoded values (ProfileHueSatMapEncoding or
    /// ProfileLookTableEncoding = 1).
    srgb_value: bool,
    /// (hue shift degrees, saturation scale, value scale), value outermost, then hue, then
    /// saturation.
    data: Vec<[f32; 3]>,
}

/// The table part of a profile, as a DNG's IFD0 or a `.dcp` carries it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileTables {
    /// The hue/saturation/value maps of calibration 1 and 2.
    pub hue_sat_map1: Option<HsvMap>,
    pub hue_sat_map2: Option<HsvMap>,
    pub look_table: Option<HsvMap>,
    pub tone_curve: Option<ProfileCurve>,
    /// Added to the file's BaselineExposure, EV.
    pub baseline_exposure_offset: f64,
}

/// Largest number of entries read from a file (the profiles in the wild have at most
/// 90 x 30 x 30).
pub const MAX_ENTRIES: usize = 1 << 20;

impl HsvMap {
    /// A map from the flat triples of a profile; `None` when the sizes disagree.
    pub fn new(dims: [usize; 3], srgb_value: bool, flat: &[f64]) -> Option<Self> {
        let [h, s, v] = dims;
        let n = h.checked_mul(s)?.checked_mul(v)?;
        if h < 1 || s < 2 || v < 1 || n > MAX_ENTRIES || flat.len() != n * 3 {
            return None;
        }
        if flat
            .iter()
            .any(|x| !x.is_finite() || x.abs() > f64::from(f32::MAX))
        {
            return None;
        }
        // Grey has no hue to scale its value by: entries at zero saturation keep the value
        // (scale 1), as the DNG SDK enforces (`dng_hue_sat_map::SetDelta`).
        let data: Vec<[f32; 3]> = flat
            .chunks_exact(3)
            .enumerate()
            .map(|(i, c)| {
                let val_scale = if i % s == 0 { 1.0 } else { c[2] as f32 };
                [c[0] as f32, c[1] as f32, val_scale]
            })
            .collect();
        Some(HsvMap {
            hue_divisions: h,
            sat_divisions: s,
            val_divisions: v,
            srgb_value,
            data,
        })
    }

    /// The map `w * a + (1 - w) * b`, entry by entry (the two calibrations' maps blended
    /// with the matrices' weight); `None` when their sizes differ.
    pub fn blend(a: &HsvMap, b: &HsvMap, w: f32) -> Option<HsvMap> {
        let same = (a.hue_divisions, a.sat_divisions, a.val_divisions)
            == (b.hue_divisions, b.sat_divisions, b.val_divisions);
        same.then(|| HsvMap {
            data: a
                .data
                .iter()
                .zip(&b.data)
                .map(|(x, y)| std::array::from_fn(|i| w * x[i] + (1.0 - w) * y[i]))
                .collect(),
            ..a.clone()
        })
    }

    /// Hue, saturation and value divisions.
    pub fn dims(&self) -> [usize; 3] {
        [self.hue_divisions, self.sat_divisions, self.val_divisions]
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[[f32; 3]] {
        &self.data
    }

    /// True when the value axis is sRGB-encoded.
    pub fn srgb_value(&self) -> bool {
        self.srgb_value
    }

    fn entry(&self, v: usize, h: usize, s: usize) -> [f32; 3] {
        self.data[(v * self.hue_divisions + h) * self.sat_divisions + s]
    }

    /// The map applied to one linear ProPhoto pixel.
    pub fn apply(&self, rgb: [f32; 3]) -> [f32; 3] {
        self.apply_bounded(rgb, false)
    }

    /// [`Self::apply`]; with `bounded` (a pixel already pinned to 0..1, as the DNG SDK's
    /// LookTable sees it) the scaled value is capped at 1, as the SDK caps it.
    pub fn apply_bounded(&self, rgb: [f32; 3], bounded: bool) -> [f32; 3] {
        let (h, s, v) = rgb_to_hsv(rgb);
        // Black, NaN (which fails every comparison) and colours outside ProPhoto pass.
        if v.is_nan() || v <= 0.0 || rgb.iter().any(|&c| c < 0.0) {
            return rgb;
        }
        let encoded = self.srgb_value && self.val_divisions > 1;
        // Hue: 0..6 -> 0..hue_divisions, wrapping.
        let hf = h * self.hue_divisions as f32 / 6.0;
        // `hf` is at least 0: truncation is the floor.
        let h0 = (hf as usize).min(self.hue_divisions - 1);
        let h1 = (h0 + 1) % self.hue_divisions;
        let th = (hf - h0 as f32).clamp(0.0, 1.0);
        let sf = s.clamp(0.0, 1.0) * (self.sat_divisions - 1) as f32;
        let s0 = (sf as usize).min(self.sat_divisions - 2);
        let ts = sf - s0 as f32;
        let lerp = |a: [f32; 3], b: [f32; 3], t: f32| -> [f32; 3] {
            std::array::from_fn(|i| a[i] + t * (b[i] - a[i]))
        };
        let at_v = |vv: usize| {
            let low = lerp(self.entry(vv, h0, s0), self.entry(vv, h0, s0 + 1), ts);
            let high = lerp(self.entry(vv, h1, s0), self.entry(vv, h1, s0 + 1), ts);
            lerp(low, high, th)
        };
        // The value axis (indexed by the encoded value with the sRGB encoding).
        let at = v.min(1.0);
        let vi = if encoded { srgb_encode(at) } else { at };
        let [shift, sat_scale, val_scale] = if self.val_divisions > 1 {
            let vf = vi * (self.val_divisions - 1) as f32;
            let v0 = (vf as usize).min(self.val_divisions - 2);
            lerp(at_v(v0), at_v(v0 + 1), vf - v0 as f32)
        } else {
            at_v(0)
        };
        let h = wrap_hue(h + shift * (6.0 / 360.0));
        let s = (s * sat_scale).clamp(0.0, 1.0);
        let v = if encoded {
            v * srgb_decode((vi * val_scale).clamp(0.0, 1.0)) / at
        } else {
            v * val_scale
        };
        hsv_to_rgb(h, s, if bounded { v.min(1.0) } else { v })
    }
}

/// Maps applied in linear ProPhoto to pixels of another space: into ProPhoto by `to`, the
/// maps in order, back by `from`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProPhotoMaps {
    pub to: [[f32; 3]; 3],
    pub maps: Vec<HsvMap>,
    pub from: [[f32; 3]; 3],
    /// The maps see pixels pinned to 0..1 and cap their values at 1 ([`HsvMap::apply_bounded`]).
    pub bounded: bool,
}

impl ProPhotoMaps {
    /// Applies the maps to a row of interleaved RGB.
    pub fn apply_row(&self, row: &mut [f32]) {
        self.apply_row_between(row, |v| v, |v| v);
    }

    /// Applies `first`, the maps, then `then` (all in linear ProPhoto) to a row of
    /// interleaved RGB.
    pub fn apply_row_between(
        &self,
        row: &mut [f32],
        first: impl Fn([f32; 3]) -> [f32; 3],
        then: impl Fn([f32; 3]) -> [f32; 3],
    ) {
        let mul = |m: &[[f32; 3]; 3], v: [f32; 3]| -> [f32; 3] {
            std::array::from_fn(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2])
        };
        for px in row.chunks_exact_mut(3) {
            let mut v = first(mul(&self.to, [px[0], px[1], px[2]]));
            for map in &self.maps {
                v = map.apply_bounded(v, self.bounded);
            }
            px.copy_from_slice(&mul(&self.from, then(v)));
        }
    }
}

/// Hexcone HSV of RGB, hue in 0..6 (0 = red, 2 = green, 4 = blue).
pub fn rgb_to_hsv([r, g, b]: [f32; 3]) -> (f32, f32, f32) {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    if max.is_nan() || max <= 0.0 || d.is_nan() || d <= 0.0 {
        return (0.0, 0.0, max.max(0.0));
    }
    let h = if max == r {
        wrap_hue((g - b) / d)
    } else if max == g {
        (b - r) / d + 2.0
    } else {
        (r - g) / d + 4.0
    };
    (h, d / max, max)
}

/// RGB of a hexcone HSV (hue in 0..6).
pub fn hsv_to_rgb(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h = wrap_hue(h);
    let i = (h as usize).min(5);
    let f = h - i as f32;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// A hexcone hue brought into 0..6 (one turn added or taken in the common case, without
/// the division of `rem_euclid`).
#[inline(always)]
fn wrap_hue(h: f32) -> f32 {
    let h = if h < 0.0 {
        h + 6.0
    } else if h >= 6.0 {
        h - 6.0
    } else {
        h
    };
    if (0.0..6.0).contains(&h) {
        h
    } else {
        h.rem_euclid(6.0)
    }
}

/// The sRGB encoding of linear `v` in 0..1 (IEC 61966-2-1).
#[inline(always)]
fn srgb_encode(v: f32) -> f32 {
    Transfer::Srgb.encode(v)
}

/// The sRGB decoding of `e` in 0..1.
#[inline(always)]
fn srgb_decode(e: f32) -> f32 {
    Transfer::Srgb.decode(e)
}

/// A profile tone curve: (x, y) pairs in 0..1 from (0, 0) to (1, 1), x increasing,
/// interpolated by the natural cubic spline through them (DNG 1.7, ProfileToneCurve: "the
/// curve is interpolated using a cubic spline"; the DNG SDK's spline is C2 with zero second
/// derivative at both ends, which is the natural spline).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileCurve {
    points: Vec<(f32, f32)>,
    /// The spline's second derivative at each point (0 at both ends).
    second: Vec<f64>,
}

impl ProfileCurve {
    /// From the flat pairs of ProfileToneCurve; `None` unless they start at (0, 0), end at
    /// (1, 1) and rise in x.
    pub fn new(flat: &[f64]) -> Option<Self> {
        if flat.len() < 4 || flat.len() % 2 != 0 || flat.len() > 2 * 8192 {
            return None;
        }
        let points: Vec<(f32, f32)> = flat
            .chunks_exact(2)
            .map(|p| (p[0] as f32, p[1] as f32))
            .collect();
        let (first, last) = (points[0], points[points.len() - 1]);
        let ok = points.windows(2).all(|w| w[1].0 > w[0].0)
            && points.iter().all(|p| p.0.is_finite() && p.1.is_finite())
            && first.0.abs() < 1e-6
            && first.1.abs() < 1e-6
            && (last.0 - 1.0).abs() < 1e-6
            && (last.1 - 1.0).abs() < 1e-6;
        ok.then(|| ProfileCurve {
            second: natural_second_derivatives(&points),
            points,
        })
    }

    /// The (x, y) points.
    pub fn points(&self) -> &[(f32, f32)] {
        &self.points
    }

    /// The curve at `x` (clamped to 0..1).
    pub fn map(&self, x: f32) -> f32 {
        let x = f64::from(x.clamp(0.0, 1.0));
        let i = self
            .points
            .partition_point(|p| f64::from(p.0) <= x)
            .clamp(1, self.points.len() - 1);
        let ((x0, y0), (x1, y1)) = (self.points[i - 1], self.points[i]);
        let (x0, y0, x1, y1) = (f64::from(x0), f64::from(y0), f64::from(x1), f64::from(y1));
        let h = x1 - x0;
        let (a, b) = ((x1 - x) / h, (x - x0) / h);
        let bend =
            ((a * a * a - a) * self.second[i - 1] + (b * b * b - b) * self.second[i]) * h * h / 6.0;
        (a * y0 + b * y1 + bend) as f32
    }
}

/// Second derivatives of the natural cubic spline through `points`: the tridiagonal system
/// `h[i-1] M[i-1] + 2 (h[i-1] + h[i]) M[i] + h[i] M[i+1] = 6 (d[i] - d[i-1])` (`h` the
/// intervals, `d` the chords' slopes) with `M` 0 at both ends, solved by elimination.
fn natural_second_derivatives(points: &[(f32, f32)]) -> Vec<f64> {
    let n = points.len();
    let mut m = vec![0.0; n];
    if n < 3 {
        return m;
    }
    let x = |i: usize| f64::from(points[i].0);
    let y = |i: usize| f64::from(points[i].1);
    let h = |i: usize| x(i + 1) - x(i);
    let d = |i: usize| (y(i + 1) - y(i)) / h(i);
    // Forward sweep over the interior unknowns 1..n-1: diagonal `diag`, right side `rhs`.
    let mut diag = vec![0.0; n];
    let mut rhs = vec![0.0; n];
    for i in 1..n - 1 {
        diag[i] = 2.0 * (h(i - 1) + h(i));
        rhs[i] = 6.0 * (d(i) - d(i - 1));
        if i > 1 {
            let f = h(i - 1) / diag[i - 1];
            diag[i] -= f * h(i - 1);
            rhs[i] -= f * rhs[i - 1];
        }
    }
    for i in (1..n - 1).rev() {
        m[i] = (rhs[i] - h(i) * m[i + 1]) / diag[i];
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_round_trips() {
        for rgb in [
            [0.2f32, 0.5, 0.1],
            [0.9, 0.1, 0.4],
            [0.3, 0.3, 0.3],
            [0.0, 0.2, 0.9],
        ] {
            let (h, s, v) = rgb_to_hsv(rgb);
            let back = hsv_to_rgb(h, s, v);
            assert!(
                rgb.iter().zip(back).all(|(a, b)| (a - b).abs() < 1e-6),
                "{rgb:?}"
            );
        }
    }

    #[test]
    fn colours_outside_prophoto_pass_unchanged() {
        let flat: Vec<f64> = (0..6 * 3).flat_map(|_| [10.0, 1.5, 1.2]).collect();
        let m = HsvMap::new([6, 3, 1], false, &flat).expect("map");
        assert_eq!(m.apply([0.5, -0.1, 0.2]), [0.5, -0.1, 0.2]);
    }

    #[test]
    fn zero_saturation_entries_keep_the_value() {
        // Value scale 2 everywhere: greys (saturation 0) keep their value, colours double.
        let flat: Vec<f64> = (0..6 * 3).flat_map(|_| [0.0, 1.0, 2.0]).collect();
        let m = HsvMap::new([6, 3, 1], false, &flat).expect("map");
        assert_eq!(m.apply([0.3; 3]), [0.3; 3]);
        // Saturation 0.25, halfway to the first saturated division: value scale 1.5.
        let o = m.apply([0.2, 0.15, 0.15]);
        assert!((o[0] - 0.3).abs() < 1e-6, "{o:?}");
        let mut bad = flat.clone();
        bad[2] = f64::NAN;
        assert!(
            HsvMap::new([6, 3, 1], false, &bad).is_none(),
            "NaN anywhere is refused"
        );
    }

    #[test]
    fn identity_map_changes_nothing() {
        let flat: Vec<f64> = (0..6 * 3 * 2).flat_map(|_| [0.0, 1.0, 1.0]).collect();
        let m = HsvMap::new([6, 3, 2], false, &flat).expect("map");
        for rgb in [[0.2f32, 0.5, 0.1], [0.9, 0.1, 0.4], [0.3; 3]] {
            let o = m.apply(rgb);
            assert!(
                rgb.iter().zip(o).all(|(a, b)| (a - b).abs() < 1e-5),
                "{rgb:?} -> {o:?}"
            );
        }
    }

    /// The spec's mapping written out independently: HSV from the largest and smallest
    /// channel with the hue in degrees, the eight corners of the cell around (hue, sat, val)
    /// weighted by the products of their linear weights, the hue axis wrapping.
    fn reference(map: &HsvMap, rgb: [f32; 3]) -> [f32; 3] {
        let [r, g, b] = rgb.map(f64::from);
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        if max <= 0.0 {
            return rgb;
        }
        let chroma = max - min;
        let hue_deg = if chroma <= 0.0 {
            0.0
        } else if max == r {
            60.0 * ((g - b) / chroma)
        } else if max == g {
            60.0 * ((b - r) / chroma + 2.0)
        } else {
            60.0 * ((r - g) / chroma + 4.0)
        };
        let hue_deg = hue_deg.rem_euclid(360.0);
        let sat = if max > 0.0 { chroma / max } else { 0.0 };
        let (hn, sn, vn) = (
            map.hue_divisions as f64,
            map.sat_divisions as f64,
            map.val_divisions as f64,
        );
        let hx = hue_deg / 360.0 * hn;
        let sx = (sat * (sn - 1.0)).min(sn - 1.0 - 1e-9);
        let value_axis = if map.srgb_value {
            let v = max.min(1.0);
            if v <= 0.0031308 {
                12.92 * v
            } else {
                1.055 * v.powf(1.0 / 2.4) - 0.055
            }
        } else {
            max.min(1.0)
        };
        let vx = if map.val_divisions > 1 {
            (value_axis * (vn - 1.0)).min(vn - 1.0 - 1e-9)
        } else {
            0.0
        };
        let (h0, s0, v0) = (hx.floor(), sx.floor(), vx.floor());
        let (th, ts, tv) = (hx - h0, sx - s0, vx - v0);
        let mut acc = [0.0f64; 3];
        for (dh, wh) in [(0usize, 1.0 - th), (1, th)] {
            for (ds, ws) in [(0usize, 1.0 - ts), (1, ts)] {
                for (dv, wv) in [(0usize, 1.0 - tv), (1, tv)] {
                    let w = wh * ws * wv;
                    if w == 0.0 {
                        continue;
                    }
                    let hi = (h0 as usize + dh) % map.hue_divisions;
                    let si = s0 as usize + ds;
                    let vi = (v0 as usize + dv).min(map.val_divisions - 1);
                    let e = map.data
                        [vi * map.hue_divisions * map.sat_divisions + hi * map.sat_divisions + si];
                    for k in 0..3 {
                        acc[k] += w * f64::from(e[k]);
                    }
                }
            }
        }
        let new_hue = (hue_deg + acc[0]).rem_euclid(360.0);
        let new_sat = (sat * acc[1]).clamp(0.0, 1.0);
        // With the sRGB encoding (3D maps) the scale multiplies the encoded value.
        let new_val = if map.srgb_value && map.val_divisions > 1 {
            let enc = (value_axis * acc[2]).clamp(0.0, 1.0);
            let dec = if enc <= 0.04045 {
                enc / 12.92
            } else {
                ((enc + 0.055) / 1.055).powf(2.4)
            };
            max * dec / max.min(1.0)
        } else {
            max * acc[2]
        };
        // HSV back to RGB through the sector and the position within it.
        let sector = new_hue / 60.0;
        let c = new_val * new_sat;
        let x = c * (1.0 - ((sector % 2.0) - 1.0).abs());
        let m = new_val - c;
        let (r1, g1, b1) = match sector as usize {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        [r1 + m, g1 + m, b1 + m].map(|v| v as f32)
    }

    #[test]
    fn maps_match_a_reference_written_from_the_spec() {
        // Three maps: 2.5D linear, 3D linear, 3D with the sRGB value encoding; their entries
        // vary with every index (a hash), hue shifts up to +-20 degrees.
        let entry = |i: usize| {
            let f = |k: f64| ((i as f64 + 1.0) * k).fract();
            [
                40.0 * f(0.618) - 20.0,
                0.6 + 0.8 * f(0.755),
                0.7 + 0.6 * f(0.570),
            ]
        };
        for (dims, srgb) in [([12, 5, 1], false), ([9, 4, 5], false), ([7, 6, 4], true)] {
            let n = dims[0] * dims[1] * dims[2];
            let flat: Vec<f64> = (0..n).flat_map(entry).collect();
            let map = HsvMap::new(dims, srgb, &flat).expect("map");
            // A synthetic chart: colours of every hue, saturation and value, and greys.
            for i in 0..600 {
                let f = |k: f32| (i as f32 * k).fract();
                let rgb = if i % 20 == 0 {
                    [f(0.37); 3]
                } else {
                    [f(0.618), f(0.755), f(0.570)]
                };
                let (got, want) = (map.apply(rgb), reference(&map, rgb));
                for c in 0..3 {
                    assert!(
                        (got[c] - want[c]).abs() < 2e-5,
                        "{dims:?} {srgb}: {rgb:?} -> {got:?}, spec {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn malformed_maps_and_curves_are_refused() {
        assert!(HsvMap::new([6, 1, 1], false, &[0.0; 18]).is_none());
        assert!(HsvMap::new([6, 2, 1], false, &[0.0; 5]).is_none());
        assert!(HsvMap::new([usize::MAX, 2, 2], false, &[]).is_none());
        assert!(ProfileCurve::new(&[0.0, 0.0, 0.5, 0.2]).is_none());
        assert!(ProfileCurve::new(&[0.0, 0.0, 1.0, 1.0, 0.5, 0.5]).is_none());
        assert!(ProfileCurve::new(&[0.0, 0.1, 1.0, 1.0]).is_none());
        let c = ProfileCurve::new(&[0.0, 0.0, 1.0, 1.0]).expect("curve");
        assert!((c.map(0.25) - 0.25).abs() < 1e-6 && c.map(2.0) == 1.0);
    }

    /// The natural spline written the other way: its slopes `s` from the C2 conditions
    /// `h[i] s[i-1] + 2 (h[i-1] + h[i]) s[i] + h[i-1] s[i+1] = 3 (h[i] d[i-1] + h[i-1] d[i])`
    /// and `2 s[0] + s[1] = 3 d[0]` (zero curvature) at the ends, solved densely, then
    /// Hermite segments.
    fn hermite_reference(p: &[(f64, f64)], x: f64) -> f64 {
        let n = p.len();
        let h: Vec<f64> = (0..n - 1).map(|i| p[i + 1].0 - p[i].0).collect();
        let d: Vec<f64> = (0..n - 1).map(|i| (p[i + 1].1 - p[i].1) / h[i]).collect();
        let mut a = vec![vec![0.0; n + 1]; n];
        a[0][0] = 2.0;
        a[0][1] = 1.0;
        a[0][n] = 3.0 * d[0];
        a[n - 1][n - 2] = 1.0;
        a[n - 1][n - 1] = 2.0;
        a[n - 1][n] = 3.0 * d[n - 2];
        for i in 1..n - 1 {
            a[i][i - 1] = h[i];
            a[i][i] = 2.0 * (h[i - 1] + h[i]);
            a[i][i + 1] = h[i - 1];
            a[i][n] = 3.0 * (h[i] * d[i - 1] + h[i - 1] * d[i]);
        }
        // Gauss-Jordan with partial pivoting.
        for c in 0..n {
            let piv = (c..n)
                .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
                .expect("rows");
            a.swap(c, piv);
            let pivot = a[c].clone();
            for (r, row) in a.iter_mut().enumerate() {
                if r != c {
                    let f = row[c] / pivot[c];
                    for (v, p) in row.iter_mut().zip(&pivot).skip(c) {
                        *v -= f * p;
                    }
                }
            }
        }
        let s: Vec<f64> = (0..n).map(|i| a[i][n] / a[i][i]).collect();
        let i = (1..n).find(|&i| x <= p[i].0).unwrap_or(n - 1);
        let t = (x - p[i - 1].0) / h[i - 1];
        let (h00, h10) = (
            2.0 * t.powi(3) - 3.0 * t * t + 1.0,
            t.powi(3) - 2.0 * t * t + t,
        );
        let (h01, h11) = (-2.0 * t.powi(3) + 3.0 * t * t, t.powi(3) - t * t);
        h00 * p[i - 1].1 + h10 * h[i - 1] * s[i - 1] + h01 * p[i].1 + h11 * h[i - 1] * s[i]
    }

    #[test]
    fn tone_curve_is_the_natural_cubic_spline_through_its_points() {
        let pts = [
            (0.0, 0.0),
            (0.05, 0.09),
            (0.2, 0.35),
            (0.3, 0.46),
            (0.6, 0.8),
            (0.85, 0.95),
            (1.0, 1.0),
        ];
        let flat: Vec<f64> = pts.iter().flat_map(|&(x, y)| [x, y]).collect();
        let c = ProfileCurve::new(&flat).expect("curve");
        for i in 0..=1000 {
            let x = f64::from(i) / 1000.0;
            let (got, want) = (f64::from(c.map(x as f32)), hermite_reference(&pts, x));
            assert!((got - want).abs() < 2e-6, "{x}: {got} vs {want}");
        }
        for (x, y) in pts {
            assert!(
                (f64::from(c.map(x as f32)) - y).abs() < 1e-6,
                "passes ({x}, {y})"
            );
        }
    }
}
