//! End-to-end tests of the `chiaro` binary: every option of `develop` and `info` on the repo
//! sample (a 768x512 Nikon D750 DNG), batches with bad files, overwrite protection, exit codes
//! and the decoded size and sample type of every output. Tests that use the shared data
//! (raw stubs, a headerless dump) skip visibly without it (`common::require_data!`).

// The library tests' helpers, for the shared-data skip.
#[path = "../../chiaro/tests/common/mod.rs"]
mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

const W: usize = 768;
const H: usize = 512;

/// The repo sample.
fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/nikon_d750_rose_768x512.dng")
}

/// A raw header stub of the shared data.
fn stub(data: &Path, name: &str) -> PathBuf {
    data.join("raw/stubs").join(name)
}

fn tmp() -> TempDir {
    tempfile::tempdir().expect("temporary folder")
}

/// Runs `chiaro` with the given arguments.
fn chiaro<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_chiaro"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run chiaro")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts the exit code, showing stderr when it differs.
#[track_caller]
fn assert_code(o: &Output, code: i32, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: exit status {:?}\nstderr:\n{}",
        o.status,
        stderr(o)
    );
}

/// `chiaro develop SAMPLE -o OUT EXTRA...`, expected to succeed.
#[track_caller]
fn develop_ok(out: &Path, extra: &[&str]) -> Img {
    let mut args: Vec<std::ffi::OsString> =
        vec!["develop".into(), sample().into(), "-o".into(), out.into()];
    args.extend(extra.iter().map(Into::into));
    let o = chiaro(&args);
    assert_code(&o, 0, &format!("develop {extra:?}"));
    decode(out)
}

/// What kind of samples a decoded output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Jpeg,
    Png8,
    Png16,
    Tiff8,
    Tiff16,
    TiffF32,
}

/// A decoded output: size, sample kind and the samples as f64 (integer samples scaled to
/// 0..1, floats as stored).
struct Img {
    width: usize,
    height: usize,
    kind: Kind,
    data: Vec<f64>,
}

impl Img {
    fn mean(&self) -> [f64; 3] {
        let mut s = [0.0; 3];
        for px in self.data.chunks_exact(3) {
            for c in 0..3 {
                s[c] += px[c];
            }
        }
        s.map(|v| v / (self.data.len() / 3) as f64)
    }

    #[track_caller]
    fn assert_sample_size(&self) {
        assert_eq!((self.width, self.height), (W, H), "output size");
        assert_eq!(self.data.len(), W * H * 3, "RGB samples");
    }
}

/// Mean absolute difference of two images of the same size.
fn diff(a: &Img, b: &Img) -> f64 {
    assert_eq!(a.data.len(), b.data.len());
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .sum::<f64>()
        / a.data.len() as f64
}

/// Decodes a PNG, TIFF or JPEG file, chosen by its magic bytes (not its name).
#[track_caller]
fn decode(path: &Path) -> Img {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if bytes.starts_with(b"\x89PNG") {
        let mut reader = png::Decoder::new(Cursor::new(&bytes))
            .read_info()
            .expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
        let info = reader.next_frame(&mut buf).expect("png frame");
        buf.truncate(info.buffer_size());
        assert_eq!(info.color_type, png::ColorType::Rgb, "PNG colour type");
        let (kind, data) = match info.bit_depth {
            png::BitDepth::Eight => (
                Kind::Png8,
                buf.iter().map(|&v| f64::from(v) / 255.0).collect(),
            ),
            png::BitDepth::Sixteen => (
                Kind::Png16,
                buf.chunks_exact(2)
                    .map(|b| f64::from(u16::from_be_bytes([b[0], b[1]])) / 65535.0)
                    .collect(),
            ),
            d => panic!("unexpected PNG bit depth {d:?}"),
        };
        Img {
            width: info.width as usize,
            height: info.height as usize,
            kind,
            data,
        }
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        use tiff::decoder::DecodingResult;
        let mut dec = tiff::decoder::Decoder::new(Cursor::new(&bytes)).expect("tiff header");
        let (w, h) = dec.dimensions().expect("tiff size");
        let (kind, data) = match dec.read_image().expect("tiff image") {
            DecodingResult::U8(v) => (
                Kind::Tiff8,
                v.iter().map(|&x| f64::from(x) / 255.0).collect(),
            ),
            DecodingResult::U16(v) => (
                Kind::Tiff16,
                v.iter().map(|&x| f64::from(x) / 65535.0).collect(),
            ),
            DecodingResult::F32(v) => (Kind::TiffF32, v.iter().map(|&x| f64::from(x)).collect()),
            _ => panic!("unexpected TIFF sample type"),
        };
        Img {
            width: w as usize,
            height: h as usize,
            kind,
            data,
        }
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut dec = zune_jpeg::JpegDecoder::new(Cursor::new(&bytes));
        let px = dec.decode().expect("jpeg decode");
        let info = dec.info().expect("jpeg info");
        Img {
            width: info.width as usize,
            height: info.height as usize,
            kind: Kind::Jpeg,
            data: px.iter().map(|&v| f64::from(v) / 255.0).collect(),
        }
    } else {
        panic!("{}: not a PNG, TIFF or JPEG file", path.display());
    }
}

/// Names in a folder, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Fails when a temporary or partial output was left behind.
#[track_caller]
fn assert_no_leftovers(dir: &Path) {
    for name in listing(dir) {
        assert!(
            !name.ends_with(".part") && !name.starts_with(".chiaro-"),
            "leftover temporary file {name} in {}",
            dir.display()
        );
    }
}

/// Non-empty stderr lines.
fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn develops_the_sample_to_every_format_and_depth() {
    let d = tmp();
    let cases: [(&str, &[&str], Kind); 8] = [
        ("a.jpg", &[], Kind::Jpeg),
        ("b.jpeg", &["--quality", "80"], Kind::Jpeg),
        ("c.png", &[], Kind::Png8),
        ("d.png", &["--bits", "16"], Kind::Png16),
        ("e.tif", &[], Kind::Tiff16),
        ("f.tiff", &["--bits", "8"], Kind::Tiff8),
        ("g.tif", &["--bits", "32"], Kind::TiffF32),
        ("h.PNG", &[], Kind::Png8),
    ];
    let mut means = Vec::new();
    for (name, extra, kind) in cases {
        let img = develop_ok(&d.path().join(name), extra);
        img.assert_sample_size();
        assert_eq!(img.kind, kind, "{name} {extra:?}");
        let m = img.mean();
        assert!(
            m.iter().all(|v| (0.05..0.95).contains(v)),
            "{name}: implausible mean {m:?}"
        );
        means.push(m);
    }
    // Same rendering whatever the container: the means agree within JPEG and 8-bit error.
    for m in &means[1..] {
        for c in 0..3 {
            assert!(
                (m[c] - means[0][c]).abs() < 0.01,
                "means differ across formats: {means:?}"
            );
        }
    }
    assert_no_leftovers(d.path());
}

#[test]
fn streamed_16_bit_tiff_holds_the_same_samples_as_a_16_bit_png() {
    // TIFF takes its rows while they are rendered, PNG the whole image at the end.
    let d = tmp();
    let tif = develop_ok(&d.path().join("s.tif"), &["--bits", "16"]);
    let png = develop_ok(&d.path().join("s.png"), &["--bits", "16"]);
    assert_eq!((tif.width, tif.height), (png.width, png.height));
    assert_eq!(tif.data.len(), png.data.len());
    let differ = tif
        .data
        .iter()
        .zip(&png.data)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differ, 0, "{differ} samples differ");
}

#[test]
fn compression_option_writes_smaller_tiffs_with_the_same_samples() {
    let d = tmp();
    let plain = develop_ok(&d.path().join("plain.tif"), &["--bits", "16"]);
    let plain_size = std::fs::metadata(d.path().join("plain.tif"))
        .expect("written")
        .len();
    for (name, method, code) in [("z.tif", "deflate", 8u16), ("l.tif", "lzw", 5)] {
        let path = d.path().join(name);
        let img = develop_ok(&path, &["--bits", "16", "--compression", method]);
        assert_eq!(img.data, plain.data, "{method}: other samples");
        let bytes = std::fs::read(&path).expect("written");
        let mut dec = tiff::decoder::Decoder::new(std::io::Cursor::new(&bytes)).expect("a TIFF");
        let tag = dec
            .find_tag(tiff::tags::Tag::Compression)
            .expect("readable");
        assert_eq!(tag.and_then(|v| v.into_u16().ok()), Some(code), "{method}");
        assert!((bytes.len() as u64) < plain_size, "{method}: not smaller");
    }
    // JPEG and PNG have their own compression: the option is refused there.
    let jpg = d.path().join("x.jpg");
    let o = chiaro([
        "develop".as_ref(),
        sample().as_os_str(),
        "-o".as_ref(),
        jpg.as_os_str(),
        "--compression".as_ref(),
        "lzw".as_ref(),
    ]);
    assert_code(&o, 2, "--compression with JPEG");
    assert!(
        stderr(&o).contains("--compression is for TIFF"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn format_option_names_the_format_an_unknown_extension_leaves_open() {
    let d = tmp();
    let img = develop_ok(&d.path().join("pic.img"), &["--format", "png"]);
    assert_eq!(img.kind, Kind::Png8);
    // A known extension that names another format is refused: TIFF data under a .jpg name
    // would mislead every program that opens it.
    let out = d.path().join("pic.jpg");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        out.clone().into(),
        "--format".into(),
        "tiff".into(),
    ]);
    assert_code(&o, 2, "extension and --format disagree");
    assert!(
        stderr(&o).contains("jpg") && stderr(&o).contains("tif"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let img = develop_ok(
        &d.path().join("pic.tif"),
        &["--format", "tiff", "--bits", "16"],
    );
    assert_eq!(img.kind, Kind::Tiff16);
    img.assert_sample_size();

    // Without --format an unknown extension is a usage error that points at --format.
    let out = d.path().join("pic.webp");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        out.clone().into(),
    ]);
    assert_code(&o, 2, "unknown extension");
    assert!(stderr(&o).contains("--format"), "{}", stderr(&o));
    assert!(!out.exists());

    // --out-dir names outputs by the format's extension.
    let dir = d.path().join("tiffs");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "--out-dir".into(),
        dir.clone().into(),
        "--format".into(),
        "tiff".into(),
    ]);
    assert_code(&o, 0, "--out-dir --format tiff");
    assert_eq!(listing(&dir), ["nikon_d750_rose_768x512.tif"]);
    assert_eq!(
        decode(&dir.join("nikon_d750_rose_768x512.tif")).kind,
        Kind::Tiff16
    );
}

type OsArg = std::ffi::OsString;

