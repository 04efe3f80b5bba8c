//! Output encoders: pixels, ICC profile and EXIF survive a round trip through each container,
//! and atomic writes never clobber or leave debris.

use std::io::{BufReader, Cursor};
use std::path::Path;

use chiaro::ErrorKind;
use chiaro::color::matrix::Mat3;
use chiaro::color::transfer::Transfer;
use chiaro::io::{
    EncodeOptions, Format, OutputImage, Pixels, Placement, encode, icc, write_atomic,
};
use chiaro::raw::ExifInfo;

/// Display P3 primaries adapted to D50 (Bradford): asymmetric, with a negative entry.
const P3_D50: Mat3 = [
    [0.515_102, 0.291_965, 0.157_153],
    [0.241_182, 0.692_236, 0.066_582],
    [-0.001_049, 0.041_885, 0.784_378],
];

const W: usize = 37;
const H: usize = 23;

fn exif_info() -> ExifInfo {
    ExifInfo {
        make: Some("Acme".into()),
        model: Some("Model X".into()),
        lens_make: Some("Acme Optics".into()),
        lens_model: Some("50mm f/1.8".into()),
        date_time: Some("2024:05:06 07:08:09".into()),
        exposure_time: Some(1.0 / 250.0),
        f_number: Some(2.8),
        iso: Some(400),
        focal_length: Some(50.0),
    }
}

fn options(format: Format, quality: u8) -> EncodeOptions {
    EncodeOptions {
        format,
        quality,
        icc_profile: icc::rgb_profile(&P3_D50, Transfer::Srgb, "chiaro Display P3")
            .expect("profile"),
        exif: exif_info(),
        software: "chiaro test".into(),
        compression: None,
    }
}

/// A smooth pattern (so JPEG error stays small) that still differs per channel and pixel.
fn pattern(x: usize, y: usize, c: usize) -> f32 {
    let (u, v) = (x as f32 / (W - 1) as f32, y as f32 / (H - 1) as f32);
    match c {
        0 => u,
        1 => v,
        _ => 0.5 * (u + v),
    }
}

fn image_u8() -> OutputImage {
    let mut px = Vec::with_capacity(W * H * 3);
    for y in 0..H {
        for x in 0..W {
            for c in 0..3 {
                px.push((pattern(x, y, c) * 255.0).round() as u8);
            }
        }
    }
    OutputImage {
        width: W,
        height: H,
        pixels: Pixels::U8(px),
    }
}

fn image_u16() -> OutputImage {
    // Odd low bytes catch byte-order mistakes.
    let px = (0..W * H * 3)
        .map(|i| (i as u16).wrapping_mul(2_654).wrapping_add(257))
        .collect();
    OutputImage {
        width: W,
        height: H,
        pixels: Pixels::U16(px),
    }
}

fn image_f32() -> OutputImage {
    // Linear data with values above 1 and a negative: float TIFF must keep them all.
    let px = (0..W * H * 3)
        .map(|i| (i as f32 * 0.0137).sin() * 3.0 + 0.25)
        .collect();
    OutputImage {
        width: W,
        height: H,
        pixels: Pixels::F32(px),
    }
}

fn decode_png(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>, Option<Vec<u8>>) {
    let mut reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .expect("png header");
    let icc = reader.info().icc_profile.as_ref().map(|p| p.to_vec());
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    buf.truncate(info.buffer_size());
    (info, buf, icc)
}

fn decode_tiff(bytes: &[u8]) -> (tiff::decoder::DecodingResult, Vec<u8>) {
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes)).expect("tiff header");
    assert_eq!(dec.dimensions().expect("dims"), (W as u32, H as u32));
    let icc = dec
        .get_tag_u8_vec(tiff::tags::Tag::IccProfile)
        .expect("ICC tag");
    (dec.read_image().expect("tiff image"), icc)
}

fn decode_jpeg(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut dec = zune_jpeg::JpegDecoder::new(Cursor::new(bytes));
    let px = dec.decode().expect("jpeg decode");
    let info = dec.info().expect("info");
    assert_eq!((info.width as usize, info.height as usize), (W, H));
    let icc = dec.icc_profile().expect("ICC in APP2");
    (px, icc)
}

fn icc_of(format: Format, bytes: &[u8]) -> Vec<u8> {
    match format {
        Format::Jpeg => decode_jpeg(bytes).1,
        Format::Png => decode_png(bytes).2.expect("iCCP chunk"),
        Format::Tiff => decode_tiff(bytes).1,
    }
}

