//! Resizing in linear light: separable Lanczos-3 with an anti-ringing clamp.
//!
//! Each output sample is a weighted sum of the input samples under a Lanczos-3 kernel
//! (`sinc(x) sinc(x / 3)`, `|x| < 3`), stretched by the reduction factor when shrinking so it
//! also low-passes what the smaller grid cannot hold (no aliasing), weights normalised to sum
//! to 1. Output pixel `i` is centred on input position `(i + 0.5) / s - 0.5` for scale `s`
//! (pixel centres, as Pillow and ImageMagick place them); taps past the image edge take the
//! edge pixel.
//!
//! Lanczos' negative lobes overshoot at edges (about 8 % of a step, 12 % when shrinking by
//! much), visible as dark and bright halos, worst in linear light. So each pass clamps its
//! result to the range of the samples under its kernel: **no output sample lies outside the
//! range of the input samples it is made from**, so an edge keeps its sharpness without
//! ringing (the anti-ringing of mpv/libplacebo, there on the central samples only).
//!
//! # Units
//! In and out: interleaved RGB, any linear-light unit (the executor hands display-referred
//! linear 0..1). Sizes in pixels.
//!
//! # References
//! C. E. Duchon, "Lanczos filtering in one and two dimensions", J. Appl. Meteor. 18 (1979).

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::limits::{Limits, try_vec_par};

/// Kernel radius in (stretched) input pixels.
const LOBES: f64 = 3.0;

/// The Lanczos-3 kernel.
fn lanczos3(x: f64) -> f64 {
    let x = x.abs();
    if x < 1e-9 {
        1.0
    } else if x >= LOBES {
        0.0
    } else {
        let px = std::f64::consts::PI * x;
        LOBES * px.sin() * (px / LOBES).sin() / (px * px)
    }
}

/// The taps of one output position along an axis.
#[derive(Debug, Clone, PartialEq)]
struct Taps {
    /// Input indices (edge-clamped).
    at: Vec<usize>,
    weights: Vec<f32>,
}

/// The taps of every output position of an axis of `from` samples resized to `to`.
fn axis(from: usize, to: usize) -> Vec<Taps> {
    let scale = to as f64 / from as f64;
    // Shrinking stretches the kernel over 1 / scale input pixels.
    let stretch = (1.0 / scale).max(1.0);
    let radius = LOBES * stretch;
    (0..to)
        .map(|i| {
            let centre = (i as f64 + 0.5) / scale - 0.5;
            let first = (centre - radius).floor() as i64 + 1;
            let last = (centre + radius).ceil() as i64 - 1;
            let mut at = Vec::new();
            let mut weights = Vec::new();
            for j in first..=last {
                let w = lanczos3((j as f64 - centre) / stretch);
                if w != 0.0 {
                    at.push(j.clamp(0, from as i64 - 1) as usize);
                    weights.push(w);
                }
            }
            let sum: f64 = weights.iter().sum();
            Taps {
                at,
                weights: weights.into_iter().map(|w| (w / sum) as f32).collect(),
            }
        })
        .collect()
}

/// Resizes a `width` x `height` RGB image to `to_width` x `to_height`.
pub fn resize_rgb(
    src: &[f32],
    width: usize,
    height: usize,
    to_width: usize,
    to_height: usize,
    limits: &Limits,
) -> Result<Vec<f32>> {
    if src.len() != width * height * 3 || width == 0 || height == 0 {
        return Err(Error::parameter(format!(
            "a {width}x{height} RGB image needs {} samples, got {}",
            width * height * 3,
            src.len()
        )));
    }
    if to_width == 0 || to_height == 0 {
        return Err(Error::parameter(format!(
            "cannot resize to {to_width}x{to_height}"
        )));
    }
    limits.check_image(to_width, to_height, 3)?;
    // Rows first: the narrower intermediate keeps the vertical pass short.
    let across = axis(width, to_width);
    let mut mid = try_vec_par::<f32>(to_width * height * 3, limits)?;
    mid.par_chunks_mut(to_width * 3)
        .zip(src.par_chunks(width * 3))
        .for_each(|(out, row)| {
            for (px, taps) in out.chunks_exact_mut(3).zip(&across) {
                for (c, v) in px.iter_mut().enumerate() {
                    let (mut sum, mut lo, mut hi) = (0.0f32, f32::INFINITY, f32::NEG_INFINITY);
                    for (&j, &w) in taps.at.iter().zip(&taps.weights) {
                        let s = row[3 * j + c];
                        sum += w * s;
                        lo = lo.min(s);
                        hi = hi.max(s);
                    }
                    *v = super::clamp_to(sum, lo, hi);
                }
            }
        });
    let down = axis(height, to_height);
    let n = to_width * 3;
    let mut out = try_vec_par::<f32>(n * to_height, limits)?;
    let bounds = || (vec![0.0f32; n], vec![0.0f32; n]);
    out.par_chunks_mut(n)
        .zip(&down)
        .for_each_init(bounds, |(lo, hi), (row, taps)| {
            lo.fill(f32::INFINITY);
            hi.fill(f32::NEG_INFINITY);
            row.fill(0.0);
            for (&j, &w) in taps.at.iter().zip(&taps.weights) {
                let s = &mid[j * n..(j + 1) * n];
                for (((o, &v), l), h) in row.iter_mut().zip(s).zip(lo.iter_mut()).zip(hi.iter_mut())
                {
                    *o += w * v;
                    *l = l.min(v);
                    *h = h.max(v);
                }
            }
            for ((o, l), h) in row.iter_mut().zip(lo.iter()).zip(hi.iter()) {
                *o = super::clamp_to(*o, *l, *h);
            }
        });
    Ok(out)
}

