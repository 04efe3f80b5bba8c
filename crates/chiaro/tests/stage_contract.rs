//! The stage contract from outside the crate: stages defined here, registered on a copy of
//! the built-in registry, scheduled by the executor like built-in ones.
//!
//! Truth is computed here without the executor: whole-image loops over the same frame.

use chiaro::ErrorKind;
use chiaro::Limits;
use chiaro::image::Rect;
use chiaro::io::{EncodeOptions, Format, PixelRows, Pixels, Placement, write_tiff_streamed};
use chiaro::pipeline::stage::{
    AreaKernel, Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage, TileMut, TileView,
};
use chiaro::pipeline::{Frame, OutputSpec, Recipe, Registry, Rendering, render};
use chiaro::raw::CfaPattern;
use chiaro::stages::demosaic::{DemosaicMethod, demosaic};
use chiaro::stages::orientation;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

/// A display-side stage after the transfer function: `v -> 1 - v`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Invert {}

struct InvertKernel;

impl PointKernel for InvertKernel {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        row.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
}

impl Stage for Invert {
    fn name(&self) -> &'static str {
        "invert"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::Encoded, Signal::Encoded)
    }
    fn order(&self) -> u32 {
        900
    }
    fn plan(&self, _: &mut PlanContext<'_>, _: Option<&Proxy>) -> chiaro::Result<Option<Kernel>> {
        Ok(Some(Kernel::Point(Box::new(InvertKernel))))
    }
}

/// A CFA-domain neighbourhood stage: the mean of the 3x3 samples around each site (fewer at
/// frame edges).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Box3 {}

struct Box3Kernel;

/// The 3x3 mean at (`x`, `y`) of a `w` x `h` buffer read through `at`, limited to `bounds`
/// (x0, y0, x1, y1) in the same coordinates.
fn box3_at(at: impl Fn(usize, usize) -> f32, x: usize, y: usize, bounds: [usize; 4]) -> f32 {
    let (mut sum, mut n) = (0.0f32, 0.0f32);
    for yy in y.saturating_sub(1).max(bounds[1])..(y + 2).min(bounds[3]) {
        for xx in x.saturating_sub(1).max(bounds[0])..(x + 2).min(bounds[2]) {
            sum += at(xx, yy);
            n += 1.0;
        }
    }
    sum / n
}

impl AreaKernel for Box3Kernel {
    fn halo(&self) -> usize {
        1
    }
    fn run(&self, src: &TileView<'_>, dst: &mut TileMut<'_>) -> chiaro::Result<()> {
        let (s, d) = (src.rect, dst.rect);
        let read = |x: usize, y: usize| src.data[(y - s.y) * s.width + x - s.x];
        for y in d.y..d.bottom() {
            for x in d.x..d.right() {
                // Frame edges bound the neighbourhood; the tile edges must not.
                let bounds = [0, 0, src.frame.0, src.frame.1];
                dst.data[(y - d.y) * d.width + x - d.x] = box3_at(read, x, y, bounds);
            }
        }
        Ok(())
    }
}

impl Stage for Box3 {
    fn name(&self) -> &'static str {
        "box3"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::Cfa, Signal::Cfa)
    }
    fn order(&self) -> u32 {
        150
    }
    fn plan(&self, _: &mut PlanContext<'_>, _: Option<&Proxy>) -> chiaro::Result<Option<Kernel>> {
        Ok(Some(Kernel::Area(Box::new(Box3Kernel))))
    }
}

/// Records the proxy's mean red and blue at its place in the chain.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Probe {}

impl Stage for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::Cfa, Signal::Cfa)
    }
    fn order(&self) -> u32 {
        250
    }
    fn needs_proxy(&self) -> bool {
        true
    }
    fn plan(
        &self,
        ctx: &mut PlanContext<'_>,
        proxy: Option<&Proxy>,
    ) -> chiaro::Result<Option<Kernel>> {
        let p = proxy.ok_or_else(|| chiaro::Error::parameter("probe: no proxy"))?;
        let n = (p.width * p.height) as f64;
        let mean = |c: usize| {
            p.rgb
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&v| f64::from(v))
                .sum::<f64>()
                / n
        };
        ctx.notes
            .push(("probe", format!("{} {}", mean(0), mean(2))));
        Ok(None)
    }
}

