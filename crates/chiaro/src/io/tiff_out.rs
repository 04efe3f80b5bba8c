//! TIFF output via the tiff crate: RGB 8-bit (Deflate) or 16-bit / 32-bit float (uncompressed),
//! ICC profile in tag 34675, EXIF split between IFD0 and an Exif sub-IFD.

use std::io::{Cursor, Seek, Write};

use tiff::Directory;
use tiff::encoder::colortype::{ColorType, RGB8, RGB16, RGB32Float};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression, DirectoryEncoder, TiffEncoder, TiffKind, TiffValue};
use tiff::tags::{Predictor, Tag, Type};

use super::exif::{Field, Value};
use super::{EncodeOptions, OutputImage, Pixels};
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

    // The Exif sub-IFD goes first (an unchained directory) so IFD0 can point at it.
    let exif_ifd = if fields.iter().any(|f| f.exif_ifd) {
        let mut dir = tiff.extra_directory().map_err(err)?;
        add_fields(&mut dir, fields.iter().filter(|f| f.exif_ifd))?;
        Some(dir.finish_with_offsets().map_err(err)?)
    } else {
        None
    };

    let mut image = tiff.new_image::<C>(width, height).map_err(err)?;
    let dir = image.encoder();
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
    image.write_data(data).map_err(err)
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
