//! TIFF output: RGB 8-bit, 16-bit or 32-bit float in strips, uncompressed, Deflate or LZW
//! (with the TIFF 6.0 horizontal predictor for integers and Adobe's floating-point predictor,
//! Photoshop TIFF Technical Note 3, for floats), ICC profile in tag 34675, EXIF split between
//! IFD0 and an Exif sub-IFD.
//!
//! The tiff crate writes the directories; the strips are made here, so a batch of them is
//! compressed in parallel (the crate's own encoder compresses one strip at a time) and an
//! uncompressed file carries no Predictor tag (libtiff warns "unknown field with tag 317"
//! about the crate's).

use std::io::{Cursor, Seek, Write};

use tiff::Directory;
use tiff::encoder::{DirectoryEncoder, DirectoryOffset, TiffEncoder, TiffKind, TiffKindStandard};
use tiff::tags::{Tag, Type};

use super::exif::{Field, Value};
use super::{Compression, EncodeOptions, OutputImage, PixelRows, Pixels};
use crate::error::{Error, Result};

fn err(e: tiff::TiffError) -> Error {
    Error::encode(format!("TIFF: {e}"))
}

/// Encodes with `fields` (from [`super::exif::fields`]) split between IFD0 and the Exif sub-IFD.
pub(super) fn encode(img: &OutputImage, opts: &EncodeOptions, fields: &[Field]) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    encode_to(img, opts, fields, &mut out)?;
    Ok(out.into_inner())
}

/// The compression a file gets: the one asked for, else Deflate at 8 bits and none at 16
/// and 32. 16-bit and float sensor data carry noise in the low bits and barely compress (62
/// of 73 MB on the 12 MP phone DNG), so by default they are written uncompressed, as LibRaw
/// and dcraw do.
fn compression_for(opts: &EncodeOptions, bits: u8) -> Compression {
    opts.compression.unwrap_or(if bits == 8 {
        Compression::Deflate
    } else {
        Compression::None
    })
}