fn encoded(format: Format) -> Vec<u8> {
    let img = match format {
        Format::Jpeg => image_u8(),
        _ => image_u16(),
    };
    encode(&img, &options(format, 92)).expect("encode")
}

#[test]
fn png_8bit_round_trips_exact_pixels() {
    let img = image_u8();
    let bytes = encode(&img, &options(Format::Png, 90)).expect("encode");
    let (info, px, _) = decode_png(&bytes);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(Pixels::U8(px), img.pixels);
}

#[test]
fn png_16bit_round_trips_exact_pixels() {
    let img = image_u16();
    let bytes = encode(&img, &options(Format::Png, 90)).expect("encode");
    let (info, px, _) = decode_png(&bytes);
    assert_eq!(info.bit_depth, png::BitDepth::Sixteen);
    let samples: Vec<u16> = px
        .chunks_exact(2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(Pixels::U16(samples), img.pixels);
}

#[test]
fn tiff_8_16_and_float_round_trip_exact_pixels() {
    use tiff::decoder::DecodingResult;
    for img in [image_u8(), image_u16(), image_f32()] {
        let bytes = encode(&img, &options(Format::Tiff, 90)).expect("encode");
        let decoded = match decode_tiff(&bytes).0 {
            DecodingResult::U8(v) => Pixels::U8(v),
            DecodingResult::U16(v) => Pixels::U16(v),
            DecodingResult::F32(v) => Pixels::F32(v),
            _ => panic!("unexpected sample type"),
        };
        assert_eq!(decoded, img.pixels, "{}-bit", img.pixels.bits());
    }
}

/// A tall image (three strips of 32 rows, the last one short) whose rows repeat a smooth
/// ramp with a little texture, so compression has something to find.
fn tall(bits: u8) -> OutputImage {
    let (w, h) = (45, 75);
    let v = |i: usize| {
        let (x, y, c) = (i / 3 % w, i / 3 / w, i % 3);
        (x * 9 + y * 5 + c * 40 + (i * 7919) % 5) as f32 / 900.0
    };
    let n = w * h * 3;
    let pixels = match bits {
        8 => Pixels::U8((0..n).map(|i| (v(i) * 255.0) as u8).collect()),
        16 => Pixels::U16((0..n).map(|i| (v(i) * 65535.0) as u16).collect()),
        // Negative and above-white values, as scene-referred floats carry.
        _ => Pixels::F32((0..n).map(|i| 3.0 * v(i) - 0.5).collect()),
    };
    OutputImage {
        width: w,
        height: h,
        pixels,
    }
}

fn read_tiff(bytes: &[u8]) -> Pixels {
    use tiff::decoder::DecodingResult;
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes)).expect("tiff header");
    match dec.read_image().expect("tiff image") {
        DecodingResult::U8(v) => Pixels::U8(v),
        DecodingResult::U16(v) => Pixels::U16(v),
        DecodingResult::F32(v) => Pixels::F32(v),
        _ => panic!("unexpected sample type"),
    }
}

fn tag_u16(bytes: &[u8], tag: tiff::tags::Tag) -> Option<u16> {
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes)).expect("tiff header");
    dec.find_tag(tag)
        .expect("readable")
        .map(|v| v.into_u16().expect("a short"))
}

