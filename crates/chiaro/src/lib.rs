//! chiaro: an open camera imaging engine.
//!
//! Data flow of a single-frame development (see the README's architecture section):
//!
//! ```text
//! file ──raw::read_file──> RawImage (u16 sensor DN + metadata)
//!      ──pipeline::prepare──> Frame: normalised f32 samples (linearise, OpcodeList1,
//!                             black/white, OpcodeList2) + pattern, colour, noise, EXIF
//!      ──pipeline::render(recipe)──> plan the stages (proxy pre-passes), then tiles in
//!                             parallel: defects, white balance, demosaic, OpcodeList3,
//!                             highlights, colour, exposure, tone curve, transfer, store
//!      ──io::write_image──> JPEG / PNG / TIFF with ICC profile and EXIF (atomic write)
//! ```

pub mod batch;
pub mod color;
pub mod error;
pub mod fastmath;
pub mod image;
pub mod io;
pub mod lab;
pub mod lensfun;
pub mod limits;
pub mod pipeline;
pub mod raw;
pub mod stages;

pub use error::{Error, ErrorKind, Result};

/// The integration tests' helpers (shared data and visible skips), for unit tests too.
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_common;
pub use limits::Limits;
