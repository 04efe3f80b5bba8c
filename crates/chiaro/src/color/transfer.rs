//! Transfer functions (opto-electronic encodings) of the output spaces.

use serde::{Deserialize, Serialize};

/// How linear light is encoded in an output file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transfer {
    /// Scene- or display-linear values, no encoding.
    Linear,
    /// IEC 61966-2-1 sRGB piecewise curve (also used by Display P3).
    Srgb,
    /// ITU-R BT.709/BT.2020 camera OETF (the curve the Rec.2020 ICC profile carries).
    Rec709,
    /// A pure power law `V = L^(1/gamma)` (ProPhoto RGB / ROMM uses 1.8).
    Gamma(f64),
}

impl Transfer {
    /// Encodes linear `x` (0..1) to the signal value (0..1).
    #[inline]
    pub fn encode(self, x: f32) -> f32 {
        let x = x.max(0.0);
        match self {
            Transfer::Linear => x,
            Transfer::Srgb => {
                if x <= 0.003_130_8 {
                    12.92 * x
                } else {
                    1.055 * x.powf(1.0 / 2.4) - 0.055
                }
            }
            Transfer::Rec709 => {
                if x < 0.018_053_97 {
                    4.5 * x
                } else {
                    1.099_296_8 * x.powf(0.45) - 0.099_296_8
                }
            }
            Transfer::Gamma(g) => x.powf(1.0 / g as f32),
        }
    }

    /// Decodes a signal value (0..1) back to linear light.
    #[inline]
    pub fn decode(self, v: f32) -> f32 {
        let v = v.max(0.0);
        match self {
            Transfer::Linear => v,
            Transfer::Srgb => {
                if v <= 0.040_45 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            }
            Transfer::Rec709 => {
                if v < 0.081_242_86 {
                    v / 4.5
                } else {
                    ((v + 0.099_296_8) / 1.099_296_8).powf(1.0 / 0.45)
                }
            }
            Transfer::Gamma(g) => v.powf(g as f32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_round_trips() {
        for t in [
            Transfer::Linear,
            Transfer::Srgb,
            Transfer::Rec709,
            Transfer::Gamma(1.8),
        ] {
            for i in 0..=100 {
                let x = i as f32 / 100.0;
                assert!((t.decode(t.encode(x)) - x).abs() < 1e-5, "{t:?} at {x}");
            }
        }
        assert!((Transfer::Srgb.encode(0.18) - 0.4613).abs() < 1e-3);
    }
}
