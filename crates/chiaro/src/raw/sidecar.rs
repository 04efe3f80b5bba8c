//! Headerless sensor dumps with a TOML sidecar.
use super::RawImage;
use crate::error::{Error, Result};
use crate::limits::Limits;
use std::path::{Path, PathBuf};
pub fn sidecar_path(p: &Path) -> Option<PathBuf> {
    p.extension()
        .filter(|e| e.eq_ignore_ascii_case("raw"))
        .map(|_| p.with_extension("toml"))
}
pub fn read(_p: &Path, _l: &Limits) -> Result<RawImage> {
    Err(Error::unsupported("sidecar"))
}
