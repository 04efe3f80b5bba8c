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
//! bright skies and skin; `reconstruct` rebuilds each clipped channel from the channels that
//! did not clip, in the colour the picture shows around its clipped areas (below); `none`
//! leaves values as they are (for linear analysis).
//!
//! `reconstruct`: a channel is clipped where it reaches its own saturation level after white
//! balance (`1 / neutral`). On the whole-image proxy, the unclipped pixels just outside
//! clipped areas (within two proxy pixels of a pixel with any channel clipped) give each
//! channel's median ratio to each set of the other channels (either one, their mean). A
//! clipped channel then becomes that ratio times the unclipped channels where that is more
//! than it holds: an object of one hue keeps its hue into its clipped core (an orange sun,
//! skin, a red flower), and where its border shows the median colour the result is
//! continuous at the clip boundary. One ratio per channel and image: clipped objects of different hues share
//! it (as in darktable's "inpaint opposed"). Pixels with every channel clipped, or a picture
//! whose clipped areas have too few unclipped neighbours on the proxy, fall back to
//! `blend`.

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
    fn needs_proxy(&self) -> bool {
        self.mode == HighlightMode::Reconstruct
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, proxy: Option<&Proxy>) -> Result<Option<Kernel>> {
        Ok(match (self.mode, proxy) {
            (HighlightMode::None, _) => None,
            (HighlightMode::Reconstruct, Some(proxy)) => {
                let clip = ctx.neutral.map(|n| (1.0 / n.max(1e-6)) as f32);
                let k = Reconstruct {
                    clip,
                    ratio: border_ratios(proxy, clip),
                };
                let found = k.ratio.iter().flatten().filter(|r| r.is_some()).count();
                ctx.notes.push((
                    "highlights",
                    format!(
                        "reconstruct: {found} of 9 channel ratios from the clipped areas' borders"
                    ),
                ));
                Some(Kernel::Point(Box::new(k)))
            }
            (mode, _) => Some(Kernel::Point(Box::new(mode))),
        })
    }
}

/// A channel at this fraction of its saturation level counts as clipped.
const CLIPPED: f32 = 0.98;
/// Border pixels have every channel below this fraction of its saturation level.
const UNCLIPPED: f32 = 0.9;
/// Border pixels lie this many proxy pixels from a clipped one at most.
const BORDER: usize = 2;
/// Ratios need this many border pixels.
const MIN_SAMPLES: usize = 8;

/// The two channels other than `c`, in order.
fn others(c: usize) -> [usize; 2] {
    match c {
        0 => [1, 2],
        1 => [0, 2],
        _ => [0, 1],
    }
}

/// The unclipped channels a ratio refers to: `k` 0 the first other channel, 1 the second,
/// 2 both.
fn reference(px: &[f32], c: usize, k: usize) -> f32 {
    let [a, b] = others(c);
    match k {
        0 => px[a],
        1 => px[b],
        _ => 0.5 * (px[a] + px[b]),
    }
}

/// Median ratios `channel / reference` over the unclipped proxy pixels bordering clipped
/// areas; `None` where fewer than [`MIN_SAMPLES`] pixels measured one.
fn border_ratios(proxy: &Proxy, clip: [f32; 3]) -> [[Option<f32>; 3]; 3] {
    let (w, h) = (proxy.width, proxy.height);
    let px = |i: usize| &proxy.rgb[i * 3..i * 3 + 3];
    let clipped = |i: usize| proxy.peak[i] >= 0.99 || (0..3).any(|c| px(i)[c] >= CLIPPED * clip[c]);
    // The pixels within BORDER of a clipped one (any channel: a light clipping red in its
    // rim and green too in its core shows its colour only around the rim).
    let mut near = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            if clipped(y * w + x) {
                for yy in y.saturating_sub(BORDER)..(y + BORDER + 1).min(h) {
                    for xx in x.saturating_sub(BORDER)..(x + BORDER + 1).min(w) {
                        near[yy * w + xx] = true;
                    }
                }
            }
        }
    }
    let mut samples: [[Vec<f32>; 3]; 3] = Default::default();
    for i in (0..w * h).filter(|&i| near[i]) {
        let p = px(i);
        if proxy.peak[i] >= UNCLIPPED || (0..3).any(|c| p[c] >= UNCLIPPED * clip[c]) {
            continue;
        }
        for (c, per) in samples.iter_mut().enumerate() {
            if p[c] <= 0.0 {
                continue;
            }
            for (k, v) in per.iter_mut().enumerate() {
                let r = reference(p, c, k);
                if r > 1e-4 {
                    v.push(p[c] / r);
                }
            }
        }
    }
    samples.map(|per| {
        per.map(|mut v| {
            (v.len() >= MIN_SAMPLES).then(|| {
                v.sort_by(f32::total_cmp);
                v[v.len() / 2]
            })
        })
    })
}

/// The planned `reconstruct` mode.
#[derive(Debug, Clone)]
struct Reconstruct {
    /// Each channel's saturation level after white balance.
    clip: [f32; 3],
    /// `ratio[c][k]`: channel `c` over its reference `k` (see [`reference`]).
    ratio: [[Option<f32>; 3]; 3],
}

impl PointKernel for Reconstruct {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        for px in row.chunks_exact_mut(3) {
            let is_clipped: [bool; 3] = std::array::from_fn(|c| px[c] >= CLIPPED * self.clip[c]);
            let n = is_clipped.iter().filter(|&&b| b).count();
            if n == 0 {
                continue;
            }
            let estimate = |c: usize| -> Option<f32> {
                let [a, b] = others(c);
                let k = match (is_clipped[a], is_clipped[b]) {
                    (false, false) => 2,
                    (false, true) => 0,
                    (true, false) => 1,
                    (true, true) => return None,
                };
                self.ratio[c][k].map(|r| r * reference(px, c, k))
            };
            let estimates: [Option<f32>; 3] = std::array::from_fn(|c| {
                if is_clipped[c] {
                    estimate(c)
                } else {
                    Some(px[c])
                }
            });
            if estimates.iter().all(Option::is_some) {
                for (v, e) in px.iter_mut().zip(estimates) {
                    *v = v.max(e.unwrap_or(0.0));
                }
            } else {
                blend(px);
            }
        }
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
    Reconstruct,
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
        // Planned with the proxy into a `Reconstruct`; without one, as `blend`.
        HighlightMode::Blend | HighlightMode::Reconstruct => {
            row.chunks_exact_mut(3).for_each(blend);
        }
    }
}

/// `blend` on one pixel; pixels with every channel at or below 1 are untouched.
#[inline(always)]
fn blend(px: &mut [f32]) {
    if px.iter().all(|&v| v <= 1.0) {
        return;
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
        *v = (FROM_OPP[c][0] * lab[0] + FROM_OPP[c][1] * lab[1] + FROM_OPP[c][2] * lab[2]).max(0.0);
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
