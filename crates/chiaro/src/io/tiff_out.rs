//! TIFF output via the tiff crate: RGB 8-bit (Deflate) or 16-bit / 32-bit float (uncompressed),
//! ICC profile in tag 34675, EXIF split between IFD0 and an Exif sub-IFD.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use tiff::Directory;
use tiff::encoder::colortype::{ColorType, RGB8, RGB16, RGB32Float};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{
    Compression, DirectoryEncoder, DirectoryOffset, TiffEncoder, TiffKind, TiffKindStandard,
    TiffValue,
};
use tiff::tags::{Predictor, Tag, Type};

use super::exif::{Field, Value};
use super::{EncodeOptions, OutputImage, PixelRows, Pixels};
use crate::error::{Error, Result};

fn err(e: tiff::TiffError) -> Error {
    Error::encode(format!("TIFF: {e}"))
}

/// Encodes with `fields` (from [`super::exif::fields`]) split between IFD0 and the Exif sub-IFD.
pub(super) fn encode(img: &OutputImage, opts: &EncodeOptions, fields: &[Field]) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    encode_to(img, opts, fields, &mut out)?;
    drop_idle_predictor(&mut out)?;
    Ok(out.into_inner())
}

/// Removes IFD0's Predictor entry (tag 317) when the image is uncompressed and the
/// predictor is "none": the tiff crate always writes one, and libtiff (ImageMagick, GIMP)
/// warns "unknown field with tag 317" on every such file. The entries after it move up one
/// place; the IFD keeps its size (its last 12 bytes become unused), so no offset changes.
pub(super) fn drop_idle_predictor<F: Read + Write + Seek>(f: &mut F) -> Result<()> {
    let io = |e: std::io::Error| Error::encode(format!("TIFF: patching the header: {e}"));
    let mut head = [0u8; 8];
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    f.read_exact(&mut head).map_err(io)?;
    let little = match &head[..2] {
        b"II" => true,
        b"MM" => false,
        _ => return Err(Error::encode("TIFF: not a TIFF header")),
    };
    let u16_of = |b: &[u8]| {
        let b = [b[0], b[1]];
        if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_of = |b: &[u8]| {
        let b = [b[0], b[1], b[2], b[3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let ifd = u64::from(u32_of(&head[4..8]));
    let mut count = [0u8; 2];
    f.seek(SeekFrom::Start(ifd)).map_err(io)?;
    f.read_exact(&mut count).map_err(io)?;
    let n = usize::from(u16_of(&count));
    let mut entries = vec![0u8; n * 12 + 4];
    f.read_exact(&mut entries).map_err(io)?;
    let value = |tag: u16| {
        entries[..n * 12]
            .chunks_exact(12)
            .position(|e| u16_of(&e[..2]) == tag)
            .map(|i| (i, u16_of(&entries[i * 12 + 8..i * 12 + 10])))
    };
    let (Some((at, 1)), Some((_, 1))) = (value(Tag::Predictor.to_u16()), value(259)) else {
        return Ok(());
    };
    entries.drain(at * 12..at * 12 + 12);
    entries.extend_from_slice(&[0; 12]);
    let left = n as u16 - 1;
    let fewer = if little {
        left.to_le_bytes()
    } else {
        left.to_be_bytes()
    };
    f.seek(SeekFrom::Start(ifd)).map_err(io)?;
    f.write_all(&fewer).map_err(io)?;
    f.write_all(&entries).map_err(io)?;
    f.flush().map_err(io)
}

/// Encodes into any seekable writer (the output's temporary file, so a large TIFF never
/// sits in memory beside the pixels).
pub(super) fn encode_to<W: Write + Seek>(
    img: &OutputImage,
    opts: &EncodeOptions,
    fields: &[Field],
    out: &mut W,
) -> Result<()> {
    let (Ok(width), Ok(height)) = (u32::try_from(img.width), u32::try_from(img.height)) else {
        return Err(Error::parameter(format!(
            "{}x{} is too large for TIFF",
            img.width, img.height
        )));
    };
    // 8-bit: Deflate with the horizontal predictor pays off. 16-bit and float sensor data
    // carry noise in the low bits and barely compress (62 of 73 MB on the 12 MP phone DNG)
    // while the tiff crate's single-threaded Deflate cost ~0.7 s there, a third of the whole
    // development: they are written uncompressed, as LibRaw and dcraw do.
    let compression = Compression::Deflate(DeflateLevel::Fast);
    match &img.pixels {
        Pixels::U8(v) => write::<_, RGB8>(
            out,
            width,
            height,
            v,
            Predictor::Horizontal,
            compression,
            fields,
            opts,
        )?,
        Pixels::U16(v) => write::<_, RGB16>(
            out,
            width,
            height,
            v,
            Predictor::None,
            Compression::Uncompressed,
            fields,
            opts,
        )?,
        Pixels::F32(v) => write::<_, RGB32Float>(
            out,
            width,
            height,
            v,
            Predictor::None,
            Compression::Uncompressed,
            fields,
            opts,
        )?,
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write<W: Write + Seek, C: ColorType>(
    out: &mut W,
    width: u32,
    height: u32,
    data: &[C::Inner],
    predictor: Predictor,
    compression: Compression,
    fields: &[Field],
    opts: &EncodeOptions,
) -> Result<()>
where
    [C::Inner]: TiffValue,
{
    let mut tiff = TiffEncoder::new(out)
        .map_err(err)?
        .with_predictor(predictor)
        .with_compression(compression);

    let exif_ifd = exif_directory(&mut tiff, fields)?;
    let mut image = tiff.new_image::<C>(width, height).map_err(err)?;
    describe(image.encoder(), exif_ifd, fields, opts)?;
    image.write_data(data).map_err(err)
}

/// Rows per strip of a streamed TIFF: tiles are multiples of 32 pixels, so bands of whole
/// tiles split into strips without a copy unless a partial band comes first (orientations
/// that flip rows), which costs one strip copy per band.
const STRIP_ROWS: u32 = 32;

/// A sample type a streamed TIFF takes.
pub(super) trait StripSample: Copy {
    fn of(rows: PixelRows<'_>) -> Option<&[Self]>;
}

impl StripSample for u16 {
    fn of(rows: PixelRows<'_>) -> Option<&[Self]> {
        match rows {
            PixelRows::U16(v) => Some(v),
            _ => None,
        }
    }
}

impl StripSample for f32 {
    fn of(rows: PixelRows<'_>) -> Option<&[Self]> {
        match rows {
            PixelRows::F32(v) => Some(v),
            _ => None,
        }
    }
}

/// Writes an uncompressed 16-bit or float TIFF whose rows `produce` hands over, top to
/// bottom, in runs of any number of whole rows.
pub(super) fn encode_streamed<W: Write + Seek + Send, R>(
    width: u32,
    height: u32,
    bits: u8,
    opts: &EncodeOptions,
    fields: &[Field],
    out: &mut W,
    produce: impl FnOnce(&mut (dyn FnMut(PixelRows<'_>) -> Result<()> + Send)) -> Result<R>,
) -> Result<R> {
    match bits {
        16 => stream::<_, RGB16, R>(out, width, height, fields, opts, produce),
        32 => stream::<_, RGB32Float, R>(out, width, height, fields, opts, produce),
        _ => Err(Error::parameter(format!(
            "a streamed TIFF has 16 or 32 bits per sample, not {bits}"
        ))),
    }
}

fn stream<W: Write + Seek + Send, C: ColorType + Send, R>(
    out: &mut W,
    width: u32,
    height: u32,
    fields: &[Field],
    opts: &EncodeOptions,
    produce: impl FnOnce(&mut (dyn FnMut(PixelRows<'_>) -> Result<()> + Send)) -> Result<R>,
) -> Result<R>
where
    C::Inner: StripSample + Send,
    [C::Inner]: TiffValue,
{
    let mut tiff = TiffEncoder::new(out)
        .map_err(err)?
        .with_compression(Compression::Uncompressed);
    let exif_ifd = exif_directory(&mut tiff, fields)?;
    let mut image = tiff.new_image::<C>(width, height).map_err(err)?;
    image.rows_per_strip(STRIP_ROWS).map_err(err)?;
    describe(image.encoder(), exif_ifd, fields, opts)?;
    let row = width as usize * 3;
    let strip = STRIP_ROWS as usize * row;
    // Rows that do not yet fill a strip (only when a run ends mid-strip).
    let mut pending: Vec<C::Inner> = Vec::new();
    let mut received = 0usize;
    // A producer that drops a sink error must not get a file with a strip missing.
    let mut failed = false;
    let result = produce(&mut |rows| {
        if failed {
            return Err(Error::parameter("the TIFF writer failed before"));
        }
        failed = true;
        let mut s = C::Inner::of(rows)
            .ok_or_else(|| Error::parameter("the rows do not have the TIFF's sample type"))?;
        if s.len() % row != 0 {
            return Err(Error::parameter("a run of rows ends inside a row"));
        }
        received += s.len() / row;
        if received > height as usize {
            return Err(Error::parameter(format!(
                "more than the image's {height} rows"
            )));
        }
        if !pending.is_empty() {
            let take = (strip - pending.len()).min(s.len());
            pending.extend_from_slice(&s[..take]);
            s = &s[take..];
            if pending.len() == strip {
                image.write_strip(&pending).map_err(err)?;
                pending.clear();
            }
        }
        while s.len() >= strip {
            image.write_strip(&s[..strip]).map_err(err)?;
            s = &s[strip..];
        }
        pending.extend_from_slice(s);
        failed = false;
        Ok(())
    })?;
    if failed {
        return Err(Error::parameter("rows were lost after a write error"));
    }
    if received != height as usize {
        return Err(Error::parameter(format!(
            "{received} rows of the image's {height}"
        )));
    }
    if !pending.is_empty() {
        image.write_strip(&pending).map_err(err)?;
    }
    image.finish().map_err(err)?;
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