#[test]
fn out_dir_batch_develops_every_input() {
    let data = common::require_data!();
    let d = tmp();
    let second = d.path().join("second.dng");
    std::fs::copy(sample(), &second).expect("copy sample");
    let side = data.join("raw/nikon_d750_rose_768x512_rggb14.raw");
    let out = d.path().join("out/nested");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        second.into(),
        side.into(),
        "--out-dir".into(),
        out.clone().into(),
        "--format".into(),
        "png".into(),
        "--jobs".into(),
        "2".into(),
    ]);
    assert_code(&o, 0, "batch");
    assert_eq!(
        listing(&out),
        [
            "nikon_d750_rose_768x512.png",
            "nikon_d750_rose_768x512_rggb14.png",
            "second.png"
        ]
    );
    for name in listing(&out) {
        decode(&out.join(&name)).assert_sample_size();
    }
    let err = stderr(&o);
    let last = *lines(&err).last().expect("summary line");
    assert!(
        last.contains("3 of 3") && last.contains("0 failed"),
        "summary: {last}"
    );
}

#[test]
fn batch_with_bad_files_reports_each_and_exits_1() {
    let data = common::require_data!();
    let d = tmp();
    let truncated = d.path().join("truncated.dng");
    let bytes = std::fs::read(sample()).expect("sample");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write truncated copy");
    let stub = stub(&data, "CanonRaw.cr2");
    let missing = d.path().join("missing.dng");
    let out = d.path().join("out");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        truncated.clone().into(),
        stub.clone().into(),
        missing.clone().into(),
        "--out-dir".into(),
        out.clone().into(),
    ]);
    assert_code(&o, 1, "batch with bad files");
    assert_eq!(
        listing(&out),
        ["nikon_d750_rose_768x512.jpg"],
        "only the good file gives an output"
    );
    decode(&out.join("nikon_d750_rose_768x512.jpg")).assert_sample_size();
    assert_no_leftovers(&out);

    let err = stderr(&o);
    let l = lines(&err);
    assert_eq!(l.len(), 4, "one line per bad file and a summary:\n{err}");
    for bad in [&truncated, &stub, &missing] {
        let name = bad.display().to_string();
        assert_eq!(
            l.iter().filter(|x| x.contains(&name)).count(),
            1,
            "one line names {name}:\n{err}"
        );
    }
    let summary = l[3];
    assert!(
        summary.contains("1 of 4") && summary.contains("3 failed"),
        "summary last: {summary}"
    );
}

/// rawler panics inside on several stubs (it catches them itself); the default panic hook
/// must not print those panics, and rawler's two-line message must not break the one line
/// per file rule.
#[test]
fn camera_raw_decoder_panics_stay_one_line_per_file() {
    let data = common::require_data!();
    let d = tmp();
    let inputs = [
        stub(&data, "Nikon.nef"),
        stub(&data, "Panasonic.rw2"),
        stub(&data, "PhaseOne.iiq"),
    ];
    let mut args = vec![OsArg::from("develop")];
    args.extend(inputs.iter().map(|p| p.clone().into()));
    args.extend([OsArg::from("--out-dir"), d.path().into()]);
    let o = chiaro(&args);
    assert_code(&o, 1, "batch of stubs");
    let err = stderr(&o);
    let l = lines(&err);
    assert_eq!(
        l.len(),
        inputs.len() + 1,
        "expected one line per file and a summary, got {} lines; the first 12:\n{}",
        l.len(),
        l[..l.len().min(12)].join("\n")
    );
    for p in &inputs {
        assert!(
            err.contains(&p.display().to_string()),
            "{} not named:\n{err}",
            p.display()
        );
    }
    assert!(listing(d.path()).is_empty());
}

#[test]
fn existing_output_is_not_overwritten_without_the_option() {
    let d = tmp();
    let out = d.path().join("keep.jpg");
    std::fs::write(&out, b"precious").expect("write");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        out.clone().into(),
    ]);
    assert_ne!(o.status.code(), Some(0), "must fail");
    assert_eq!(
        std::fs::read(&out).expect("read"),
        b"precious",
        "content unchanged"
    );
    assert!(
        stderr(&o).contains("--overwrite"),
        "message says --overwrite: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(&out.display().to_string()),
        "message names the output: {}",
        stderr(&o)
    );
    assert_no_leftovers(d.path());

    // The same in a batch folder.
    let dir = d.path().join("dir");
    std::fs::create_dir(&dir).expect("mkdir");
    let existing = dir.join("nikon_d750_rose_768x512.png");
    std::fs::write(&existing, b"also precious").expect("write");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "--out-dir".into(),
        dir.clone().into(),
        "--format".into(),
        "png".into(),
    ]);
    assert_code(&o, 1, "batch onto an existing output");
    assert_eq!(std::fs::read(&existing).expect("read"), b"also precious");
    // --skip-existing leaves it, says so and succeeds: a rerun of a batch goes on.
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "--out-dir".into(),
        dir.clone().into(),
        "--format".into(),
        "png".into(),
        "--skip-existing".into(),
    ]);
    assert_code(&o, 0, "--skip-existing");
    assert!(stderr(&o).contains("1 skipped"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&existing).expect("read"), b"also precious");

    // With --overwrite both are replaced.
    let img = develop_ok(&out, &["--overwrite"]);
    img.assert_sample_size();
    assert_eq!(img.kind, Kind::Jpeg);
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "--out-dir".into(),
        dir.clone().into(),
        "--format".into(),
        "png".into(),
        "--overwrite".into(),
    ]);
    assert_code(&o, 0, "--overwrite in a batch");
    decode(&existing).assert_sample_size();
    assert_no_leftovers(d.path());
    assert_no_leftovers(&dir);
}

/// Two inputs with the same file stem map to the same `--out-dir` output. The batch must not
/// report both as developed while one silently replaced the other.
#[test]
fn same_named_inputs_do_not_silently_replace_each_other() {
    let d = tmp();
    let sub = d.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let twin = sub.join("nikon_d750_rose_768x512.dng");
    std::fs::copy(sample(), &twin).expect("copy");
    let out = d.path().join("out");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        twin.into(),
        "--out-dir".into(),
        out.clone().into(),
        "--overwrite".into(),
    ]);
    let outputs = if out.is_dir() { listing(&out).len() } else { 0 };
    assert!(
        o.status.code() != Some(0) || outputs == 2,
        "exit {:?} with {outputs} output(s) for 2 inputs: one output was silently replaced\n{}",
        o.status.code(),
        stderr(&o)
    );
}

#[test]
fn linear_output_is_scene_referred_float_tiff() {
    let d = tmp();
    // --linear on a TIFF defaults to 32-bit float.
    let a = develop_ok(&d.path().join("lin.tif"), &["--linear"]);
    assert_eq!(a.kind, Kind::TiffF32);
    a.assert_sample_size();
    let b = develop_ok(&d.path().join("lin32.tif"), &["--linear", "--bits", "32"]);
    assert_eq!(b.kind, Kind::TiffF32);
    assert_eq!(diff(&a, &b), 0.0);
    assert!(
        b.data.iter().all(|v| v.is_finite()),
        "non-finite linear samples"
    );
    // Scene-referred linear light is darker on average than the display rendering.
    let display = develop_ok(&d.path().join("disp.tif"), &["--bits", "32"]);
    let (ml, md) = (b.mean(), display.mean());
    assert!(
        ml[1] < md[1],
        "linear mean {ml:?} not below display mean {md:?}"
    );
    assert!(ml[1] > 0.005, "linear output is black: {ml:?}");
    // 16-bit linear TIFF works too.
    assert_eq!(
        develop_ok(&d.path().join("lin16.tif"), &["--linear", "--bits", "16"]).kind,
        Kind::Tiff16
    );
}

#[test]
fn every_colorspace_works() {
    let d = tmp();
    let mut imgs = Vec::new();
    for cs in ["srgb", "display-p3", "rec2020", "prophoto", "xyz", "camera"] {
        let img = develop_ok(&d.path().join(format!("{cs}.png")), &["--colorspace", cs]);
        img.assert_sample_size();
        imgs.push((cs, img));
    }
    let srgb = &imgs[0].1;
    for (cs, img) in &imgs[1..] {
        assert!(diff(srgb, img) > 0.002, "{cs} output is the same as sRGB");
    }
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        d.path().join("x.png").into(),
        "--colorspace".into(),
        "cmyk".into(),
    ]);
    assert_code(&o, 2, "unknown colour space");
    assert!(stderr(&o).contains("cmyk"), "{}", stderr(&o));
}

#[test]
fn white_balance_modes_work() {
    let d = tmp();
    let as_shot = develop_ok(&d.path().join("as-shot.png"), &["--wb", "as-shot"]);
    let default = develop_ok(&d.path().join("default.png"), &[]);
    assert_eq!(diff(&as_shot, &default), 0.0, "as-shot is the default");
    for wb in [
        "auto",
        "camera",
        "5000,10",
        "4200",
        "daylight",
        "cloudy",
        "shade",
        "fluorescent",
        "flash",
    ] {
        develop_ok(&d.path().join(format!("{wb}.png")), &["--wb", wb]).assert_sample_size();
    }
    // Balancing a daylight frame for tungsten light renders it blue; for shade, warm.
    let tungsten = develop_ok(&d.path().join("tungsten.png"), &["--wb", "tungsten"]).mean();
    let shot = as_shot.mean();
    assert!(
        tungsten[2] / tungsten[0] > shot[2] / shot[0] * 1.2,
        "tungsten {tungsten:?} vs as shot {shot:?}"
    );
    let warm = develop_ok(&d.path().join("9000.png"), &["--wb", "9000"]).mean();
    assert!(
        warm[2] / warm[0] < shot[2] / shot[0],
        "9000 K {warm:?} vs as shot {shot:?}"
    );
}

#[test]
fn bad_white_balance_is_a_usage_error() {
    let d = tmp();
    for bad in [
        "bogus",
        "5000,abc",
        "5000,10,3",
        "300",
        "5000,999",
        "nan",
        "",
    ] {
        let out = d.path().join("x.jpg");
        let o = chiaro([
            OsArg::from("develop"),
            sample().into(),
            "-o".into(),
            out.clone().into(),
            "--wb".into(),
            bad.into(),
        ]);
        assert_code(&o, 2, &format!("--wb {bad:?}"));
        let err = stderr(&o);
        assert!(
            err.contains("white balance") || err.contains("--wb"),
            "--wb {bad:?}: unclear message {err}"
        );
        assert_eq!(
            lines(&err).len(),
            1,
            "--wb {bad:?}: one line expected:\n{err}"
        );
        assert!(!out.exists(), "no output on a usage error");
        if bad == "300" {
            assert!(err.contains("1000..50000"), "the valid range: {err}");
        }
    }
}