/// The size a picture of `width` x `height` gets under `spec`, keeping its aspect ratio:
/// the long edge, a box to fit in, or a percentage. Long edge and box never enlarge (the
/// picture keeps its size when it already fits); a percentage above 100 does.
pub fn target_size(width: usize, height: usize, spec: ResizeSpec) -> (usize, usize) {
    let scale = match spec {
        ResizeSpec::LongEdge(n) => (n as f64 / width.max(height) as f64).min(1.0),
        ResizeSpec::Fit(w, h) => (w as f64 / width as f64)
            .min(h as f64 / height as f64)
            .min(1.0),
        ResizeSpec::Percent(p) => p / 100.0,
    };
    let side = |n: usize| ((n as f64 * scale).round() as usize).max(1);
    (side(width), side(height))
}

/// How an output is to be resized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResizeSpec {
    /// The longer side in pixels.
    LongEdge(usize),
    /// The largest size that fits in a width x height box.
    Fit(usize, usize),
    /// A percentage of the size (0 < p <= 400).
    Percent(f64),
}

impl ResizeSpec {
    /// Parses `LONG_EDGE`, `WxH` or `PERCENT%`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || {
            Error::parameter(format!(
                "resize {s:?}: give the long edge (2048), a box (1920x1080) or a \
                 percentage (50%), between 1 px and 400 %"
            ))
        };
        let s = s.trim();
        let spec = if let Some(p) = s.strip_suffix('%') {
            ResizeSpec::Percent(p.trim().parse::<f64>().map_err(|_| bad())?)
        } else if let Some((w, h)) = s.split_once(['x', 'X']) {
            ResizeSpec::Fit(
                w.trim().parse().map_err(|_| bad())?,
                h.trim().parse().map_err(|_| bad())?,
            )
        } else {
            ResizeSpec::LongEdge(s.parse().map_err(|_| bad())?)
        };
        let ok = match spec {
            ResizeSpec::LongEdge(n) => n > 0,
            ResizeSpec::Fit(w, h) => w > 0 && h > 0,
            ResizeSpec::Percent(p) => p > 0.0 && p <= 400.0,
        };
        if ok { Ok(spec) } else { Err(bad()) }
    }

    /// The spec as [`ResizeSpec::parse`] reads it.
    pub fn to_arg(self) -> String {
        match self {
            ResizeSpec::LongEdge(n) => n.to_string(),
            ResizeSpec::Fit(w, h) => format!("{w}x{h}"),
            ResizeSpec::Percent(p) => format!("{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| [f(x, y); 3])
            .collect()
    }

    fn resize(src: &[f32], w: usize, h: usize, tw: usize, th: usize) -> Vec<f32> {
        resize_rgb(src, w, h, tw, th, &Limits::default()).expect("resizes")
    }

    #[test]
    fn lanczos_kernel_is_one_at_zero_and_zero_at_the_other_integers() {
        assert_eq!(lanczos3(0.0), 1.0);
        for k in 1..=4 {
            assert!(lanczos3(k as f64).abs() < 1e-12, "{k}");
        }
        // sinc(0.5) sinc(1/6) = (2/pi) * (6/pi) sin(pi/6) = 6/pi^2.
        let want = 6.0 / std::f64::consts::PI.powi(2);
        assert!((lanczos3(0.5) - want).abs() < 1e-12);
    }

    #[test]
    fn resize_keeps_a_flat_field_flat() {
        let src = grey(50, 40, |_, _| 0.37);
        for (tw, th) in [(25, 20), (13, 7), (100, 80), (50, 40), (1, 1)] {
            let out = resize(&src, 50, 40, tw, th);
            assert_eq!(out.len(), tw * th * 3);
            assert!(out.iter().all(|&v| (v - 0.37).abs() < 1e-6), "{tw}x{th}");
        }
    }

    #[test]
    fn same_size_resize_is_the_identity() {
        let src = grey(31, 17, |x, y| ((x * 7 + y * 13) % 10) as f32 / 10.0);
        let out = resize(&src, 31, 17, 31, 17);
        assert!(src.iter().zip(&out).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    /// A low-frequency cosine shrunk by 4 is the same cosine sampled at the output pixel
    /// centres (the kernel passes it with a gain within 1 %).
    #[test]
    fn shrinking_keeps_low_frequencies() {
        let period = 64.0;
        let f = |x: f64| 0.5 + 0.4 * (2.0 * std::f64::consts::PI * x / period).cos();
        let src = grey(512, 8, |x, _| f(x as f64) as f32);
        let out = resize(&src, 512, 8, 128, 2);
        for (i, px) in out[..128 * 3].chunks_exact(3).enumerate().skip(8).take(112) {
            let want = f((i as f64 + 0.5) * 4.0 - 0.5);
            assert!(
                (f64::from(px[0]) - want).abs() < 0.005,
                "{i}: {} {want}",
                px[0]
            );
        }
    }

    /// A grating above the output's Nyquist frequency averages out instead of aliasing into
    /// a coarse false pattern (point sampling would give full-contrast stripes).
    #[test]
    fn shrinking_does_not_alias_fine_gratings() {
        // Period 3 px, shrunk by 4: 0.75 cycles per output pixel, far above Nyquist (0.5).
        let src = grey(600, 8, |x, _| if x % 3 == 0 { 1.0 } else { 0.0 });
        let out = resize(&src, 600, 8, 150, 2);
        let row = &out[..150 * 3];
        let (lo, hi) = row
            .iter()
            .skip(30)
            .take(240)
            .fold((1.0f32, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
        // The mean (1/3) survives; the stripes' contrast (1.0 in the input) nearly vanishes.
        assert!(hi - lo < 0.05, "{lo}..{hi}");
        assert!(((lo + hi) / 2.0 - 1.0 / 3.0).abs() < 0.02);
    }

    /// A black-white step: no sample overshoots either level (the clamp), and the edge stays
    /// sharp, the 10-90 % rise within two output pixels.
    #[test]
    fn step_edges_stay_sharp_without_ringing() {
        for (from, to) in [(200, 50), (200, 87), (50, 200), (200, 133)] {
            let src = grey(from, 4, |x, _| if x < from / 2 { 0.05 } else { 0.9 });
            let out = resize(&src, from, 4, to, 4);
            let row: Vec<f32> = out[..to * 3].iter().step_by(3).copied().collect();
            assert!(
                row.iter().all(|&v| (0.05..=0.9).contains(&v)),
                "{from}->{to}: {row:?}"
            );
            let above = |t: f32| {
                row.iter()
                    .position(|&v| v > 0.05 + t * 0.85)
                    .expect("rises")
            };
            let rise = above(0.9) - above(0.1);
            assert!(rise <= 2, "{from}->{to}: 10-90 % over {rise} px");
        }
    }

    /// Without the clamp Lanczos would overshoot: the check above can fail.
    #[test]
    fn unclamped_lanczos_would_ring_on_the_same_edge() {
        let taps = axis(200, 87);
        let step = |j: usize| if j < 100 { 0.05f64 } else { 0.9 };
        let worst = taps
            .iter()
            .map(|t| {
                t.at.iter()
                    .zip(&t.weights)
                    .map(|(&j, &w)| f64::from(w) * step(j))
                    .sum::<f64>()
            })
            .fold(0.0f64, f64::max);
        assert!(worst > 0.92, "overshoot to {worst}");
    }

    #[test]
    fn target_sizes_follow_the_spec_and_keep_the_aspect() {
        use ResizeSpec::*;
        assert_eq!(target_size(6000, 4000, LongEdge(2048)), (2048, 1365));
        assert_eq!(target_size(4000, 6000, LongEdge(2048)), (1365, 2048));
        assert_eq!(target_size(6000, 4000, Fit(1920, 1080)), (1620, 1080));
        assert_eq!(target_size(6000, 4000, Percent(50.0)), (3000, 2000));
        assert_eq!(target_size(600, 400, Percent(150.0)), (900, 600));
        // Long edge and box never enlarge.
        assert_eq!(target_size(600, 400, LongEdge(2048)), (600, 400));
        assert_eq!(target_size(600, 400, Fit(1920, 1080)), (600, 400));
    }

    #[test]
    fn resize_specs_parse_and_bad_ones_name_the_forms() {
        assert_eq!(
            ResizeSpec::parse("2048").ok(),
            Some(ResizeSpec::LongEdge(2048))
        );
        assert_eq!(
            ResizeSpec::parse("1920x1080").ok(),
            Some(ResizeSpec::Fit(1920, 1080))
        );
        assert_eq!(
            ResizeSpec::parse("50%").ok(),
            Some(ResizeSpec::Percent(50.0))
        );
        for spec in ["2048", "1920x1080", "50%", "12.5%"] {
            let parsed = ResizeSpec::parse(spec).expect("parses");
            assert_eq!(parsed.to_arg(), spec);
        }
        for bad in ["0", "x", "12x", "-5", "0%", "500%", "big"] {
            let e = ResizeSpec::parse(bad).err().map(|e| e.to_string());
            assert!(e.is_some_and(|m| m.contains("percentage")), "{bad}");
        }
    }
}
