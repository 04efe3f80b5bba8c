//! The colour part of a look: a pure function of a display-referred pixel, worked in Oklab
//! (B. Ottosson, "A perceptual color space for image processing", 2020), whose hue stays
//! put when chroma changes, so saturation edits do not drift in hue.
//!
//! Steps, in order: black and white points; a monochrome channel mix; per-hue-band hue,
//! saturation and lightness (eight bands at the Oklab hues of the sRGB red, orange, yellow,
//! green, aqua, blue, purple and magenta, blended by raised cosines between neighbours);
//! global saturation and vibrance, both damped on skin hues by `protect_skin`; split toning;
//! a gamut fit that moves out-of-range colours towards the neutral of their lightness.
//! Neutrals stay neutral: every chroma edit scales chroma, lightness edits fade with it, and
//! only split toning (on purpose) tints greys.
//!
//! # Units
//! In and out: display-linear RGB of the output space, 0..1.

use serde::{Deserialize, Serialize};

use crate::color::matrix::{self, Mat3};
use crate::stages::smoothstep as smooth;

/// Names of the hue bands, in hue order.
pub const BANDS: [&str; 8] = [
    "red", "orange", "yellow", "green", "aqua", "blue", "purple", "magenta",
];

/// Oklab hue (degrees) of each band's centre: the hue of the sRGB primaries and secondaries
/// (red 1,0,0; orange 1,0.5,0; yellow 1,1,0; green 0,1,0; aqua 0,1,1; blue 0,0,1; purple
/// 0.5,0,1; magenta 1,0,1).
pub const BAND_HUES: [f32; 8] = [29.2, 82.3, 109.8, 142.5, 194.8, 264.1, 312.0, 328.4];

/// Oklab hue and half-width (degrees) of the skin tones that `protect_skin` spares: the
/// ColorChecker's dark and light skin sit at 42 and 38 degrees.
const SKIN_HUE: f32 = 45.0;
const SKIN_HALF_WIDTH: f32 = 35.0;

/// One band's edits.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Band {
    /// Hue rotation in degrees, -45..=45.
    pub hue: f32,
    /// Chroma change, -1..=1 (-1 removes the band's colour, 1 doubles its chroma).
    pub saturation: f32,
    /// Lightness change of saturated colours in EV, -1..=1 (fades out towards neutrals).
    pub lightness: f32,
}

/// The per-hue edits, one table per band.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HueBands {
    pub red: Band,
    pub orange: Band,
    pub yellow: Band,
    pub green: Band,
    pub aqua: Band,
    pub blue: Band,
    pub purple: Band,
    pub magenta: Band,
}

impl HueBands {
    pub fn bands(&self) -> [Band; 8] {
        [
            self.red,
            self.orange,
            self.yellow,
            self.green,
            self.aqua,
            self.blue,
            self.purple,
            self.magenta,
        ]
    }
}

/// Split toning: a tint of the shadows and one of the highlights.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitToning {
    /// Oklab hue of the shadow tint, degrees.
    pub shadow_hue: f32,
    /// Strength of the shadow tint, Oklab chroma 0..=0.1.
    pub shadow_amount: f32,
    pub highlight_hue: f32,
    pub highlight_amount: f32,
}

/// The colour edits of a look (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColourEdits {
    pub black_point: f32,
    pub white_point: f32,
    /// Monochrome channel weights (normalised to sum 1), or `None` for colour.
    pub monochrome: Option<[f32; 3]>,
    pub bands: [Band; 8],
    pub saturation: f32,
    pub vibrance: f32,
    pub protect_skin: f32,
    pub split: SplitToning,
}

/// Oklab's M1 (linear sRGB to LMS) and M2 (cube-root LMS to Lab).
const SRGB_TO_LMS: Mat3 = [
    [0.412_221_470_8, 0.536_332_536_3, 0.051_445_992_9],
    [0.211_903_498_2, 0.680_699_545_1, 0.107_396_956_6],
    [0.088_302_461_9, 0.281_718_837_6, 0.629_978_700_5],
];
const LMS_TO_LAB: Mat3 = [
    [0.210_454_255_3, 0.793_617_785_0, -0.004_072_046_8],
    [1.977_998_495_1, -2.428_592_205_0, 0.450_593_709_9],
    [0.025_904_037_1, 0.782_771_766_2, -0.808_675_766_0],
];