/// Encodes into any seekable writer (the output's temporary file, so a large TIFF never
/// sits in memory beside the pixels).
pub(super) fn encode_to<W: Write + Seek + Send>(
    img: &OutputImage,
    opts: &EncodeOptions,
    fields: &[Field],
    out: &mut W,
) -> Result<()> {
    let (width, height) = dimensions(img.width, img.height)?;
    let codec = compression_for(opts, img.pixels.bits());
    let rows = match &img.pixels {
        Pixels::U8(v) => PixelRows::U8(v),
        Pixels::U16(v) => PixelRows::U16(v),
        Pixels::F32(v) => PixelRows::F32(v),
    };
    let produce = |sink: &mut (dyn FnMut(PixelRows<'_>) -> Result<()> + Send)| sink(rows);
    match rows {
        PixelRows::U8(_) => write::<_, u8, _>(out, width, height, codec, fields, opts, produce),
        PixelRows::U16(_) => write::<_, u16, _>(out, width, height, codec, fields, opts, produce),
        PixelRows::F32(_) => write::<_, f32, _>(out, width, height, codec, fields, opts, produce),
    }
}

fn dimensions(width: usize, height: usize) -> Result<(u32, u32)> {
    match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => Err(Error::parameter(format!(
            "{width}x{height} is too large for TIFF"
        ))),
    }
}

/// Writes a TIFF whose rows `produce` hands over, top to bottom, in runs of any number of
/// whole rows, at 8, 16 or 32 (float) bits per sample.
pub(super) fn encode_streamed<W: Write + Seek + Send, R>(
    width: u32,
    height: u32,
    bits: u8,
    opts: &EncodeOptions,
    fields: &[Field],
    out: &mut W,
    produce: impl FnOnce(&mut (dyn FnMut(PixelRows<'_>) -> Result<()> + Send)) -> Result<R>,
) -> Result<R> {
    let codec = compression_for(opts, bits);
    match bits {
        8 => write::<_, u8, _>(out, width, height, codec, fields, opts, produce),
        16 => write::<_, u16, _>(out, width, height, codec, fields, opts, produce),
        32 => write::<_, f32, _>(out, width, height, codec, fields, opts, produce),
        _ => Err(Error::parameter(format!(
            "a TIFF has 8, 16 or 32 bits per sample, not {bits}"
        ))),
    }
}

/// Rows per strip: tiles are multiples of 32 pixels, so bands of whole tiles split into
/// strips without a copy unless a partial band comes first (orientations that flip rows),
/// which costs one strip copy per band.
const STRIP_ROWS: u32 = 32;

/// Strips compressed together, on all cores, before they are written in order: bounds the
/// compressed bytes held at once.
const STRIPS_PER_BATCH: usize = 64;

/// A sample type a TIFF stores.
pub(super) trait Sample: Copy + Send + Sync {
    const BITS: u16;
    /// SampleFormat (tag 339): 1 unsigned integer, 3 IEEE float.
    const FORMAT: u16;
    /// The Predictor (tag 317) compressed files use: 2 horizontal differencing (TIFF 6.0
    /// section 14), 3 floating point (Adobe Photoshop TIFF Technical Note 3).
    const PREDICTOR: u16;
    fn of(rows: PixelRows<'_>) -> Option<&[Self]>;
    /// Appends one RGB row in the file's (native) byte order, through the predictor when
    /// `predict`.
    fn put_row(row: &[Self], predict: bool, out: &mut Vec<u8>);
}

impl Sample for u8 {
    const BITS: u16 = 8;
    const FORMAT: u16 = 1;
    const PREDICTOR: u16 = 2;
    fn of(rows: PixelRows<'_>) -> Option<&[Self]> {
        match rows {
            PixelRows::U8(v) => Some(v),
            _ => None,
        }
    }
    fn put_row(row: &[Self], predict: bool, out: &mut Vec<u8>) {
        if !predict {
            out.extend_from_slice(row);
            return;
        }
        out.extend_from_slice(&row[..3.min(row.len())]);
        out.extend(row.windows(4).map(|w| w[3].wrapping_sub(w[0])));
    }
}

impl Sample for u16 {
    const BITS: u16 = 16;
    const FORMAT: u16 = 1;
    const PREDICTOR: u16 = 2;
    fn of(rows: PixelRows<'_>) -> Option<&[Self]> {
        match rows {
            PixelRows::U16(v) => Some(v),
            _ => None,
        }
    }
    fn put_row(row: &[Self], predict: bool, out: &mut Vec<u8>) {
        let head = if predict { 3.min(row.len()) } else { row.len() };
        out.extend(row[..head].iter().flat_map(|v| v.to_ne_bytes()));
        if predict {
            out.extend(
                row.windows(4)
                    .flat_map(|w| w[3].wrapping_sub(w[0]).to_ne_bytes()),
            );
        }
    }
}

impl Sample for f32 {
    const BITS: u16 = 32;
    const FORMAT: u16 = 3;
    const PREDICTOR: u16 = 3;
    fn of(rows: PixelRows<'_>) -> Option<&[Self]> {
        match rows {
            PixelRows::F32(v) => Some(v),
            _ => None,
        }
    }
    /// The floating-point predictor splits the row's samples into four byte planes, most
    /// significant first, and differences the bytes with a stride of one pixel's samples.
    fn put_row(row: &[Self], predict: bool, out: &mut Vec<u8>) {
        if !predict {
            out.extend(row.iter().flat_map(|v| v.to_ne_bytes()));
            return;
        }
        let n = row.len();
        let start = out.len();
        out.resize(start + 4 * n, 0);
        let planes = &mut out[start..];
        for (i, v) in row.iter().enumerate() {
            for (k, b) in v.to_be_bytes().into_iter().enumerate() {
                planes[k * n + i] = b;
            }
        }
        for i in (3..planes.len()).rev() {
            planes[i] = planes[i].wrapping_sub(planes[i - 3]);
        }
    }
}

/// One strip's bytes as stored: predicted and compressed as `codec` says.
fn encode_strip<T: Sample>(samples: &[T], row: usize, codec: Compression) -> Result<Vec<u8>> {
    let predict = codec != Compression::None;
    let mut bytes = Vec::with_capacity(samples.len() * usize::from(T::BITS / 8));
    for r in samples.chunks(row) {
        T::put_row(r, predict, &mut bytes);
    }
    match codec {
        Compression::None => Ok(bytes),
        Compression::Deflate => {
            // TIFF's Deflate (compression 8) is a zlib stream, RFC 1950.
            let mut z = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(bytes.len() / 2),
                flate2::Compression::fast(),
            );
            z.write_all(&bytes)
                .and_then(|()| z.finish())
                .map_err(|e| Error::encode(format!("TIFF: Deflate: {e}")))
        }
        Compression::Lzw => weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(&bytes)
            .map_err(|e| Error::encode(format!("TIFF: LZW: {e}"))),
    }
}

/// The strips written so far and the rows that do not yet fill one.
struct Strips<T> {
    row: usize,
    height: usize,
    codec: Compression,
    /// Compressor threads: the rayon pool's size where the write began (the streamed
    /// writer's own thread is outside the caller's pool, which `--jobs` sized).
    threads: usize,
    pending: Vec<T>,
    received: usize,
    offsets: Vec<u32>,
    counts: Vec<u32>,
}

impl<T: Sample> Strips<T> {
    fn strip(&self) -> usize {
        STRIP_ROWS as usize * self.row
    }

    fn take<W: Write + Seek>(
        &mut self,
        dir: &mut DirectoryEncoder<'_, W, TiffKindStandard>,
        mut s: &[T],
    ) -> Result<()> {
        if s.len() % self.row != 0 {
            return Err(Error::parameter("a run of rows ends inside a row"));
        }
        self.received += s.len() / self.row;
        if self.received > self.height {
            return Err(Error::parameter(format!(
                "more than the image's {} rows",
                self.height
            )));
        }
        let strip = self.strip();
        if !self.pending.is_empty() {
            let take = (strip - self.pending.len()).min(s.len());
            self.pending.extend_from_slice(&s[..take]);
            s = &s[take..];
            if self.pending.len() == strip {
                let full = std::mem::take(&mut self.pending);
                self.store(dir, &full)?;
            }
        }
        let whole = s.len() / strip * strip;
        self.store(dir, &s[..whole])?;
        self.pending.extend_from_slice(&s[whole..]);
        Ok(())
    }

    /// Encodes whole strips (the last may be short), a batch at a time in parallel, and
    /// writes them in order.
    fn store<W: Write + Seek>(
        &mut self,
        dir: &mut DirectoryEncoder<'_, W, TiffKindStandard>,
        s: &[T],
    ) -> Result<()> {
        let strip = self.strip();
        for batch in s.chunks(strip * STRIPS_PER_BATCH) {
            for bytes in self.encode_batch(batch, strip)? {
                let at = dir.write_data(&bytes[..]).map_err(err)?;
                let too_big = || Error::parameter("the TIFF would pass 4 GiB; write it smaller");
                self.offsets.push(u32::try_from(at).map_err(|_| too_big())?);
                self.counts
                    .push(u32::try_from(bytes.len()).map_err(|_| too_big())?);
            }
        }
        Ok(())
    }

    /// Compresses a batch's strips (a streamed band's, 2 to 16 of them) on as many threads
    /// as the caller's rayon pool has, in threads of their own: the streamed writer's thread
    /// must not wait on the pool, whose workers may be blocked handing it their next band.
    fn encode_batch(&self, batch: &[T], strip: usize) -> Result<Vec<Vec<u8>>> {
        let strips: Vec<&[T]> = batch.chunks(strip).collect();
        let (row, codec) = (self.row, self.codec);
        let threads = if codec == Compression::None {
            1
        } else {
            self.threads.clamp(1, strips.len().max(1))
        };
        if threads == 1 {
            return strips.iter().map(|c| encode_strip(c, row, codec)).collect();
        }
        let per = strips.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = strips
                .chunks(per)
                .map(|group| {
                    scope.spawn(move || {
                        group
                            .iter()
                            .map(|c| encode_strip(c, row, codec))
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(strips.len());
            for w in workers {
                let part = w
                    .join()
                    .unwrap_or_else(|_| Err(Error::encode("TIFF: a compressor panicked")))?;
                out.extend(part);
            }
            Ok(out)
        })
    }
}

/// Writes the Exif sub-IFD, the strips `produce` feeds (rows of `T`, top to bottom; rows of
/// another sample type are an error) and IFD0 after them.
#[allow(clippy::too_many_arguments)]
fn write<W: Write + Seek + Send, T: Sample, R>(
    out: &mut W,
    width: u32,
    height: u32,
    codec: Compression,
    fields: &[Field],
    opts: &EncodeOptions,
    produce: impl FnOnce(&mut (dyn FnMut(PixelRows<'_>) -> Result<()> + Send)) -> Result<R>,
) -> Result<R> {
    let mut tiff = TiffEncoder::new(out).map_err(err)?;
    let exif_ifd = exif_directory(&mut tiff, fields)?;
    let mut dir = tiff.image_directory().map_err(err)?;
    let mut strips = Strips::<T> {
        row: width as usize * 3,
        height: height as usize,
        codec,
        threads: rayon::current_num_threads(),
        pending: Vec::new(),
        received: 0,
        offsets: Vec::new(),
        counts: Vec::new(),
    };
    // A producer that drops a sink error must not get a file with a strip missing.
    let mut failed = false;
    let result = produce(&mut |rows| {
        if failed {
            return Err(Error::parameter("the TIFF writer failed before"));
        }
        failed = true;
        let rows = T::of(rows)
            .ok_or_else(|| Error::parameter("the rows do not have the TIFF's sample type"))?;
        strips.take(&mut dir, rows)?;
        failed = false;
        Ok(())
    })?;
    if failed {
        return Err(Error::parameter("rows were lost after a write error"));
    }
    if strips.received != height as usize {
        return Err(Error::parameter(format!(
            "{} rows of the image's {height}",
            strips.received
        )));
    }
    let last = std::mem::take(&mut strips.pending);
    strips.store(&mut dir, &last)?;

    dir.write_tag(Tag::ImageWidth, width).map_err(err)?;
    dir.write_tag(Tag::ImageLength, height).map_err(err)?;
    dir.write_tag(Tag::BitsPerSample, &[T::BITS; 3][..])
        .map_err(err)?;
    dir.write_tag(Tag::Compression, codec.tiff_code())
        .map_err(err)?;
    // RGB.
    dir.write_tag(Tag::PhotometricInterpretation, 2u16)
        .map_err(err)?;
    dir.write_tag(Tag::StripOffsets, &strips.offsets[..])
        .map_err(err)?;
    dir.write_tag(Tag::SamplesPerPixel, 3u16).map_err(err)?;
    dir.write_tag(Tag::RowsPerStrip, STRIP_ROWS.min(height))
        .map_err(err)?;
    dir.write_tag(Tag::StripByteCounts, &strips.counts[..])
        .map_err(err)?;
    // Chunky (RGBRGB...).
    dir.write_tag(Tag::PlanarConfiguration, 1u16).map_err(err)?;
    if codec != Compression::None {
        dir.write_tag(Tag::Predictor, T::PREDICTOR).map_err(err)?;
    }
    dir.write_tag(Tag::SampleFormat, &[T::FORMAT; 3][..])
        .map_err(err)?;
    describe(&mut dir, exif_ifd, fields, opts)?;
    dir.finish().map_err(err)?;
    Ok(result)
}

/// The Exif sub-IFD, written first (an unchained directory) so IFD0 can point at it.
fn exif_directory<W: Write + Seek>(
    tiff: &mut TiffEncoder<W>,
    fields: &[Field],
) -> Result<Option<DirectoryOffset<TiffKindStandard>>> {
    if !fields.iter().any(|f| f.exif_ifd) {
        return Ok(None);
    }
    let mut dir = tiff.extra_directory().map_err(err)?;
    add_fields(&mut dir, fields.iter().filter(|f| f.exif_ifd))?;
    Ok(Some(dir.finish_with_offsets().map_err(err)?))
}

/// IFD0's own entries: the EXIF fields that belong there, the Exif sub-IFD pointer and the
/// ICC profile.
fn describe<W: Write + Seek>(
    dir: &mut DirectoryEncoder<'_, W, TiffKindStandard>,
    exif_ifd: Option<DirectoryOffset<TiffKindStandard>>,
    fields: &[Field],
    opts: &EncodeOptions,
) -> Result<()> {
    add_fields(dir, fields.iter().filter(|f| !f.exif_ifd))?;
    if let Some(exif_ifd) = exif_ifd {
        dir.write_tag(Tag::ExifDirectory, exif_ifd.offset)
            .map_err(err)?;
    }
    if !opts.icc_profile.is_empty() {
        // ICC.1 Technote on embedding: tag 34675, type UNDEFINED.
        let entry = dir
            .write_entry_bytes(Type::UNDEFINED, &opts.icc_profile)
            .map_err(err)?;
        dir.extend_from(&Directory::from_iter([(Tag::IccProfile, entry)]));
    }
    Ok(())
}

/// Writes EXIF fields as entries of `dir`, in the file's (native) byte order.
fn add_fields<'f, W: Write + Seek, K: TiffKind>(
    dir: &mut DirectoryEncoder<'_, W, K>,
    fields: impl Iterator<Item = &'f Field>,
) -> Result<()> {
    let mut entries = Vec::new();
    for f in fields {
        let (ty, bytes) = match &f.value {
            // Written byte-wise: the tiff crate's `str` value refuses non-ASCII text.
            Value::Ascii(s) => (Type::ASCII, [s.as_slice(), &[0]].concat()),
            Value::Short(v) => (Type::SHORT, v.to_ne_bytes().to_vec()),
            Value::Long(v) => (Type::LONG, v.to_ne_bytes().to_vec()),
            Value::Rational(n, d) => (Type::RATIONAL, [n.to_ne_bytes(), d.to_ne_bytes()].concat()),
            Value::Undefined(b) => (Type::UNDEFINED, b.clone()),
        };
        let entry = dir.write_entry_bytes(ty, &bytes).map_err(err)?;
        // Values too long for the entry went to the file; TIFF wants the next one word-aligned.
        if bytes.len() > 4 && bytes.len() % 2 == 1 {
            dir.write_data(0u8).map_err(err)?;
        }
        entries.push((Tag::from_u16_exhaustive(f.tag), entry));
    }
    dir.extend_from(&Directory::from_iter(entries));
    Ok(())
}
