//! JPEG output via jpeg-encoder: 8-bit baseline YCbCr, ICC in APP2, EXIF in APP1.

use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, Encoder, SamplingFactor};

use super::{EncodeOptions, OutputImage, Pixels};
use crate::error::{Error, Result};

/// From this quality up chroma is kept at full resolution (4:4:4): whoever asks for that much
/// quality does not want colour edges smeared; below it 4:2:0 halves the file.
const FULL_CHROMA_QUALITY: u8 = 90;

pub(super) fn encode(img: &OutputImage, opts: &EncodeOptions, exif: &[u8]) -> Result<Vec<u8>> {
    let Pixels::U8(data) = &img.pixels else {
        return Err(Error::parameter("JPEG stores 8-bit samples only"));
    };
    if !(1..=100).contains(&opts.quality) {
        return Err(Error::parameter(format!(
            "JPEG quality {} is outside 1..=100",
            opts.quality
        )));
    }
    let (Ok(width), Ok(height)) = (u16::try_from(img.width), u16::try_from(img.height)) else {
        return Err(Error::parameter(format!(
            "{}x{} is too large for JPEG (at most 65535 pixels a side)",
            img.width, img.height
        )));
    };
    let err = |e: jpeg_encoder::EncodingError| Error::encode(format!("JPEG: {e}"));
    let mut out = Vec::with_capacity(data.len() / 4);
    let mut enc = Encoder::new(&mut out, opts.quality);
    if opts.quality >= FULL_CHROMA_QUALITY {
        enc.set_sampling_factor(SamplingFactor::R_4_4_4);
    } else {
        enc.set_sampling_factor(SamplingFactor::R_4_2_0);
        // Box-average the chroma like libjpeg rather than take the top-left sample.
        enc.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
    }
    // Optimised Huffman tables stay off: jpeg-encoder 0.7 then writes one scan per component,
    // which zune-jpeg 0.5 (the `image` crate's decoder) mis-decodes when chroma is subsampled.
    // The standard tables give a single interleaved baseline scan every decoder reads.
    enc.add_exif_metadata(exif).map_err(err)?;
    if !opts.icc_profile.is_empty() {
        enc.add_icc_profile(&opts.icc_profile).map_err(err)?;
    }
    enc.encode(data, width, height, ColorType::Rgb)
        .map_err(err)?;
    Ok(out)
}
