//! lensfun corrections for camera raws without lens data of their own.
//!
//! - A dot grid rendered through a lens's distortion, lateral chromatic aberration and
//!   vignetting, with the forward model written here from lensfun's documented formulas,
//!   develops with every dot of every colour on the ideal grid and a flat background.
//! - lensfun 0.3 itself (liblensfun through `tests/peers/lensfun_peer.py`) picks the same
//!   camera and lens from the installed database for EXIF names, and reads the same source
//!   positions and devignetting factors.

mod common;

use std::path::Path;

use chiaro::Limits;
use chiaro::image::Rect;
use chiaro::io::Pixels;
use chiaro::lensfun::Database;
use chiaro::pipeline::{Frame, OutputSpec, Recipe, render};
use chiaro::raw::{CfaPattern, ExifInfo};
use chiaro::stages::color::Color;
use chiaro::stages::lens::lensfun::LensfunMap;
use chiaro::stages::lens::warp::Mapping;
use chiaro::stages::lens::{LensCorrection, LensSource};

/// A test camera and lens in lensfun's XML, shot at 24 mm f/2.8.
const DB: &str = r#"<lensdatabase version="1">
    <mount><name>Test Mount</name></mount>
    <camera>
        <maker>Testcam</maker><model>Testcam T1</model>
        <mount>Test Mount</mount><cropfactor>1</cropfactor>
    </camera>
    <lens>
        <maker>Testcam</maker><model>Testcam 24mm f/2.8</model>
        <mount>Test Mount</mount><cropfactor>1</cropfactor>
        <calibration>
            <distortion model="ptlens" focal="24" a="0.004" b="-0.035" c="0.006"/>
            <tca model="poly3" focal="24" vr="1.0009" vb="0.9991" br="0.0002" bb="-0.0002"/>
            <vignetting model="pa" focal="24" aperture="2.8" distance="10" k1="-0.45" k2="0.1" k3="-0.02"/>
        </calibration>
    </lens>
</lensdatabase>"#;

const PTLENS: [f64; 3] = [0.004, -0.035, 0.006];
/// (v, b) of red and blue.
const TCA: [(f64, f64); 2] = [(1.0009, 0.0002), (0.9991, -0.0002)];
const VIGNETTING: [f64; 3] = [-0.45, 0.1, -0.02];

/// lensfun's normalisation for a `w` x `h` picture shot on the calibration's camera (crop
/// factor and 3:2 aspect alike): returns (scale, centre) with `x_n = (x - centre) * scale`.
fn normalisation(w: usize, h: usize) -> (f64, (f64, f64)) {
    let (wm, hm) = ((w - 1) as f64, (h - 1) as f64);
    let size = wm.min(hm);
    let aspect = wm.max(hm) / size;
    let cc = (1.5f64 * 1.5 + 1.0).sqrt() / (aspect * aspect + 1.0).sqrt();
    (2.0 * cc / size, (wm / 2.0, hm / 2.0))
}

/// Where the correction makes output pixel (`x`, `y`) of colour `c` read: the ptlens
/// distortion of the normalised radius, then red and blue scaled by `v + b r^2`.
fn correction_reads(c: usize, x: f64, y: f64, w: usize, h: usize) -> (f64, f64) {
    let (scale, (x0, y0)) = normalisation(w, h);
    let (u, v) = ((x - x0) * scale, (y - y0) * scale);
    let r = u.hypot(v);
    let [a, b, cc] = PTLENS;
    let f = a * r.powi(3) + b * r * r + cc * r + 1.0 - a - b - cc;
    let (mut u, mut v) = (u * f, v * f);
    if c != 1 {
        let (k, q) = TCA[c / 2];
        let rd = u.hypot(v);
        let s = k + q * rd * rd;
        (u, v) = (u * s, v * s);
    }
    (x0 + u / scale, y0 + v / scale)
}

/// The vignetting the lens puts on sensor pixel (`x`, `y`): `1 + k1 r^2 + k2 r^4 + k3 r^6`
/// of the radius over the calibration's half-diagonal.
fn vignetting(x: f64, y: f64, w: usize, h: usize) -> f64 {
    let (scale, (x0, y0)) = normalisation(w, h);
    let r2 = (((x - x0) * scale).powi(2) + ((y - y0) * scale).powi(2)) / (1.5 * 1.5 + 1.0);
    let [k1, k2, k3] = VIGNETTING;
    1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
}

