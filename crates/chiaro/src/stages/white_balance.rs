//! White balance: choosing the white and scaling the CFA channels so it becomes neutral.
//!
//! # Units
//! In: normalised CFA samples (0 = black, 1 = white level), camera RGB filters. Out: the same
//! samples multiplied by `1 / neutral[c]`, so a neutral surface has equal R, G, B and the
//! channel that clips first (largest neutral entry) still clips at 1.
//!
//! # References
//! DNG 1.7 spec chapter 6 (camera neutral, AsShotNeutral / AsShotWhiteXY).

use serde::{Deserialize, Serialize};

use crate::color::dng::normalize_max;
use crate::color::temperature::temperature_to_xy;
use crate::error::{Error, Result};
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};
use crate::raw::ColorCalibration;
pub use crate::stages::awb::AwbMethod;

/// How the white is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum WbMode {
    /// The camera's as-shot white (AsShotNeutral or AsShotWhiteXY).
    AsShot,
    /// Estimated from the image by an [`AwbMethod`] (`auto` is the default method, others are
    /// `auto:NAME`).
    Auto(AwbMethod),
    /// A camera preset computed from the camera's own colour calibration at a named
    /// illuminant (`camera` = daylight, 5500 K).
    Preset(Preset),
    /// A correlated colour temperature in kelvin and a tint (DNG SDK scale, + = magenta).
    Kelvin { temperature: f64, tint: f64 },
    /// Channel multipliers (R, G, B), as raw converters take them (`gains:R,G,B`): the
    /// neutral is their reciprocal. Only their ratios count.
    Gains([f64; 3]),
}

/// Named illuminants for camera presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Daylight,
    Cloudy,
    Shade,
    Tungsten,
    Fluorescent,
    Flash,
}

impl Preset {
    /// (temperature K, tint) of the preset, as raw converters commonly define them.
    fn temperature(self) -> (f64, f64) {
        match self {
            Preset::Daylight => (5500.0, 0.0),
            Preset::Cloudy => (6500.0, 0.0),
            Preset::Shade => (7500.0, 0.0),
            Preset::Tungsten => (2850.0, 0.0),
            Preset::Fluorescent => (3800.0, 21.0),
            Preset::Flash => (5500.0, 0.0),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Preset::Daylight => "daylight",
            Preset::Cloudy => "cloudy",
            Preset::Shade => "shade",
            Preset::Tungsten => "tungsten",
            Preset::Fluorescent => "fluorescent",
            Preset::Flash => "flash",
        }
    }
}

impl TryFrom<String> for WbMode {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        WbMode::parse(&s)
    }
}

impl From<WbMode> for String {
    fn from(m: WbMode) -> String {
        match m {
            WbMode::AsShot => "as-shot".into(),
            WbMode::Auto(m) if m == AwbMethod::default() => "auto".into(),
            WbMode::Auto(m) => format!("auto:{}", m.name()),
            WbMode::Preset(p) => p.name().into(),
            WbMode::Kelvin { temperature, tint } => format!("{temperature},{tint}"),
            WbMode::Gains([r, g, b]) => format!("gains:{r},{g},{b}"),
        }
    }
}

impl WbMode {
    /// Parses `as-shot`, `auto`, `auto:METHOD` (grey-world, shades-of-grey, grey-edge,
    /// max-rgb), `camera`, a preset name, `KELVIN`, `KELVIN,TINT` or `gains:R,G,B` (a fourth
    /// value, rawpy's second green, is accepted and left out).
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        if let Some(name) = t.strip_prefix("auto:") {
            return AwbMethod::from_name(name).map(WbMode::Auto).ok_or_else(|| {
                Error::parameter(format!(
                    "white balance '{s}': auto methods are {}",
                    AwbMethod::ALL.map(AwbMethod::name).join(", ")
                ))
            });
        }
        if let Some(list) = t.strip_prefix("gains:") {
            let bad = || {
                Error::parameter(format!(
                    "white balance '{s}': gains:R,G,B takes three (or four, R,G,B,G2) positive \
                     multipliers"
                ))
            };
            let v = list
                .split(',')
                .map(|p| p.trim().parse::<f64>().map_err(|_| bad()))
                .collect::<Result<Vec<f64>>>()?;
            if !(3..=4).contains(&v.len()) || v[..3].iter().any(|g| !(g.is_finite() && *g > 0.0)) {
                return Err(bad());
            }
            return Ok(WbMode::Gains([v[0], v[1], v[2]]));
        }
        Ok(match t.as_str() {
            "as-shot" | "asshot" | "as_shot" => WbMode::AsShot,
            "auto" => WbMode::Auto(AwbMethod::default()),
            "camera" | "daylight" => WbMode::Preset(Preset::Daylight),
            "cloudy" => WbMode::Preset(Preset::Cloudy),
            "shade" => WbMode::Preset(Preset::Shade),
            "tungsten" | "incandescent" => WbMode::Preset(Preset::Tungsten),
            "fluorescent" => WbMode::Preset(Preset::Fluorescent),
            "flash" => WbMode::Preset(Preset::Flash),
            _ => {
                let mut parts = t.split(',');
                let num =
                    |p: Option<&str>| p.map(|v| v.trim().trim_end_matches('k').parse::<f64>());
                let bad = || {
                    Error::parameter(format!(
                        "white balance '{s}': use as-shot, auto, camera, a preset (daylight, \
                         cloudy, shade, tungsten, fluorescent, flash) or KELVIN[,TINT] with \
                         KELVIN 1000..50000 and TINT -150..150"
                    ))
                };
                let temperature = num(parts.next()).ok_or_else(bad)?.map_err(|_| bad())?;
                let tint = num(parts.next())
                    .transpose()
                    .map_err(|_| bad())?
                    .unwrap_or(0.0);
                if parts.next().is_some()
                    || !(1000.0..=50000.0).contains(&temperature)
                    || !(-150.0..=150.0).contains(&tint)
                {
                    return Err(bad());
                }
                WbMode::Kelvin { temperature, tint }
            }
        })
    }
}