#[test]
fn demosaic_methods_work() {
    let d = tmp();
    let mut imgs = Vec::new();
    for m in ["bilinear", "malvar", "rcd", "rcd-fit"] {
        let img = develop_ok(&d.path().join(format!("{m}.png")), &["--demosaic", m]);
        img.assert_sample_size();
        imgs.push(img);
    }
    assert!(
        diff(&imgs[0], &imgs[2]) > 0.0,
        "bilinear and rcd give identical output"
    );
    // The default is rcd-fit.
    assert_eq!(
        diff(&develop_ok(&d.path().join("default.png"), &[]), &imgs[3]),
        0.0
    );
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        d.path().join("x.png").into(),
        "--demosaic".into(),
        "ahd".into(),
    ]);
    assert_code(&o, 2, "unknown demosaic method");
    assert!(stderr(&o).contains("ahd"), "{}", stderr(&o));
    // An X-Trans method on a Bayer file develops with the Bayer default and says so.
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        d.path().join("m.png").into(),
        "--demosaic".into(),
        "markesteijn".into(),
    ]);
    assert_code(&o, 0, "markesteijn on Bayer");
    assert!(
        stderr(&o).contains("warning: demosaic: markesteijn does not handle"),
        "{}",
        stderr(&o)
    );
}

/// `img` turned as orientation code `code` turns a picture (written out here: 6 a quarter
/// turn clockwise, 2 mirrored left-right).
fn turned(img: &Img, code: u16) -> (usize, usize, Vec<f64>) {
    let (w, h) = (img.width, img.height);
    let (ow, oh) = if code == 6 { (h, w) } else { (w, h) };
    let mut out = vec![0.0; img.data.len()];
    for oy in 0..oh {
        for ox in 0..ow {
            let (sx, sy) = match code {
                6 => (oy, h - 1 - ox),
                _ => (w - 1 - ox, oy),
            };
            let (s, d) = ((sy * w + sx) * 3, (oy * ow + ox) * 3);
            out[d..d + 3].copy_from_slice(&img.data[s..s + 3]);
        }
    }
    (ow, oh, out)
}

#[test]
fn resize_option_sizes_the_output_and_keeps_its_light() {
    let d = tmp();
    // The sample is 768x512 (DefaultCrop may trim it): read the full size first.
    let full = develop_ok(&d.path().join("full.png"), &["--bits", "16"]);
    let (w, h) = (full.width, full.height);
    let scaled = |s: f64| {
        (
            (w as f64 * s).round() as usize,
            (h as f64 * s).round() as usize,
        )
    };
    let half = develop_ok(
        &d.path().join("half.png"),
        &["--bits", "16", "--resize", "50%"],
    );
    assert_eq!((half.width, half.height), scaled(0.5));
    let edge = develop_ok(&d.path().join("edge.png"), &["--resize", "300"]);
    assert_eq!(edge.width.max(edge.height), 300);
    assert_eq!((edge.width, edge.height), scaled(300.0 / w.max(h) as f64));
    // A box larger than the picture leaves it as it is.
    let fit = develop_ok(&d.path().join("fit.png"), &["--resize", "4000x3000"]);
    assert_eq!((fit.width, fit.height), (w, h));
    // After --crop, of the cropped picture.
    let cut = develop_ok(
        &d.path().join("cut.png"),
        &["--crop", "0,0,200,100", "--resize", "50%"],
    );
    assert_eq!((cut.width, cut.height), (100, 50));
    // Resizing moves no light: the means agree with the full picture's.
    for c in 0..3 {
        let (a, b) = (full.mean()[c], half.mean()[c]);
        assert!((a - b).abs() < 0.01, "channel {c}: {a} vs {b}");
    }
    let o = chiaro([
        "develop".as_ref(),
        sample().as_os_str(),
        "-o".as_ref(),
        d.path().join("bad.png").as_os_str(),
        "--resize".as_ref(),
        "0%".as_ref(),
    ]);
    assert_code(&o, 2, "--resize 0%");
    assert!(stderr(&o).contains("percentage"), "{}", stderr(&o));
}

#[test]
fn rotate_flip_and_crop_turn_and_cut_the_picture() {
    let d = tmp();
    let base = develop_ok(&d.path().join("base.png"), &[]);
    let cw = develop_ok(&d.path().join("cw.png"), &["--rotate", "90"]);
    assert_eq!((cw.width, cw.height), (H, W));
    assert_eq!(turned(&base, 6), (H, W, cw.data.clone()), "--rotate 90");
    let mirrored = develop_ok(&d.path().join("h.png"), &["--flip", "h"]);
    assert_eq!(turned(&base, 2).2, mirrored.data, "--flip h");
    // The crop is in upright output pixels and shows exactly those pixels of the whole.
    let (x, y, w, h) = (100, 40, 300, 200);
    let cut = develop_ok(&d.path().join("cut.png"), &["--crop", "100,40,300,200"]);
    assert_eq!((cut.width, cut.height), (w, h));
    let want: Vec<f64> = (y..y + h)
        .flat_map(|r| base.data[(r * W + x) * 3..(r * W + x + w) * 3].to_vec())
        .collect();
    assert_eq!(cut.data, want, "--crop");
    // After a turn the crop still counts upright pixels.
    let both = develop_ok(
        &d.path().join("both.png"),
        &["--rotate", "90", "--crop", "10,20,100,50"],
    );
    let want: Vec<f64> = (20..70)
        .flat_map(|r| cw.data[(r * H + 10) * 3..(r * H + 110) * 3].to_vec())
        .collect();
    assert_eq!(both.data, want, "--rotate then --crop");
    // A crop outside the picture is that file's error.
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        d.path().join("x.png").into(),
        "--crop".into(),
        "700,0,100,10".into(),
    ]);
    assert_code(&o, 1, "crop outside");
    assert!(stderr(&o).contains("768x512"), "{}", stderr(&o));
}

#[test]
fn sidecar_recipe_develops_the_same_picture_again() {
    let d = tmp();
    let first = d.path().join("first.png");
    let opts = [
        "--look",
        "vibrant",
        "--exposure",
        "0.7",
        "--wb",
        "5200,8",
        "--colorspace",
        "display-p3",
        "--sidecar",
    ];
    let a = develop_ok(&first, &opts);
    let side = d.path().join("first.png.chiaro.toml");
    let text = std::fs::read_to_string(&side).expect("the sidecar is written");
    assert!(
        text.contains("display-p3") && text.contains("5200"),
        "{text}"
    );
    assert!(text.contains("--format png --bits 8"), "{text}");
    // Options outside the recipe are named in the header.
    let turned = d.path().join("turned.png");
    develop_ok(&turned, &["--rotate", "270", "--flip", "v", "--sidecar"]);
    let text = std::fs::read_to_string(d.path().join("turned.png.chiaro.toml")).expect("sidecar");
    let header = lines(&text)[1].to_string();
    assert!(
        header.contains("--rotate") || header.contains("--flip"),
        "{header}"
    );
    let b = develop_ok(
        &d.path().join("again.png"),
        &["--recipe", side.to_str().expect("utf-8")],
    );
    assert_eq!(
        diff(&a, &b),
        0.0,
        "the sidecar's recipe develops another picture"
    );
    assert!(diff(&a, &develop_ok(&d.path().join("plain.png"), &[])) > 0.0);
}

#[test]
fn thumbnail_extracts_the_embedded_preview() {
    let d = tmp();
    // The repo sample carries none: a clear error, nothing written.
    let out = d.path().join("none.jpg");
    let o = chiaro([
        OsArg::from("thumbnail"),
        sample().into(),
        "-o".into(),
        out.clone().into(),
    ]);
    assert_code(&o, 1, "no preview");
    assert!(stderr(&o).contains("no embedded preview"), "{}", stderr(&o));
    assert!(!out.exists());
    let o = chiaro([
        OsArg::from("thumbnail"),
        sample().into(),
        "-o".into(),
        d.path().join("preview.png").into(),
    ]);
    assert_code(&o, 1, "a preview is a JPEG");
    assert!(stderr(&o).contains(".jpg"), "{}", stderr(&o));
    let data = common::require_data!();
    // Fujifilm's header JPEG and Panasonic's JpgFromRaw, byte for byte what exiftool
    // extracts (when it is installed; else they must at least be JPEGs).
    for (name, tag) in [
        ("FujiFilm.raf", "-PreviewImage"),
        ("Panasonic.rw2", "-JpgFromRaw"),
    ] {
        let raw = stub(&data, name);
        let out = d.path().join(format!("{name}.jpg"));
        let o = chiaro([
            OsArg::from("thumbnail"),
            raw.clone().into(),
            "-o".into(),
            out.clone().into(),
        ]);
        assert_code(&o, 0, name);
        let ours = std::fs::read(&out).expect("thumbnail");
        assert!(ours.starts_with(&[0xFF, 0xD8, 0xFF]), "{name}: not a JPEG");
        match Command::new("exiftool")
            .args(["-b", tag])
            .arg(&raw)
            .output()
        {
            Ok(e) if e.status.success() && !e.stdout.is_empty() => {
                assert_eq!(ours, e.stdout, "{name}: differs from exiftool's {tag}")
            }
            _ => println!("note: exiftool is not installed; {name} checked as a JPEG only"),
        }
    }
}

#[test]
fn half_size_previews_from_the_mosaic() {
    let d = tmp();
    let full = develop_ok(&d.path().join("full.png"), &[]);
    let half = develop_ok(&d.path().join("half.png"), &["--half-size"]);
    assert_eq!((half.width, half.height), (W / 2, H / 2));
    // The same picture: mean colours within a few code values of the full development.
    let (a, b) = (full.mean(), half.mean());
    for c in 0..3 {
        assert!((a[c] - b[c]).abs() < 0.02, "channel {c}: {a:?} vs {b:?}");
    }
    let cw = develop_ok(
        &d.path().join("turned.png"),
        &["--half-size", "--rotate", "90"],
    );
    assert_eq!((cw.width, cw.height), (H / 2, W / 2));
}