/// Conversions between the output space's linear RGB and Oklab.
#[derive(Debug, Clone, Copy)]
pub struct Oklab {
    to_lms: Mat3,
    from_lms: Mat3,
    lab_to_lms: Mat3,
}

impl Oklab {
    /// For an output space whose linear RGB goes to linear sRGB by `to_srgb`.
    pub fn new(to_srgb: &Mat3) -> Self {
        let to_lms = matrix::mul(&SRGB_TO_LMS, to_srgb);
        Oklab {
            to_lms,
            from_lms: matrix::invert(&to_lms).unwrap_or(matrix::IDENTITY),
            lab_to_lms: matrix::invert(&LMS_TO_LAB).unwrap_or(matrix::IDENTITY),
        }
    }

    pub fn from_rgb(&self, rgb: [f64; 3]) -> [f64; 3] {
        let lms = matrix::mul_vec(&self.to_lms, &rgb).map(f64::cbrt);
        matrix::mul_vec(&LMS_TO_LAB, &lms)
    }

    pub fn to_rgb(&self, lab: [f64; 3]) -> [f64; 3] {
        let lms = matrix::mul_vec(&self.lab_to_lms, &lab).map(|v| v * v * v);
        matrix::mul_vec(&self.from_lms, &lms)
    }
}

/// Signed distance from hue `a` to hue `b`, degrees in -180..180.
fn hue_diff(a: f32, b: f32) -> f32 {
    (b - a + 540.0).rem_euclid(360.0) - 180.0
}

/// Weights of the eight bands at hue `h`: a raised cosine between the two neighbouring band
/// centres, so the edits vary smoothly (C1) around the hue circle and sum to 1.
pub fn band_weights(h: f32) -> [f32; 8] {
    let mut w = [0.0; 8];
    for i in 0..8 {
        let (a, b) = (BAND_HUES[i], BAND_HUES[(i + 1) % 8]);
        let span = hue_diff(a, b).rem_euclid(360.0);
        let d = hue_diff(a, h).rem_euclid(360.0);
        if d < span {
            let t = d / span;
            let s = 0.5 - 0.5 * (std::f32::consts::PI * t).cos();
            w[i] += 1.0 - s;
            w[(i + 1) % 8] += s;
            break;
        }
    }
    w
}

/// How much of the skin-tone protection applies at hue `h` and chroma `c`: 1 on skin hues
/// of skin-like chroma, fading to 0 across the band's edge, for vivid colours, and towards
/// neutral (below chroma 0.03, where a hue is too unsteady to decide on; skin has 0.05 and
/// more).
fn skin_weight(h: f32, c: f32) -> f32 {
    let d = hue_diff(SKIN_HUE, h).abs();
    if d >= SKIN_HALF_WIDTH {
        return 0.0;
    }
    let hue = 0.5 + 0.5 * (std::f32::consts::PI * d / SKIN_HALF_WIDTH).cos();
    hue * (1.0 - smooth((c - 0.10) / 0.08)) * smooth(c / 0.03)
}

impl ColourEdits {
    /// True when the edits change nothing.
    pub fn is_identity(&self) -> bool {
        self.black_point == 0.0
            && self.white_point == 1.0
            && self.monochrome.is_none()
            && self.bands.iter().all(|b| *b == Band::default())
            && self.saturation == 1.0
            && self.vibrance == 0.0
            && self.split.shadow_amount == 0.0
            && self.split.highlight_amount == 0.0
    }

