//! Looks: the creative rendering after the tone curve.
//!
//! The `look` stage holds a look's colour edits ([`colour`]: black and white points,
//! monochrome mix, per-hue bands, saturation, vibrance with skin protection, split toning),
//! a vignette and film grain. Its colour edits are a pure function of the pixel, so planning
//! bakes them into a 33^3 table over the encoded output values ([`lut`]), which every pixel
//! then reads by tetrahedral interpolation: the per-pixel cost does not grow with the number
//! of edits, and `chiaro looks export` writes the same table as a `.cube` file. Vignette and
//! grain depend on the position and run after the table. The `lut` stage applies a `.cube`
//! file the same way.
//!
//! # Units
//! In and out: encoded display values (0..1 code values of the output space, after its
//! transfer function). Colour edits are worked in display-linear light (decoded, then
//! encoded again); the vignette multiplies the encoded values by its gain to the power
//! 1/2.2, the encoded image of a gain in linear light for a 2.2 power transfer.

pub mod colour;
pub mod lut;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use self::colour::{ColourEdits, HueBands, Oklab, SplitToning};
use self::lut::Lut3d;
use crate::color::matrix;
use crate::color::spaces::OutputSpace;
use crate::color::transfer::Transfer;
use crate::error::{Error, Result};
use crate::pipeline::stage::{Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, Stage};
use crate::stages::smoothstep;
use crate::stages::tone::curve::ToneCurve;

/// Grid points per axis of the baked colour table.
pub const TABLE_SIZE: usize = 33;

/// A darkening (or brightening) of the frame's edges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Vignette {
    /// Exposure change in EV, -2..=2 (negative darkens), reached in full from `midpoint +
    /// feather / 2` outwards (at the corners for the defaults).
    pub amount: f32,
    /// Distance from the centre, as a fraction of the half-diagonal, where half the change is
    /// reached, 0.1..=1.
    pub midpoint: f32,
    /// Width of the transition, as a fraction of the half-diagonal, 0.05..=1.
    pub feather: f32,
}

impl Default for Vignette {
    fn default() -> Self {
        Vignette {
            amount: 0.0,
            midpoint: 0.75,
            feather: 0.5,
        }
    }
}

/// Monochrome film grain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Grain {
    /// Standard deviation at mid-grey, in encoded code values 0..=0.1 (0: no grain).
    pub amount: f32,
    /// Grain size in output pixels, 1..=8.
    pub size: f32,
}

impl Default for Grain {
    fn default() -> Self {
        Grain {
            amount: 0.0,
            size: 1.5,
        }
    }
}

/// Parameters of the `look` stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Look {
    /// Display-linear level shown as black, 0..=0.25.
    pub black_point: f32,
    /// Display-linear level shown as white, 0.5..=1.
    pub white_point: f32,
    /// Global chroma factor, 0..=2 (1 unchanged, 0 grey).
    pub saturation: f32,
    /// Extra chroma for muted colours, -1..=1.
    pub vibrance: f32,
    /// How much skin tones are spared by `saturation` and `vibrance`, 0..=1.
    pub protect_skin: f32,
    /// Monochrome: weights of red, green and blue (each 0..=2, normalised to sum 1).
    pub monochrome: Option<[f32; 3]>,
    /// Per-hue-band edits.
    pub hue: HueBands,
    pub split: SplitToning,
    pub vignette: Vignette,
    pub grain: Grain,
}

impl Default for Look {
    fn default() -> Self {
        Look {
            black_point: 0.0,
            white_point: 1.0,
            saturation: 1.0,
            vibrance: 0.0,
            protect_skin: 0.0,
            monochrome: None,
            hue: HueBands::default(),
            split: SplitToning::default(),
            vignette: Vignette::default(),
            grain: Grain::default(),
        }
    }
}

impl Look {
    /// The colour edits with the monochrome weights normalised.
    pub fn colour_edits(&self) -> ColourEdits {
        ColourEdits {
            black_point: self.black_point,
            white_point: self.white_point,
            monochrome: self.monochrome.map(|m| {
                let s: f32 = m.iter().sum();
                m.map(|v| v / s)
            }),
            bands: self.hue.bands(),
            saturation: self.saturation,
            vibrance: self.vibrance,
            protect_skin: self.protect_skin,
            split: self.split,
        }
    }

    /// The colour edits as a table over encoded values of `space` (`None` when they change
    /// nothing).
    pub fn table(&self, space: OutputSpace, size: usize) -> Option<Lut3d> {
        let edits = self.colour_edits();
        if edits.is_identity() {
            return None;
        }
        let ok = oklab_for(space);
        let t = space.transfer();
        Some(Lut3d::from_fn(size, None, |e| {
            encode3(t, edits.apply(&ok, decode3(t, e)))
        }))
    }
}

