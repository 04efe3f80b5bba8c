//! Gain-map HDR output (Ultra HDR JPEG): the SDR development and a gain map that lifts its
//! highlights up to [`HEADROOM`] times SDR white on an HDR display.
//!
//! The gain is a function of each pixel's scene light (its max-RGB norm before the tone
//! curve, relative to the curve's white): 1 up to the scene value the tone curve shows at half
//! of display white, rising smoothly (smoothstep) to `HEADROOM` at [`HDR_WHITE`] times the
//! curve's white, the top of what highlight reconstruction gives. Mid-tones and shadows are
//! exactly the SDR picture; the highlights the SDR curve compresses into its shoulder, and the
//! reconstructed ones above raw white it shows as flat white, get their range back. The SDR
//! picture keeps the recipe's look; the gain multiplies it as a viewer will.

use std::sync::atomic::AtomicBool;

use super::develop::{Developed, OutputSpec};
use super::frame::Frame;
use super::recipe::Recipe;
use super::render::Rendering;
use super::stage::Signal;
use crate::error::Result;
use crate::io::Pixels;
use crate::io::ultrahdr::GainMap;
use crate::limits::Limits;
use crate::stages::smoothstep;
use crate::stages::tone::curve::ToneCurve;

/// Peak of the HDR rendition in multiples of SDR white (2 stops).
pub const HEADROOM: f32 = 4.0;

/// Scene light, in multiples of the tone curve's white, that reaches the full headroom.
pub const HDR_WHITE: f32 = 2.0;

/// Pixels of the picture per gain-map pixel along each axis.
pub const MAP_SCALE: usize = 4;

/// The gain of a pixel whose scene max-RGB norm is `n` (see the module documentation);
/// `knee` is the scene value the SDR curve shows at half of display white, `white` the
/// curve's white.
pub fn highlight_gain(n: f32, knee: f32, white: f32) -> f32 {
    let top = HDR_WHITE * white;
    1.0 + (HEADROOM - 1.0) * smoothstep((n - knee) / (top - knee))
}

/// The 8-bit SDR development of `frame` by `recipe` and its gain map.
pub fn ultra_hdr(
    frame: &Frame,
    recipe: &Recipe,
    limits: &Limits,
    cancel: Option<&AtomicBool>,
) -> Result<(Developed, GainMap)> {
    let sdr = Rendering::new(
        frame,
        recipe,
        &OutputSpec {
            bits: 8,
            linear: false,
        },
        limits,
        cancel,
    )?
    .image()?;
    // The scene light the tone curve receives: the recipe up to its exposure stage.
    let tone = recipe.get::<ToneCurve>().copied().unwrap_or_default();
    let mut scene = recipe.clone();
    scene.stages.retain(|s| s.signals().1 <= Signal::SceneRgb);
    let lit = Rendering::new(
        frame,
        &scene,
        &OutputSpec {
            bits: 32,
            linear: true,
        },
        limits,
        cancel,
    )?
    .image()?;
    let knee = tone.prepare()?.inverse(0.5);
    let (Pixels::U8(codes), Pixels::F32(light)) = (&sdr.image.pixels, &lit.image.pixels) else {
        return Err(crate::Error::encode(
            "Ultra HDR: the renditions are not 8-bit and float as asked",
        ));
    };
    let t = sdr.info.space.transfer();
    let y = sdr.info.profile.rgb_to_xyz_d50[1].map(|v| v as f32);
    let decode = |c: u8| t.decode(f32::from(c) / 255.0);
    let sdr_lum: Vec<f32> = codes
        .chunks_exact(3)
        .map(|p| y[0] * decode(p[0]) + y[1] * decode(p[1]) + y[2] * decode(p[2]))
        .collect();
    let hdr_lum: Vec<f32> = light
        .chunks_exact(3)
        .zip(&sdr_lum)
        .map(|(p, &s)| s * highlight_gain(p[0].max(p[1]).max(p[2]), knee, tone.white))
        .collect();
    let (w, h) = (sdr.image.width, sdr.image.height);
    let map = GainMap::from_luminances(&sdr_lum, &hdr_lum, w, h, MAP_SCALE)?;
    Ok((sdr, map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_is_one_below_the_knee_and_the_headroom_at_hdr_white() {
        assert_eq!(highlight_gain(0.1, 0.3, 1.0), 1.0);
        assert_eq!(highlight_gain(0.3, 0.3, 1.0), 1.0);
        assert_eq!(highlight_gain(2.0, 0.3, 1.0), HEADROOM);
        assert_eq!(highlight_gain(9.0, 0.3, 1.0), HEADROOM);
        let mut last = 0.0;
        for i in 0..300 {
            let g = highlight_gain(i as f32 / 100.0, 0.3, 1.0);
            assert!(g >= last);
            last = g;
        }
    }
}
