//! Image-quality metrics: CIELAB, CIEDE2000 and colour PSNR.

use crate::color::xy::{D50_XY, xy_to_xyz};

/// CIELAB (CIE 15:2004) of an XYZ triple relative to the D50 white (Y of white = 1).
pub fn xyz_d50_to_lab(xyz: [f64; 3]) -> [f64; 3] {
    let w = xy_to_xyz(D50_XY);
    let f = |t: f64| {
        if t > (6.0f64 / 29.0).powi(3) {
            t.cbrt()
        } else {
            t / (3.0 * (6.0f64 / 29.0).powi(2)) + 4.0 / 29.0
        }
    };
    let (fx, fy, fz) = (f(xyz[0] / w[0]), f(xyz[1] / w[1]), f(xyz[2] / w[2]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIEDE2000 colour difference (Sharma, Wu, Dalal 2005 formulation, kL = kC = kH = 1).
pub fn ciede2000(lab1: [f64; 3], lab2: [f64; 3]) -> f64 {
    use std::f64::consts::PI;
    let (l1, a1, b1) = (lab1[0], lab1[1], lab1[2]);
    let (l2, a2, b2) = (lab2[0], lab2[1], lab2[2]);
    let c1 = (a1 * a1 + b1 * b1).sqrt();
    let c2 = (a2 * a2 + b2 * b2).sqrt();
    let cm = 0.5 * (c1 + c2);
    let g = 0.5 * (1.0 - (cm.powi(7) / (cm.powi(7) + 25f64.powi(7))).sqrt());
    let (a1p, a2p) = ((1.0 + g) * a1, (1.0 + g) * a2);
    let (c1p, c2p) = ((a1p * a1p + b1 * b1).sqrt(), (a2p * a2p + b2 * b2).sqrt());
    let hue = |b: f64, a: f64| {
        if a == 0.0 && b == 0.0 {
            0.0
        } else {
            let h = b.atan2(a).to_degrees();
            if h < 0.0 { h + 360.0 } else { h }
        }
    };
    let (h1p, h2p) = (hue(b1, a1p), hue(b2, a2p));
    let dl = l2 - l1;
    let dc = c2p - c1p;
    let dhp = if c1p * c2p == 0.0 {
        0.0
    } else if (h2p - h1p).abs() <= 180.0 {
        h2p - h1p
    } else if h2p - h1p > 180.0 {
        h2p - h1p - 360.0
    } else {
        h2p - h1p + 360.0
    };
    let dh = 2.0 * (c1p * c2p).sqrt() * (dhp.to_radians() / 2.0).sin();
    let lm = 0.5 * (l1 + l2);
    let cmp = 0.5 * (c1p + c2p);
    let hm = if c1p * c2p == 0.0 {
        h1p + h2p
    } else if (h1p - h2p).abs() <= 180.0 {
        0.5 * (h1p + h2p)
    } else if h1p + h2p < 360.0 {
        0.5 * (h1p + h2p + 360.0)
    } else {
        0.5 * (h1p + h2p - 360.0)
    };
    let t = 1.0 - 0.17 * (hm - 30.0).to_radians().cos()
        + 0.24 * (2.0 * hm).to_radians().cos()
        + 0.32 * (3.0 * hm + 6.0).to_radians().cos()
        - 0.20 * (4.0 * hm - 63.0).to_radians().cos();
    let d_theta = 30.0 * (-((hm - 275.0) / 25.0).powi(2)).exp();
    let rc = 2.0 * (cmp.powi(7) / (cmp.powi(7) + 25f64.powi(7))).sqrt();
    let sl = 1.0 + 0.015 * (lm - 50.0).powi(2) / (20.0 + (lm - 50.0).powi(2)).sqrt();
    let sc = 1.0 + 0.045 * cmp;
    let sh = 1.0 + 0.015 * cmp * t;
    let rt = -(2.0 * d_theta * PI / 180.0).sin() * rc;
    ((dl / sl).powi(2) + (dc / sc).powi(2) + (dh / sh).powi(2) + rt * (dc / sc) * (dh / sh)).sqrt()
}

/// Colour PSNR in dB over interleaved RGB buffers of equal size, for signals with `peak`.
pub fn cpsnr(a: &[f32], b: &[f32], peak: f64) -> f64 {
    let n = a.len().min(b.len()).max(1);
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / n as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (peak * peak / mse).log10()
    }
}

/// Maze energy of a green plane: the mean absolute response of the 3x3 checkerboard
/// filter `[[1,-2,1],[-2,4,-2],[1,-2,1]] / 16` over the pixels `mask` selects, divided by
/// their mean green. The filter is `[1,-2,1]` twice, so it ignores flat areas and linear
/// ramps and passes the 2-pixel checkerboard a demosaicer leaves when it mistakes colour
/// for detail, at full amplitude. Pixels on the image border are left out. `None` when
/// the mask selects nothing or the mean is not positive.
///
/// `rgb` is interleaved RGB, `width * height * 3` samples; `mask(i)` decides for pixel `i`
/// (row-major), from this image or another one of the same size (for the saturated-red
/// measure of a maze: red above three times green).
pub fn maze_energy(
    rgb: &[f32],
    width: usize,
    height: usize,
    mask: impl Fn(usize) -> bool,
) -> Option<f64> {
    if width < 3 || height < 3 || rgb.len() != width * height * 3 {
        return None;
    }
    let g = |x: usize, y: usize| f64::from(rgb[3 * (y * width + x) + 1]);
    let (mut response, mut green, mut n) = (0.0f64, 0.0f64, 0usize);
    for y in 1..height - 1 {
        for x in 1..width - 1 {
            if !mask(y * width + x) {
                continue;
            }
            let edges = g(x - 1, y) + g(x + 1, y) + g(x, y - 1) + g(x, y + 1);
            let corners = g(x - 1, y - 1) + g(x + 1, y - 1) + g(x - 1, y + 1) + g(x + 1, y + 1);
            response += (4.0 * g(x, y) - 2.0 * edges + corners).abs() / 16.0;
            green += g(x, y);
            n += 1;
        }
    }
    (n > 0 && green > 0.0).then(|| response / green)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciede2000_matches_sharma_reference_pairs() {
        // Pairs 1, 7 and 17 from Sharma, Wu & Dalal (2005), table 1.
        let cases = [
            ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
            ([50.0, 0.0, 0.0], [50.0, -1.0, 2.0], 2.3669),
            ([50.0, 2.5, 0.0], [73.0, 25.0, -18.0], 27.1492),
        ];
        for (a, b, want) in cases {
            assert!((ciede2000(a, b) - want).abs() < 1e-4, "{a:?} {b:?}");
        }
    }

    #[test]
    fn maze_energy_is_the_checkerboard_amplitude_and_ignores_ramps() {
        // An even interior (8 x 6), so the checkerboard's mean is exactly its middle.
        let (w, h) = (10, 8);
        let image = |f: &dyn Fn(usize, usize) -> f32| -> Vec<f32> {
            (0..w * h)
                .flat_map(|i| [0.9, f(i % w, i / w), 0.1])
                .collect()
        };
        // Green 0.2 +- 0.05 in a checkerboard: energy 0.05 / 0.2.
        let board = image(&|x, y| if (x + y) % 2 == 0 { 0.25 } else { 0.15 });
        let e = maze_energy(&board, w, h, |_| true).expect("pixels");
        assert!((e - 0.25).abs() < 1e-6, "{e}");
        // A tilted ramp and a flat field have none.
        let ramp = image(&|x, y| 0.1 + 0.02 * x as f32 + 0.01 * y as f32);
        assert!(maze_energy(&ramp, w, h, |_| true).expect("pixels") < 1e-6);
        // The mask chooses the pixels; an empty one gives no figure.
        assert_eq!(
            maze_energy(&board, w, h, |i| board[3 * i] < board[3 * i + 1]),
            None
        );
    }

    #[test]
    fn white_is_lab_100() {
        let lab = xyz_d50_to_lab(xy_to_xyz(D50_XY));
        assert!((lab[0] - 100.0).abs() < 1e-9 && lab[1].abs() < 1e-9 && lab[2].abs() < 1e-9);
    }
}
