//! The built-in looks on the phone DNG's ColorChecker: the saturated looks spare skin tones
//! (the skin patches move less in hue, and gain less chroma, than the other colours) and keep
//! greys grey; mono is grey throughout. Measured with the independent colorimetry of
//! `common::colorimetry` on the 8-bit sRGB output.

mod common;

use common::colorimetry::{Tables, mul_vec, srgb_to_linear, xy_to_xyz, xyz_to_lab};

use chiaro::io::Pixels;
use chiaro::pipeline::recipe::look;
use chiaro::pipeline::{OutputSpec, Recipe, Rendering, prepare};

/// CIELAB (D50) of the 24 patches rendered in `look_name`.
fn chart_in(
    frame: &chiaro::pipeline::Frame,
    boxes: &[[usize; 4]],
    t: &Tables,
    look_name: &str,
) -> Vec<[f64; 3]> {
    let mut recipe = Recipe::default();
    for s in look(look_name).expect("built-in look") {
        recipe.set_boxed(s);
    }
    let spec = OutputSpec {
        bits: 8,
        linear: false,
    };
    let limits = chiaro::Limits::default();
    let dev = Rendering::new(frame, &recipe, &spec, &limits, None)
        .expect("plans")
        .image()
        .expect("renders");
    let Pixels::U8(px) = &dev.image.pixels else {
        panic!("8-bit output expected")
    };
    let w = dev.image.width;
    let m = t.rgb_to_xyz_d50("sRGB");
    let white = xy_to_xyz(t.illuminant("D50"));
    boxes
        .iter()
        .map(|&[y0, y1, x0, x1]| {
            let mut sum = [0.0; 3];
            for y in y0..y1 {
                for p in px[(y * w + x0) * 3..(y * w + x1) * 3].chunks_exact(3) {
                    for (s, &v) in sum.iter_mut().zip(p) {
                        *s += srgb_to_linear(f64::from(v) / 255.0);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as f64;
            xyz_to_lab(mul_vec(&m, &sum.map(|s| s / n)), white)
        })
        .collect()
}

fn chroma(l: &[f64; 3]) -> f64 {
    l[1].hypot(l[2])
}

fn hue_change(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let h = |l: &[f64; 3]| l[2].atan2(l[1]).to_degrees();
    ((h(b) - h(a) + 540.0).rem_euclid(360.0) - 180.0).abs()
}

#[test]
fn saturated_looks_spare_skin_and_keep_greys_grey_and_mono_is_grey() {
    let data = common::require_data!();
    let t = Tables::load(&data);
    let dir = data.join("raw");
    let raw = chiaro::raw::read_file(
        &dir.join("phone_synth_lgg4_4200k_4032x3024.dng"),
        &chiaro::Limits::default(),
    )
    .expect("decodes");
    let frame = prepare(&raw, &chiaro::Limits::default()).expect("prepares");
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("phone_synth_lgg4_4200k_4032x3024.truth.json"))
            .expect("truth"),
    )
    .expect("json");
    let boxes: Vec<[usize; 4]> = truth["chart_boxes_yyxx"]
        .as_array()
        .expect("boxes")
        .iter()
        .map(|b| std::array::from_fn(|i| b[i].as_u64().expect("box") as usize))
        .collect();
    let natural = chart_in(&frame, &boxes, &t, "natural");
    // Patches 0 and 1 are dark and light skin, 2..18 the other colours, 18..24 the greys.
    for name in ["vibrant", "authentic"] {
        let chart = chart_in(&frame, &boxes, &t, name);
        let moved: Vec<f64> = (0..18)
            .map(|i| hue_change(&natural[i], &chart[i]))
            .collect();
        let others = moved[2..].iter().sum::<f64>() / 16.0;
        for (i, m) in moved[..2].iter().enumerate() {
            assert!(
                *m < others,
                "{name}: skin patch {i} turns {m:.2} degrees, the others {others:.2} on average"
            );
        }
        // The chart's greys are not perfectly neutral (its white has b* 2 to 3): they must
        // not gain colour over the natural rendering.
        for i in 18..24 {
            let gained = chroma(&chart[i]) - chroma(&natural[i]);
            assert!(
                gained < 1.0,
                "{name}: grey patch {i} gains chroma {gained:.2}"
            );
        }
        if name == "vibrant" {
            let gain = |i: usize| chroma(&chart[i]) / chroma(&natural[i]);
            let skin = (gain(0) + gain(1)) / 2.0;
            let rest = (2..18).map(gain).sum::<f64>() / 16.0;
            assert!(rest > 1.1, "vibrant: colours gain only {rest:.3}x chroma");
            assert!(
                skin < 1.0 + (rest - 1.0) / 2.0,
                "vibrant: skin gains {skin:.3}x chroma, the other colours {rest:.3}x"
            );
        }
    }
    for (i, lab) in chart_in(&frame, &boxes, &t, "mono").iter().enumerate() {
        // sRGB code values of equal R, G and B are D65-neutral; adapted to D50 they keep
        // chroma 0 (Bradford maps white to white).
        assert!(
            chroma(lab) < 1.5,
            "mono: patch {i} has chroma {:.2}",
            chroma(lab)
        );
    }
}
