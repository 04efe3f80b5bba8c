//! PNG output via the png crate: 8/16-bit RGB, iCCP and eXIf chunks.

use std::borrow::Cow;

use png::{BitDepth, ColorType, Compression, Encoder, Info};

use super::{EncodeOptions, OutputImage, Pixels};
use crate::error::{Error, Result};

pub(super) fn encode(img: &OutputImage, opts: &EncodeOptions, exif: &[u8]) -> Result<Vec<u8>> {
    let (Ok(width), Ok(height)) = (u32::try_from(img.width), u32::try_from(img.height)) else {
        return Err(Error::parameter(format!(
            "{}x{} is too large for PNG",
            img.width, img.height
        )));
    };
    // PNG stores 16-bit samples big-endian.
    let (depth, data): (BitDepth, Cow<'_, [u8]>) = match &img.pixels {
        Pixels::U8(v) => (BitDepth::Eight, Cow::Borrowed(v)),
        Pixels::U16(v) => (
            BitDepth::Sixteen,
            Cow::Owned(v.iter().flat_map(|s| s.to_be_bytes()).collect()),
        ),
        Pixels::F32(_) => return Err(Error::parameter("PNG cannot store float samples")),
    };
    let err = |e: png::EncodingError| Error::encode(format!("PNG: {e}"));
    let mut info = Info::with_size(width, height);
    info.color_type = ColorType::Rgb;
    info.bit_depth = depth;
    // The png crate names the iCCP profile "_" and zlib-compresses it itself.
    if !opts.icc_profile.is_empty() {
        info.icc_profile = Some(Cow::Borrowed(&opts.icc_profile));
    }
    info.exif_metadata = Some(Cow::Borrowed(exif));
    let mut out = Vec::with_capacity(data.len() / 2);
    let mut enc = Encoder::with_info(&mut out, info).map_err(err)?;
    // Speed over size: a 12 MP 16-bit image must not take seconds to deflate.
    enc.set_compression(Compression::Fast);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(&data).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}