fn exif() -> ExifInfo {
    ExifInfo {
        make: Some("Testcam".into()),
        model: Some("Testcam T1".into()),
        lens_model: Some("Testcam 24mm f/2.8".into()),
        focal_length: Some(24.0),
        f_number: Some(2.8),
        ..ExifInfo::default()
    }
}

fn test_db(dir: &Path) -> Database {
    std::fs::write(dir.join("test.xml"), DB).expect("writes");
    Database::load_dir(dir).expect("loads")
}

fn develop(frame: &Frame, lens: LensCorrection) -> Vec<f32> {
    let mut recipe = Recipe::default();
    recipe.set(Color {
        space: chiaro::color::spaces::OutputSpace::Camera,
        profile: None,
    });
    recipe.set(lens);
    let spec = OutputSpec {
        bits: 32,
        linear: true,
    };
    let dev = render(frame, &recipe.linear(), &spec, &Limits::default(), None).expect("renders");
    match dev.image.pixels {
        Pixels::F32(v) => v,
        _ => panic!("float output expected"),
    }
}

/// The scene's background (between the dots) near `(x, y)`, per channel.
fn background(rgb: &[f32], w: usize, x: usize, y: usize) -> f64 {
    let mut v: Vec<f32> = (y - 6..y + 6)
        .flat_map(|yy| (x - 6..x + 6).map(move |xx| (yy, xx)))
        .map(|(yy, xx)| rgb[(yy * w + xx) * 3 + 1])
        .collect();
    v.sort_by(f32::total_cmp);
    f64::from(v[v.len() / 4])
}

#[test]
fn a_dot_grid_through_a_lensfun_lens_develops_onto_the_ideal_grid() {
    let (w, h, spacing, sigma) = (480usize, 320usize, 32.0f64, 1.6f64);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = test_db(dir.path());
    let cfa = CfaPattern::bayer("RGGB").expect("pattern");
    // The capture: sensor pixel q of colour c shows the scene where the correction's reading
    // of q comes from (found by fixed-point iteration), darkened by the vignetting at q.
    let mut samples = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let c = cfa.color(y, x) as usize;
            let (qx, qy) = (x as f64, y as f64);
            let (px, py) =
                common::before_map(|px, py| correction_reads(c, px, py, w, h), qx, qy, 60);
            let v = common::dot_scene(spacing, sigma, px, py) * vignetting(qx, qy, w, h);
            samples[y * w + x] = v as f32;
        }
    }
    let frame = Frame::from_cfa(w, h, samples, cfa)
        .expect("frame")
        .with_exif(exif());
    let mut lens = LensCorrection::default();
    let said = lens.resolve(&frame, &db);
    println!("{said}");
    assert!(
        said.contains("Testcam 24mm f/2.8") && said.contains("distortion ptlens"),
        "{said}"
    );
    let corrected = develop(&frame, lens);
    let uncorrected = develop(
        &frame,
        LensCorrection {
            source: LensSource::Off,
            ..LensCorrection::default()
        },
    );
    let (rms, worst) = common::dot_displacement(&corrected, w, h, spacing, 0.1);
    let (rms0, worst0) = common::dot_displacement(&uncorrected, w, h, spacing, 0.1);
    println!(
        "lensfun dot grid: RMS {rms:.3} px, worst {worst:.3}; uncorrected {rms0:.2} / {worst0:.2}"
    );
    assert!(
        rms0 > 2.0,
        "the test lens should distort visibly: {rms0:.2} px"
    );
    assert!(
        rms <= 0.3 && worst <= 0.8,
        "RMS {rms:.3} px, worst {worst:.3} px"
    );
    // Vignetting: the background in a corner cell against the centre's.
    let (cx, cy) = (w / 2, h / 2);
    let (kx, ky) = (32, 32);
    let ratio = |rgb: &[f32]| background(rgb, w, kx, ky) / background(rgb, w, cx, cy);
    let (after, before) = (ratio(&corrected), ratio(&uncorrected));
    println!("corner / centre background: {after:.4} corrected, {before:.4} uncorrected");
    assert!(
        before < 0.85,
        "the test lens should vignette visibly: {before:.3}"
    );
    assert!(
        (after - 1.0).abs() < 0.02,
        "corrected corner / centre {after:.4}"
    );
}

