//! The `color` stage: white-balanced camera RGB to linear RGB of the output space.
//!
//! With a camera profile (`profile = "FILE.dcp"`), the profile's matrices replace the file's;
//! a profile's tables (this one's, or those a DNG embeds in IFD0) apply: its HueSatMap (the two calibrations' maps blended with the matrices' weight) is
//! applied in linear ProPhoto RGB after the matrix ([`crate::color::profile`]). Its LookTable
//! and tone curve go to the tone-curve stage with the way into and out of ProPhoto (the DNG
//! SDK's order: HueSatMap, exposure, LookTable, tone curve), its BaselineExposureOffset to
//! the exposure stage. The white
//! balance keeps the file's as-shot neutral.
//!
//! # Units
//! In: white-balanced camera RGB, linear. Out: linear RGB of `space` (D50-adapted XYZ in
//! between), white-balanced white (1, 1, 1) -> the space's white with Y = 1. For `camera`
//! the samples pass unchanged (the output profile describes camera RGB instead).
//!
//! # References
//! DNG 1.7 spec, chapter 6, "Mapping Camera Color Space to CIE XYZ Space".

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::color::dng::CameraColor;
use crate::color::matrix::{self, Mat3};
use crate::color::profile::{HsvMap, ProPhotoMaps, ProfileTables};
use crate::color::spaces::OutputSpace;
use crate::color::xy::D50_XY;
use crate::error::Result;
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Color {
    pub space: OutputSpace,
    /// A DNG camera profile (`.dcp`) to develop with instead of the file's own colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<PathBuf>,
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
        let mut cal = ctx.frame.color().clone();
        if let Some(path) = &self.profile {
            // Real profiles are a few hundred kB; 64 MB holds the largest tables read.
            let bytes = crate::limits::read_side_file(path, 64 << 20).map_err(|e| {
                crate::Error::parameter(format!("{}: cannot read the profile: {e}", path.display()))
            })?;
            let p = crate::raw::dcp::parse(&bytes).map_err(|e| e.with_path(path))?;
            p.apply_to(&mut cal);
        }
        let cal = &cal;
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
        // The profile's tables: the external profile's, else the ones embedded in the file.
        let p = &cal.profile;
        if *p != ProfileTables::default() {
            if self.space == OutputSpace::Camera {
                return Err(crate::Error::parameter(
                    "a camera profile maps to ProPhoto RGB; the camera output space has none",
                ));
            }
            let w = cal.weight1_at(color.white_xy) as f32;
            let hue_sat = match (&p.hue_sat_map1, &p.hue_sat_map2) {
                (Some(a), Some(b)) => Some(HsvMap::blend(a, b, w).ok_or_else(|| {
                    crate::Error::parameter("the profile's two HueSatMaps differ in size")
                })?),
                (a, b) => a.clone().or_else(|| b.clone()),
            };
            ctx.profile_curve = p.tone_curve.clone();
            ctx.baseline_offset = p.baseline_exposure_offset;
            let prophoto = OutputSpace::Prophoto;
            let output_to_prophoto =
                matrix::mul(&prophoto.from_xyz_d50(), &self.space.to_xyz_d50());
            let prophoto_to_output =
                matrix::mul(&self.space.from_xyz_d50(), &prophoto.to_xyz_d50());
            ctx.profile_look = Some(ProPhotoMaps {
                to: matrix::to_f32(&output_to_prophoto),
                maps: p.look_table.iter().cloned().collect(),
                from: matrix::to_f32(&prophoto_to_output),
                bounded: false,
            });
            return Ok(Some(Kernel::Point(Box::new(ProfileKernel(ProPhotoMaps {
                to: matrix::to_f32(&matrix::mul(
                    &prophoto.from_xyz_d50(),
                    &color.wb_camera_to_xyz_d50,
                )),
                maps: hue_sat.into_iter().collect(),
                from: matrix::to_f32(&prophoto_to_output),
                bounded: false,
            })))));
        }
        let to_output: Mat3 = match self.space {
            OutputSpace::Camera => return Ok(None),
            s => matrix::mul(&s.from_xyz_d50(), &color.wb_camera_to_xyz_d50),
        };
        Ok(Some(Kernel::Point(Box::new(MatrixKernel(matrix::to_f32(
            &to_output,
        ))))))
    }
}

/// Camera RGB to ProPhoto, a profile's HueSatMap there, then to the output.
struct ProfileKernel(ProPhotoMaps);

impl PointKernel for ProfileKernel {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        self.0.apply_row(row);
    }
}

/// A 3x3 matrix applied to every RGB pixel.
pub struct MatrixKernel(pub [[f32; 3]; 3]);

impl PointKernel for MatrixKernel {
    fn apply(&self, row: &mut [f32], _: &RowAt<'_>) {
        matrix_row(&self.0, row);
    }
}

/// [`matrix_row_scalar`] compiled for the widest vectors the CPU has (runtime dispatch);
/// no fused multiply-adds are formed, so every version gives the same bits.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn matrix_row(m: &[[f32; 3]; 3], row: &mut [f32]) {
    matrix_row_scalar(m, row);
}

/// `m` applied to each pixel of an interleaved RGB row.
#[inline(always)]
fn matrix_row_scalar(m: &[[f32; 3]; 3], row: &mut [f32]) {
    for px in row.chunks_exact_mut(3) {
        let o = matrix::apply_f32(m, [px[0], px[1], px[2]]);
        px.copy_from_slice(&o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_rows_equal_the_scalar_matrix() {
        let m = [[1.7, -0.6, -0.1], [-0.2, 1.4, -0.2], [0.05, -0.5, 1.45]];
        let row: Vec<f32> = (0..3 * 3001)
            .map(|i| (i as f32 * 0.618).fract() * 1.5)
            .collect();
        let (mut a, mut b) = (row.clone(), row);
        matrix_row_scalar(&m, &mut a);
        matrix_row(&m, &mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        // And it is the matrix product: the first pixel by hand.
        let p = [
            0.0f32,
            0.618_f32.fract() * 1.5,
            (2.0 * 0.618f32).fract() * 1.5,
        ];
        let want = 1.7 * p[0] - 0.6 * p[1] - 0.1 * p[2];
        assert!((a[0] - want).abs() < 1e-6, "{} vs {want}", a[0]);
    }
}
