//! Automatic white balance: estimating the camera's response to the scene's light from the
//! image itself (the white-balance stage's `auto` modes).
//!
//! The classical statistical estimators, each a named method: the floor a learned estimator
//! must beat and the lab's comparison (`chiaro lab awb`). All assume something about the
//! scene's reflectances and read the proxy: one pixel per CFA cell of the normalised, not
//! yet balanced frame, with its brightest sample (`peak`) to leave out clipped pixels.
//!
//! # Units
//! In: camera RGB, normalised (0 black, 1 white level). Out: the estimated camera neutral
//! (the camera's RGB of the light), largest entry 1.
//!
//! # References
//! - G. Buchsbaum, "A spatial processor model for object colour perception", J. Franklin
//!   Inst. 1980 (grey world).
//! - E. H. Land, "The retinex theory of color vision", Sci. Am. 1977 (max-RGB, white patch).
//! - G. Finlayson, E. Trezzi, "Shades of grey and colour constancy", CIC 2004.
//! - J. van de Weijer, T. Gevers, A. Gijsenij, "Edge-based color constancy", IEEE TIP 2007.

use serde::{Deserialize, Serialize};

use crate::color::dng::normalize_max;
use crate::pipeline::stage::Proxy;

/// A statistical illuminant estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AwbMethod {
    /// The mean of the scene is grey (Minkowski norm p = 1).
    GreyWorld,
    /// The p = 6 norm of the scene is grey: between grey world, pulled by large coloured
    /// areas, and max-RGB, pulled by single bright objects; Finlayson and Trezzi's best fixed
    /// p. The default `auto` until a learned estimator lands.
    #[default]
    ShadesOfGrey,
    /// The p = 6 norm of the scene's first derivatives (Gaussian sigma 1 proxy pixel) is
    /// grey: edges between surfaces average to the light more closely than surfaces do.
    GreyEdge,
    /// The brightest unclipped response of each channel is the light's (a white patch).
    MaxRgb,
}

/// The Minkowski norm of shades of grey and grey edge.
const P: i32 = 6;

/// Pixels whose brightest sample is at or above this count as clipped.
const CLIPPED: f32 = 0.95;

/// Pixels with a channel at or below this are too dark to carry the light's colour.
const DARK: f32 = 0.004;

/// Fewer usable pixels than this give no estimate.
const MIN_PIXELS: usize = 16;

impl AwbMethod {
    pub const ALL: [AwbMethod; 4] = [
        AwbMethod::GreyWorld,
        AwbMethod::ShadesOfGrey,
        AwbMethod::GreyEdge,
        AwbMethod::MaxRgb,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AwbMethod::GreyWorld => "grey-world",
            AwbMethod::ShadesOfGrey => "shades-of-grey",
            AwbMethod::GreyEdge => "grey-edge",
            AwbMethod::MaxRgb => "max-rgb",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        let n = n.replace("gray", "grey");
        AwbMethod::ALL.into_iter().find(|m| m.name() == n)
    }

    /// The camera neutral this method reads from `proxy`, or `None` when too few pixels
    /// are usable (unclipped and not dark).
    pub fn estimate(self, proxy: &Proxy) -> Option<[f64; 3]> {
        let usable = |px: &[f32], peak: f32| peak < CLIPPED && px.iter().all(|&v| v > DARK);
        let pixels = proxy
            .rgb
            .chunks_exact(3)
            .zip(&proxy.peak)
            .filter(|(px, peak)| usable(px, **peak))
            .map(|(px, _)| [0, 1, 2].map(|c| f64::from(px[c])));
        let neutral = match self {
            AwbMethod::GreyWorld => minkowski(pixels, 1)?,
            AwbMethod::ShadesOfGrey => minkowski(pixels, P)?,
            AwbMethod::MaxRgb => {
                let mut max = [0.0f64; 3];
                let mut n = 0;
                for px in pixels {
                    (0..3).for_each(|c| max[c] = max[c].max(px[c]));
                    n += 1;
                }
                (n >= MIN_PIXELS).then_some(max)?
            }
            AwbMethod::GreyEdge => minkowski(edges(proxy, usable).into_iter(), P)?,
        };
        neutral
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
            .then(|| normalize_max(neutral))
    }
}

