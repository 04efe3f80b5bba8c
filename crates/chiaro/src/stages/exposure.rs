//! The `exposure` stage: a global exposure change, plus the file's BaselineExposure, and an
//! automatic exposure chosen from the scene.
//!
//! The automatic exposure meters the whole-image proxy as this stage receives it (scene
//! light after colour), centre-weighted as a camera's centre-weighted metering is (a Gaussian
//! weight, [`CENTRE_SIGMA`]): the key of the scene, the log-average luminance over the
//! pixels between the 2nd and 98th weighted percentile (Reinhard et al. 2002, "Photographic
//! tone reproduction for digital images", section 3.1, made robust to specular and black
//! outliers by the trim), is brought to [`SCENE_GREY`], the value the default tone curve shows
//! as L* 50. The gain is then lowered where it would push more than [`HIGHLIGHT_SHARE`] of the
//! (weighted) pixels the sensor did not clip past raw white, so a bright sky keeps its detail
//! instead of the shadows being lifted into it (highlight protection); small highlights and
//! light sources clip, as a global curve cannot keep both them and the key, and the raw's own
//! clipped highlights do not count: they are white at any exposure.
//!
//! # Units
//! In and out: linear RGB of the output space, scene-referred (1 = the raw white level
//! after white balance); multiplies by 2^EV.
//!
//! # References
//! DNG 1.7 spec, BaselineExposure (tag 50730).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};
use crate::stages::tone::curve::SCENE_GREY;

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exposure {
    /// Exposure change in EV, -20..=20 (with `auto`, added to the automatic choice).
    pub ev: f32,
    /// Add the file's BaselineExposure (display renderings do; scene-referred ones don't).
    pub baseline: bool,
    /// Choose the exposure from the scene ([`auto_exposure`]).
    pub auto: bool,
}

/// Largest (centre-weighted) share of the unclipped proxy pixels the automatic exposure lets
/// pass raw white.
pub const HIGHLIGHT_SHARE: f64 = 0.05;

/// Width of the centre weighting, as a fraction of the image's width and height: a Gaussian
/// that gives the central half of the frame about 70 % of the weight (centre-weighted metering).
pub const CENTRE_SIGMA: f64 = 0.25;

/// Share of the (weighted) darkest and brightest pixels left out of the key.
const TRIM: f64 = 0.02;

/// The automatic exposure never changes the file's exposure by more than this, in EV.
pub const AUTO_RANGE_EV: f64 = 6.0;

/// A proxy sample at or above this (normalised, as decoded) is clipped by the sensor.
const CLIPPED: f32 = 0.99;

/// What the automatic exposure measured and chose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoExposure {
    /// The change, in EV.
    pub ev: f64,
    /// The scene key (trimmed log-average luminance) before the change.
    pub key: f64,
    /// The EV that would bring the key to [`SCENE_GREY`], before highlight protection.
    pub ev_key: f64,
    /// The largest EV that keeps all but [`HIGHLIGHT_SHARE`] of the unclipped pixels at or
    /// below raw white.
    pub ev_highlights: f64,
}

/// Meters `proxy` (scene RGB whose luminance is `luma . rgb`, times `gain`): see the module
/// documentation. `None` when the proxy has no lit pixel.
pub fn auto_exposure(proxy: &Proxy, luma: [f64; 3], gain: f64) -> Option<AutoExposure> {
    let (w, h) = (proxy.width.max(1) as f64, proxy.height.max(1) as f64);
    // (log2 luminance, weight) of the lit pixels; (max-RGB norm, weight) of the unclipped.
    let mut logs = Vec::with_capacity(proxy.width * proxy.height);
    let mut norms = Vec::with_capacity(logs.capacity());
    for (i, (px, &peak)) in proxy.rgb.chunks_exact(3).zip(&proxy.peak).enumerate() {
        let (x, y) = (
            (i % proxy.width) as f64 + 0.5,
            (i / proxy.width) as f64 + 0.5,
        );
        let d2 = (x / w - 0.5).powi(2) + (y / h - 0.5).powi(2);
        let weight = (-d2 / (2.0 * CENTRE_SIGMA * CENTRE_SIGMA)).exp();
        let rgb = [px[0], px[1], px[2]].map(|v| f64::from(v) * gain);
        let lum = luma[0] * rgb[0] + luma[1] * rgb[1] + luma[2] * rgb[2];
        if lum > 1e-9 && lum.is_finite() {
            logs.push((lum.log2(), weight));
        }
        if peak < CLIPPED {
            norms.push((rgb[0].max(rgb[1]).max(rgb[2]), weight));
        }
    }
    if logs.is_empty() {
        return None;
    }
    logs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = logs.iter().map(|l| l.1).sum();
    let (mut seen, mut sum, mut kept) = (0.0, 0.0, 0.0);
    for &(l, wt) in &logs {
        let share = (seen + 0.5 * wt) / total;
        seen += wt;
        if (TRIM..=1.0 - TRIM).contains(&share) {
            sum += l * wt;
            kept += wt;
        }
    }
    let key_log = if kept > 0.0 {
        sum / kept
    } else {
        logs[logs.len() / 2].0
    };
    let ev_key = f64::from(SCENE_GREY).log2() - key_log;
    norms.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = norms.iter().map(|n| n.1).sum();
    let mut above = 0.0;
    let mut ev_highlights = f64::INFINITY;
    for &(v, wt) in norms.iter().rev() {
        above += wt;
        if above > HIGHLIGHT_SHARE * total {
            if v > 1e-9 {
                ev_highlights = -v.log2();
            }
            break;
        }
    }
    let ev = ev_key
        .min(ev_highlights)
        .clamp(-AUTO_RANGE_EV, AUTO_RANGE_EV);
    Some(AutoExposure {
        ev,
        key: key_log.exp2(),
        ev_key,
        ev_highlights,
    })
}