/// The camera neutral (largest entry 1) for a white-balance mode. `auto` needs the image
/// statistics: `auto_estimate` runs its method on them.
pub fn neutral_for(
    mode: WbMode,
    cal: &ColorCalibration,
    auto_estimate: impl FnOnce(AwbMethod) -> [f64; 3],
) -> Result<[f64; 3]> {
    let from_xy = |xy: [f64; 2]| -> Result<[f64; 3]> {
        if !cal.has_matrix() {
            return Err(Error::parameter(
                "a Kelvin or preset white balance needs the camera's colour matrix, which this file lacks",
            ));
        }
        Ok(cal.xy_to_neutral(xy))
    };
    Ok(normalize_max(match mode {
        WbMode::AsShot => match (cal.as_shot_neutral, cal.as_shot_white_xy) {
            (Some(n), _) => n,
            (None, Some(xy)) => from_xy(xy)?,
            // No as-shot white recorded: daylight from the calibration, else unity gains.
            (None, None) if cal.has_matrix() => from_xy(temperature_to_xy(5500.0, 0.0))?,
            (None, None) => [1.0; 3],
        },
        WbMode::Auto(m) => auto_estimate(m),
        WbMode::Preset(p) => {
            let (t, tint) = p.temperature();
            from_xy(temperature_to_xy(t, tint))?
        }
        WbMode::Kelvin { temperature, tint } => from_xy(temperature_to_xy(temperature, tint))?,
        WbMode::Gains(g) => g.map(|g| 1.0 / g),
    }))
}

/// The `white-balance` stage: chooses the white ([`WbMode`]) and scales each sample by
/// `1 / neutral[colour]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhiteBalance {
    pub mode: WbMode,
}

impl Default for WhiteBalance {
    fn default() -> Self {
        WhiteBalance {
            mode: WbMode::AsShot,
        }
    }
}

impl Stage for WhiteBalance {
    fn name(&self) -> &'static str {
        "white-balance"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::Cfa, Signal::Cfa)
    }
    fn order(&self) -> u32 {
        200
    }
    fn needs_proxy(&self) -> bool {
        matches!(self.mode, WbMode::Auto(_))
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, proxy: Option<&Proxy>) -> Result<Option<Kernel>> {
        let mut unsure = false;
        let neutral = neutral_for(self.mode, ctx.frame.color(), |m| {
            let estimate = proxy.and_then(|p| m.estimate(p));
            unsure = estimate.is_none();
            estimate.unwrap_or([1.0; 3])
        })?;
        if let WbMode::Auto(m) = self.mode {
            ctx.notes.push((
                "white-balance",
                format!(
                    "auto ({}) neutral {:.4} {:.4} {:.4}",
                    m.name(),
                    neutral[0],
                    neutral[1],
                    neutral[2]
                ),
            ));
            if unsure {
                ctx.warnings.push(
                    "auto white balance: too few unclipped, lit pixels; unity gains used".into(),
                );
            }
        }
        ctx.neutral = neutral;
        Ok(Some(Kernel::Point(Box::new(Gains(
            neutral.map(|n| (1.0 / n) as f32),
        )))))
    }
}

/// Multiplies each sample by the gain of its colour.
pub struct Gains(pub [f32; 3]);

impl PointKernel for Gains {
    fn apply(&self, row: &mut [f32], at: &RowAt<'_>) {
        gains_row(&self.0, row, at.colors);
    }
}

