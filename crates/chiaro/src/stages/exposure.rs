//! The `exposure` stage: a global exposure change, plus the file's BaselineExposure.
//!
//! # Units
//! In and out: linear RGB of the output space, scene-referred (1 = the raw white level
//! after white balance); multiplies by 2^EV.
//!
//! # References
//! DNG 1.7 spec, BaselineExposure (tag 50730).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exposure {
    /// Exposure change in EV, -20..=20.
    pub ev: f32,
    /// Add the file's BaselineExposure (display renderings do; scene-referred ones don't).
    pub baseline: bool,
}

impl Stage for Exposure {
    fn name(&self) -> &'static str {
        "exposure"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::SceneRgb, Signal::SceneRgb)
    }
    fn order(&self) -> u32 {
        600
    }
    fn validate(&self) -> Result<()> {
        if !self.ev.is_finite() || self.ev.abs() > 20.0 {
            return Err(Error::parameter(format!(
                "exposure {} EV is out of range (-20..=20)",
                self.ev
            )));
        }
        Ok(())
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        let baseline = if self.baseline {
            ctx.frame.color().baseline_exposure
        } else {
            0.0
        };
        let total = f64::from(self.ev) + baseline;
        Ok((total != 0.0).then(|| Kernel::Point(Box::new(Gain(2f64.powf(total) as f32)))))
    }
}

/// Multiplies every sample by a constant.
pub struct Gain(pub f32);

impl PointKernel for Gain {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        let k = self.0;
        row.iter_mut().for_each(|v| *v *= k);
    }
}