#[test]
fn lens_source_chooses_between_the_files_opcodes_and_lensfun() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = test_db(dir.path());
    let (w, h) = (64, 48);
    let frame = Frame::from_cfa(
        w,
        h,
        vec![0.2; w * h],
        CfaPattern::bayer("RGGB").expect("p"),
    )
    .expect("frame")
    .with_exif(exif());
    // No opcodes in the file: auto and lensfun consult the database, the others do not.
    for (source, consulted) in [
        (LensSource::Auto, true),
        (LensSource::Lensfun, true),
        (LensSource::Embedded, false),
        (LensSource::Off, false),
    ] {
        let mut lens = LensCorrection {
            source,
            ..LensCorrection::default()
        };
        let said = lens.resolve(&frame, &db);
        assert_eq!(lens.lensfun.is_some(), consulted, "{source:?}: {said}");
    }
    // A lens that is not in the database says so.
    let mut other = exif();
    other.lens_model = Some("Othermaker 50mm f/1.4".into());
    let frame = frame.with_exif(other);
    let mut lens = LensCorrection::default();
    let said = lens.resolve(&frame, &db);
    assert!(lens.lensfun.is_none());
    assert!(
        said.contains("\"Othermaker 50mm f/1.4\" is not in the lensfun database"),
        "{said}"
    );
}

/// One shot for the peer: EXIF names, the picture size and the points to compare.
struct Case {
    make: &'static str,
    model: &'static str,
    lens: &'static str,
    focal: f64,
    aperture: f64,
    size: (usize, usize),
}

const CASES: [Case; 11] = [
    // ptlens distortion, linear TCA, vignetting between calibrations; crop 1.525 on 1.528.
    Case {
        make: "NIKON CORPORATION",
        model: "NIKON D40",
        lens: "AF-S DX Nikkor 35mm f/1.8G",
        focal: 35.0,
        aperture: 2.0,
        size: (3008, 2000),
    },
    // poly3 distortion and TCA between focal lengths; a full-frame calibration on APS-C.
    Case {
        make: "Canon",
        model: "Canon EOS 7D",
        lens: "EF70-300mm f/4.5-5.6 DO IS USM",
        focal: 85.0,
        aperture: 5.0,
        size: (5184, 3456),
    },
    Case {
        make: "Canon",
        model: "Canon EOS 5D Mark III",
        lens: "Canon EF 70-300mm f/4.5-5.6 DO IS USM",
        focal: 100.0,
        aperture: 4.5,
        size: (5760, 3840),
    },
    Case {
        make: "NIKON CORPORATION",
        model: "NIKON D750",
        lens: "AF-S Nikkor 24-120mm f/4G ED VR",
        focal: 50.0,
        aperture: 8.0,
        size: (6016, 4016),
    },
    // poly5 on a 4:3 compact.
    Case {
        make: "Canon",
        model: "Canon PowerShot G12",
        lens: "Canon PowerShot G12 & compatibles (Standard)",
        focal: 10.0,
        aperture: 3.5,
        size: (3648, 2736),
    },
    // A 4:3 system camera, portrait-sized picture.
    Case {
        make: "OLYMPUS IMAGING CORP.",
        model: "E-M5",
        lens: "Olympus M.Zuiko Digital ED 12-50mm f/3.5-6.3 EZ",
        focal: 20.0,
        aperture: 5.6,
        size: (3456, 4608),
    },
    // EXIF-style names whose words only partly agree with the database's.
    Case {
        make: "Canon",
        model: "Canon EOS 550D",
        lens: "EF-S18-55mm f/3.5-5.6 IS",
        focal: 18.0,
        aperture: 5.6,
        size: (5184, 3456),
    },
    Case {
        make: "SONY",
        model: "ILCE-7M3",
        lens: "FE 24-70mm F2.8 GM",
        focal: 35.0,
        aperture: 4.0,
        size: (6000, 4000),
    },
    Case {
        make: "FUJIFILM",
        model: "X-T2",
        lens: "XF18-55mmF2.8-4 R LM OIS",
        focal: 23.0,
        aperture: 4.0,
        size: (6000, 4000),
    },
    Case {
        make: "NIKON CORPORATION",
        model: "NIKON D7000",
        lens: "AF-S DX Zoom-Nikkor 18-55mm f/3.5-5.6G ED",
        focal: 30.0,
        aperture: 5.6,
        size: (4928, 3264),
    },
    Case {
        make: "Panasonic",
        model: "DMC-GH4",
        lens: "LUMIX G VARIO 14-42/F3.5-5.6 II",
        focal: 14.0,
        aperture: 5.6,
        size: (4608, 3456),
    },
];

