//! `Rendering::resize_to`: the output is resampled in linear light, whatever the output
//! transfer function, and streams the same samples it renders whole.
//!
//! Truth comes from the full-size rendering, decoded with the sRGB formula of IEC 61966-2-1
//! written out here.

use chiaro::Limits;
use chiaro::io::{PixelRows, Pixels};
use chiaro::pipeline::{Frame, OutputSpec, Recipe, Rendering};

const SIXTEEN: OutputSpec = OutputSpec {
    bits: 16,
    linear: false,
};

fn srgb_decode(v: f64) -> f64 {
    if v <= 0.040_45 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// A scene of 1-pixel grey checks, dark and mid, on a linear RGB frame.
fn checks(w: usize, h: usize) -> Frame {
    let data = (0..w * h)
        .flat_map(|i| {
            let v = if (i % w + i / w) % 2 == 0 { 0.02 } else { 0.4 };
            [v; 3]
        })
        .collect();
    Frame::from_rgb(w, h, data).expect("frame")
}

fn u16s(p: &Pixels) -> &[u16] {
    match p {
        Pixels::U16(v) => v,
        _ => panic!("16-bit output expected"),
    }
}

/// Halving fine checks gives the mean of their light: the checks' code values averaged
/// would be far darker (the classic gamma error of resizing encoded images).
#[test]
fn resized_output_averages_light_not_code_values() {
    let (w, h) = (240, 160);
    let frame = checks(w, h);
    let recipe = Recipe::default();
    let limits = Limits::default();
    let full = Rendering::new(&frame, &recipe, &SIXTEEN, &limits, None)
        .expect("plans")
        .image()
        .expect("renders");
    let half = Rendering::new(&frame, &recipe, &SIXTEEN, &limits, None)
        .expect("plans")
        .resize_to(w / 2, h / 2)
        .expect("size within limits")
        .image()
        .expect("renders");
    assert_eq!((half.image.width, half.image.height), (w / 2, h / 2));
    let (full, half) = (u16s(&full.image.pixels), u16s(&half.image.pixels));
    let code = |v: u16| f64::from(v) / 65535.0;
    // Green samples of the full picture, the two check levels.
    let (mut dark, mut light) = (f64::MAX, 0.0f64);
    for px in full.chunks_exact(3) {
        dark = dark.min(code(px[1]));
        light = light.max(code(px[1]));
    }
    assert!(
        light - dark > 0.3,
        "checks too faint to tell: {dark}..{light}"
    );
    let light_mean = 0.5 * (srgb_decode(dark) + srgb_decode(light));
    let code_mean = 0.5 * (dark + light);
    // Away from the edges (the kernel is 6 output pixels wide).
    let hw = w / 2;
    for y in 6..h / 2 - 6 {
        for x in 6..hw - 6 {
            let got = srgb_decode(code(half[(y * hw + x) * 3 + 1]));
            assert!(
                (got - light_mean).abs() < 0.01 * light_mean,
                "({x},{y}): light {got}, mean light {light_mean}"
            );
        }
    }
    assert!(
        (srgb_decode(code_mean) - light_mean).abs() > 0.2 * light_mean,
        "the test cannot tell the two averages apart"
    );
}

#[test]
fn streamed_resized_output_equals_the_whole_image() {
    let (w, h) = (301, 203);
    let frame = checks(w, h);
    let recipe = Recipe::default();
    let limits = Limits::default();
    let plan = || {
        Rendering::new(&frame, &recipe, &SIXTEEN, &limits, None)
            .expect("plans")
            .resize_to(120, 81)
            .expect("size within limits")
    };
    let rendering = plan();
    assert_eq!(rendering.size(), (120, 81));
    let whole = plan().image().expect("renders");
    let mut streamed = Vec::new();
    rendering
        .stream(&mut |rows| {
            let PixelRows::U16(v) = rows else {
                panic!("16-bit rows expected")
            };
            streamed.extend_from_slice(v);
            Ok(())
        })
        .expect("streams");
    assert_eq!(streamed, u16s(&whole.image.pixels));
}