/// The per-channel p-norm mean `(mean v^p)^(1/p)` of `values`, if there are enough.
fn minkowski(values: impl Iterator<Item = [f64; 3]>, p: i32) -> Option<[f64; 3]> {
    let (mut sum, mut n) = ([0.0f64; 3], 0usize);
    for v in values {
        (0..3).for_each(|c| sum[c] += v[c].powi(p));
        n += 1;
    }
    (n >= MIN_PIXELS).then(|| sum.map(|s| (s / n as f64).powf(1.0 / f64::from(p))))
}

/// Gradient magnitudes per channel of the proxy smoothed by a Gaussian of sigma 1 (the
/// binomial 1-2-1 kernel applied twice), by central differences, at pixels whose 7x7
/// neighbourhood (all the samples they are made from) is usable.
fn edges(proxy: &Proxy, usable: impl Fn(&[f32], f32) -> bool) -> Vec<[f64; 3]> {
    let (w, h) = (proxy.width, proxy.height);
    if w < 7 || h < 7 || proxy.rgb.len() != 3 * w * h || proxy.peak.len() != w * h {
        return Vec::new();
    }
    let ok: Vec<bool> = (0..w * h)
        .map(|i| usable(&proxy.rgb[3 * i..3 * i + 3], proxy.peak[i]))
        .collect();
    let mut smooth: Vec<f64> = proxy.rgb.iter().map(|&v| f64::from(v)).collect();
    for _ in 0..2 {
        smooth = blur(&smooth, w, h);
    }
    let mut out = Vec::new();
    for y in 3..h - 3 {
        for x in 3..w - 3 {
            // The differences of the twice-blurred image reach 3 pixels out.
            let all_ok = (y - 3..=y + 3).all(|yy| (x - 3..=x + 3).all(|xx| ok[yy * w + xx]));
            if !all_ok {
                continue;
            }
            let at = |yy: usize, xx: usize, c: usize| smooth[3 * (yy * w + xx) + c];
            out.push([0, 1, 2].map(|c| {
                let gx = (at(y, x + 1, c) - at(y, x - 1, c)) / 2.0;
                let gy = (at(y + 1, x, c) - at(y - 1, x, c)) / 2.0;
                (gx * gx + gy * gy).sqrt()
            }));
        }
    }
    out
}

/// The 1-2-1 binomial filter along both axes, edges clamped.
fn blur(v: &[f64], w: usize, h: usize) -> Vec<f64> {
    let mut across = vec![0.0; v.len()];
    for y in 0..h {
        for x in 0..w {
            let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
            for c in 0..3 {
                let at = |xx: usize| v[3 * (y * w + xx) + c];
                across[3 * (y * w + x) + c] = (at(l) + 2.0 * at(x) + at(r)) / 4.0;
            }
        }
    }
    let mut down = vec![0.0; v.len()];
    for y in 0..h {
        let (u, d) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            for c in 0..3 {
                let at = |yy: usize| across[3 * (yy * w + x) + c];
                down[3 * (y * w + x) + c] = (at(u) + 2.0 * at(y) + at(d)) / 4.0;
            }
        }
    }
    down
}

