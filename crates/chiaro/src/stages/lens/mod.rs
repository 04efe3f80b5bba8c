//! Lens corrections on demosaiced camera RGB.

pub mod warp;