/// A look's display-referred part as one table over sRGB code values, for video editors and
/// GPUs (`chiaro looks export`): what turns the default rendering into the look's. A pixel
/// of the default rendering is taken back through the default tone curve (its max-RGB norm,
/// channel ratios kept), rendered by the look's tone curve (`tone`; `None` for the default),
/// then given the look's colour edits and its `.cube` table, if any. Vignette and grain
/// depend on the position, so no table holds them.
pub fn display_table(
    tone: Option<&ToneCurve>,
    look: Option<&Look>,
    cube: Option<&Lut3d>,
    size: usize,
    title: Option<String>,
) -> Result<Lut3d> {
    let base = ToneCurve::default().prepare()?;
    let curve = tone.map(ToneCurve::prepare).transpose()?;
    let edits = look.map(Look::colour_edits).filter(|e| !e.is_identity());
    let ok = oklab_for(OutputSpace::Srgb);
    let t = Transfer::Srgb;
    Ok(Lut3d::from_fn(size, title, |e| {
        let mut v = decode3(t, e);
        if let Some(c) = &curve {
            let n = v[0].max(v[1]).max(v[2]);
            if n > 0.0 {
                let k = base.inverse(n.min(1.0)) / n;
                v = v.map(|c| c * k);
                c.apply_row(&mut v);
            }
        }
        if let Some(ed) = &edits {
            v = ed.apply(&ok, v);
        }
        let mut out = encode3(t, v);
        if let Some(cube) = cube {
            out = cube.apply(out);
        }
        out
    }))
}

/// Oklab for the linear RGB of `space` (through XYZ D50 and linear sRGB).
pub fn oklab_for(space: OutputSpace) -> Oklab {
    let to_srgb = matrix::mul(&OutputSpace::Srgb.from_xyz_d50(), &space.to_xyz_d50());
    Oklab::new(&to_srgb)
}

pub fn decode3(t: Transfer, e: [f32; 3]) -> [f32; 3] {
    e.map(|v| t.decode(v))
}

pub fn encode3(t: Transfer, v: [f32; 3]) -> [f32; 3] {
    v.map(|v| t.encode(v))
}

fn check(ok: bool, what: &str, value: impl std::fmt::Debug, range: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::parameter(format!(
            "look: {what} {value:?} is outside {range}"
        )))
    }
}

fn within(v: f32, lo: f32, hi: f32) -> bool {
    v.is_finite() && v >= lo && v <= hi
}

impl Stage for Look {
    fn name(&self) -> &'static str {
        "look"
    }
    fn signals(&self) -> (Signal, Signal) {
        (Signal::Encoded, Signal::Encoded)
    }
    fn order(&self) -> u32 {
        800
    }
    fn validate(&self) -> Result<()> {
        check(
            within(self.black_point, 0.0, 0.25),
            "black_point",
            self.black_point,
            "0..=0.25",
        )?;
        check(
            within(self.white_point, 0.5, 1.0),
            "white_point",
            self.white_point,
            "0.5..=1",
        )?;
        check(
            within(self.saturation, 0.0, 2.0),
            "saturation",
            self.saturation,
            "0..=2",
        )?;
        check(
            within(self.vibrance, -1.0, 1.0),
            "vibrance",
            self.vibrance,
            "-1..=1",
        )?;
        check(
            within(self.protect_skin, 0.0, 1.0),
            "protect_skin",
            self.protect_skin,
            "0..=1",
        )?;
        if let Some(m) = self.monochrome {
            let ok = m.iter().all(|&v| within(v, 0.0, 2.0)) && m.iter().sum::<f32>() > 0.0;
            check(ok, "monochrome", m, "0..=2 per weight, not all 0")?;
        }
        for (name, b) in colour::BANDS.iter().zip(self.hue.bands()) {
            check(
                within(b.hue, -45.0, 45.0),
                &format!("hue.{name}.hue"),
                b.hue,
                "-45..=45 degrees",
            )?;
            check(
                within(b.saturation, -1.0, 1.0),
                &format!("hue.{name}.saturation"),
                b.saturation,
                "-1..=1",
            )?;
            check(
                within(b.lightness, -1.0, 1.0),
                &format!("hue.{name}.lightness"),
                b.lightness,
                "-1..=1 EV",
            )?;
        }
        let s = &self.split;
        for (what, v) in [
            ("split.shadow_amount", s.shadow_amount),
            ("split.highlight_amount", s.highlight_amount),
        ] {
            check(within(v, 0.0, 0.1), what, v, "0..=0.1")?;
        }
        for (what, v) in [
            ("split.shadow_hue", s.shadow_hue),
            ("split.highlight_hue", s.highlight_hue),
        ] {
            check(within(v, -360.0, 360.0), what, v, "-360..=360 degrees")?;
        }
        let v = &self.vignette;
        check(
            within(v.amount, -2.0, 2.0),
            "vignette.amount",
            v.amount,
            "-2..=2 EV",
        )?;
        check(
            within(v.midpoint, 0.1, 1.0),
            "vignette.midpoint",
            v.midpoint,
            "0.1..=1",
        )?;
        check(
            within(v.feather, 0.05, 1.0),
            "vignette.feather",
            v.feather,
            "0.05..=1",
        )?;
        let g = &self.grain;
        check(
            within(g.amount, 0.0, 0.1),
            "grain.amount",
            g.amount,
            "0..=0.1",
        )?;
        check(
            within(g.size, 1.0, 8.0),
            "grain.size",
            g.size,
            "1..=8 pixels",
        )?;
        Ok(())
    }
    fn plan(&self, ctx: &mut PlanContext<'_>, _: Option<&Proxy>) -> Result<Option<Kernel>> {
        let table = self.table(ctx.space, TABLE_SIZE).map(Arc::new);
        let crop = ctx.frame.crop();
        let centre = (
            crop.x as f32 + 0.5 * crop.width as f32,
            crop.y as f32 + 0.5 * crop.height as f32,
        );
        let half_diagonal = 0.5 * (crop.width as f32).hypot(crop.height as f32);
        let vignette = (self.vignette.amount != 0.0).then_some(self.vignette);
        let grain = (self.grain.amount > 0.0).then_some(self.grain);
        if table.is_none() && vignette.is_none() && grain.is_none() {
            return Ok(None);
        }
        Ok(Some(Kernel::Point(Box::new(LookKernel {
            table,
            vignette,
            grain,
            centre,
            inv_half_diagonal: 1.0 / half_diagonal.max(1.0),
        }))))
    }
}