/// Each compression at each depth reads back sample for sample through the tiff crate's
/// decoder and through libtiff's (`tiffcp -c none`, Debian's libtiff-tools, when installed),
/// which also must not warn about any tag; the predictor tag is there only when compressed
/// (2 horizontal for integers, 3 floating point for floats).
#[test]
fn tiff_compressions_read_back_exactly_in_the_tiff_crate_and_libtiff() {
    use chiaro::io::Compression;
    use tiff::tags::Tag;
    let dir = tempfile::tempdir().expect("temp dir");
    let libtiff = std::process::Command::new("tiffcp").output().is_ok();
    if !libtiff {
        println!("note: tiffcp (libtiff-tools) not installed: libtiff's reading left out");
    }
    for bits in [8, 16, 32] {
        let img = tall(bits);
        let mut plain_size = 0;
        for (compression, code) in [
            (Compression::None, 1),
            (Compression::Deflate, 8),
            (Compression::Lzw, 5),
        ] {
            let what = format!("{bits}-bit {compression:?}");
            let mut opts = options(Format::Tiff, 90);
            opts.compression = Some(compression);
            let bytes = encode(&img, &opts).expect("encode");
            assert_eq!(read_tiff(&bytes), img.pixels, "{what}: tiff crate");
            assert_eq!(tag_u16(&bytes, Tag::Compression), Some(code), "{what}");
            let predictor = match (compression, bits) {
                (Compression::None, _) => None,
                (_, 32) => Some(3),
                _ => Some(2),
            };
            assert_eq!(tag_u16(&bytes, Tag::Predictor), predictor, "{what}");
            if compression == Compression::None {
                plain_size = bytes.len();
            } else {
                assert!(
                    bytes.len() * 2 < plain_size,
                    "{what}: {} bytes, uncompressed {plain_size}",
                    bytes.len()
                );
            }
            if libtiff {
                let (src, out) = (dir.path().join("in.tif"), dir.path().join("out.tif"));
                std::fs::write(&src, &bytes).expect("write");
                let _ = std::fs::remove_file(&out);
                let run = std::process::Command::new("tiffcp")
                    .args(["-c", "none"])
                    .arg(&src)
                    .arg(&out)
                    .output()
                    .expect("tiffcp runs");
                let said = String::from_utf8_lossy(&run.stderr);
                assert!(
                    run.status.success() && said.is_empty(),
                    "{what}: tiffcp: {said}"
                );
                let back = std::fs::read(&out).expect("tiffcp wrote");
                assert_eq!(read_tiff(&back), img.pixels, "{what}: libtiff");
            }
        }
    }
}

#[test]
fn jpeg_decodes_close_to_input_at_444_and_420() {
    let img = image_u8();
    let Pixels::U8(src) = &img.pixels else {
        unreachable!()
    };
    // 95 selects 4:4:4, 80 selects 4:2:0 (with odd dimensions to exercise edge blocks).
    for (quality, max_mean_err) in [(95, 1.5), (80, 3.0)] {
        let bytes = encode(&img, &options(Format::Jpeg, quality)).expect("encode");
        let (px, _) = decode_jpeg(&bytes);
        assert_eq!(px.len(), src.len());
        let diffs: Vec<f64> = px
            .iter()
            .zip(src)
            .map(|(&a, &b)| (a as f64 - b as f64).abs())
            .collect();
        let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
        let max = diffs.iter().copied().fold(0.0, f64::max);
        assert!(mean < max_mean_err, "q{quality}: mean error {mean}");
        assert!(max < 24.0, "q{quality}: max error {max}");
    }
}

#[test]
fn every_format_embeds_the_icc_profile_with_the_given_colourants() {
    for format in [Format::Jpeg, Format::Png, Format::Tiff] {
        let bytes = encoded(format);
        let icc = icc_of(format, &bytes);
        assert_eq!(icc, options(format, 92).icc_profile, "{format:?}");
        let p = moxcms::ColorProfile::new_from_slice(&icc).expect("parse ICC");
        for (c, xyz) in [p.red_colorant, p.green_colorant, p.blue_colorant]
            .iter()
            .enumerate()
        {
            for (r, v) in [xyz.x, xyz.y, xyz.z].into_iter().enumerate() {
                assert!(
                    (v - P3_D50[r][c]).abs() < 1e-3,
                    "{format:?} colourant {c} row {r}: {v}"
                );
            }
        }
    }
}

#[test]
fn every_format_carries_exif() {
    use exif::{In, Tag, Value};
    for format in [Format::Jpeg, Format::Png, Format::Tiff] {
        let bytes = encoded(format);
        let exif = exif::Reader::new()
            .read_from_container(&mut BufReader::new(Cursor::new(&bytes)))
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        let ascii = |tag: Tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
            Some(Value::Ascii(v)) => String::from_utf8(v[0].clone()).expect("utf8"),
            other => panic!("{format:?} {tag}: {other:?}"),
        };
        assert_eq!(ascii(Tag::Make), "Acme");
        assert_eq!(ascii(Tag::Model), "Model X");
        assert_eq!(ascii(Tag::Software), "chiaro test");
        assert_eq!(ascii(Tag::DateTimeOriginal), "2024:05:06 07:08:09");
        assert_eq!(ascii(Tag::LensModel), "50mm f/1.8");
        match exif
            .get_field(Tag::ExposureTime, In::PRIMARY)
            .map(|f| &f.value)
        {
            Some(Value::Rational(r)) => assert_eq!((r[0].num, r[0].denom), (1, 250)),
            other => panic!("{format:?} ExposureTime: {other:?}"),
        }
        let uint = |tag: Tag| {
            exif.get_field(tag, In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
        };
        assert_eq!(uint(Tag::Orientation), Some(1), "{format:?}");
        assert_eq!(uint(Tag::PhotographicSensitivity), Some(400), "{format:?}");
    }
}

