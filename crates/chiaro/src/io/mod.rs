//! Output encoders, ICC profiles, EXIF and atomic writes.
//!
//! [`encode`] turns an interleaved RGB [`OutputImage`] into JPEG, PNG or TIFF bytes carrying
//! the output ICC profile and the source's EXIF facts; [`write_atomic`] puts those bytes on disk
//! so that a crash of the process or a clash never leaves a half-written or clobbered file
//! behind (a power cut too, with [`Placement::durable`]).

pub mod exif;
pub mod icc;
mod jpeg_out;
mod png_out;
mod tiff_out;
pub mod ultrahdr;

use std::io::Write;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::raw::ExifInfo;

/// An output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
    Tiff,
}

impl Format {
    /// Parses a format name as users type it (`jpeg`/`jpg`, `png`, `tiff`/`tif`, any case).
    pub fn from_name(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Ok(Format::Jpeg),
            "png" => Ok(Format::Png),
            "tiff" | "tif" => Ok(Format::Tiff),
            _ => Err(Error::parameter(format!(
                "unknown output format {s:?} (expected jpeg, png or tiff)"
            ))),
        }
    }

    /// The format an output path's extension names (`.jpg .jpeg .png .tif .tiff`, any case).
    pub fn from_path(p: &Path) -> Option<Self> {
        let ext = p.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "png" => Some(Format::Png),
            "tif" | "tiff" => Some(Format::Tiff),
            _ => None,
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Tiff => "tif",
        }
    }

    /// Whether the format can store samples of `bits` bits: JPEG 8; PNG 8, 16; TIFF 8, 16 and
    /// 32 (float).
    pub fn supports_bits(self, bits: u8) -> bool {
        match self {
            Format::Jpeg => bits == 8,
            Format::Png => matches!(bits, 8 | 16),
            Format::Tiff => matches!(bits, 8 | 16 | 32),
        }
    }
}

/// Interleaved RGB output samples, already encoded (transfer applied) except `F32`, which holds
/// whatever the caller put there (linear light for `--linear`).
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    U8(Vec<u8>),
    U16(Vec<u16>),
    F32(Vec<f32>),
}

/// A run of whole rows of [`Pixels`], as an encoder takes them while an image is rendered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PixelRows<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    F32(&'a [f32]),
}

impl PixelRows<'_> {
    /// Size of the samples in bytes.
    pub fn bytes(&self) -> usize {
        match self {
            PixelRows::U8(v) => v.len(),
            PixelRows::U16(v) => 2 * v.len(),
            PixelRows::F32(v) => 4 * v.len(),
        }
    }
}

/// Bytes a streamed write hands to the file system between two `fdatasync` calls.
const SYNC_EVERY: usize = 32 << 20;

impl Pixels {
    /// Bits per sample.
    pub fn bits(&self) -> u8 {
        match self {
            Pixels::U8(_) => 8,
            Pixels::U16(_) => 16,
            Pixels::F32(_) => 32,
        }
    }

    /// Number of samples (three per pixel).
    pub fn len(&self) -> usize {
        match self {
            Pixels::U8(v) => v.len(),
            Pixels::U16(v) => v.len(),
            Pixels::F32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A finished image ready to encode: three channels, row-major, interleaved.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Pixels,
}

/// What to write around the pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeOptions {
    pub format: Format,
    /// JPEG quality 1..=100 (ignored by the lossless formats).
    pub quality: u8,
    /// The output colour space's ICC profile (empty: none embedded).
    pub icc_profile: Vec<u8>,
    pub exif: ExifInfo,
    /// Written as EXIF/TIFF Software.
    pub software: String,
    /// TIFF compression; `None` takes the default: Deflate at 8 bits, none at 16 and 32.
    /// The other formats have their own (PNG is always Deflate).
    pub compression: Option<Compression>,
}

/// How TIFF strips are compressed. Both lossless methods use a predictor (horizontal
/// differencing for integers, the floating-point predictor for floats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Deflate,
    Lzw,
}

impl Compression {
    /// Parses a name as users type it: `none`, `deflate` (or `zip`), `lzw`.
    pub fn from_name(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Compression::None),
            "deflate" | "zip" => Ok(Compression::Deflate),
            "lzw" => Ok(Compression::Lzw),
            _ => Err(Error::parameter(format!(
                "unknown TIFF compression {s:?} (expected none, deflate or lzw)"
            ))),
        }
    }

    /// The TIFF Compression tag (259) value: 1 none, 8 Adobe Deflate, 5 LZW.
    pub(crate) fn tiff_code(self) -> u16 {
        match self {
            Compression::None => 1,
            Compression::Deflate => 8,
            Compression::Lzw => 5,
        }
    }
}