/// A planned look.
struct LookKernel {
    table: Option<Arc<Lut3d>>,
    vignette: Option<Vignette>,
    grain: Option<Grain>,
    /// Centre of the output, frame pixels.
    centre: (f32, f32),
    inv_half_diagonal: f32,
}

impl PointKernel for LookKernel {
    fn apply(&self, row: &mut [f32], at: &RowAt<'_>) {
        let y = at.y as f32 + 0.5;
        for (i, px) in row.chunks_exact_mut(3).enumerate() {
            let x = (at.x + i * at.scale) as f32 + 0.5;
            if let Some(t) = &self.table {
                let o = t.apply([px[0], px[1], px[2]]);
                px.copy_from_slice(&o);
            }
            if let Some(v) = &self.vignette {
                let r = (x - self.centre.0).hypot(y - self.centre.1) * self.inv_half_diagonal;
                let gain = vignette_gain(v, r);
                px.iter_mut().for_each(|c| *c = (*c * gain).min(1.0));
            }
            if let Some(g) = &self.grain {
                let n = g.amount * grain_noise(x, y, g.size);
                let l = (px[0] + px[1] + px[2]) / 3.0;
                // Strongest in the mid-tones, none in pure black and white (as film).
                let k = n * 4.0 * l * (1.0 - l);
                px.iter_mut().for_each(|c| *c = (*c + k).clamp(0.0, 1.0));
            }
        }
    }
}

/// Gain of the encoded values at radius `r` (fraction of the half-diagonal).
pub fn vignette_gain(v: &Vignette, r: f32) -> f32 {
    let s = smoothstep((r - v.midpoint) / v.feather + 0.5);
    (v.amount * s / 2.2).exp2()
}

/// A stateless 32-bit hash of a lattice point (a PCG-style permutation).
fn hash(x: i32, y: i32) -> u32 {
    let mut h = (x as u32).wrapping_mul(0x8da6_b343) ^ (y as u32).wrapping_mul(0xd816_3841);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^ (h >> 15)
}

/// Uniform in -1..1 at a lattice point.
fn lattice(x: i32, y: i32) -> f32 {
    (hash(x, y) >> 8) as f32 / (1 << 23) as f32 - 1.0
}