#[test]
fn unsupported_bit_depths_are_parameter_errors() {
    let cases = [
        (Format::Jpeg, image_u16()),
        (Format::Jpeg, image_f32()),
        (Format::Png, image_f32()),
    ];
    for (format, img) in cases {
        let err = encode(&img, &options(format, 90)).expect_err("must refuse");
        assert_eq!(err.kind(), ErrorKind::Parameter, "{format:?}: {err}");
    }
    let err = encode(&image_u8(), &options(Format::Jpeg, 0)).expect_err("quality 0");
    assert_eq!(err.kind(), ErrorKind::Parameter);
}

#[test]
fn format_from_path_covers_the_extensions() {
    let cases = [
        ("a.jpg", Some(Format::Jpeg)),
        ("a.JPEG", Some(Format::Jpeg)),
        ("dir.v2/a.Jpg", Some(Format::Jpeg)),
        ("a.png", Some(Format::Png)),
        ("a.PNG", Some(Format::Png)),
        ("a.tif", Some(Format::Tiff)),
        ("a.TIFF", Some(Format::Tiff)),
        ("a.webp", None),
        ("a", None),
        ("jpg", None),
    ];
    for (path, want) in cases {
        assert_eq!(Format::from_path(Path::new(path)), want, "{path}");
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

const KEEP: Placement = Placement {
    overwrite: false,
    durable: false,
};
const REPLACE: Placement = Placement {
    overwrite: true,
    durable: true,
};

#[test]
fn write_atomic_does_not_clobber_without_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.jpg");
    std::fs::write(&path, b"original").expect("seed");
    let err = write_atomic(&path, b"new", KEEP).expect_err("must refuse");
    assert_eq!(err.kind(), ErrorKind::Io);
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("--overwrite"), "{msg}");
    assert_eq!(std::fs::read(&path).expect("read"), b"original");
    assert_eq!(entries(dir.path()), ["out.jpg"]);
}

#[test]
fn write_atomic_replaces_with_overwrite_and_creates_new_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.png");
    write_atomic(&path, b"first", KEEP).expect("create");
    assert_eq!(std::fs::read(&path).expect("read"), b"first");
    write_atomic(&path, b"second", REPLACE).expect("overwrite");
    assert_eq!(std::fs::read(&path).expect("read"), b"second");
    assert_eq!(entries(dir.path()), ["out.png"]);
}

#[test]
fn write_atomic_leaves_no_temp_file_on_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A non-empty directory in the way: the final rename fails after the temp file was written.
    let blocker = dir.path().join("out.tif");
    std::fs::create_dir(&blocker).expect("mkdir");
    std::fs::write(blocker.join("keep"), b"x").expect("seed");
    let err = write_atomic(&blocker, b"data", REPLACE).expect_err("rename onto a directory");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("out.tif"), "{err}");
    assert_eq!(entries(dir.path()), ["out.tif"]);
    // A missing destination folder is an error too, not a stray file elsewhere.
    let missing = dir.path().join("nope").join("out.tif");
    assert!(write_atomic(&missing, b"data", REPLACE).is_err());
    assert_eq!(entries(dir.path()), ["out.tif"]);
}

#[test]
fn write_image_streams_the_same_bytes_encode_gives() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (format, img, name) in [
        (Format::Tiff, image_u16(), "a.tif"),
        (Format::Tiff, image_f32(), "b.tif"),
        (Format::Png, image_u8(), "c.png"),
    ] {
        let opts = options(format, 90);
        let path = dir.path().join(name);
        chiaro::io::write_image(&path, &img, &opts, KEEP).expect("writes");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            encode(&img, &opts).expect("encodes"),
            "{name}"
        );
        // No clobbering through the streaming path either.
        let err = chiaro::io::write_image(&path, &img, &opts, KEEP).expect_err("exists");
        assert!(err.to_string().contains("--overwrite"), "{err}");
    }
    assert_eq!(entries(dir.path()), ["a.tif", "b.tif", "c.png"]);
}
