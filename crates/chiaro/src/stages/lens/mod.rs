//! Lens corrections on demosaiced camera RGB: the DNG's own opcodes (OpcodeList3's warps and
//! FixVignetteRadial, which the executor runs where this stage is) or lensfun's database,
//! chosen by the `lens` stage's `source`. The stage comes after highlight reconstruction,
//! which must see where the sensor clipped before devignetting raises the corners.
//!
//! - `auto` (default): the file's own corrections when it has any, else lensfun's.
//! - `embedded`: only the file's. `lensfun`: only lensfun's (the file's lens opcodes are then
//!   left out, so nothing is corrected twice). `off`: neither.
//!
//! lensfun's correction is resolved from the file's EXIF before the development
//! ([`LensCorrection::resolve`]) and kept in the stage's parameters, so a saved recipe
//! reproduces it without the database.
//!
//! # Units
//! In and out: linear camera RGB, any range.

pub mod lensfun;
pub mod warp;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::image::Rect;
use crate::lensfun::{Correction, Database};
use crate::pipeline::Frame;
use crate::pipeline::stage::{
    AreaKernel, Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage,
};
use crate::raw::dng::opcodes::Opcode;

use self::lensfun::LensfunMap;
use self::warp::{MAX_HALO, Warp};

/// Where lens corrections come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LensSource {
    #[default]
    Auto,
    Off,
    Embedded,
    Lensfun,
}

impl LensSource {
    /// Parses `auto`, `off`, `embedded` or `lensfun`.
    pub fn from_name(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(LensSource::Auto),
            "off" | "none" => Ok(LensSource::Off),
            "embedded" => Ok(LensSource::Embedded),
            "lensfun" => Ok(LensSource::Lensfun),
            _ => Err(crate::Error::parameter(format!(
                "lens corrections {s:?}: expected auto, off, embedded or lensfun"
            ))),
        }
    }
}

/// The lens-correction stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LensCorrection {
    pub source: LensSource,
    /// lensfun's correction for this picture, from [`LensCorrection::resolve`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lensfun: Option<Correction>,
    /// The picture the correction is centred on, `[x, y, width, height]` in frame pixels
    /// (the frame's crop when it was resolved, before any crop of the user's); `None`: the
    /// frame's crop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<[usize; 4]>,
}

/// Whether an OpcodeList3 opcode is a lens correction (the ones `source` chooses between).
pub fn is_lens_opcode(op: &Opcode) -> bool {
    matches!(
        op,
        Opcode::WarpRectilinear(_) | Opcode::FixVignetteRadial { .. }
    )
}

impl LensCorrection {
    /// Whether the file's own lens opcodes are applied under `source`.
    pub fn uses_embedded(source: LensSource, frame: &Frame) -> bool {
        matches!(source, LensSource::Auto | LensSource::Embedded)
            && frame.rgb_opcodes().iter().any(is_lens_opcode)
    }

    /// Whether lensfun's correction is wanted for `frame`.
    pub fn wants_lensfun(&self, frame: &Frame) -> bool {
        match self.source {
            LensSource::Lensfun => true,
            LensSource::Auto => !Self::uses_embedded(LensSource::Auto, frame),
            LensSource::Off | LensSource::Embedded => false,
        }
    }

    /// Looks the frame's camera and lens up in `db` when lensfun's correction is wanted;
    /// keeps the correction and says what was found, or why nothing was.
    pub fn resolve(&mut self, frame: &Frame, db: &Database) -> String {
        self.lensfun = None;
        let c = frame.crop();
        self.picture = Some([c.x, c.y, c.width, c.height]);
        if !self.wants_lensfun(frame) {
            return self.describe(frame);
        }
        match db.correction(frame.exif()) {
            Ok(c) => {
                self.lensfun = Some(c);
                self.describe(frame)
            }
            Err(why) => format!("lens: no correction: {why}"),
        }
    }

    /// What the stage will correct on `frame`, for reports.
    pub fn describe(&self, frame: &Frame) -> String {
        if Self::uses_embedded(self.source, frame) {
            let mut names: Vec<&str> = frame
                .rgb_opcodes()
                .iter()
                .filter(|o| is_lens_opcode(o))
                .map(|o| match o {
                    Opcode::WarpRectilinear(w) if w.fisheye => "WarpFisheye",
                    Opcode::WarpRectilinear(w) if w.second => "WarpRectilinear2",
                    Opcode::WarpRectilinear(_) => "WarpRectilinear",
                    _ => "FixVignetteRadial",
                })
                .collect();
            names.dedup();
            return format!("lens: the file's own ({})", names.join(", "));
        }
        match (&self.lensfun, self.wants_lensfun(frame)) {
            (Some(c), true) => format!("lens: {}", c.describe()),
            (None, true) => "lens: no correction: lensfun was not consulted".into(),
            _ => "lens: no correction (off)".into(),
        }
    }
}

impl Stage for LensCorrection {
    fn name(&self) -> &'static str {
        "lens"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::CameraRgb, Signal::CameraRgb)
    }
    fn order(&self) -> u32 {
        450
    }
    fn validate(&self) -> Result<()> {
        if let Some(c) = &self.lensfun {
            c.validate().map_err(|why| {
                crate::Error::parameter(format!("lens: lensfun correction: {why}"))
            })?;
        }
        if self.picture.is_some_and(|[_, _, w, h]| w == 0 || h == 0) {
            return Err(crate::Error::parameter("lens: an empty picture rectangle"));
        }
        Ok(())
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        let frame = ctx.frame;
        let Some(c) = self.lensfun.as_ref().filter(|_| self.wants_lensfun(frame)) else {
            if self.source == LensSource::Lensfun {
                ctx.warnings
                    .push("lens: lensfun asked for, but no correction was resolved".into());
            }
            return Ok(None);
        };
        ctx.notes.push(("lens", c.describe()));
        let picture = self
            .picture
            .map_or(frame.crop(), |[x, y, w, h]| Rect::new(x, y, w, h));
        let map = LensfunMap::new(c, picture);
        if !map.moves() {
            return Ok(c
                .vignetting
                .map(|_| Kernel::Point(Box::new(Devignette(map)))));
        }
        let warp = Warp::new(map, frame.width(), frame.height());
        if warp.halo() > MAX_HALO {
            ctx.warnings.push(format!(
                "lens: lensfun's correction moves pixels by up to {} px (more than \
                 {MAX_HALO}); not applied",
                warp.halo()
            ));
            return Ok(None);
        }
        Ok(Some(Kernel::Area(Box::new(warp))))
    }
}

/// lensfun's vignetting alone, per pixel.
struct Devignette(LensfunMap);

impl PointKernel for Devignette {
    fn apply(&self, row: &mut [f32], at: &RowAt<'_>) {
        let y = at.y as f64;
        for (i, px) in row.chunks_exact_mut(3).enumerate() {
            let x = (at.x + i * at.scale) as f64;
            let g = self.0.devignetting(x, y).unwrap_or(1.0);
            px.iter_mut().for_each(|v| *v *= g);
        }
    }
}
