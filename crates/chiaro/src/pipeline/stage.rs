//! The stage contract: what every stage declares and how the executor runs it.
//!
//! A stage is a small serde type implementing [`Stage`]. It states the [`Signal`] it takes
//! and gives (checked once when a recipe is validated), whether it wants the whole-image
//! proxy ([`Stage::needs_proxy`]), and its memory factor. When a development starts, each
//! stage is *planned* ([`Stage::plan`]) against the frame, the facts earlier stages put in
//! the [`PlanContext`] (the white-balance neutral, the colour solution, ...) and the proxy;
//! planning yields a [`Kernel`]:
//!
//! - [`Kernel::Point`]: every sample on its own. The executor fuses runs of point kernels and
//!   applies them row by row while a tile row sits in L1.
//! - [`Kernel::Area`]: needs a border of `halo` pixels. The executor cuts tiles with that much
//!   overlap (halos add up along the chain), in the CFA domain as after demosaicing.
//!
//! The proxy is a small RGB image of the whole frame (one pixel per CFA cell, subsampled).
//! A stage that needs whole-image statistics (auto white balance, auto exposure, local tone
//! pyramids) reads the proxy as it stands at that stage's input: the executor runs every
//! earlier point kernel over it, so statistics see the signal the stage will see.
//! Neighbourhood kernels are not run on the proxy.

use std::any::Any;
use std::fmt::Debug;

use crate::color::dng::CameraColor;
use crate::color::spaces::OutputSpace;
use crate::error::Result;
use crate::image::Rect;

use super::develop::OutputSpec;
use super::frame::Frame;

/// What flows between stages, in chain order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signal {
    /// Normalised sensor samples before demosaicing (0 = black, 1 = white): a CFA mosaic,
    /// one sample per pixel, or three samples per pixel for LinearRaw frames.
    Cfa,
    /// Demosaiced camera RGB, linear, white-balanced once the white-balance stage ran.
    CameraRgb,
    /// Linear RGB of the output colour space, scene-referred (1 = raw white after white
    /// balance).
    SceneRgb,
    /// Linear RGB of the output space, display-referred (0..1 = black..display white), after
    /// a tone curve.
    DisplayRgb,
    /// Display code values after the output transfer function (0..1), e.g. for 3D LUTs and
    /// grain. The executor applies the transfer function just before the first stage that
    /// takes this signal, or at the end.
    Encoded,
}

impl Signal {
    /// A human description for validation messages.
    pub fn describe(self) -> &'static str {
        match self {
            Signal::Cfa => "normalised CFA samples (before demosaic)",
            Signal::CameraRgb => "camera RGB (after demosaic)",
            Signal::SceneRgb => "scene-referred RGB (after color)",
            Signal::DisplayRgb => "display-referred RGB (after a tone curve)",
            Signal::Encoded => "encoded display values (after the transfer function)",
        }
    }
}

