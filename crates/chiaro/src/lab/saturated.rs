//! chiaro's own validation set of saturated, weakly inter-channel-correlated scenes for
//! demosaicing, generated from formulas (no data files, the same bits on every machine).
//!
//! Demosaicers that borrow one channel's detail for another (colour-difference and
//! Laplacian-corrected methods) are tuned, usually, on the Kodak set, whose channels move
//! together. Here they do not: a chirp in a saturated red, a star of saturated red and blue
//! sectors, gratings of complementary colours, and petals whose red and blue carry different
//! textures. Demosaicing methods are *checked* on this set and on Kodak, never tuned on the
//! set that judges them (a held-out McMaster-like set that this repository does not have).
//!
//! # Units
//! Scene-linear RGB, white-balanced (a neutral has equal channels), 0..1; the mosaic a test
//! samples from it is what the pipeline's demosaic stage sees.

use std::f32::consts::PI;

/// One image of the set.
#[derive(Debug, Clone)]
pub struct Image {
    pub name: &'static str,
    pub width: usize,
    pub height: usize,
    /// Interleaved linear RGB.
    pub rgb: Vec<f32>,
}

/// The set at `size` x `size` pixels (256 is the size the tests use).
pub fn images(size: usize) -> Vec<Image> {
    let render = |name, f: &dyn Fn(f32, f32) -> [f32; 3]| {
        let mut rgb = Vec::with_capacity(size * size * 3);
        for y in 0..size {
            for x in 0..size {
                rgb.extend(f(x as f32 / size as f32, y as f32 / size as f32));
            }
        }
        Image {
            name,
            width: size,
            height: size,
            rgb,
        }
    };
    let n = size as f32;
    vec![
        render("red-chirp", &|u, v| {
            chirp(u, v, n, [0.04, 0.008, 0.004], [0.85, 0.09, 0.03])
        }),
        render("blue-chirp", &|u, v| {
            chirp(u, v, n, [0.006, 0.01, 0.05], [0.05, 0.12, 0.8])
        }),
        render("red-blue-star", &|u, v| star(u, v)),
        render("complementary-gratings", &|u, v| gratings(u, v, n)),
        render("petals", &|u, v| petals(u, v, n)),
    ]
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|c| a[c] + (b[c] - a[c]) * t)
}

/// A zone plate between two colours: local frequency grows with the radius up to 0.2
/// cycles per pixel in the corners (red and blue are sampled every second pixel, so 0.25 is
/// their limit), every orientation present.
fn chirp(u: f32, v: f32, n: f32, dark: [f32; 3], bright: [f32; 3]) -> [f32; 3] {
    let (dx, dy) = (u - 0.5, v - 0.5);
    let r2 = (dx * dx + dy * dy) * n * n;
    // Phase k r^2: frequency k r / pi cycles per pixel, 0.2 at r = n / sqrt(2).
    let k = 0.2 * PI / (n / std::f32::consts::SQRT_2);
    mix(dark, bright, 0.5 + 0.5 * (k * r2).cos())
}

/// A Siemens star of 24 sectors alternating saturated red and saturated blue, with a soft
/// dark rim: edges between two colours that share almost no channel, at every angle.
fn star(u: f32, v: f32) -> [f32; 3] {
    let (dx, dy) = (u - 0.5, v - 0.5);
    let angle = dy.atan2(dx);
    let s = (12.0 * angle).sin();
    // Anti-aliased by a narrow ramp across the sector edge.
    let t = (0.5 + 2.0 * s).clamp(0.0, 1.0);
    let c = mix([0.7, 0.05, 0.02], [0.03, 0.04, 0.6], t);
    let fade = (1.0 - 2.0 * (dx * dx + dy * dy).sqrt()).clamp(0.05, 1.0);
    c.map(|x| x * fade)
}