#[test]
fn folders_as_inputs_and_name_templates() {
    let d = tmp();
    let tree = d.path().join("shoot");
    std::fs::create_dir_all(tree.join("day2")).expect("mkdir");
    std::fs::copy(sample(), tree.join("a.dng")).expect("copy");
    std::fs::copy(sample(), tree.join("day2").join("b.DNG")).expect("copy");
    std::fs::write(tree.join("notes.txt"), "not a raw").expect("write");
    let run = |extra: &[&str], out: &Path| {
        let mut args: Vec<OsArg> = vec!["develop".into(), tree.clone().into()];
        args.extend(extra.iter().map(OsArg::from));
        args.extend(["--out-dir".into(), out.into()]);
        chiaro(args)
    };
    // A folder gives its raws, not its other files; --recursive its subfolders' too.
    let flat = d.path().join("flat");
    assert_code(&run(&[], &flat), 0, "folder input");
    assert_eq!(listing(&flat), ["a.jpg"]);
    let all = d.path().join("all");
    let o = run(
        &[
            "--recursive",
            "--look",
            "vibrant",
            "--name",
            "{stem}_{look}.{ext}",
        ],
        &all,
    );
    assert_code(&o, 0, "--recursive with a name template");
    assert_eq!(listing(&all), ["a_vibrant.jpg", "b_vibrant.jpg"]);
    // Template and folder mistakes are usage errors that make nothing.
    let bad = d.path().join("bad");
    let o = run(&["--name", "{stem}_{iso}.{ext}"], &bad);
    assert_code(&o, 2, "unknown template field");
    assert!(stderr(&o).contains("{iso}"), "{}", stderr(&o));
    assert!(!bad.exists(), "no folder made for a bad template");
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let o = chiaro([
        OsArg::from("develop"),
        empty.clone().into(),
        "--out-dir".into(),
        d.path().join("x").into(),
    ]);
    assert_code(&o, 2, "folder without raws");
    assert!(stderr(&o).contains("no raw files"), "{}", stderr(&o));
}

#[test]
fn highlights_option_sets_the_mode() {
    // Scene-referred output shows the modes apart (the display curve takes everything at
    // raw white to white whichever way it was reconstructed).
    let d = tmp();
    let dev = |name: &str, extra: &[&str]| {
        let args: Vec<&str> = ["--linear"].iter().chain(extra).copied().collect();
        develop_ok(&d.path().join(name), &args)
    };
    let blend = dev("blend.tif", &["--highlights", "blend"]);
    let default = dev("default.tif", &[]);
    let clip = dev("clip.tif", &["--highlights", "clip"]);
    let rebuilt = dev("rebuilt.tif", &["--highlights", "reconstruct"]);
    assert_eq!(diff(&blend, &default), 0.0, "blend is the default");
    assert!(
        diff(&clip, &blend) > 0.0,
        "the rose's clipped petals differ"
    );
    assert!(diff(&rebuilt, &blend) > 0.0, "reconstruct is its own mode");
}

#[test]
fn sharpen_option_sets_the_amount() {
    let d = tmp();
    let soft = develop_ok(
        &d.path().join("soft.png"),
        &["--bits", "16", "--sharpen", "off"],
    );
    let default = develop_ok(&d.path().join("default.png"), &["--bits", "16"]);
    let strong = develop_ok(
        &d.path().join("strong.png"),
        &["--bits", "16", "--sharpen", "2"],
    );
    // Local contrast: mean absolute difference of horizontal neighbours (green).
    let detail = |img: &Img| {
        let mut s = 0.0;
        for y in 0..img.height {
            for x in 1..img.width {
                let i = (y * img.width + x) * 3 + 1;
                s += (img.data[i] - img.data[i - 3]).abs();
            }
        }
        s / (img.width * img.height) as f64
    };
    let (a, b, c) = (detail(&soft), detail(&default), detail(&strong));
    assert!(a < b && b < c, "detail {a:.5} < {b:.5} < {c:.5}");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        d.path().join("x.png").into(),
        "--sharpen".into(),
        "9".into(),
    ]);
    assert_code(&o, 2, "--sharpen 9");
    assert!(stderr(&o).contains("from 0 to 4"), "{}", stderr(&o));
}

#[test]
fn images_and_text_given_as_raws_are_named() {
    let d = tmp();
    let png = d.path().join("photo.png");
    develop_ok(&png, &[]);
    let toml = d.path().join("notes.toml");
    std::fs::write(&toml, "width = 1920\nheight = 1080\n").expect("writes");
    for (input, what) in [(&png, "PNG image"), (&toml, "text file")] {
        let o = chiaro([
            OsArg::from("develop"),
            input.clone().into(),
            "-o".into(),
            d.path().join("x.jpg").into(),
        ]);
        assert_code(&o, 1, "not a raw");
        let err = stderr(&o);
        assert!(
            err.contains("not a camera raw") && err.contains(what),
            "{err}"
        );
        assert!(!err.contains("No decoder found"), "{err}");
    }
}

#[test]
fn looks_work_built_in_and_from_a_file() {
    let d = tmp();
    let base = develop_ok(&d.path().join("base.png"), &[]);
    let contrast = develop_ok(&d.path().join("contrast.png"), &["--look", "contrast"]);
    assert!(
        diff(&base, &contrast) > 0.002,
        "the contrast look changes nothing"
    );
    for look in ["standard", "soft"] {
        develop_ok(&d.path().join(format!("{look}.png")), &["--look", look]).assert_sample_size();
    }
    let file = d.path().join("dim.toml");
    std::fs::write(&file, "version = 1\nname = \"dim\"\n\n[[stages]]\nstage = \"exposure\"\nev = -1.5\nbaseline = true\n").expect("write look");
    let dim = develop_ok(
        &d.path().join("dim.png"),
        &["--look", file.to_str().expect("utf-8 path")],
    );
    assert!(
        dim.mean()[1] < base.mean()[1] - 0.05,
        "look file not applied: {:?} vs {:?}",
        dim.mean(),
        base.mean()
    );

    // A broken look file, a missing look and a look with --linear are usage errors.
    let broken = d.path().join("broken.toml");
    std::fs::write(
        &broken,
        "version = 1\n[[stages]]\nstage = \"sharpen-everything\"\n",
    )
    .expect("write");
    for (args, what) in [
        (
            vec!["--look", broken.to_str().expect("utf-8")],
            "broken look file",
        ),
        (vec!["--look", "no-such-look"], "unknown look"),
        (
            vec!["--look", "contrast", "--linear"],
            "--look with --linear",
        ),
    ] {
        let out = d.path().join("bad.png");
        let mut a = vec![
            OsArg::from("develop"),
            sample().into(),
            "-o".into(),
            out.clone().into(),
        ];
        a.extend(args.iter().map(Into::into));
        let o = chiaro(&a);
        assert_code(&o, 2, what);
        assert!(!out.exists(), "{what}: output written");
    }
}

/// A `.cube` file of `f` (on code values), written by the test itself, red fastest.
fn write_cube(path: &Path, size: usize, f: impl Fn([f64; 3]) -> [f64; 3]) {
    let mut text = format!("TITLE \"test\"\nLUT_3D_SIZE {size}\n");
    let step = 1.0 / (size - 1) as f64;
    for b in 0..size {
        for g in 0..size {
            for r in 0..size {
                let o = f([r as f64 * step, g as f64 * step, b as f64 * step]);
                text.push_str(&format!("{:.7} {:.7} {:.7}\n", o[0], o[1], o[2]));
            }
        }
    }
    std::fs::write(path, text).expect("write cube");
}

#[test]
fn cube_luts_apply_after_the_tone_curve() {
    let d = tmp();
    let base16 = develop_ok(&d.path().join("base.png"), &["--bits", "16"]);
    let identity = d.path().join("identity.cube");
    write_cube(&identity, 33, |c| c);
    let same = develop_ok(
        &d.path().join("identity.png"),
        &["--bits", "16", "--look", identity.to_str().expect("utf-8")],
    );
    let worst = base16
        .data
        .iter()
        .zip(&same.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 1.0 / 65535.0 + 1e-9,
        "identity LUT moved a sample by {worst}"
    );

    // A non-linear, cross-channel grade: the output must be the grade of the plain output.
    let grade = |[r, g, b]: [f64; 3]| {
        let s = |v: f64| v * v * (3.0 - 2.0 * v);
        [s(g), r.powf(1.6), 0.3 * r + 0.7 * s(b)]
    };
    let graded = d.path().join("grade.cube");
    write_cube(&graded, 33, grade);
    let base8 = develop_ok(&d.path().join("base8.png"), &[]);
    let got = develop_ok(
        &d.path().join("graded.png"),
        &["--look", graded.to_str().expect("utf-8")],
    );
    let mut worst = 0.0f64;
    for (want, got) in base8.data.chunks_exact(3).zip(got.data.chunks_exact(3)) {
        let w = grade([want[0], want[1], want[2]]);
        for c in 0..3 {
            worst = worst.max((w[c] - got[c]).abs());
        }
    }
    // The plain output is itself rounded to 8 bits, so the grade of it is off by up to the
    // grade's slope (at most 1.6) times half a step, plus the table's own error.
    assert!(
        worst * 255.0 <= 3.0,
        "graded output off by {:.2} of 255",
        worst * 255.0
    );

    // A broken table is a clear per-file error naming it.
    let broken = d.path().join("broken.cube");
    std::fs::write(&broken, "LUT_3D_SIZE 2\n0 0 0\n").expect("write");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        d.path().join("x.png").into(),
        "--look".into(),
        broken.clone().into(),
    ]);
    assert_code(&o, 1, "broken cube");
    assert!(stderr(&o).contains("broken.cube"), "{}", stderr(&o));
}

#[test]
fn camera_profiles_change_the_colour_and_bad_ones_are_clear_errors() {
    let d = tmp();
    let missing = d.path().join("missing.dcp");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        d.path().join("x.png").into(),
        "--profile".into(),
        missing.into(),
    ]);
    assert_code(&o, 1, "missing profile");
    assert!(stderr(&o).contains("missing.dcp"), "{}", stderr(&o));
    let data = common::require_data!();
    // The D750 profile (RawTherapee's: matrices, HueSatMap, a 3D LookTable in the sRGB value
    // encoding, a tone curve) on the D750 sample.
    let dcp = data.join("calibration/dcp/NIKON D750.dcp");
    let plain = develop_ok(&d.path().join("plain.png"), &[]);
    let profiled = develop_ok(
        &d.path().join("profiled.png"),
        &["--profile", dcp.to_str().expect("utf-8")],
    );
    profiled.assert_sample_size();
    assert!(
        diff(&plain, &profiled) > 0.005,
        "the profile changes nothing"
    );
}