/// Encodes to bytes. The image is already oriented, so EXIF Orientation is written as 1.
///
/// Unsupported combinations (16-bit JPEG, float PNG, ...), sample counts that do not match
/// the dimensions and out-of-range JPEG qualities are `Parameter` errors.
pub fn encode(img: &OutputImage, opts: &EncodeOptions) -> Result<Vec<u8>> {
    let facts = check(img, opts)?;
    match opts.format {
        Format::Jpeg => {
            let blob = exif::blob(&opts.exif, &opts.software, Some(facts))?;
            jpeg_out::encode(img, opts, &blob)
        }
        Format::Png => {
            let blob = exif::blob(&opts.exif, &opts.software, Some(facts))?;
            png_out::encode(img, opts, &blob)
        }
        Format::Tiff => {
            let fields = exif::fields(&opts.exif, &opts.software, Some(facts));
            tiff_out::encode(img, opts, &fields)
        }
    }
}

/// Encodes and writes atomically like [`write_atomic`]. TIFF is streamed into the temporary
/// file so its bytes never sit in memory beside the pixels (about 140 MB less peak memory
/// for a 24 MP 16-bit output).
pub fn write_image(
    path: &Path,
    img: &OutputImage,
    opts: &EncodeOptions,
    place: Placement,
) -> Result<()> {
    if opts.format != Format::Tiff {
        return write_atomic(path, &encode(img, opts)?, place);
    }
    let facts = check(img, opts)?;
    let fields = exif::fields(&opts.exif, &opts.software, Some(facts));
    write_atomic_with(path, place, |file| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        tiff_out::encode_to(img, opts, &fields, &mut out)?;
        out.flush().map_err(|e| Error::io(e).with_path(path))
    })
}