    /// The edited pixel (display-linear RGB of the output space).
    pub fn apply(&self, ok: &Oklab, rgb: [f32; 3]) -> [f32; 3] {
        let (bp, wp) = (f64::from(self.black_point), f64::from(self.white_point));
        let mut v = rgb.map(|c| ((f64::from(c) - bp) / (wp - bp)).max(0.0));
        if let Some(m) = self.monochrome {
            let y = f64::from(m[0]) * v[0] + f64::from(m[1]) * v[1] + f64::from(m[2]) * v[2];
            v = [y.max(0.0); 3];
        }
        let [l, a, b] = ok.from_rgb(v);
        let (mut c, mut h) = (
            a.hypot(b) as f32,
            (b.atan2(a).to_degrees() as f32).rem_euclid(360.0),
        );
        let mut l = l as f32;
        let w = band_weights(h);
        let (mut dh, mut ds, mut dl) = (0.0f32, 0.0f32, 0.0f32);
        for (band, wt) in self.bands.iter().zip(w) {
            dh += wt * band.hue;
            ds += wt * band.saturation;
            dl += wt * band.lightness;
        }
        // Lightness edits act on colours, not on greys: scaled by chroma (half at 0.04).
        l *= (dl / 3.0 * c / (c + 0.04)).exp2();
        let skin = self.protect_skin * skin_weight(h, c);
        h += dh;
        c *= (1.0 + ds).max(0.0);
        // Vibrance: more for muted colours (full below chroma 0.05, none above 0.25).
        let muted = (1.0 - ((c - 0.05) / 0.2).clamp(0.0, 1.0)).powi(2);
        let gain = self.saturation * (1.0 + self.vibrance * muted);
        // Boosts spare skin and near-neutrals (they fade in up to chroma 0.03, where a hue
        // is steady enough to push), so greys and off-whites do not take on colour; cuts
        // apply everywhere, so saturation 0 gives grey.
        let spare = if gain > 1.0 {
            (1.0 - skin) * smooth(c / 0.03)
        } else {
            1.0
        };
        c *= 1.0 + (gain - 1.0) * spare;
        let (hr, lc) = (h.to_radians(), l.clamp(0.0, 1.0));
        let (mut a, mut b) = (c * hr.cos(), c * hr.sin());
        let sp = &self.split;
        let (ws, wh) = ((1.0 - lc) * (1.0 - lc), lc * lc);
        let (sr, hr2) = (sp.shadow_hue.to_radians(), sp.highlight_hue.to_radians());
        a += ws * sp.shadow_amount * sr.cos() + wh * sp.highlight_amount * hr2.cos();
        b += ws * sp.shadow_amount * sr.sin() + wh * sp.highlight_amount * hr2.sin();
        let out = ok.to_rgb([f64::from(l), f64::from(a), f64::from(b)]);
        fit_gamut(out, f64::from(l).powi(3)).map(|v| v as f32)
    }
}