/// Reads an Ultra HDR JPEG the way an HDR viewer would, with tools that are not chiaro's:
/// Pillow finds the MPF index and decodes the primary and the gain map, the script reads the
/// ISO 21496-1 metadata (checking it agrees with the XMP), rebuilds the HDR rendition by the
/// format's formula and reports how much light it restores where the SDR picture is at white.
const ULTRA_HDR_CHECK: &str = r#"
import io, json, re, sys
import numpy as np
from PIL import Image
path = sys.argv[1]
data = open(path, 'rb').read()
im = Image.open(path)
mp = im._getmp()
entries = mp[0xB002]
start = im.info['mpoffset'] + entries[1]['DataOffset']
gain_bytes = data[start:start + entries[1]['Size']]
assert gain_bytes[:2] == bytes([0xFF, 0xD8]), 'the MPF index does not point at a JPEG'
gm = Image.open(io.BytesIO(gain_bytes))
xmp = gain_bytes[:4096].decode('latin-1')
num = lambda k: float(re.search(k + r'="([-0-9.e]+)"', xmp).group(1))
lo, hi, off_s, off_h = num('hdrgm:GainMapMin'), num('hdrgm:GainMapMax'), num('hdrgm:OffsetSDR'), num('hdrgm:OffsetHDR')
# ISO 21496-1 metadata: an APP2 segment opened by its URN. In the gain map: version (two
# u16), flags (u8: bit 7 three channels, bit 6 base colour space), base and alternate HDR
# headroom (u32/u32), then per channel min, max (s32/u32), gamma (u32/u32), base and
# alternate offsets (s32/u32), big-endian. In the primary: the version only.
import struct
URN = b'urn:iso:std:iso:ts:21496:-1\x00'
def app2(jpeg):
    out, at = [], 2
    while at + 4 <= len(jpeg) and jpeg[at] == 0xFF and 0xE0 <= jpeg[at + 1] <= 0xEF:
        n = struct.unpack('>H', jpeg[at + 2:at + 4])[0]
        if jpeg[at + 1] == 0xE2 and jpeg[at + 4:at + 4 + len(URN)] == URN:
            out.append(jpeg[at + 4 + len(URN):at + 2 + n])
        at += 2 + n
    return out
(iso,) = app2(gain_bytes)
(version,) = app2(data[:start])
assert version == bytes(4), version
flags = iso[4]
assert flags & 0x80 == 0, 'one channel expected'
def fractions(b, signs):
    return [struct.unpack('>' + ('i' if s else 'I') + 'I', b[8 * i:8 * i + 8]) for i, s in enumerate(signs)]
f = [n / d for n, d in fractions(iso[5:], [0, 0, 1, 1, 0, 1, 1])]
base_headroom, alt_headroom, iso_lo, iso_hi, gamma, iso_off_s, iso_off_h = f
assert base_headroom == 0 and abs(alt_headroom - max(hi, 0)) < 1e-5 and gamma == 1, f
assert max(abs(iso_lo - lo), abs(iso_hi - hi), abs(iso_off_s - off_s), abs(iso_off_h - off_h)) < 1e-5, (f, lo, hi)
lo, hi, off_s, off_h = iso_lo, iso_hi, iso_off_s, iso_off_h
sdr = np.asarray(im.convert('RGB'), dtype=np.float64) / 255.0
lin = np.where(sdr <= 0.04045, sdr / 12.92, ((sdr + 0.055) / 1.055) ** 2.4)
r = np.asarray(gm.convert('L'), dtype=np.float64) / 255.0
r = np.kron(r, np.ones((4, 4)))[:lin.shape[0], :lin.shape[1]]
boost = 2.0 ** (lo * (1 - r) + hi * r)
hdr = (lin + off_s) * boost[..., None] - off_h
y = lambda v: v @ [0.2126, 0.7152, 0.0722]
white = sdr.max(axis=2) >= 254 / 255
print(json.dumps({
    'primary_size': im.size, 'gain_map_size': gm.size, 'gain_map_mode': gm.mode,
    'max_log2': hi, 'white_share': float(white.mean()),
    'hdr_over_sdr_at_white': float(np.median(y(hdr[white]) / y(lin[white]))) if white.any() else 0.0,
    'mid_grey_ratio': float(np.median((y(hdr) / np.maximum(y(lin), 1e-6))[(y(lin) > 0.1) & (y(lin) < 0.3)])),
}))
"#;

#[test]
fn ultra_hdr_jpeg_restores_the_highlights_sdr_clips() {
    let d = tmp();
    let out = d.path().join("hdr.jpg");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        out.clone().into(),
        "--hdr".into(),
    ]);
    assert_code(&o, 0, "--hdr");
    // A plain decoder sees the SDR picture.
    let sdr = decode(&out);
    sdr.assert_sample_size();
    // --hdr outside JPEG is a usage error.
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        d.path().join("x.png").into(),
        "--hdr".into(),
    ]);
    assert_code(&o, 2, "--hdr with PNG");
    // The peers (Pillow, numpy) are installed with the shared data.
    let _data = common::require_data!();
    let python = std::env::var_os("CHIARO_PYTHON").unwrap_or_else(|| "python3".into());
    let o = std::process::Command::new(python)
        .args(["-c", ULTRA_HDR_CHECK])
        .arg(&out)
        .output()
        .expect("python runs");
    assert!(
        o.status.success(),
        "reader failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["primary_size"], serde_json::json!([W, H]));
    assert_eq!(v["gain_map_size"], serde_json::json!([W / 4, H / 4]));
    assert_eq!(v["gain_map_mode"], "L");
    let at_white = v["hdr_over_sdr_at_white"].as_f64().expect("ratio");
    assert!(v["white_share"].as_f64().expect("share") > 0.001, "{v}");
    assert!(
        at_white > 1.5,
        "HDR restores only {at_white}x at SDR white: {v}"
    );
    let mid = v["mid_grey_ratio"].as_f64().expect("ratio");
    assert!((0.95..1.15).contains(&mid), "mid-tones move {mid}x: {v}");
    // exiftool, a second independent reader, when installed.
    match std::process::Command::new("exiftool")
        .args(["-j", "-a", "-G1", "-ee"])
        .arg(&out)
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains("\"MPF0:NumberOfImages\": 2"), "{text}");
            assert!(
                text.contains("HDRGainMapVersion") || text.contains("hdrgm"),
                "{text}"
            );
        }
        _ => {
            println!("note: exiftool is not installed; the MPF/XMP check by exiftool was left out")
        }
    }
}

#[test]
fn looks_commands_list_show_export_and_sheet() {
    let d = tmp();
    let o = chiaro(["looks", "list"]);
    assert_code(&o, 0, "looks list");
    let names: Vec<String> = lines(&stdout(&o))
        .iter()
        .filter(|l| !l.starts_with('('))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    for want in ["natural", "authentic", "vibrant", "mono", "none"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    let o = chiaro(["looks", "show", "vibrant"]);
    assert_code(&o, 0, "looks show");
    assert!(stdout(&o).contains("stage = \"look\""), "{}", stdout(&o));
    assert_code(
        &chiaro(["looks", "show", "no-such-look"]),
        1,
        "show unknown",
    );

    // The exported table of a look, applied to the natural rendering, gives the look (up
    // to what the table cannot hold: vignette and grain; vibrant has neither).
    let cube = d.path().join("vibrant.cube");
    let o = chiaro([
        OsArg::from("looks"),
        "export".into(),
        "vibrant".into(),
        cube.clone().into(),
    ]);
    assert_code(&o, 0, "looks export");
    let via_cube = develop_ok(
        &d.path().join("via_cube.png"),
        &["--look", cube.to_str().expect("utf-8")],
    );
    let direct = develop_ok(&d.path().join("direct.png"), &["--look", "vibrant"]);
    let natural = develop_ok(&d.path().join("natural.png"), &[]);
    assert!(diff(&natural, &direct) > 0.01, "vibrant changes little");
    assert!(
        diff(&via_cube, &direct) < 0.25 * diff(&natural, &direct),
        "exported table: {} from the look, the look {} from natural",
        diff(&via_cube, &direct),
        diff(&natural, &direct)
    );
    // No silent replacement; a bad size is a usage error.
    assert_code(
        &chiaro([
            OsArg::from("looks"),
            "export".into(),
            "vibrant".into(),
            cube.clone().into(),
        ]),
        1,
        "export over an existing file",
    );
    assert_code(
        &chiaro([
            OsArg::from("looks"),
            "export".into(),
            "vibrant".into(),
            d.path().join("x.cube").into(),
            "--size".into(),
            "40".into(),
        ]),
        2,
        "bad size",
    );

    let sheet = d.path().join("sheet.jpg");
    let o = chiaro([
        OsArg::from("looks"),
        "sheet".into(),
        sample().into(),
        "-o".into(),
        sheet.clone().into(),
        "--width".into(),
        "200".into(),
    ]);
    assert_code(&o, 0, "looks sheet");
    let img = decode(&sheet);
    // Seven looks in rows of four, each 200 px wide (or a little less after whole-block
    // shrinking) with a label strip.
    assert!(
        img.width > 700 && img.width <= 800,
        "sheet width {}",
        img.width
    );
    assert!(img.height > 2 * 34, "sheet height {}", img.height);
}

#[test]
fn recipe_file_is_applied_and_options_override_it() {
    let d = tmp();
    let recipe = d.path().join("bright.toml");
    std::fs::write(
        &recipe,
        r#"version = 2
[[stages]]
stage = "white-balance"
mode = "auto"
[[stages]]
stage = "demosaic"
method = "malvar"
[[stages]]
stage = "highlights"
mode = "blend"
[[stages]]
stage = "color"
space = "display-p3"
[[stages]]
stage = "exposure"
ev = 1.0
baseline = true
[[stages]]
stage = "tone-curve"
contrast = 1.3
"#,
    )
    .expect("write recipe");
    let r = recipe.to_str().expect("utf-8 path");
    let base = develop_ok(&d.path().join("base.png"), &[]);
    let bright = develop_ok(&d.path().join("bright.png"), &["--recipe", r]);
    bright.assert_sample_size();
    assert!(
        bright.mean()[1] > base.mean()[1] + 0.03,
        "recipe exposure not applied: {:?} vs {:?}",
        bright.mean(),
        base.mean()
    );
    // --exposure replaces the recipe's exposure stage.
    let dark = develop_ok(
        &d.path().join("dark.png"),
        &["--recipe", r, "--exposure", "-1"],
    );
    assert!(
        dark.mean()[1] < bright.mean()[1] - 0.05,
        "--exposure did not override the recipe"
    );

    // A recipe states only what it changes: one naming just the exposure keeps the default
    // white balance, colour and tone curve (it is not green and flat).
    let partial = d.path().join("partial.toml");
    std::fs::write(
        &partial,
        "version = 2\n[[stages]]\nstage = \"exposure\"\nev = 0.0\nbaseline = true\n",
    )
    .expect("write recipe");
    let p = partial.to_str().expect("utf-8 path");
    let same = develop_ok(&d.path().join("partial.png"), &["--recipe", p]);
    assert_eq!(
        diff(&same, &base),
        0.0,
        "a partial recipe differs from the defaults"
    );

    // A bad recipe is a usage error naming the file.
    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, "version = 99\n").expect("write");
    for p in [bad, d.path().join("missing.toml")] {
        let out = d.path().join("x.png");
        let o = chiaro([
            OsArg::from("develop"),
            sample().into(),
            "-o".into(),
            out.clone().into(),
            "--recipe".into(),
            p.clone().into(),
        ]);
        assert_code(&o, 2, "bad recipe");
        assert!(
            stderr(&o).contains(&p.display().to_string()),
            "message names the recipe: {}",
            stderr(&o)
        );
        assert!(!out.exists());
    }
}