/// Multiplies each sample by the gain of its colour. The gain is picked by selects rather
/// than an indexed load, so the loop vectorises; dispatched like the other row kernels.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn gains_row(gains: &[f32; 3], row: &mut [f32], colors: &[u8]) {
    let [g0, g1, g2] = *gains;
    for (v, &c) in row.iter_mut().zip(colors) {
        *v *= if c == 0 {
            g0
        } else if c == 1 {
            g1
        } else {
            g2
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::CfaPattern;

    #[test]
    fn gains_follow_each_samples_colour() {
        let gains = [2.0f32, 1.0, 1.5];
        let colors: Vec<u8> = (0..37).map(|i| [0u8, 1, 1, 2][i % 4]).collect();
        let mut row: Vec<f32> = (0..37).map(|i| 0.1 + i as f32 * 0.01).collect();
        let want: Vec<f32> = row
            .iter()
            .zip(&colors)
            .map(|(&v, &c)| v * [2.0, 1.0, 1.5][usize::from(c)])
            .collect();
        gains_row(&gains, &mut row, &colors);
        assert_eq!(row, want);
    }

    #[test]
    fn wb_modes_parse_and_round_trip() {
        for s in [
            "as-shot",
            "auto",
            "daylight",
            "tungsten",
            "5000,10",
            "gains:2.5,1,1.25",
            "auto:grey-world",
            "auto:grey-edge",
            "auto:max-rgb",
        ] {
            let m = WbMode::parse(s).expect("valid");
            assert_eq!(WbMode::parse(&String::from(m)).expect("valid"), m);
        }
        assert_eq!(
            WbMode::parse("AUTO:Gray-World").expect("valid"),
            WbMode::Auto(AwbMethod::GreyWorld)
        );
        assert_eq!(
            String::from(WbMode::parse("auto:shades-of-grey").expect("valid")),
            "auto"
        );
        assert!(WbMode::parse("auto:ffcc").is_err());
        assert_eq!(
            WbMode::parse("camera").expect("valid"),
            WbMode::Preset(Preset::Daylight)
        );
        assert_eq!(
            WbMode::parse("3200").expect("valid"),
            WbMode::Kelvin {
                temperature: 3200.0,
                tint: 0.0
            }
        );
        for bad in ["warm", "5000,", "10", "5000,3,4", "nan"] {
            assert!(WbMode::parse(bad).is_err(), "{bad}");
        }
        for bad in [
            "gains:",
            "gains:1,2",
            "gains:1,0,1",
            "gains:1,-1,2",
            "gains:1,inf,1",
            "gains:a,b,c",
        ] {
            assert!(WbMode::parse(bad).is_err(), "{bad}");
        }
        // rawpy's four multipliers: the second green is left out.
        assert_eq!(
            WbMode::parse("gains:2,1,1.5,1").expect("valid"),
            WbMode::Gains([2.0, 1.0, 1.5])
        );
    }

    /// Multipliers are the reciprocal of the neutral, whatever their scale: a grey that the
    /// camera sees as (0.4, 1, 0.8) comes out neutral under gains 2.5, 1, 1.25 and 5, 2, 2.5.
    #[test]
    fn wb_gains_turn_their_grey_neutral() {
        let cal = ColorCalibration::default();
        for g in [[2.5, 1.0, 1.25], [5.0, 2.0, 2.5]] {
            let n = neutral_for(WbMode::Gains(g), &cal, |_| [1.0; 3]).expect("valid");
            let grey = [0.4, 1.0, 0.8];
            let balanced: Vec<f64> = (0..3).map(|c| grey[c] / n[c]).collect();
            assert!(
                balanced.iter().all(|v| (v - balanced[0]).abs() < 1e-12),
                "{g:?}: {balanced:?}"
            );
        }
    }

    #[test]
    fn wb_gray_patch_stays_neutral() {
        // A grey scene under a warm light (camera neutral 0.5, 1, 0.7) plus coloured patches.
        let pattern = CfaPattern::bayer("RGGB").expect("valid");
        let (w, h) = (64, 64);
        let neutral = [0.5, 1.0, 0.7];
        let mut cfa = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let grey = 0.3 + 0.1 * ((x / 16 + 2 * (y / 16)) % 4) as f64;
                let reflect = if (x / 16 + y / 16) % 4 == 1 {
                    [0.3, 0.1, 0.05]
                } else {
                    [grey; 3]
                };
                let c = pattern.color(y, x) as usize;
                cfa[y * w + x] = (reflect[c] * neutral[c]) as f32;
            }
        }
        let frame = crate::pipeline::Frame::from_cfa(w, h, cfa, pattern).expect("frame");
        let est = AwbMethod::default()
            .estimate(&frame.proxy(250_000))
            .expect("estimates");
        for c in 0..3 {
            assert!((est[c] - neutral[c]).abs() < 0.02, "{est:?}");
        }
        let gains = Gains(est.map(|n| (1.0 / n) as f32));
        let mut cfa = frame.data().to_vec();
        for (y, row) in cfa.chunks_mut(w).enumerate() {
            let colors: Vec<u8> = (0..w).map(|x| pattern.color(y, x)).collect();
            let at = RowAt {
                x: 0,
                y,
                channels: 1,
                colors: &colors,
                scale: 1,
            };
            gains.apply(row, &at);
        }
        // A grey superpixel is now neutral.
        let (r, g, b) = (cfa[0], cfa[1], cfa[w + 1]);
        assert!((r - g).abs() < 0.01 && (b - g).abs() < 0.01, "{r} {g} {b}");
    }
}