/// One stage of a development. Implement it for a serde type with `Default` parameters and
/// register the type in a [`Registry`](super::registry::Registry) (one line).
pub trait Stage: StageObject + Debug + Send + Sync {
    /// The recipe name (`stage = "..."`), kebab-case.
    fn name(&self) -> &'static str;
    /// (signal taken, signal given).
    fn signals(&self) -> (Signal, Signal);
    /// Canonical position used when a stage is laid over a recipe that lacks it
    /// ([`Recipe::set`](super::Recipe::set)); built-in stages use multiples of 100.
    fn order(&self) -> u32;
    /// Checks the parameters' ranges; called by recipe validation.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// True when [`Stage::plan`] wants the whole-image proxy.
    fn needs_proxy(&self) -> bool {
        false
    }
    /// Working memory per output pixel relative to one f32 RGB tile (1.0); the executor
    /// makes tiles smaller when a stage needs more, so the working set stays near L2 size.
    fn memory_factor(&self) -> f32 {
        1.0
    }
    /// Resolves the parameters against the frame and earlier stages' facts; `None` when the
    /// stage has nothing to do for this frame. `proxy` is given when [`Stage::needs_proxy`].
    fn plan(&self, ctx: &mut PlanContext<'_>, proxy: Option<&Proxy>) -> Result<Option<Kernel>>;
}

/// Object-safe plumbing every stage gets for free from `Clone + Serialize`.
pub trait StageObject {
    fn clone_box(&self) -> Box<dyn Stage>;
    /// The parameters as a TOML table (without the `stage` key).
    fn to_params(&self) -> Result<toml::Table>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Stage + Clone + serde::Serialize + 'static> StageObject for T {
    fn clone_box(&self) -> Box<dyn Stage> {
        Box::new(self.clone())
    }
    fn to_params(&self) -> Result<toml::Table> {
        toml::Table::try_from(self).map_err(|e| {
            crate::Error::parameter(format!("stage '{}' parameters: {e}", self.name()))
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for Box<dyn Stage> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

impl PartialEq for dyn Stage {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.to_params().ok() == other.to_params().ok()
    }
}

/// What planning produced: how the executor runs a stage.
pub enum Kernel {
    /// Each sample on its own; fused with neighbouring point kernels.
    Point(Box<dyn PointKernel>),
    /// Each output pixel from a neighbourhood of `halo` pixels; tiled with overlap.
    Area(Box<dyn AreaKernel>),
}

/// Where a row handed to a [`PointKernel`] lies.
#[derive(Debug, Clone, Copy)]
pub struct RowAt<'a> {
    /// Frame coordinates of the row's first pixel (on the proxy: proxy pixel x `scale`).
    pub x: usize,
    pub y: usize,
    /// Samples per pixel: 1 (a mosaic) or 3 (RGB).
    pub channels: usize,
    /// Colour (0 red, 1 green, 2 blue) of each sample of the row.
    pub colors: &'a [u8],
    /// Frame pixels per row pixel: 1 in tiles, larger on the proxy.
    pub scale: usize,
}

/// A per-sample operation.
pub trait PointKernel: Send + Sync {
    /// Transforms one row in place: `row.len() == width * at.channels`.
    fn apply(&self, row: &mut [f32], at: &RowAt<'_>);
    /// A line for the development's warnings once every tile ran (counts, ...).
    fn summary(&self) -> Option<String> {
        None
    }
}

/// A read-only tile: `rect` in frame pixels, `channels` interleaved samples per pixel.
#[derive(Clone, Copy)]
pub struct TileView<'a> {
    pub data: &'a [f32],
    pub rect: Rect,
    pub channels: usize,
    /// Frame size in pixels: a tile edge that is not a frame edge has real neighbours.
    pub frame: (usize, usize),
}

/// A tile to fill: `rect` (inside the source tile's rect) in frame pixels.
pub struct TileMut<'a> {
    pub data: &'a mut [f32],
    pub rect: Rect,
    pub channels: usize,
}

/// A neighbourhood operation.
pub trait AreaKernel: Send + Sync {
    /// Border in pixels needed around each output pixel.
    fn halo(&self) -> usize;
    /// Samples per pixel given, for `channels_in` taken (demosaic: 1 -> 3).
    fn channels_out(&self, channels_in: usize) -> usize {
        channels_in
    }
    /// Fills `dst` from `src`, writing every sample of `dst.data` (it holds stale values
    /// from earlier tiles); `src.rect` is `dst.rect` grown by the halo and clipped to the
    /// frame, so only frame edges need border handling.
    fn run(&self, src: &TileView<'_>, dst: &mut TileMut<'_>) -> Result<()>;
    /// A line for the development's warnings once every tile ran (counts, ...).
    fn summary(&self) -> Option<String> {
        None
    }
}

/// Facts stages hand to later stages while a development is planned.
pub struct PlanContext<'a> {
    pub frame: &'a Frame,
    pub spec: &'a OutputSpec,
    /// Camera neutral of the chosen white (largest entry 1); set by white balance.
    pub neutral: [f64; 3],
    /// The colour solution; set by the colour stage.
    pub color: Option<CameraColor>,
    /// The output colour space; set by the colour stage.
    pub space: OutputSpace,
    /// A camera profile's tone curve, which the tone-curve stage uses instead of its own;
    /// set by the colour stage.
    pub profile_curve: Option<crate::color::profile::ProfileCurve>,
    /// A camera profile's way into linear ProPhoto RGB and back, with its LookTable if it has
    /// one (DNG order: after the exposure, before the tone curve), for the tone-curve stage;
    /// set by the colour stage when a profile has tables.
    pub profile_look: Option<crate::color::profile::ProPhotoMaps>,
    /// A camera profile's BaselineExposureOffset (EV), added to the file's BaselineExposure.
    pub baseline_offset: f64,
    /// The demosaic method that runs; set by the demosaic stage.
    pub demosaic: Option<crate::stages::demosaic::DemosaicMethod>,
    /// Problems that did not stop the development.
    pub warnings: Vec<String>,
    /// Choices made from the image, for reports (`("white-balance", "auto neutral ...")`).
    pub notes: Vec<(&'static str, String)>,
}

/// A small RGB image of the whole frame for whole-image statistics.
///
/// # Units
/// `rgb`: three samples per pixel, the signal at the planned stage's input (normalised camera
/// RGB before white balance at the start). Each pixel is the per-colour mean of one CFA cell
/// (or one pixel of a LinearRaw frame), taken every `scale / cell` cells. `peak`: the largest
/// normalised sample of that cell as decoded, to tell clipped cells.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub width: usize,
    pub height: usize,
    /// Frame pixels per proxy pixel along each axis.
    pub scale: usize,
    pub rgb: Vec<f32>,
    pub peak: Vec<f32>,
}

/// Runs `kernel` over a whole `width` x `height` RGB image (the frame is the tile): the
/// unit tests' way to call an area kernel.
#[cfg(test)]
pub(crate) fn run_whole(
    kernel: &dyn AreaKernel,
    rgb: &[f32],
    width: usize,
    height: usize,
) -> Result<Vec<f32>> {
    let rect = Rect::new(0, 0, width, height);
    let src = TileView {
        data: rgb,
        rect,
        channels: 3,
        frame: (width, height),
    };
    let mut out = vec![0.0; rgb.len()];
    let mut dst = TileMut {
        data: &mut out,
        rect,
        channels: 3,
    };
    kernel.run(&src, &mut dst)?;
    Ok(out)
}
