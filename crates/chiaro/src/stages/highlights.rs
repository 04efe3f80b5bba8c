//! Highlight reconstruction for clipped channels.
//!
//! # Units
//! In and out: white-balanced camera RGB, linear, 1 = the level where the first channel
//! clips (white balance scales the others up, so 1 is the common level all channels reach
//! before any of them saturates).
//!
//! Modes: `clip` clips every channel at 1, so clipped areas turn neutral white and no
//! magenta appears; `blend` (default) keeps the brightness the unclipped channels still
//! measure and takes the hue from the clipped pixel, with its chroma scaled down to match
//! (the opponent-space blend of dcraw's `-H 2`, reimplemented), which keeps gradations in
//! bright skies and skin; `none` leaves values as they are (for linear analysis).

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};

/// The `highlights` stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Highlights {
    pub mode: HighlightMode,
}

impl Stage for Highlights {
    fn name(&self) -> &'static str {
        "highlights"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::CameraRgb, Signal::CameraRgb)
    }
    fn order(&self) -> u32 {
        400
    }
    fn plan(&self, _: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        Ok(match self.mode {
            HighlightMode::None => None,
            mode => Some(Kernel::Point(Box::new(mode))),
        })
    }
}

impl PointKernel for HighlightMode {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        highlights_row(*self, row);
    }
}

/// [`apply_row`] compiled for the widest vectors the CPU has (runtime dispatch); no fused
/// multiply-adds are formed, so every version gives the same bits.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn highlights_row(mode: HighlightMode, row: &mut [f32]) {
    apply_row(mode, row);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HighlightMode {
    None,
    Clip,
    #[default]
    Blend,
}

/// Opponent axes used by the blend: luminance-like sum and two chroma differences.
const TO_OPP: [[f32; 3]; 3] = [
    [1.0, 1.0, 1.0],
    [1.732_050_8, -1.732_050_8, 0.0],
    [-1.0, -1.0, 2.0],
];
const FROM_OPP: [[f32; 3]; 3] = [
    [1.0 / 3.0, 0.288_675_13, -1.0 / 6.0],
    [1.0 / 3.0, -0.288_675_13, -1.0 / 6.0],
    [1.0 / 3.0, 0.0, 1.0 / 3.0],
];

/// Reconstructs one row of interleaved RGB in place; pixels with every channel at or below 1
/// are untouched.
#[inline(always)]
pub fn apply_row(mode: HighlightMode, row: &mut [f32]) {
    match mode {
        HighlightMode::None => {}
        HighlightMode::Clip => row.iter_mut().for_each(|v| *v = v.min(1.0)),
        HighlightMode::Blend => {
            for px in row.chunks_exact_mut(3) {
                if px.iter().all(|&v| v <= 1.0) {
                    continue;
                }
                let cam = [px[0], px[1], px[2]];
                let clipped = cam.map(|v| v.min(1.0));
                let opp = |p: [f32; 3]| TO_OPP.map(|r| r[0] * p[0] + r[1] * p[1] + r[2] * p[2]);
                let (o, oc) = (opp(cam), opp(clipped));
                let chroma = (o[1] * o[1] + o[2] * o[2]).sqrt();
                let chroma_clipped = (oc[1] * oc[1] + oc[2] * oc[2]).sqrt();
                let ratio = if chroma > 1e-9 {
                    chroma_clipped / chroma
                } else {
                    0.0
                };
                let lab = [o[0], o[1] * ratio, o[2] * ratio];
                for (c, v) in px.iter_mut().enumerate() {
                    *v = (FROM_OPP[c][0] * lab[0]
                        + FROM_OPP[c][1] * lab[1]
                        + FROM_OPP[c][2] * lab[2])
                        .max(0.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_rows_equal_the_scalar_reconstruction() {
        let row: Vec<f32> = (0..3 * 3001)
            .map(|i| (i as f32 * 0.7548).fract() * 2.5)
            .collect();
        for mode in [HighlightMode::Clip, HighlightMode::Blend] {
            let (mut a, mut b) = (row.clone(), row.clone());
            apply_row(mode, &mut a);
            highlights_row(mode, &mut b);
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{mode:?}"
            );
        }
    }

    #[test]
    fn fully_clipped_pixel_turns_neutral_not_magenta() {
        // Sensor saturated on all channels: WB gains make it (2, 1, 1.6).
        for mode in [HighlightMode::Clip, HighlightMode::Blend] {
            let mut px = [2.0, 1.0, 1.6];
            apply_row(mode, &mut px);
            let spread = px.iter().copied().fold(f32::MIN, f32::max)
                - px.iter().copied().fold(f32::MAX, f32::min);
            assert!(spread < 0.35, "{mode:?}: {px:?}");
        }
    }

    #[test]
    fn unclipped_pixels_are_untouched() {
        let mut px = [0.5, 0.2, 0.9, 0.99, 0.98, 0.97];
        let before = px;
        apply_row(HighlightMode::Blend, &mut px);
        assert_eq!(px, before);
    }
}