#[test]
fn exposure_and_quality_options_take_effect() {
    let d = tmp();
    let base = develop_ok(&d.path().join("base.jpg"), &[]);
    let dark = develop_ok(&d.path().join("dark.jpg"), &["--exposure", "-2"]);
    assert!(
        dark.mean()[1] < base.mean()[1] - 0.05,
        "--exposure -2: {:?} vs {:?}",
        dark.mean(),
        base.mean()
    );
    let low = d.path().join("low.jpg");
    develop_ok(&low, &["--quality", "20"]).assert_sample_size();
    let high = d.path().join("high.jpg");
    develop_ok(&high, &["--quality", "98"]).assert_sample_size();
    let size = |p: &Path| std::fs::metadata(p).expect("metadata").len();
    assert!(
        size(&low) < size(&high),
        "quality 20 ({}) not smaller than 98 ({})",
        size(&low),
        size(&high)
    );
}

#[test]
fn auto_exposure_reports_its_choice_and_bad_values_are_usage_errors() {
    let d = tmp();
    let out = d.path().join("auto.jpg");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        "-o".into(),
        out.clone().into(),
        "--exposure".into(),
        "auto".into(),
    ]);
    assert_code(&o, 0, "--exposure auto");
    let err = stderr(&o);
    assert!(
        err.contains("exposure: auto ") && err.contains(" EV"),
        "{err}"
    );
    // The bias moves the result by its EV.
    let plain = decode(&out);
    let biased = develop_ok(&d.path().join("biased.jpg"), &["--exposure", "auto-1.5"]);
    assert!(
        biased.mean()[1] < plain.mean()[1] - 0.05,
        "auto-1.5 not darker"
    );
    for bad in ["autox", "auto+", "1.0ev", "nan"] {
        let o = chiaro([
            OsArg::from("develop"),
            sample().into(),
            "-o".into(),
            d.path().join("x.jpg").into(),
            "--exposure".into(),
            bad.into(),
        ]);
        assert_code(&o, 2, &format!("--exposure {bad:?}"));
        assert!(stderr(&o).contains("exposure"), "{bad}: {}", stderr(&o));
    }
}

#[test]
fn headerless_raw_with_sidecar_develops() {
    let data = common::require_data!();
    let d = tmp();
    let out = d.path().join("side.png");
    let raw = data.join("raw/nikon_d750_rose_768x512_rggb14.raw");
    let o = chiaro([
        OsArg::from("develop"),
        raw.into(),
        "-o".into(),
        out.clone().into(),
    ]);
    assert_code(&o, 0, "headerless raw");
    decode(&out).assert_sample_size();
}

/// A lensfun database of one camera and lens (the library's tests check the maths).
const LENS_DB: &str = r#"<lensdatabase version="1">
    <mount><name>Test Mount</name></mount>
    <camera><maker>Testcam</maker><model>Testcam T1</model>
        <mount>Test Mount</mount><cropfactor>1</cropfactor></camera>
    <lens><maker>Testcam</maker><model>Testcam 24mm f/2.8</model>
        <mount>Test Mount</mount><cropfactor>1</cropfactor>
        <calibration>
            <distortion model="poly3" focal="24" k1="-0.02"/>
            <vignetting model="pa" focal="24" aperture="2.8" distance="10" k1="-0.5" k2="0" k3="0"/>
        </calibration></lens>
</lensdatabase>"#;

/// A flat grey headerless raw of the test camera and lens, with its sidecar.
fn lens_raw(dir: &Path, lens: &str) -> PathBuf {
    let (w, h) = (240usize, 160usize);
    let bytes: Vec<u8> = (0..w * h).flat_map(|_| 3000u16.to_le_bytes()).collect();
    let raw = dir.join(format!("shot_{}.raw", lens.len()));
    std::fs::write(&raw, bytes).expect("raw");
    let side = format!(
        "width = {w}\nheight = {h}\ndtype = \"u16le\"\nbits = 14\ncfa = \"RGGB\"\nblack = 0\n\
         white = 16383\nmake = \"Testcam\"\nmodel = \"Testcam T1\"\nlens = \"{lens}\"\n\
         focal_length = 24.0\nf_number = 2.8\n"
    );
    std::fs::write(raw.with_extension("toml"), side).expect("sidecar");
    raw
}

#[test]
fn lens_option_applies_lensfun_corrections_and_info_says_so() {
    let d = tmp();
    let db = d.path().join("lensfun");
    std::fs::create_dir(&db).expect("folder");
    std::fs::write(db.join("test.xml"), LENS_DB).expect("db");
    let raw = lens_raw(d.path(), "Testcam 24mm f/2.8");
    let run = |name: &str, extra: &[&str]| {
        let out = d.path().join(name);
        let mut args: Vec<OsArg> = vec!["develop".into(), raw.clone().into(), "-o".into()];
        args.push(out.clone().into());
        args.push("--lens-db".into());
        args.push(db.clone().into());
        args.extend(extra.iter().map(OsArg::from));
        let o = chiaro(&args);
        assert_code(&o, 0, &format!("develop {extra:?}"));
        (decode(&out), stderr(&o))
    };
    let (on, said) = run("on.tif", &["--lens", "lensfun", "--sidecar", "--linear"]);
    assert!(
        said.contains("lens: lensfun: Testcam 24mm f/2.8") && said.contains("vignetting"),
        "{said}"
    );
    let (off, said_off) = run("off.tif", &["--lens", "off", "--linear"]);
    assert!(!said_off.contains("lensfun"), "{said_off}");
    // A flat field stays flat uncorrected; corrected, output pixel (4, 4) reads the source
    // at the distorted radius r (1 - k1 + k1 r^2), k1 = -0.02, of its normalised radius
    // (lensfun: 1 = half the shorter side, scaled by the calibration's 3:2 diagonal over the
    // picture's), and is divided by the vignetting 1 + k1 r^2 there, k1 = -0.5, r over the
    // half-diagonal.
    let (w, h) = (on.width as f64, on.height as f64);
    let at = |img: &Img, x: usize, y: usize| img.data[(y * img.width + x) * 3 + 1];
    let (cx, cy) = (on.width / 2, on.height / 2);
    let (wm, hm) = (w - 1.0, h - 1.0);
    let cc = (1.5f64 * 1.5 + 1.0).sqrt() / ((wm / hm).powi(2) + 1.0).sqrt();
    let r = cc * (2.0 * 4.0 - wm).hypot(2.0 * 4.0 - hm) / hm;
    let source = r * (1.02 - 0.02 * r * r);
    let want = 1.0 / (1.0 - 0.5 * source * source / (1.5 * 1.5 + 1.0));
    let gain = (at(&on, 4, 4) / at(&off, 4, 4)) / (at(&on, cx, cy) / at(&off, cx, cy));
    assert!(
        (gain / want - 1.0).abs() < 0.01,
        "corner gain {gain}, lensfun's {want}"
    );
    assert!((at(&off, 4, 4) / at(&off, cx, cy) - 1.0).abs() < 0.01);
    // The sidecar carries the resolved correction: it develops the same without the database.
    let side = d.path().join("on.tif.chiaro.toml");
    let text = std::fs::read_to_string(&side).expect("sidecar written");
    assert!(
        text.contains("[stages.lensfun]") || text.contains("lensfun ="),
        "{text}"
    );
    let again = d.path().join("again.tif");
    let o = chiaro([
        OsArg::from("develop"),
        raw.clone().into(),
        "-o".into(),
        again.clone().into(),
        "--linear".into(),
        "--recipe".into(),
        side.into(),
    ]);
    assert_code(&o, 0, "develop --recipe sidecar");
    assert_eq!(decode(&again).data, on.data);
    // info names the correction and where it comes from.
    let o = chiaro([
        OsArg::from("info"),
        raw.clone().into(),
        "--lens-db".into(),
        db.clone().into(),
    ]);
    assert_code(&o, 0, "info");
    let text = stdout(&o);
    assert!(
        text.contains("corrects  lens: lensfun: Testcam 24mm f/2.8"),
        "{text}"
    );
    assert!(text.contains("test.xml"), "{text}");
    // A lens the database lacks, asked for by name: a warning that says why.
    let other = lens_raw(d.path(), "Othermaker 85mm f/1.4");
    let out = d.path().join("other.png");
    let o = chiaro([
        OsArg::from("develop"),
        other.clone().into(),
        "-o".into(),
        out.into(),
        "--lens".into(),
        "lensfun".into(),
        "--lens-db".into(),
        db.clone().into(),
    ]);
    assert_code(&o, 0, "unknown lens");
    assert!(
        stderr(&o).contains("is not in the lensfun database"),
        "{}",
        stderr(&o)
    );
    // The first shot's sidecar on the other shot: its correction is not that lens's, so it
    // is looked up again (and not found) instead of being applied.
    let o = chiaro([
        OsArg::from("develop"),
        other.clone().into(),
        "-o".into(),
        d.path().join("other2.png").into(),
        "--recipe".into(),
        d.path().join("on.tif.chiaro.toml").into(),
        "--lens-db".into(),
        db.clone().into(),
    ]);
    assert_code(&o, 0, "sidecar on another shot");
    assert!(
        stderr(&o).contains("is not in the lensfun database"),
        "{}",
        stderr(&o)
    );
    // A folder that is not a lensfun database is a usage error.
    let o = chiaro([
        OsArg::from("develop"),
        raw.into(),
        "-o".into(),
        d.path().join("x.png").into(),
        "--lens-db".into(),
        d.path().join("nowhere").into(),
    ]);
    assert_code(&o, 2, "bad --lens-db");
    assert!(stderr(&o).contains("--lens-db"), "{}", stderr(&o));
}