fn registry() -> Registry {
    let mut r = Registry::builtin().clone();
    r.register::<Invert>();
    r.register::<Box3>();
    r.register::<Probe>();
    r
}

/// A deterministic mosaic with detail at every scale, values in 0.05..0.95.
fn mosaic(w: usize, h: usize) -> Vec<f32> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..w * h)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let smooth = 0.5 + 0.3 * (0.013 * x).sin() * (0.021 * y).cos();
            (smooth + 0.1 * ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5)).clamp(0.05, 0.95)
        })
        .collect()
}

fn float(p: &Pixels) -> &[f32] {
    match p {
        Pixels::F32(v) => v,
        _ => panic!("float output expected"),
    }
}

const LINEAR: OutputSpec = OutputSpec {
    bits: 32,
    linear: true,
};

/// A mosaic, a recipe with the outside 3x3 box stage before a bilinear demosaic, and its
/// truth computed without the executor: the box filter over the whole plane, then a
/// whole-image demosaic.
fn box3_case(w: usize, h: usize, pattern: &CfaPattern) -> (Vec<f32>, Recipe, Vec<f32>) {
    let data = mosaic(w, h);
    let recipe = Recipe::from_toml_with(
        "version = 1\n[[stages]]\nstage = \"box3\"\n[[stages]]\nstage = \"demosaic\"\nmethod = \"bilinear\"\n[[stages]]\nstage = \"color\"\nspace = \"camera\"\n",
        &registry(),
    )
    .expect("recipe with an outside stage");
    let filtered: Vec<f32> = (0..w * h)
        .map(|i| box3_at(|x, y| data[y * w + x], i % w, i / w, [0, 0, w, h]))
        .collect();
    let truth = demosaic(DemosaicMethod::Bilinear, &filtered, w, h, pattern).expect("demosaics");
    (data, recipe, truth)
}

#[test]
fn outside_area_stage_tiles_equal_a_whole_image_run() {
    // Odd sizes so edge tiles are partial; large enough for several tiles each way.
    let (w, h) = (1037, 713);
    let pattern = CfaPattern::bayer("GRBG").expect("valid");
    let (data, recipe, truth) = box3_case(w, h, &pattern);
    for code in [1u16, 3, 6, 8] {
        let frame = Frame::from_cfa(w, h, data.clone(), pattern)
            .expect("frame")
            .with_orientation(code)
            .expect("orientation");
        let dev = render(&frame, &recipe, &LINEAR, &Limits::default(), None).expect("renders");
        let want = orientation::apply(code, truth.clone(), w, h, 3);
        let got = float(&dev.image.pixels);
        assert_eq!(got.len(), want.len());
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert_eq!(
            worst, 0.0,
            "orientation {code}: tiled result differs by {worst}"
        );
    }
}

#[test]
fn streamed_bands_equal_a_whole_image_run_in_every_orientation() {
    // Partial edge tiles both ways; the box filter's halo crosses every band boundary.
    let (w, h) = (709, 517);
    let pattern = CfaPattern::bayer("RGGB").expect("valid");
    let (data, recipe, truth) = box3_case(w, h, &pattern);
    for code in 1u16..=8 {
        let frame = Frame::from_cfa(w, h, data.clone(), pattern)
            .expect("frame")
            .with_orientation(code)
            .expect("orientation");
        let rendering =
            Rendering::new(&frame, &recipe, &LINEAR, &Limits::default(), None).expect("plans");
        let (ow, oh) = rendering.size();
        let mut got: Vec<f32> = Vec::new();
        let mut runs = 0;
        rendering
            .stream(&mut |rows| {
                let PixelRows::F32(v) = rows else {
                    panic!("float rows expected")
                };
                assert_eq!(v.len() % (3 * ow), 0, "a run of whole rows");
                got.extend_from_slice(v);
                runs += 1;
                Ok(())
            })
            .expect("streams");
        assert!(runs > 1, "orientation {code}: streamed in one piece");
        let want = orientation::apply(code, truth.clone(), w, h, 3);
        assert_eq!(got.len(), 3 * ow * oh);
        let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "orientation {code}: {differ} samples differ");
    }
}