fn points(w: usize, h: usize) -> Vec<(f64, f64)> {
    let (w, h) = (w as f64, h as f64);
    vec![
        (0.0, 0.0),
        (w - 1.0, h - 1.0),
        (w / 2.0, h / 2.0),
        (123.5, 77.25),
        (0.8 * w, 0.3 * h),
        (0.1 * w, 0.9 * h),
    ]
}

#[test]
fn lensfun_itself_picks_the_same_lenses_and_reads_the_same_positions() {
    let Some(db) = Database::system() else {
        println!("note: no lensfun database installed (liblensfun-data-v1): left out");
        return;
    };
    let cases: Vec<serde_json::Value> = CASES
        .iter()
        .map(|c| {
            serde_json::json!({
                "make": c.make, "model": c.model, "lens": c.lens, "focal": c.focal,
                "aperture": c.aperture, "distance": 1000.0, "width": c.size.0,
                "height": c.size.1, "points": points(c.size.0, c.size.1),
            })
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/lensfun_peer.py");
    let run = std::process::Command::new("python3")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            let input = serde_json::to_vec(&cases).expect("json");
            child.stdin.take().expect("stdin").write_all(&input)?;
            child.wait_with_output()
        });
    let answers: Vec<serde_json::Value> = match run {
        Ok(out) if out.status.success() => {
            serde_json::from_slice(&out.stdout).expect("the peer writes JSON")
        }
        other => {
            println!("note: liblensfun (liblensfun1) or python3 not usable: left out ({other:?})");
            return;
        }
    };
    for (case, theirs) in CASES.iter().zip(&answers) {
        let exif = ExifInfo {
            make: Some(case.make.into()),
            model: Some(case.model.into()),
            lens_model: Some(case.lens.into()),
            focal_length: Some(case.focal),
            f_number: Some(case.aperture),
            ..ExifInfo::default()
        };
        let ours = db
            .correction(&exif)
            .unwrap_or_else(|e| panic!("{}: {e}", case.lens));
        let their_lens = theirs["lens"].as_str().expect("the peer found a lens");
        assert_eq!(ours.lens, their_lens, "{}", case.lens);
        let their_camera = theirs["camera"].as_str().expect("camera");
        assert!(
            ours.camera.ends_with(their_camera),
            "{} vs {their_camera}",
            ours.camera
        );
        let (w, h) = case.size;
        let map = LensfunMap::new(&ours, Rect::new(0, 0, w, h));
        let mut worst = 0.0f64;
        let mut worst_gain = 0.0f64;
        for (i, &(x, y)) in points(w, h).iter().enumerate() {
            let coords = &theirs["coords"][i];
            for c in 0..3 {
                let (sx, sy) = map.source(c, x, y);
                let (tx, ty) = (
                    coords[2 * c].as_f64().expect("x"),
                    coords[2 * c + 1].as_f64().expect("y"),
                );
                worst = worst.max((sx - tx).abs()).max((sy - ty).abs());
            }
            let gain = f64::from(map.devignetting(x, y).unwrap_or(1.0));
            let their_gain = theirs["devignetting"][i].as_f64().expect("factor");
            worst_gain = worst_gain.max((gain / their_gain - 1.0).abs());
        }
        println!(
            "{} on {}: positions within {worst:.4} px, devignetting within {worst_gain:.2e}",
            ours.lens, ours.camera
        );
        // lensfun computes in single precision: a few thousandths of a pixel on 6000.
        assert!(
            worst < 0.02,
            "{}: positions differ by {worst} px",
            case.lens
        );
        assert!(
            worst_gain < 1e-4,
            "{}: devignetting differs by {worst_gain}",
            case.lens
        );
    }
}
