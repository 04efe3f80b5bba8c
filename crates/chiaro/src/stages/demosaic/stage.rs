//! The `demosaic` stage: CFA samples to camera RGB, tiled by the executor with the method's
//! halo. RGB frames (LinearRaw) pass through unchanged.

use serde::{Deserialize, Serialize};

use super::{DemosaicMethod, demosaic_region};
use crate::error::Result;
use crate::pipeline::stage::{
    AreaKernel, Kernel, PlanContext, Proxy, Signal, Stage, TileMut, TileView,
};
use crate::raw::CfaPattern;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Demosaic {
    pub method: DemosaicMethod,
}

impl Stage for Demosaic {
    fn name(&self) -> &'static str {
        "demosaic"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::Cfa, Signal::CameraRgb)
    }
    fn order(&self) -> u32 {
        300
    }
    fn memory_factor(&self) -> f32 {
        // RCD and Markesteijn keep several full planes of the window in flight. rcd-fit keeps
        // more, but its 30-pixel halo favours larger tiles: 3 (224-pixel tiles) took 8 % less
        // CPU than 5 (160) on the bench's 24 MP file, one thread or two; 416 gained no more.
        match self.method {
            DemosaicMethod::Bilinear | DemosaicMethod::Malvar => 1.0,
            DemosaicMethod::Rcd => 3.0,
            DemosaicMethod::Mlri => 6.0,
            DemosaicMethod::RcdFit => 3.0,
            DemosaicMethod::Markesteijn => 8.0,
            DemosaicMethod::XtransFast => 5.0,
        }
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        let Some(pattern) = ctx.frame.pattern() else {
            return Ok(None);
        };
        let method = self.method.for_pattern(pattern);
        if method != self.method {
            ctx.warnings.push(format!(
                "demosaic: {} does not handle {} data; using {}",
                self.method.name(),
                pattern.name(),
                method.name()
            ));
        }
        ctx.demosaic = Some(method);
        Ok(Some(Kernel::Area(Box::new(DemosaicKernel {
            method,
            pattern: *pattern,
        }))))
    }
}

struct DemosaicKernel {
    method: DemosaicMethod,
    /// The frame's pattern, anchored at frame (0, 0).
    pattern: CfaPattern,
}

impl AreaKernel for DemosaicKernel {
    fn halo(&self) -> usize {
        self.method.halo()
    }
    fn channels_out(&self, _: usize) -> usize {
        3
    }
    fn run(&self, src: &TileView<'_>, dst: &mut TileMut<'_>) -> Result<()> {
        let (s, d) = (src.rect, dst.rect);
        let pattern = self.pattern.shifted(s.y, s.x);
        let region = crate::image::Rect::new(d.x - s.x, d.y - s.y, d.width, d.height);
        demosaic_region(
            self.method,
            src.data,
            s.width,
            s.height,
            &pattern,
            region,
            dst.data,
        )
    }
}