#[test]
fn info_prints_text_and_json() {
    let o = chiaro([OsArg::from("info"), sample().into()]);
    assert_code(&o, 0, "info");
    let text = stdout(&o);
    // The file first, then a short summary.
    assert!(
        lines(&text)[0].ends_with("nikon_d750_rose_768x512.dng"),
        "{text}"
    );
    for key in [
        "NIKON D750",
        "768 x 512 RGGB CFA",
        "as shot 6502 K",
        "white-balance > demosaic",
        "--json",
    ] {
        assert!(text.contains(key), "info text lacks {key}:\n{text}");
    }

    let o = chiaro([OsArg::from("info"), sample().into(), "--json".into()]);
    assert_code(&o, 0, "info --json");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("info --json prints JSON");
    assert_eq!(v["cfa"], "RGGB");
    assert_eq!(v["size"]["width"], W);
    assert_eq!(v["size"]["height"], H);
    assert_eq!(
        v["white_level"][0].as_f64(),
        Some(15520.0),
        "{}",
        v["white_level"]
    );
    assert_eq!(
        v["black_level"][0].as_f64(),
        Some(600.0),
        "{}",
        v["black_level"]
    );
    assert_eq!(v["format"], "DNG");
    assert_eq!(v["camera"]["model"], "NIKON D750");
    let color = &v["color"];
    assert!(color.is_object(), "color: {color}");
    let m = color["color_matrix1"].as_array().expect("color_matrix1");
    assert_eq!(m.len(), 3);
    assert_eq!(color["as_shot_neutral"].as_array().map(Vec::len), Some(3));
    let t = color["as_shot_white"]["temperature_k"]
        .as_f64()
        .expect("as-shot temperature");
    assert!((6000.0..7000.0).contains(&t), "as-shot daylight is {t} K");
    assert!(
        v["file"]
            .as_str()
            .expect("file")
            .ends_with("nikon_d750_rose_768x512.dng")
    );
}

#[test]
fn info_prints_json_for_a_headerless_raw() {
    let data = common::require_data!();
    // A headerless dump with its sidecar.
    let raw = data.join("raw/nikon_d750_rose_768x512_rggb14.raw");
    let o = chiaro([OsArg::from("info"), raw.into(), "--json".into()]);
    assert_code(&o, 0, "info on a headerless raw");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(v["cfa"], "RGGB");
}

#[test]
fn info_on_bad_files_names_them() {
    let d = tmp();
    let empty = d.path().join("empty.dng");
    std::fs::write(&empty, b"").expect("write");
    assert_info_fails_naming(&[empty, d.path().join("missing.nef")]);
}

#[test]
fn info_on_raw_stubs_names_them() {
    let data = common::require_data!();
    assert_info_fails_naming(&[stub(&data, "DNG.dng"), stub(&data, "CanonRaw.cr2")]);
}

/// `chiaro info` fails on each file, prints nothing on stdout and names the file on stderr.
#[track_caller]
fn assert_info_fails_naming(files: &[PathBuf]) {
    for p in files {
        let o = chiaro([OsArg::from("info"), p.clone().into()]);
        assert!(!o.status.success(), "info {} succeeded", p.display());
        assert!(
            stdout(&o).is_empty(),
            "info {} printed to stdout",
            p.display()
        );
        assert!(
            stderr(&o).contains(&p.display().to_string()),
            "message names {}: {}",
            p.display(),
            stderr(&o)
        );
    }
}

#[test]
fn bad_options_are_usage_errors() {
    let d = tmp();
    let s = sample();
    let out = d.path().join("o.jpg");
    let o_png = d.path().join("o.png");
    let o_tif = d.path().join("o.tif");
    let cases: Vec<(Vec<OsArg>, &str)> = vec![
        (
            vec![
                s.clone().into(),
                s.clone().into(),
                "-o".into(),
                out.clone().into(),
            ],
            "-o with two inputs",
        ),
        (
            vec![
                s.clone().into(),
                "-o".into(),
                out.clone().into(),
                "--bits".into(),
                "16".into(),
            ],
            "--bits 16 with JPEG",
        ),
        (
            vec![
                s.clone().into(),
                "-o".into(),
                out.clone().into(),
                "--bits".into(),
                "32".into(),
            ],
            "--bits 32 with JPEG",
        ),
        (
            vec![
                s.clone().into(),
                "-o".into(),
                o_png.clone().into(),
                "--bits".into(),
                "32".into(),
            ],
            "--bits 32 with PNG",
        ),
        (
            vec![
                s.clone().into(),
                "-o".into(),
                o_tif.clone().into(),
                "--bits".into(),
                "12".into(),
            ],
            "--bits 12",
        ),
        (vec![s.clone().into()], "no -o and no --out-dir"),
        (
            vec![
                s.clone().into(),
                "-o".into(),
                out.clone().into(),
                "--out-dir".into(),
                d.path().into(),
            ],
            "-o and --out-dir",
        ),
        (
            vec![
                s.clone().into(),
                "-o".into(),
                out.clone().into(),
                "--quality".into(),
                "0".into(),
            ],
            "--quality 0",
        ),
        (
            vec![
                s.clone().into(),
                "-o".into(),
                out.clone().into(),
                "--format".into(),
                "gif".into(),
            ],
            "--format gif",
        ),
        (
            vec![
                s.clone().into(),
                "-o".into(),
                out.clone().into(),
                "--exposure".into(),
                "50".into(),
            ],
            "--exposure 50",
        ),
        (vec!["-o".into(), out.clone().into()], "no input"),
        (
            vec![
                s.clone().into(),
                "-o".into(),
                out.clone().into(),
                "--no-such-option".into(),
            ],
            "unknown option",
        ),
    ];
    for (args, what) in cases {
        let mut a = vec![OsArg::from("develop")];
        a.extend(args);
        let o = chiaro(&a);
        assert_code(&o, 2, what);
        assert!(!stderr(&o).trim().is_empty(), "{what}: no message");
        assert!(
            listing(d.path()).is_empty(),
            "{what}: wrote {:?}",
            listing(d.path())
        );
    }
    let o = chiaro(["frobnicate"]);
    assert_code(&o, 2, "unknown subcommand");
}

/// The Minolta stub with its sensor size set to 65000x65000: rawler allocates 8 GB for it,
/// which the decoder worker's 4 GiB address-space limit refuses, so the worker aborts.
fn worker_killer(data: &Path, dir: &Path) -> PathBuf {
    let mut b = std::fs::read(stub(data, "Minolta.mrw")).expect("stub");
    // PRD block at offset 8: sensor height, width, image height, width (big-endian).
    b[24..32].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8, 0xFD, 0xE8, 0xFD, 0xE8]);
    let p = dir.join("kills_the_worker.mrw");
    std::fs::write(&p, b).expect("write");
    p
}

/// A file that kills the decoder worker costs that file only: the other files of the batch
/// are developed, the bad one gets one line naming it, and the exit code is 1.
#[cfg(all(unix, feature = "rawler"))]
#[test]
fn batch_survives_a_file_that_kills_the_decoder_worker() {
    let data = common::require_data!();
    let d = tmp();
    let bad = worker_killer(&data, d.path());
    let second = d.path().join("second.dng");
    std::fs::copy(sample(), &second).expect("copy sample");
    let out = d.path().join("out");
    let o = chiaro([
        OsArg::from("develop"),
        sample().into(),
        bad.clone().into(),
        second.clone().into(),
        "--out-dir".into(),
        out.clone().into(),
    ]);
    assert_code(&o, 1, "batch with a worker-killing file");
    assert_eq!(
        listing(&out),
        ["nikon_d750_rose_768x512.jpg", "second.jpg"],
        "the good files are developed"
    );
    assert_no_leftovers(&out);
    let err = stderr(&o);
    let l = lines(&err);
    assert_eq!(
        l.len(),
        2,
        "one line for the bad file and a summary:\n{err}"
    );
    let name = bad.display().to_string();
    assert!(
        l[0].contains(&name) && l[0].contains("decode") && l[0].contains("worker"),
        "the line names the file and says the decoder died: {}",
        l[0]
    );
    assert!(
        l[1].contains("2 of 3") && l[1].contains("1 failed"),
        "{}",
        l[1]
    );
    // info reads through the worker too.
    let o = chiaro([OsArg::from("info"), bad.clone().into()]);
    assert_code(&o, 1, "info on the worker-killing file");
    assert_eq!(lines(&stderr(&o)).len(), 1, "{}", stderr(&o));
}

/// `--no-isolate` decodes in the process; the structural checks still refuse hostile
/// structures before rawler (here an RW2 whose IFD links to itself).
#[test]
fn no_isolate_still_refuses_hostile_structures() {
    let data = common::require_data!();
    let d = tmp();
    let mut b = std::fs::read(stub(&data, "Panasonic.rw2")).expect("stub");
    let ifd = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    let n = u16::from_le_bytes([b[ifd], b[ifd + 1]]) as usize;
    let next = ifd + 2 + 12 * n;
    b[next..next + 4].copy_from_slice(&(ifd as u32).to_le_bytes());
    let p = d.path().join("self_linked.rw2");
    std::fs::write(&p, b).expect("write");
    for extra in [&[][..], &["--no-isolate"][..]] {
        let mut args = vec![OsArg::from("develop"), p.clone().into()];
        args.extend(extra.iter().map(OsArg::from));
        args.extend([OsArg::from("--out-dir"), d.path().join("out").into()]);
        let o = chiaro(&args);
        assert_code(&o, 1, "self-linked RW2");
        let err = stderr(&o);
        assert!(err.contains("loop"), "{extra:?}: {err}");
        assert_eq!(lines(&err).len(), 2, "{err}");
    }
}

/// Control characters in a camera's Make reach neither the terminal nor the JSON raw.
#[test]
fn info_escapes_control_characters_from_the_file() {
    let d = tmp();
    let mut b = std::fs::read(sample()).expect("sample");
    // ESC [ 2 and U+009B (CSI, UTF-8 C2 9B) in place of every NIKON (Make and Model).
    while let Some(at) = b.windows(5).position(|w| w == b"NIKON") {
        b[at..at + 5].copy_from_slice(b"\x1b[2\xc2\x9b");
    }
    let p = d.path().join("evil.dng");
    std::fs::write(&p, &b).expect("write");
    for json in [false, true] {
        let mut args = vec![OsArg::from("info"), p.clone().into()];
        if json {
            args.push("--json".into());
        }
        let o = chiaro(&args);
        assert_code(&o, 0, "info on the renamed Make");
        let out = stdout(&o);
        assert!(
            !out.contains('\x1b') && !out.contains('\u{9b}'),
            "control characters printed raw (json {json})"
        );
        if json {
            let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
            let m = v["camera"]["make"].as_str().expect("make");
            assert!(m.starts_with('\x1b'), "JSON keeps the value: {m:?}");
        } else {
            assert!(out.contains("\\u{1b}[2\\u{9b}"), "escaped in text:\n{out}");
        }
    }
}