/// The angle in degrees between two RGB vectors (the recovery angular error of colour
/// constancy papers).
pub fn angular_error(a: [f64; 3], b: [f64; 3]) -> f64 {
    let dot: f64 = (0..3).map(|c| a[c] * b[c]).sum();
    let norm = |v: [f64; 3]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    (dot / (norm(a) * norm(b)))
        .clamp(-1.0, 1.0)
        .acos()
        .to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A proxy of `w` x `h` pixels from a function of the position.
    fn proxy(w: usize, h: usize, f: impl Fn(usize, usize) -> [f32; 3]) -> Proxy {
        let mut rgb = Vec::with_capacity(3 * w * h);
        for y in 0..h {
            for x in 0..w {
                rgb.extend(f(y, x));
            }
        }
        let peak = rgb
            .chunks_exact(3)
            .map(|p| p[0].max(p[1]).max(p[2]))
            .collect();
        Proxy {
            width: w,
            height: h,
            scale: 2,
            rgb,
            peak,
        }
    }

    const LIGHT: [f32; 3] = [0.9, 0.6, 0.3];

    /// Reflectances of a checkerboard of two colours whose mean is grey (0.4 each), lit by
    /// LIGHT: the grey world assumption holds exactly; max-RGB sees no white.
    fn grey_mean_scene() -> Proxy {
        let (a, b) = ([0.6, 0.3, 0.2], [0.2, 0.5, 0.6]);
        proxy(32, 32, |y, x| {
            let r = if (y / 4 + x / 4) % 2 == 0 { a } else { b };
            [0, 1, 2].map(|c| r[c] * LIGHT[c])
        })
    }

    fn err(m: AwbMethod, p: &Proxy) -> f64 {
        let n = m.estimate(p).expect("estimates");
        angular_error(n, LIGHT.map(f64::from))
    }

    #[test]
    fn grey_world_finds_the_light_of_a_scene_whose_mean_is_grey() {
        assert!(err(AwbMethod::GreyWorld, &grey_mean_scene()) < 1e-3);
        // The p = 6 norm of the same scene is not grey: shades of grey errs here.
        assert!(err(AwbMethod::ShadesOfGrey, &grey_mean_scene()) > 1.0);
    }

    #[test]
    fn max_rgb_finds_the_light_of_a_scene_with_a_white_patch() {
        let scene = proxy(32, 32, |y, x| {
            let r = if y < 4 && x < 4 {
                [1.0, 1.0, 1.0]
            } else {
                [
                    0.3 + 0.01 * (x % 7) as f32,
                    0.2,
                    0.1 + 0.02 * (y % 5) as f32,
                ]
            };
            [0, 1, 2].map(|c| r[c] * LIGHT[c])
        });
        assert!(err(AwbMethod::MaxRgb, &scene) < 1e-3);
        assert!(err(AwbMethod::GreyWorld, &scene) > 5.0);
    }

    #[test]
    fn grey_edge_finds_the_light_when_edges_are_achromatic() {
        // Two warm surfaces whose difference is grey (0.3 in each channel): every edge
        // between them has the light's colour although neither surface, nor their mean, is
        // grey.
        let (a, b) = ([0.6, 0.5, 0.4], [0.3, 0.2, 0.1]);
        let scene = proxy(48, 48, |y, x| {
            let r = if (x / 8 + y / 12) % 2 == 0 { a } else { b };
            [0, 1, 2].map(|c| r[c] * LIGHT[c])
        });
        assert!(err(AwbMethod::GreyEdge, &scene) < 1e-3);
        assert!(err(AwbMethod::GreyWorld, &scene) > 5.0);
    }

    #[test]
    fn clipped_and_dark_pixels_are_left_out() {
        let scene = proxy(32, 32, |y, x| {
            if y < 8 {
                [1.0, 0.2, 0.2] // clipped in red
            } else if y < 16 {
                [0.001, 0.5, 0.5] // too dark in red
            } else {
                // Grey steps: edges for grey edge, all of the light's colour.
                LIGHT.map(|v| v * [0.5, 0.8][x % 8 / 4])
            }
        });
        for m in AwbMethod::ALL {
            assert!(err(m, &scene) < 1e-3, "{m:?}");
        }
        let black = proxy(32, 32, |_, _| [0.0; 3]);
        assert!(AwbMethod::ShadesOfGrey.estimate(&black).is_none());
    }

    #[test]
    fn names_round_trip() {
        for m in AwbMethod::ALL {
            assert_eq!(AwbMethod::from_name(m.name()), Some(m));
        }
        assert_eq!(
            AwbMethod::from_name("Gray_World"),
            Some(AwbMethod::GreyWorld)
        );
        assert_eq!(AwbMethod::from_name("ffcc"), None);
        assert!((angular_error([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]) - 90.0).abs() < 1e-9);
    }
}
