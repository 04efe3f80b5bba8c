//! chiaro's own DNG reader.
pub mod ljpeg;
use super::RawImage;
use crate::error::{Error, Result};
use crate::limits::Limits;

pub fn is_dng(_b: &[u8]) -> bool {
    false
}
pub fn decode(_b: &[u8], _l: &Limits) -> Result<RawImage> {
    Err(Error::unsupported("dng"))
}