/// Writes an 8-bit, 16-bit or float TIFF atomically like [`write_atomic`] while its
/// pixels are made: `produce` gets a sink that takes whole rows, top to bottom, in runs of
/// any length (a [`Rendering`](crate::pipeline::Rendering) streams into it), and the bytes go
/// to the temporary file as they come. Fewer or more rows than `height`, or samples of
/// another type, are errors; the output then never appears.
#[allow(clippy::too_many_arguments)]
pub fn write_tiff_streamed<R>(
    path: &Path,
    width: usize,
    height: usize,
    bits: u8,
    opts: &EncodeOptions,
    place: Placement,
    produce: impl FnOnce(&mut (dyn FnMut(PixelRows<'_>) -> Result<()> + Send)) -> Result<R>,
) -> Result<R> {
    if opts.format != Format::Tiff {
        return Err(Error::parameter(format!(
            "only TIFF is streamed, not {:?}",
            opts.format
        )));
    }
    let facts = check_size(width, height, bits, opts)?;
    let fields = exif::fields(&opts.exif, &opts.software, Some(facts));
    let io_err = |e: std::io::Error| Error::io(e).with_path(path);
    let mut result = None;
    write_atomic_with(path, place, |file| {
        // A durable write flushes as it goes (fdatasync on the writer's thread, while the
        // next band renders), so the fsync before the rename has little left to wait for.
        let syncer = if place.durable {
            Some(file.try_clone().map_err(io_err)?)
        } else {
            None
        };
        let mut unsynced = 0usize;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        result = Some(tiff_out::encode_streamed(
            facts.width,
            facts.height,
            bits,
            opts,
            &fields,
            &mut out,
            |sink| {
                produce(&mut |rows| {
                    sink(rows).map_err(|e| e.with_path(path))?;
                    unsynced += rows.bytes();
                    if let Some(f) = syncer.as_ref().filter(|_| unsynced >= SYNC_EVERY) {
                        f.sync_data().map_err(io_err)?;
                        unsynced = 0;
                    }
                    Ok(())
                })
            },
        )?);
        out.flush().map_err(io_err)
    })?;
    result.ok_or_else(|| Error::encode("nothing was written"))
}

/// Validates an image against its format and gathers the facts EXIF records about it.
fn check(img: &OutputImage, opts: &EncodeOptions) -> Result<exif::ImageFacts> {
    let facts = check_size(img.width, img.height, img.pixels.bits(), opts)?;
    let expected = img.width * img.height * 3;
    if img.pixels.len() != expected {
        return Err(Error::parameter(format!(
            "{}x{} RGB image needs {expected} samples, got {}",
            img.width,
            img.height,
            img.pixels.len()
        )));
    }
    Ok(facts)
}

/// Validates an image's size and sample format against its format.
fn check_size(
    width: usize,
    height: usize,
    bits: u8,
    opts: &EncodeOptions,
) -> Result<exif::ImageFacts> {
    if !opts.format.supports_bits(bits) {
        return Err(Error::parameter(format!(
            "{:?} cannot store {bits}-bit samples",
            opts.format
        )));
    }
    if width == 0 || height == 0 {
        return Err(Error::parameter(format!(
            "cannot encode an empty {width}x{height} image"
        )));
    }
    let overflow = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(3))
        .is_none();
    let (Ok(w), Ok(h)) = (u32::try_from(width), u32::try_from(height)) else {
        return Err(Error::parameter(format!(
            "{width}x{height} is too large to encode"
        )));
    };
    if overflow {
        return Err(Error::parameter("image dimensions overflow"));
    }
    Ok(exif::ImageFacts {
        width: w,
        height: h,
        format: opts.format,
        srgb: icc::is_srgb(&opts.icc_profile),
    })
}

/// How an output file is put in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    /// Replace an existing file; otherwise one is never clobbered, even if it appears while
    /// writing.
    pub overwrite: bool,
    /// Flush the data to the disk before the rename and the folder entry after it, so the
    /// file survives a power cut or a kernel crash. Without it the write is still atomic for
    /// every reader and against the process dying (the rename happens only after the last
    /// byte), as with the peers (dcraw, darktable, RawTherapee), which never fsync; on a
    /// busy disk the fsync can cost more than the development.
    pub durable: bool,
}

/// Writes `bytes` to `path` atomically: into a temporary file in the destination folder, then
/// renamed over, as `place` says; the temporary file never survives an error.
pub fn write_atomic(path: &Path, bytes: &[u8], place: Placement) -> Result<()> {
    write_atomic_with(path, place, |file| {
        file.write_all(bytes)
            .map_err(|e| Error::io(e).with_path(path))
    })
}

/// The atomic write of [`write_atomic`], with `fill` writing the content into the temporary
/// file.
fn write_atomic_with(
    path: &Path,
    place: Placement,
    fill: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let overwrite = place.overwrite;
    let exists = || {
        Error::new(
            ErrorKind::Io,
            "already exists; use --overwrite to replace it",
        )
        .with_path(path)
    };
    if !overwrite && path.exists() {
        return Err(exists());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io_err = |e: std::io::Error| Error::io(e).with_path(path);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".chiaro-").suffix(".part");
    // NamedTempFile creates 0600 files; ask for 0666 so the umask gives the output the same
    // permissions as any other new file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io_err)?;
    fill(tmp.as_file_mut())?;
    if place.durable {
        tmp.as_file().sync_all().map_err(io_err)?;
    }
    // On failure the PersistError hands the temp file back; dropping it deletes it.
    let persisted = if overwrite {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    match persisted {
        Ok(_) => {}
        Err(e) if !overwrite && e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(exists());
        }
        Err(e) => return Err(io_err(e.error)),
    }
    // The new name itself lives in the folder: flush that too (POSIX has no other way).
    #[cfg(unix)]
    if place.durable {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("written, but its folder could not be flushed to the disk: {e}"),
                )
                .with_path(path)
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_and_extensions() {
        assert_eq!(Format::from_name("JPG").ok(), Some(Format::Jpeg));
        assert_eq!(Format::from_name("tif").ok(), Some(Format::Tiff));
        assert_eq!(
            Format::from_name("webp").map_err(|e| e.kind()).err(),
            Some(ErrorKind::Parameter)
        );
        for f in [Format::Jpeg, Format::Png, Format::Tiff] {
            let p = format!("x.{}", f.extension());
            assert_eq!(Format::from_path(Path::new(&p)), Some(f));
        }
        assert!(!Format::Jpeg.supports_bits(16));
        assert!(Format::Png.supports_bits(16) && !Format::Png.supports_bits(32));
        assert!(Format::Tiff.supports_bits(32));
    }

    #[test]
    fn format_serialises_lowercase() {
        assert_eq!(
            serde_json::to_string(&Format::Tiff).ok().as_deref(),
            Some("\"tiff\"")
        );
    }

    #[test]
    fn mismatched_sample_count_is_a_parameter_error() {
        let img = OutputImage {
            width: 2,
            height: 2,
            pixels: Pixels::U8(vec![0; 11]),
        };
        let opts = EncodeOptions {
            format: Format::Png,
            quality: 90,
            icc_profile: vec![],
            exif: ExifInfo::default(),
            software: "chiaro".into(),
            compression: None,
        };
        let err = encode(&img, &opts).err().map(|e| e.kind());
        assert_eq!(err, Some(ErrorKind::Parameter));
    }

    fn tiff_opts() -> EncodeOptions {
        EncodeOptions {
            format: Format::Tiff,
            quality: 90,
            icc_profile: vec![1, 2, 3, 4, 5],
            exif: ExifInfo::default(),
            software: "chiaro".into(),
            compression: None,
        }
    }

    /// Decodes a 16-bit RGB TIFF with the tiff crate's reader.
    fn read_rgb16(path: &Path) -> (u32, u32, Vec<u16>) {
        let file = std::fs::File::open(path).expect("written");
        let mut dec = tiff::decoder::Decoder::new(std::io::BufReader::new(file)).expect("a TIFF");
        let (w, h) = dec.dimensions().expect("dimensions");
        match dec.read_image().expect("pixels") {
            tiff::decoder::DecodingResult::U16(v) => (w, h, v),
            _ => panic!("16-bit samples expected"),
        }
    }

    #[test]
    fn streamed_tiff_reads_back_like_the_whole_image_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (w, h) = (37, 101);
        let samples: Vec<u16> = (0..w * h * 3).map(|i| (i * 7919 % 65536) as u16).collect();
        let whole = dir.path().join("whole.tif");
        let img = OutputImage {
            width: w,
            height: h,
            pixels: Pixels::U16(samples.clone()),
        };
        write_image(&whole, &img, &tiff_opts(), Placement::default()).expect("writes");
        // Runs that end mid-strip, cross strips and fill them exactly.
        let streamed = dir.path().join("streamed.tif");
        let durable = Placement {
            overwrite: false,
            durable: true,
        };
        let runs = [5, 27, 32, 1, 36];
        assert_eq!(runs.iter().sum::<usize>(), h);
        let n = write_tiff_streamed(&streamed, w, h, 16, &tiff_opts(), durable, |sink| {
            let mut at = 0;
            for rows in runs {
                sink(PixelRows::U16(&samples[at..at + rows * w * 3]))?;
                at += rows * w * 3;
            }
            Ok(runs.len())
        })
        .expect("streams");
        assert_eq!(n, runs.len());
        let (a, b) = (read_rgb16(&whole), read_rgb16(&streamed));
        assert_eq!((a.0, a.1), (w as u32, h as u32));
        assert_eq!(a, b);
        assert_eq!(b.2, samples);
    }

    #[test]
    fn streamed_float_tiff_reads_back_exactly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (w, h) = (19, 70);
        let samples: Vec<f32> = (0..w * h * 3).map(|i| i as f32 * 0.37 - 5.0).collect();
        let path = dir.path().join("f.tif");
        let keep = Placement::default();
        write_tiff_streamed(&path, w, h, 32, &tiff_opts(), keep, |sink| {
            for rows in samples.chunks(7 * w * 3) {
                sink(PixelRows::F32(rows))?;
            }
            Ok(())
        })
        .expect("streams");
        let file = std::fs::File::open(&path).expect("written");
        let mut dec = tiff::decoder::Decoder::new(std::io::BufReader::new(file)).expect("TIFF");
        match dec.read_image().expect("pixels") {
            tiff::decoder::DecodingResult::F32(v) => assert!(v == samples),
            _ => panic!("float samples expected"),
        }
    }

    #[test]
    fn streamed_tiff_short_of_rows_leaves_no_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("short.tif");
        let row = vec![0u16; 10 * 3];
        let err = write_tiff_streamed(
            &path,
            10,
            4,
            16,
            &tiff_opts(),
            Placement::default(),
            |sink| sink(PixelRows::U16(&row)),
        )
        .expect_err("three rows are missing");
        assert_eq!(err.kind(), ErrorKind::Parameter);
        let wrong = write_tiff_streamed(
            &path,
            10,
            1,
            16,
            &tiff_opts(),
            Placement::default(),
            |sink| sink(PixelRows::F32(&[0.0; 30])),
        )
        .expect_err("float rows in a 16-bit TIFF");
        assert_eq!(wrong.kind(), ErrorKind::Parameter);
        let keep = Placement::default();
        let more = write_tiff_streamed(&path, 10, 1, 16, &tiff_opts(), keep, |sink| {
            sink(PixelRows::U16(&row))?;
            sink(PixelRows::U16(&row))
        })
        .expect_err("a second row of a one-row image");
        assert_eq!(more.kind(), ErrorKind::Parameter);
        // A producer that swallows the sink's error still gets no file.
        let swallowed = write_tiff_streamed(&path, 10, 1, 16, &tiff_opts(), keep, |sink| {
            let _ = sink(PixelRows::F32(&[0.0; 30]));
            sink(PixelRows::U16(&row))
        })
        .expect_err("rows were lost");
        assert_eq!(swallowed.kind(), ErrorKind::Parameter);
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