/// Four quadrants of sinusoidal gratings at 0, 30, 60 and 100 degrees and periods 4.5 to 8
/// pixels (within what red and blue samples resolve), each between two complementary
/// saturated colours.
fn gratings(u: f32, v: f32, n: f32) -> [f32; 3] {
    let q = usize::from(u >= 0.5) + 2 * usize::from(v >= 0.5);
    let (deg, period, a, b) = [
        (0.0f32, 8.0f32, [0.75, 0.06, 0.55], [0.05, 0.5, 0.06]),
        (30.0, 6.0, [0.8, 0.45, 0.02], [0.02, 0.08, 0.7]),
        (60.0, 5.0, [0.02, 0.6, 0.55], [0.7, 0.03, 0.1]),
        (100.0, 4.5, [0.6, 0.6, 0.03], [0.08, 0.02, 0.55]),
    ][q];
    let (s, c) = deg.to_radians().sin_cos();
    let phase = 2.0 * PI * (u * c + v * s) * n / period;
    mix(a, b, 0.5 + 0.5 * phase.sin())
}

/// Overlapping petal-like blobs of saturated hues on dark foliage. Inside a petal, red and
/// blue carry different fine textures (veins at 4.5 to 7 pixels), so no channel predicts
/// the others' detail.
fn petals(u: f32, v: f32, n: f32) -> [f32; 3] {
    const PETALS: [([f32; 2], f32, [f32; 3]); 7] = [
        ([0.3, 0.3], 0.22, [0.9, 0.04, 0.05]),
        ([0.7, 0.28], 0.2, [0.75, 0.05, 0.45]),
        ([0.55, 0.6], 0.25, [0.85, 0.3, 0.02]),
        ([0.25, 0.75], 0.18, [0.35, 0.03, 0.7]),
        ([0.8, 0.75], 0.16, [0.8, 0.6, 0.02]),
        ([0.5, 0.15], 0.1, [0.95, 0.1, 0.25]),
        ([0.12, 0.45], 0.12, [0.6, 0.02, 0.12]),
    ];
    let (px, py) = (u * n, v * n);
    let vein = |deg: f32, period: f32| {
        let (s, c) = deg.to_radians().sin_cos();
        0.5 + 0.5 * (2.0 * PI * (px * c + py * s) / period).sin()
    };
    let mut out = mix([0.02, 0.06, 0.015], [0.04, 0.12, 0.03], vein(75.0, 9.0));
    for (i, &([cx, cy], radius, colour)) in PETALS.iter().enumerate() {
        let (dx, dy) = (u - cx, v - cy);
        // An ellipse tilted by the petal's index, edge softened over about a pixel.
        let (s, c) = (i as f32 * 0.9).sin_cos();
        let (a, b) = (dx * c + dy * s, (dy * c - dx * s) * 1.8);
        let d = (a * a + b * b).sqrt() / radius;
        let inside = ((1.0 - d) * n * radius).clamp(0.0, 1.0);
        if inside <= 0.0 {
            continue;
        }
        let deg = 20.0 + 37.0 * i as f32;
        let red_texture = 0.75 + 0.25 * vein(deg, 4.5 + i as f32 % 3.0);
        let blue_texture = 0.7 + 0.3 * vein(deg + 70.0, 5.0 + (i as f32 * 0.5) % 2.0);
        let shade = 0.6 + 0.4 * (1.0 - d).clamp(0.0, 1.0);
        let petal = [
            colour[0] * red_texture * shade,
            colour[1] * shade,
            colour[2] * blue_texture * shade,
        ];
        out = mix(out, petal, inside);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_saturated_and_weakly_correlated() {
        for img in images(128) {
            assert_eq!(img.rgb.len(), 128 * 128 * 3, "{}", img.name);
            assert!(
                img.rgb.iter().all(|v| (0.0..=1.0).contains(v)),
                "{}",
                img.name
            );
            // Mean saturation (max - min over max) well above a natural photo's ~0.3.
            let sat: f32 = img
                .rgb
                .chunks_exact(3)
                .map(|p| {
                    let (hi, lo) = (p[0].max(p[1]).max(p[2]), p[0].min(p[1]).min(p[2]));
                    if hi > 0.0 { (hi - lo) / hi } else { 0.0 }
                })
                .sum::<f32>()
                / (128.0 * 128.0);
            assert!(sat > 0.6, "{}: mean saturation {sat}", img.name);
        }
    }
}
