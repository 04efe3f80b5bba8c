//! The `color` stage: white-balanced camera RGB to linear RGB of the output space.
//!
//! # Units
//! In: white-balanced camera RGB, linear. Out: linear RGB of `space` (D50-adapted XYZ in
//! between), white-balanced white (1, 1, 1) -> the space's white with Y = 1. For `camera`
//! the samples pass unchanged (the output profile describes camera RGB instead).
//!
//! # References
//! DNG 1.7 spec, chapter 6, "Mapping Camera Color Space to CIE XYZ Space".

use serde::{Deserialize, Serialize};

use crate::color::dng::CameraColor;
use crate::color::matrix::{self, Mat3};
use crate::color::spaces::OutputSpace;
use crate::color::xy::D50_XY;
use crate::error::Result;
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Color {
    pub space: OutputSpace,
}

impl Stage for Color {
    fn name(&self) -> &'static str {
        "color"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::CameraRgb, Signal::SceneRgb)
    }
    fn order(&self) -> u32 {
        500
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        let cal = ctx.frame.color();
        let color = if cal.has_matrix() {
            cal.camera_color(ctx.neutral)
        } else {
            ctx.warnings
                .push("no colour matrix in the file: camera RGB is taken as linear sRGB".into());
            CameraColor {
                neutral: ctx.neutral,
                white_xy: D50_XY,
                wb_camera_to_xyz_d50: OutputSpace::Srgb.to_xyz_d50(),
            }
        };
        ctx.color = Some(color);
        ctx.space = self.space;
        let to_output: Mat3 = match self.space {
            OutputSpace::Camera => return Ok(None),
            s => matrix::mul(&s.from_xyz_d50(), &color.wb_camera_to_xyz_d50),
        };
        Ok(Some(Kernel::Point(Box::new(MatrixKernel(matrix::to_f32(
            &to_output,
        ))))))
    }
}

/// A 3x3 matrix applied to every RGB pixel.
pub struct MatrixKernel(pub [[f32; 3]; 3]);

impl PointKernel for MatrixKernel {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        let m = &self.0;
        for px in row.chunks_exact_mut(3) {
            let o = matrix::apply_f32(m, [px[0], px[1], px[2]]);
            px.copy_from_slice(&o);
        }
    }
}