/// Film-grain noise at pixel (x, y): value noise on a lattice of `size` pixels (smooth
/// clumps) mixed with per-pixel noise, of unit standard deviation (about).
pub fn grain_noise(x: f32, y: f32, size: f32) -> f32 {
    let (u, v) = (x / size, y / size);
    let (i, j) = (u.floor(), v.floor());
    let (fu, fv) = (u - i, v - j);
    let (su, sv) = (smoothstep(fu), smoothstep(fv));
    let (i, j) = (i as i32, j as i32);
    let top = lattice(i, j) + su * (lattice(i + 1, j) - lattice(i, j));
    let bottom = lattice(i, j + 1) + su * (lattice(i + 1, j + 1) - lattice(i, j + 1));
    let clump = top + sv * (bottom - top);
    let fine = lattice(x as i32 ^ 0x5bd1, y as i32 ^ 0x1b87);
    // Value noise of uniform lattice values has a standard deviation of about 0.42, a
    // uniform value 0.58; the two, made unit and independent, mix as 0.8^2 + 0.6^2 = 1.
    0.8 * clump / 0.42 + 0.6 * fine / 0.58
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_look_changes_nothing_and_plans_no_table() {
        assert!(Look::default().table(OutputSpace::Srgb, 9).is_none());
        assert!(Look::default().validate().is_ok());
    }

    #[test]
    fn the_baked_table_follows_the_direct_edits() {
        let look = Look {
            saturation: 1.3,
            vibrance: 0.4,
            protect_skin: 1.0,
            ..Look::default()
        };
        let t = Transfer::Srgb;
        let lut = look.table(OutputSpace::Srgb, TABLE_SIZE).expect("table");
        let (ok, edits) = (oklab_for(OutputSpace::Srgb), look.colour_edits());
        let (mut worst, mut sum, mut n) = (0.0f32, 0.0f32, 0);
        for i in 0..3000 {
            let f = |k: f32| (i as f32 * k).fract();
            let e = [f(0.618_034), f(0.754_878), f(0.569_840)];
            let direct = encode3(t, edits.apply(&ok, decode3(t, e)));
            let baked = lut.apply(e);
            // Where the gamut fit clips a channel the edits have a kink (steep in code
            // values near black), which a table rounds off; elsewhere they are smooth.
            assert!(baked.iter().all(|v| (0.0..=1.0).contains(v)));
            if !direct.iter().all(|v| (0.1..0.98).contains(v)) {
                continue;
            }
            for c in 0..3 {
                let err = (direct[c] - baked[c]).abs();
                worst = worst.max(err);
                sum += err;
                n += 1;
            }
        }
        // Measured: mean 0.15, worst 3.7 code values of 255 (a steep spot of the
        // skin-protection edge).
        assert!(
            sum / n as f32 * 255.0 < 0.5,
            "mean {}",
            sum / n as f32 * 255.0
        );
        assert!(worst * 255.0 < 5.0, "worst {}", worst * 255.0);
    }

    #[test]
    fn exported_table_of_the_default_rendering_is_the_identity() {
        let lut = display_table(
            Some(&ToneCurve::default()),
            Some(&Look::default()),
            None,
            17,
            None,
        )
        .expect("table");
        for i in 0..500 {
            let f = |k: f32| (i as f32 * k).fract() * 0.85;
            let e = [f(0.618_034), f(0.754_878), f(0.569_840)];
            let o = lut.apply(e);
            assert!(
                e.iter().zip(o).all(|(a, b)| (a - b).abs() < 2.0 / 255.0),
                "{e:?} -> {o:?}"
            );
        }
    }

    #[test]
    fn vignette_darkens_corners_not_the_centre() {
        let v = Vignette {
            amount: -1.0,
            ..Vignette::default()
        };
        assert!((vignette_gain(&v, 0.0) - 1.0).abs() < 1e-6);
        let corner = vignette_gain(&v, 1.0);
        assert!((corner - 2f32.powf(-1.0 / 2.2)).abs() < 1e-3, "{corner}");
        let mut last = 2.0;
        for i in 0..=100 {
            let g = vignette_gain(&v, i as f32 / 100.0);
            assert!(g <= last);
            last = g;
        }
    }

    #[test]
    fn grain_has_zero_mean_unit_spread_and_repeats() {
        let (mut sum, mut sq, n) = (0.0f64, 0.0f64, 200 * 200);
        for y in 0..200 {
            for x in 0..200 {
                let v = f64::from(grain_noise(x as f32 + 0.5, y as f32 + 0.5, 2.0));
                sum += v;
                sq += v * v;
            }
        }
        let mean = sum / f64::from(n);
        let sd = (sq / f64::from(n) - mean * mean).sqrt();
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((0.7..1.3).contains(&sd), "{sd}");
        assert_eq!(grain_noise(10.5, 3.5, 2.0), grain_noise(10.5, 3.5, 2.0));
    }

    #[test]
    fn out_of_range_parameters_name_the_field() {
        let mut l = Look::default();
        l.hue.green.hue = 90.0;
        let e = l.validate().expect_err("range").to_string();
        assert!(e.contains("hue.green.hue"), "{e}");
        let l = Look {
            monochrome: Some([0.0; 3]),
            ..Look::default()
        };
        assert!(
            l.validate()
                .expect_err("zero mix")
                .to_string()
                .contains("monochrome")
        );
        let mut l = Look::default();
        l.grain.size = 20.0;
        assert!(
            l.validate()
                .expect_err("grain")
                .to_string()
                .contains("grain.size")
        );
    }
}
