//! One call from a decoded raw to a finished image: [`prepare`] then [`render`].

use std::sync::atomic::AtomicBool;

use super::frame::prepare;
use super::recipe::Recipe;
use super::render::render;
use crate::color::dng::CameraColor;
use crate::color::spaces::{OutputProfile, OutputSpace};
use crate::error::Result;
use crate::io::OutputImage;
use crate::limits::Limits;
use crate::raw::RawImage;
use crate::stages::demosaic::DemosaicMethod;

/// Output sample format and intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSpec {
    /// 8, 16 or 32 (float).
    pub bits: u8,
    /// Scene-referred output: no transfer function; float output is not clipped.
    pub linear: bool,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            bits: 8,
            linear: false,
        }
    }
}

/// A developed image with what is needed to encode it and report on it.
#[derive(Debug)]
pub struct Developed {
    pub image: OutputImage,
    pub info: RenderInfo,
}

/// What a rendering produced besides its pixels.
#[derive(Debug)]
pub struct RenderInfo {
    /// What the output's ICC profile must describe, transfer function included
    /// (`io::icc::for_output` builds it).
    pub profile: OutputProfile,
    pub space: OutputSpace,
    /// The colour solution used (neutral, white point, matrix).
    pub color: CameraColor,
    pub demosaic: DemosaicMethod,
    pub warnings: Vec<String>,
    /// Choices made from the image (auto white balance, ...), by stage.
    pub notes: Vec<(&'static str, String)>,
}

/// Develops `raw` by `recipe` with the default [`Limits`]: [`prepare`] then [`render`].
/// `cancel`, when set by another thread, stops the work with an error of kind `Cancelled`.
pub fn develop(
    raw: &RawImage,
    recipe: &Recipe,
    spec: &OutputSpec,
    cancel: Option<&AtomicBool>,
) -> Result<Developed> {
    let limits = Limits::default();
    // A bad recipe fails before the costly prepare (render checks it again, cheaply).
    recipe.validate()?;
    let frame = prepare(raw, &limits)?;
    render(&frame, recipe, spec, &limits, cancel)
}
