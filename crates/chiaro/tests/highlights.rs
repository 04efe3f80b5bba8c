//! `highlights = "reconstruct"` keeps the hue of a clipped object: an orange light whose
//! core clips red, then red and green, on a camera whose white balance saturates red last.
//! The truth is the scene before the sensor clipped it.

use chiaro::Limits;
use chiaro::color::matrix;
use chiaro::color::spaces::OutputSpace;
use chiaro::io::Pixels;
use chiaro::pipeline::{Frame, OutputSpec, Recipe, render};
use chiaro::raw::{CfaPattern, ColorCalibration};
use chiaro::stages::color::Color;
use chiaro::stages::highlights::{HighlightMode, Highlights};

/// Camera neutral: white balance gains 2, 1 and 1/0.7.
const NEUTRAL: [f64; 3] = [0.5, 1.0, 0.7];
/// The light's colour in white-balanced camera RGB.
const HUE: [f64; 3] = [1.0, 0.45, 0.2];
const W: usize = 240;
const H: usize = 160;

/// Brightness of the scene (white-balanced, 1 = where green would clip on white).
fn light(x: usize, y: usize) -> f64 {
    let r2 = (x as f64 - 120.0).powi(2) + (y as f64 - 80.0).powi(2);
    0.1 + 2.4 * (-r2 / (2.0 * 40.0 * 40.0)).exp()
}

fn frame() -> Frame {
    let cfa = CfaPattern::bayer("RGGB").expect("pattern");
    let data = (0..W * H)
        .map(|i| {
            let (x, y) = (i % W, i / W);
            let c = cfa.color(y, x) as usize;
            // The sensor sees the scene divided by the white balance gain, up to its white.
            (light(x, y) * HUE[c] * NEUTRAL[c]).min(1.0) as f32
        })
        .collect();
    let xyz_to_srgb = matrix::invert(&chiaro::color::xy::rgb_to_xyz_from_primaries(
        [[0.64, 0.33], [0.30, 0.60], [0.15, 0.06]],
        chiaro::color::xy::D65_XY,
    ))
    .expect("invertible");
    let color = ColorCalibration {
        color_matrix1: Some(xyz_to_srgb),
        illuminant1: 21,
        as_shot_neutral: Some(NEUTRAL),
        ..Default::default()
    };
    Frame::from_cfa(W, H, data, cfa)
        .expect("frame")
        .with_color(color)
}

/// White-balanced camera RGB after the highlights stage.
fn develop(mode: HighlightMode) -> Vec<f32> {
    let mut recipe = Recipe::default();
    recipe.set(Highlights { mode });
    recipe.set(Color {
        space: OutputSpace::Camera,
        profile: None,
    });
    let spec = OutputSpec {
        bits: 32,
        linear: true,
    };
    let dev = render(&frame(), &recipe.linear(), &spec, &Limits::default(), None).expect("renders");
    match dev.image.pixels {
        Pixels::F32(v) => v,
        _ => panic!("float output expected"),
    }
}

/// Mean relative errors of red / blue and green / blue against the light's, and of red
/// against the scene's, over the pixels whose red clipped.
fn hue_errors(rgb: &[f32]) -> (f64, f64, f64) {
    let (mut rb, mut gb, mut red, mut n) = (0.0, 0.0, 0.0, 0);
    for y in 4..H - 4 {
        for x in 4..W - 4 {
            let l = light(x, y);
            if l * HUE[0] * NEUTRAL[0] < 1.02 {
                continue;
            }
            let p = &rgb[(y * W + x) * 3..][..3];
            let [r, g, b] = [p[0], p[1], p[2]].map(f64::from);
            rb += ((r / b) / (HUE[0] / HUE[2]) - 1.0).abs();
            gb += ((g / b) / (HUE[1] / HUE[2]) - 1.0).abs();
            red += (r / (l * HUE[0]) - 1.0).abs();
            n += 1;
        }
    }
    assert!(n > 500, "the test light clips too little: {n} pixels");
    let n = f64::from(n);
    (rb / n, gb / n, red / n)
}

#[test]
fn reconstruct_keeps_the_hue_of_a_clipped_light() {
    let (rb, gb, red) = hue_errors(&develop(HighlightMode::Reconstruct));
    let (rb_blend, gb_blend, _) = hue_errors(&develop(HighlightMode::Blend));
    let (rb_clip, _, _) = hue_errors(&develop(HighlightMode::Clip));
    println!(
        "clipped core, mean error of R/B, G/B, R: reconstruct {rb:.4} {gb:.4} {red:.4}; \
         blend {rb_blend:.3} {gb_blend:.3}; clip R/B {rb_clip:.3}"
    );
    assert!(
        rb < 0.03 && gb < 0.03,
        "hue kept within 3 %: R/B {rb:.4}, G/B {gb:.4}"
    );
    assert!(red < 0.05, "red rebuilt within 5 %: {red:.4}");
    assert!(
        rb_blend > 0.2 && rb_clip > 0.2,
        "the other modes lose the hue"
    );
}

#[test]
fn reconstruct_leaves_unclipped_pictures_alone() {
    let mut recipe = Recipe::default();
    recipe.set(Highlights {
        mode: HighlightMode::Reconstruct,
    });
    let cfa = CfaPattern::bayer("RGGB").expect("pattern");
    let data: Vec<f32> = (0..W * H)
        .map(|i| 0.1 + 0.5 * (i % 97) as f32 / 97.0)
        .collect();
    let f = Frame::from_cfa(W, H, data, cfa).expect("frame");
    let spec = OutputSpec {
        bits: 32,
        linear: true,
    };
    let a = render(
        &f,
        &recipe.clone().linear(),
        &spec,
        &Limits::default(),
        None,
    )
    .expect("renders");
    recipe.set(Highlights {
        mode: HighlightMode::None,
    });
    let b = render(&f, &recipe.linear(), &spec, &Limits::default(), None).expect("renders");
    assert_eq!(a.image.pixels, b.image.pixels);
}