impl Stage for Exposure {
    fn name(&self) -> &'static str {
        "exposure"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::SceneRgb, Signal::SceneRgb)
    }
    fn order(&self) -> u32 {
        600
    }
    fn needs_proxy(&self) -> bool {
        self.auto
    }
    fn validate(&self) -> Result<()> {
        if !self.ev.is_finite() || self.ev.abs() > 20.0 {
            return Err(Error::parameter(format!(
                "exposure {} EV is out of range (-20..=20)",
                self.ev
            )));
        }
        Ok(())
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, proxy: Option<&Proxy>) -> Result<Option<Kernel>> {
        let baseline = if self.baseline {
            ctx.frame.color().baseline_exposure + ctx.baseline_offset
        } else {
            0.0
        };
        let mut total = f64::from(self.ev) + baseline;
        if self.auto {
            let to_xyz = ctx.space.to_xyz_d50();
            let chosen = proxy.and_then(|p| auto_exposure(p, to_xyz[1], baseline.exp2()));
            let note = match chosen {
                Some(a) => {
                    total += a.ev;
                    format!(
                        "auto {:+.2} EV (scene key {:.4}: {:+.2} EV to grey; highlights allow \
                         {:+.2} EV)",
                        a.ev, a.key, a.ev_key, a.ev_highlights
                    )
                }
                None => "auto: no lit pixel to meter, exposure left as shot".to_string(),
            };
            ctx.notes.push(("exposure", note));
        }
        Ok((total != 0.0).then(|| Kernel::Point(Box::new(Gain(2f64.powf(total) as f32)))))
    }
}

/// Multiplies every sample by a constant.
pub struct Gain(pub f32);

impl PointKernel for Gain {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        let k = self.0;
        row.iter_mut().for_each(|v| *v *= k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A proxy of grey pixels of the given luminances (R = G = B), none clipped unless its
    /// value reaches the sensor's white.
    fn grey_proxy(values: &[f32]) -> Proxy {
        Proxy {
            width: values.len(),
            height: 1,
            scale: 1,
            rgb: values.iter().flat_map(|&v| [v; 3]).collect(),
            peak: values.iter().map(|&v| v.min(1.0)).collect(),
        }
    }

    const LUMA: [f64; 3] = [0.2126, 0.7152, 0.0722];

    #[test]
    fn uniform_scene_is_brought_to_scene_grey() {
        let p = grey_proxy(&[0.02; 1000]);
        let a = auto_exposure(&p, LUMA, 1.0).expect("lit");
        let want = (f64::from(SCENE_GREY) / 0.02).log2();
        assert!((a.ev - want).abs() < 1e-3, "{a:?} vs {want}");
    }

    #[test]
    fn key_is_the_log_average_not_the_mean() {
        // Half the pixels at 0.01, half at 0.16: log-average 0.04 (mean 0.085).
        let v: Vec<f32> = (0..1000)
            .map(|i| if i % 2 == 0 { 0.01 } else { 0.16 })
            .collect();
        let a = auto_exposure(&grey_proxy(&v), LUMA, 1.0).expect("lit");
        assert!((a.key - 0.04).abs() < 1e-4, "{a:?}");
    }

    #[test]
    fn bright_unclipped_highlights_limit_the_gain() {
        // A dark scene with 10 % of bright (unclipped) pixels, spread evenly: the key asks for
        // +3 EV or more, the highlights allow log2(1 / 0.5) = 1 EV.
        let v: Vec<f32> = (0..1000)
            .map(|i| if i % 10 == 0 { 0.5 } else { 0.01 })
            .collect();
        let a = auto_exposure(&grey_proxy(&v), LUMA, 1.0).expect("lit");
        assert!(a.ev_key > 3.0, "{a:?}");
        assert!((a.ev - 1.0).abs() < 1e-6, "{a:?}");
    }

    #[test]
    fn sensor_clipped_pixels_do_not_hold_the_exposure_down() {
        let v: Vec<f32> = (0..1000)
            .map(|i| if i % 10 == 0 { 1.0 } else { 0.01 })
            .collect();
        let a = auto_exposure(&grey_proxy(&v), LUMA, 1.0).expect("lit");
        assert!(a.ev_highlights > 6.0, "{a:?}");
        assert_eq!(a.ev, a.ev_key.min(AUTO_RANGE_EV));
    }

    #[test]
    fn black_proxy_meters_nothing() {
        assert!(auto_exposure(&grey_proxy(&[0.0; 100]), LUMA, 1.0).is_none());
    }
}
