//! Other camera formats through rawler.
use super::RawImage;
use crate::error::{Error, Result};
use crate::limits::Limits;
use std::path::Path;
pub fn decode(_p: &Path, _b: &[u8], _l: &Limits) -> Result<RawImage> {
    Err(Error::unsupported("rawler"))
}