/// Moves `rgb` towards the neutral `grey` (Oklab's L^3 of the colour: the luminance of the
/// neutral of the same lightness, clamped to 0..1) just enough that every channel lies in
/// 0..1: the hue stays, chroma gives way.
fn fit_gamut(rgb: [f64; 3], grey: f64) -> [f64; 3] {
    let g = grey.clamp(0.0, 1.0);
    let mut t = 1.0f64;
    for v in rgb {
        if v > 1.0 {
            t = t.min((1.0 - g) / (v - g));
        } else if v < 0.0 {
            t = t.min(g / (g - v));
        }
    }
    let t = t.max(0.0);
    rgb.map(|v| (g + t * (v - g)).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ColourEdits {
        ColourEdits {
            black_point: 0.0,
            white_point: 1.0,
            monochrome: None,
            bands: [Band::default(); 8],
            saturation: 1.0,
            vibrance: 0.0,
            protect_skin: 0.0,
            split: SplitToning::default(),
        }
    }

    #[test]
    fn oklab_of_srgb_white_and_primaries_matches_the_published_values() {
        let ok = Oklab::new(&matrix::IDENTITY);
        let w = ok.from_rgb([1.0; 3]);
        assert!((w[0] - 1.0).abs() < 1e-4 && w[1].abs() < 1e-4 && w[2].abs() < 1e-4);
        // Ottosson's post: sRGB red is L 0.628, a 0.225, b 0.126.
        let r = ok.from_rgb([1.0, 0.0, 0.0]);
        assert!(
            (r[0] - 0.628).abs() < 1e-3
                && (r[1] - 0.225).abs() < 1e-3
                && (r[2] - 0.126).abs() < 1e-3
        );
        let back = ok.to_rgb(r);
        assert!((back[0] - 1.0).abs() < 1e-6 && back[1].abs() < 1e-6 && back[2].abs() < 1e-6);
    }

    #[test]
    fn identity_edits_change_nothing() {
        let ok = Oklab::new(&matrix::IDENTITY);
        let e = identity();
        assert!(e.is_identity());
        for rgb in [[0.2, 0.5, 0.1], [0.9, 0.1, 0.4], [0.0, 0.0, 0.0], [0.5; 3]] {
            let o = e.apply(&ok, rgb);
            assert!(
                o.iter().zip(rgb).all(|(a, b)| (a - b).abs() < 1e-5),
                "{rgb:?} -> {o:?}"
            );
        }
    }

    #[test]
    fn band_weights_sum_to_one_and_peak_at_their_centres() {
        for i in 0..3600 {
            let w = band_weights(i as f32 / 10.0);
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        for (i, h) in BAND_HUES.iter().enumerate() {
            assert!((band_weights(*h)[i] - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn saturation_and_band_edits_keep_greys_grey() {
        let ok = Oklab::new(&matrix::IDENTITY);
        let mut e = identity();
        e.saturation = 1.6;
        e.vibrance = 0.8;
        e.bands = [Band {
            hue: 30.0,
            saturation: 0.7,
            lightness: 1.0,
        }; 8];
        for v in [0.02, 0.18, 0.5, 0.9] {
            let o = e.apply(&ok, [v; 3]);
            assert!(o.iter().all(|c| (c - v).abs() < 1e-4), "{v} -> {o:?}");
        }
    }

    #[test]
    fn saturation_raises_chroma_at_constant_hue_and_stays_in_gamut() {
        let ok = Oklab::new(&matrix::IDENTITY);
        let mut e = identity();
        e.saturation = 1.4;
        // The first two stay inside the gamut; the third is fitted back towards its neutral
        // in linear RGB, which is close to, not exactly, a constant Oklab hue.
        for (rgb, hue_tolerance) in [
            ([0.3f32, 0.15, 0.1], 0.5),
            ([0.1, 0.3, 0.5], 0.5),
            ([0.9, 0.2, 0.1], 5.0),
        ] {
            let before = ok.from_rgb(rgb.map(f64::from));
            let o = e.apply(&ok, rgb);
            assert!(o.iter().all(|c| (0.0..=1.0).contains(c)));
            let after = ok.from_rgb(o.map(f64::from));
            let (c0, c1) = (before[1].hypot(before[2]), after[1].hypot(after[2]));
            let dh = hue_diff(
                before[2].atan2(before[1]).to_degrees() as f32,
                after[2].atan2(after[1]).to_degrees() as f32,
            );
            assert!(c1 > c0 * 1.05, "{rgb:?}: chroma {c0} -> {c1}");
            assert!(dh.abs() < hue_tolerance, "{rgb:?}: hue moved {dh}");
        }
    }

    #[test]
    fn skin_protection_spares_skin_but_not_blue() {
        let ok = Oklab::new(&matrix::IDENTITY);
        let mut e = identity();
        e.saturation = 1.5;
        e.protect_skin = 1.0;
        let chroma = |rgb: [f32; 3]| {
            let l = ok.from_rgb(rgb.map(f64::from));
            l[1].hypot(l[2])
        };
        // The ColorChecker's light skin and blue sky (linear sRGB).
        let skin = [0.4452, 0.2941, 0.2289];
        let sky = [0.1185, 0.1896, 0.3202];
        let gain = |rgb| chroma(e.apply(&ok, rgb)) / chroma(rgb);
        assert!(gain(skin) < 1.05, "skin {}", gain(skin));
        assert!(gain(sky) > 1.4, "sky {}", gain(sky));
    }

    #[test]
    fn monochrome_mix_gives_greys_and_split_toning_tints_them() {
        let ok = Oklab::new(&matrix::IDENTITY);
        let mut e = identity();
        e.monochrome = Some([0.5, 0.4, 0.1]);
        let o = e.apply(&ok, [0.6, 0.2, 0.1]);
        assert!((o[0] - o[1]).abs() < 1e-5 && (o[1] - o[2]).abs() < 1e-5);
        assert!((o[0] - (0.3 + 0.08 + 0.01)).abs() < 1e-4, "{o:?}");
        e.split.highlight_hue = 70.0;
        e.split.highlight_amount = 0.03;
        let warm = e.apply(&ok, [0.6, 0.5, 0.4]);
        assert!(warm[0] > warm[2] + 0.01, "warm highlights: {warm:?}");
    }
}