const SIXTEEN: OutputSpec = OutputSpec {
    bits: 16,
    linear: false,
};

/// A 900x700 mosaic (several bands) and the default recipe.
fn default_case() -> (Frame, Recipe) {
    let (w, h) = (900, 700);
    let pattern = CfaPattern::bayer("RGGB").expect("valid");
    let frame = Frame::from_cfa(w, h, mosaic(w, h), pattern).expect("frame");
    (frame, Recipe::default())
}

#[test]
fn a_failing_sink_stops_the_stream_with_its_error() {
    let (frame, recipe) = default_case();
    let rendering =
        Rendering::new(&frame, &recipe, &SIXTEEN, &Limits::default(), None).expect("plans");
    let mut calls = 0;
    let err = rendering
        .stream(&mut |_| {
            calls += 1;
            Err(chiaro::Error::new(ErrorKind::Io, "disk full"))
        })
        .expect_err("the sink's error comes back");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(calls, 1, "no band is handed over after the error");
}

#[test]
fn cancelling_a_streamed_tiff_leaves_no_file() {
    let (frame, recipe) = default_case();
    let cancel = AtomicBool::new(false);
    let rendering = Rendering::new(&frame, &recipe, &SIXTEEN, &Limits::default(), Some(&cancel))
        .expect("plans");
    let (ow, oh) = rendering.size();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("out.tif");
    let opts = EncodeOptions {
        format: Format::Tiff,
        quality: 90,
        icc_profile: Vec::new(),
        exif: Default::default(),
        software: "test".into(),
        compression: None,
    };
    let err = write_tiff_streamed(&path, ow, oh, 16, &opts, Placement::default(), |sink| {
        rendering.stream(&mut |rows| {
            // Ctrl-C after the first band.
            cancel.store(true, Ordering::Relaxed);
            sink(rows)
        })
    })
    .expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn outside_display_stage_runs_after_the_transfer_function() {
    let (w, h) = (300, 200);
    let pattern = CfaPattern::bayer("RGGB").expect("valid");
    let frame = Frame::from_cfa(w, h, mosaic(w, h), pattern).expect("frame");
    let spec = OutputSpec {
        bits: 32,
        linear: false,
    };
    let base = Recipe::default();
    let mut inverted = base.clone();
    inverted.set(Invert {});
    assert_eq!(inverted.stages.last().map(|s| s.name()), Some("invert"));
    let a = render(&frame, &base, &spec, &Limits::default(), None).expect("renders");
    let b = render(&frame, &inverted, &spec, &Limits::default(), None).expect("renders");
    let (a, b) = (float(&a.image.pixels), float(&b.image.pixels));
    // Encoded values are in 0..1, so inverting them is exact.
    assert!(a.iter().any(|&v| v > 0.1 && v < 0.9));
    assert!(a.iter().zip(b).all(|(x, y)| 1.0 - x == *y));
    // The recipe round-trips through TOML with the outside registry.
    let text = inverted.to_toml().expect("serialises");
    assert_eq!(
        Recipe::from_toml_with(&text, &registry()).expect("parses"),
        inverted
    );
    assert!(
        Recipe::from_toml(&text).is_err(),
        "the built-in registry lacks it"
    );
}

#[test]
fn stage_in_the_wrong_domain_is_rejected_with_the_reason() {
    let toml = |stages: &[&str]| {
        let mut t = String::from("version = 1\n");
        for s in stages {
            t += &format!("[[stages]]\nstage = \"{s}\"\n");
        }
        t
    };
    let e = Recipe::from_toml_with(&toml(&["invert", "demosaic", "color"]), &registry())
        .expect_err("invert before demosaic");
    let m = e.to_string();
    assert!(m.contains("'invert'") && m.contains("encoded"), "{m}");
    assert!(m.contains("normalised CFA"), "{m}");
    let e = Recipe::from_toml(&toml(&["demosaic", "tone-curve", "color"])).expect_err("order");
    let m = e.to_string();
    assert!(
        m.contains("'tone-curve'") && m.contains("scene-referred") && m.contains("camera RGB"),
        "{m}"
    );
    let e = Recipe::from_toml(&toml(&["demosaic"])).expect_err("no colour");
    assert!(e.to_string().contains("color"), "{e}");
    let e = Recipe::from_toml(&toml(&["sharpen-magic"])).expect_err("unknown");
    assert!(
        e.to_string().contains("unknown stage 'sharpen-magic'"),
        "{e}"
    );
}

#[test]
fn proxy_stage_sees_the_signal_at_its_input() {
    let (w, h) = (640, 480);
    let pattern = CfaPattern::bayer("RGGB").expect("valid");
    let data = mosaic(w, h);
    let frame = Frame::from_cfa(w, h, data.clone(), pattern).expect("frame");
    // Unbalanced camera: as-shot neutral (0.5, 1, 0.25) -> gains 2 and 4 on red and blue.
    let cal = chiaro::raw::ColorCalibration {
        as_shot_neutral: Some([0.5, 1.0, 0.25]),
        ..Default::default()
    };
    let frame = frame.with_color(cal);
    let recipe = Recipe::from_toml_with(
        "version = 1\n[[stages]]\nstage = \"white-balance\"\n[[stages]]\nstage = \"probe\"\n[[stages]]\nstage = \"demosaic\"\n[[stages]]\nstage = \"color\"\nspace = \"camera\"\n",
        &registry(),
    )
    .expect("parses");
    let dev = render(&frame, &recipe, &LINEAR, &Limits::default(), None).expect("renders");
    let note = &dev
        .info
        .notes
        .iter()
        .find(|(s, _)| *s == "probe")
        .expect("probe ran")
        .1;
    let v: Vec<f64> = note
        .split(' ')
        .map(|t| t.parse().expect("number"))
        .collect();
    // Truth: mean of the red and blue sites of the whole mosaic, times their gains.
    let site_mean = |c: u8| {
        let s: Vec<f64> = (0..w * h)
            .filter(|i| pattern.color(i / w, i % w) == c)
            .map(|i| f64::from(data[i]))
            .collect();
        s.iter().sum::<f64>() / s.len() as f64
    };
    assert!((v[0] - 2.0 * site_mean(0)).abs() < 0.01, "{v:?}");
    assert!((v[1] - 4.0 * site_mean(2)).abs() < 0.02, "{v:?}");
}

#[test]
fn render_refuses_an_output_beyond_the_limits() {
    let (w, h) = (200, 100);
    let frame = Frame::from_cfa(
        w,
        h,
        mosaic(w, h),
        CfaPattern::bayer("RGGB").expect("valid"),
    )
    .expect("frame");
    let limits = Limits {
        max_samples: 3 * w * h - 1,
        ..Limits::default()
    };
    let e = render(
        &frame,
        &Recipe::default(),
        &OutputSpec::default(),
        &limits,
        None,
    )
    .expect_err("too large");
    assert_eq!(e.kind(), ErrorKind::Limits, "{e}");
    let crop = Frame::from_cfa(
        w,
        h,
        mosaic(w, h),
        CfaPattern::bayer("RGGB").expect("valid"),
    )
    .expect("frame")
    .with_crop(Rect::new(10, 10, 100, 50))
    .expect("crop inside");
    let dev = render(
        &crop,
        &Recipe::default(),
        &OutputSpec::default(),
        &limits,
        None,
    )
    .expect("a crop within the limits renders");
    assert_eq!((dev.image.width, dev.image.height), (100, 50));
}