#[test]
fn lab_compare_reports_the_difference_between_two_developments() {
    let d = tmp();
    let (rcd, bil) = (d.path().join("rcd.png"), d.path().join("bilinear.png"));
    develop_ok(&rcd, &["--bits", "16"]);
    develop_ok(&bil, &["--bits", "16", "--demosaic", "bilinear"]);
    let compare = |a: &Path, b: &Path, extra: &[&str]| {
        let mut args: Vec<std::ffi::OsString> =
            vec!["lab".into(), "compare".into(), a.into(), b.into()];
        args.extend(extra.iter().map(Into::into));
        chiaro(&args)
    };
    let o = compare(&rcd, &bil, &[]);
    assert_code(&o, 0, "lab compare");
    let text = stdout(&o);
    assert!(
        text.contains("CIEDE2000 mean") && text.contains("768x512"),
        "{text}"
    );
    // JSON: two demosaicers differ a little; an image against itself not at all.
    let json = |a: &Path, b: &Path| -> serde_json::Value {
        let o = compare(a, b, &["--json"]);
        assert_code(&o, 0, "lab compare --json");
        serde_json::from_str(&stdout(&o)).expect("JSON")
    };
    let v = json(&rcd, &bil);
    let cpsnr = v["cpsnr"].as_f64().expect("finite CPSNR");
    let de = v["de2000_mean"].as_f64().expect("dE");
    assert!((25.0..60.0).contains(&cpsnr) && de > 0.0 && de < 5.0, "{v}");
    let same = json(&rcd, &rcd);
    assert_eq!(same["de2000_mean"].as_f64(), Some(0.0));
    assert_eq!(same["max_abs"].as_f64(), Some(0.0));
    // Not an image: a one-line error naming the file, exit 1.
    let other = d.path().join("other.txt");
    std::fs::write(&other, "not an image").expect("written");
    let o = compare(&rcd, &other, &[]);
    assert_code(&o, 1, "lab compare with a non-image");
    assert!(stderr(&o).contains("other.txt"), "{}", stderr(&o));
}

/// Runs `chiaro lab ARGS...` with the peers' Python of the test script when it set one.
fn lab(args: &[&std::ffi::OsStr]) -> Output {
    let mut all: Vec<std::ffi::OsString> = vec!["lab".into()];
    all.extend(args.iter().map(|a| a.to_os_string()));
    chiaro(&all)
}

fn lab_demosaic_json(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&std::ffi::OsStr> = vec!["demosaic".as_ref(), dir.as_os_str()];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    args.push("--json".as_ref());
    let o = lab(&args);
    assert_code(&o, 0, "lab demosaic --json");
    serde_json::from_str(&stdout(&o)).expect("JSON")
}

/// `chiaro lab saturated-set DIR/set --size 96`: the set's folder.
fn saturated_set(dir: &Path) -> PathBuf {
    let set = dir.join("set");
    let o = lab(&[
        "saturated-set".as_ref(),
        set.as_os_str(),
        "--size".as_ref(),
        "96".as_ref(),
    ]);
    assert_code(&o, 0, "lab saturated-set");
    set
}

fn mean_cpsnr(v: &serde_json::Value, method: &str) -> f64 {
    v["means"]
        .as_array()
        .expect("means")
        .iter()
        .find(|s| s["method"] == method)
        .unwrap_or_else(|| panic!("{method} missing: {v}"))["cpsnr"]
        .as_f64()
        .expect("finite")
}

#[test]
fn lab_demosaic_scores_methods_on_the_saturated_set() {
    let d = tmp();
    let set = saturated_set(d.path());
    let pngs = std::fs::read_dir(&set).expect("set written").count();
    assert_eq!(pngs, 5, "five images");
    let html = d.path().join("report.html");
    let common = [
        "--methods",
        "bilinear,rcd,rcd-fit",
        "--domain",
        "linear",
        "--crop",
        "4",
    ];
    let mut args = common.to_vec();
    args.extend(["--no-peers", "--html", html.to_str().expect("UTF-8 path")]);
    let v = lab_demosaic_json(&set, &args);
    assert_eq!(v["images"].as_array().map(Vec::len), Some(5), "{v}");
    assert_eq!(v["domain"], "linear");
    // On saturated content the fitted slopes beat RCD's full-strength colour differences,
    // which lose even to bilinear (the demosaicing issue's maze).
    let (bil, rcd, fit) = (
        mean_cpsnr(&v, "bilinear"),
        mean_cpsnr(&v, "rcd"),
        mean_cpsnr(&v, "rcd-fit"),
    );
    assert!(
        fit > bil + 1.0 && bil > rcd,
        "rcd-fit {fit}, bilinear {bil}, rcd {rcd}"
    );
    let page = std::fs::read_to_string(&html).expect("report written");
    assert_eq!(page.matches("<h2>").count(), 5);
    assert_eq!(
        page.matches("data:image/png;base64,").count(),
        5 * 4,
        "truth + 3 methods"
    );
    // Camera noise from a profile file: the same images score lower.
    let profiles = d.path().join("noise.json");
    std::fs::write(
        &profiles,
        r#"{"noiseprofiles": [{"maker": "Test", "models": [{"model": "Cam", "profiles": [
            {"name": "Cam iso 100", "iso": 100, "a": [1e-4, 1e-4, 1e-4], "b": [1e-6, 1e-6, 1e-6]},
            {"name": "Cam iso 6400", "iso": 6400, "a": [4e-3, 4e-3, 4e-3], "b": [1e-4, 1e-4, 1e-4]}]}]}]}"#,
    )
    .expect("written");
    let mut args = common.to_vec();
    let p = profiles.to_str().expect("UTF-8 path");
    args.extend([
        "--no-peers",
        "--noise",
        "Test Cam@5000",
        "--noise-profiles",
        p,
    ]);
    let noisy = lab_demosaic_json(&set, &args);
    assert_eq!(noisy["noise"]["name"], "Cam iso 6400", "the nearest ISO");
    assert!(mean_cpsnr(&noisy, "bilinear") < bil - 1.0, "{noisy}");
    // Unknown camera, unknown method: one-line errors, exit 1.
    let o = lab(&[
        "demosaic".as_ref(),
        set.as_os_str(),
        "--noise".as_ref(),
        "Nobody@100".as_ref(),
        "--noise-profiles".as_ref(),
        profiles.as_os_str(),
    ]);
    assert_code(&o, 1, "unknown camera");
    assert!(stderr(&o).contains("Nobody"), "{}", stderr(&o));
    let o = lab(&[
        "demosaic".as_ref(),
        set.as_os_str(),
        "--methods".as_ref(),
        "ahd".as_ref(),
    ]);
    assert_code(&o, 1, "unknown method");
}

/// With the test data the test script installs the peers (rawpy, colour-demosaicing); their
/// scores come beside chiaro's in the same run. colour-demosaicing's Malvar 2004 is an
/// independent implementation of chiaro's `malvar`: the two must agree.
#[test]
fn lab_demosaic_runs_the_peers_beside_chiaro() {
    let _data = common::require_data!();
    let d = tmp();
    let set = saturated_set(d.path());
    let v = lab_demosaic_json(&set, &["--methods", "malvar,rcd-fit", "--crop", "4"]);
    for peer in ["libraw-ahd", "libraw-dcb", "menon2007", "malvar2004"] {
        let c = mean_cpsnr(&v, peer);
        assert!((10.0..60.0).contains(&c), "{peer}: {c}");
    }
    let (ours, theirs) = (mean_cpsnr(&v, "malvar"), mean_cpsnr(&v, "malvar2004"));
    assert!(
        (ours - theirs).abs() < 0.05,
        "malvar {ours} vs colour-demosaicing {theirs}"
    );
    assert!(mean_cpsnr(&v, "rcd-fit") > mean_cpsnr(&v, "libraw-ahd"));
}

#[test]
fn batch_skips_finished_outputs_and_redoes_them_with_overwrite() {
    let d = tempfile::tempdir().expect("temp dir");
    let src = d.path().join("in");
    std::fs::create_dir(&src).expect("mkdir");
    for name in ["a.dng", "b.dng"] {
        std::fs::copy(sample(), src.join(name)).expect("copy");
    }
    std::fs::write(src.join("c.dng"), b"II*\0 not a raw").expect("write");
    let out = d.path().join("out");
    let run = |extra: &[&str]| {
        let mut args: Vec<OsArg> = vec!["batch".into(), src.clone().into(), "--out-dir".into()];
        args.push(out.clone().into());
        args.extend(extra.iter().map(OsArg::from));
        chiaro(args)
    };
    let o = run(&["--format", "png"]);
    assert_code(&o, 1, "a batch with a bad file");
    assert!(
        stderr(&o).contains("developed 2 of 3 file(s), 1 failed"),
        "{}",
        stderr(&o)
    );
    let first = std::fs::metadata(out.join("a.png")).expect("a.png");
    let o = run(&["--format", "png"]);
    assert!(
        stderr(&o).contains("developed 0 of 3 file(s), 1 failed, 2 skipped"),
        "{}",
        stderr(&o)
    );
    let again = std::fs::metadata(out.join("a.png")).expect("a.png");
    assert_eq!(first.modified().ok(), again.modified().ok(), "rewritten");
    let o = run(&["--format", "png", "--overwrite"]);
    assert!(
        stderr(&o).contains("developed 2 of 3 file(s), 1 failed"),
        "{}",
        stderr(&o)
    );
    let names: Vec<_> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn lab_awb_scores_every_estimator_on_spectral_renders() {
    let data = common::require_data!();
    let o = chiaro([
        OsArg::from("lab"),
        "awb".into(),
        "--synthetic".into(),
        "--scenes".into(),
        "120".into(),
        "--color-data".into(),
        data.join("color").into(),
        "--json".into(),
    ]);
    assert_code(&o, 0, "lab awb");
    let rows: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let rows = rows.as_array().expect("rows");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["method"].as_str()).collect();
    assert_eq!(
        names,
        ["grey-world", "shades-of-grey", "grey-edge", "max-rgb"]
    );
    for r in rows {
        let (median, worst) = (r["median"].as_f64(), r["worst25"].as_f64());
        assert_eq!(r["scenes"], 120);
        // Every classic is far from perfect and far from useless on these scenes.
        assert!(
            median.is_some_and(|m| (0.5..20.0).contains(&m))
                && worst.zip(median).is_some_and(|(w, m)| w > m),
            "{r}"
        );
    }
    let o = chiaro(["lab", "awb", "--synthetic", "--color-data", "/nonexistent"]);
    assert_code(&o, 1, "missing colour data");
    assert!(stderr(&o).contains("/nonexistent"), "{}", stderr(&o));
}
