//! Recipes: the pipeline as data.
//!
//! A recipe is an ordered, versioned list of stages with their parameters, stored as TOML:
//!
//! ```toml
//! version = 1
//! [[stages]]
//! stage = "white-balance"
//! mode = "as-shot"
//! [[stages]]
//! stage = "demosaic"
//! method = "rcd"
//! ```
//!
//! Each stage declares the signal it takes and gives ([`Signal`]); [`Recipe::validate`]
//! checks the chain once, before any pixel is touched.

use serde::{Deserialize, Serialize};

use crate::color::spaces::OutputSpace;
use crate::error::{Error, Result};
use crate::stages::demosaic::DemosaicMethod;
use crate::stages::highlights::HighlightMode;
use crate::stages::tone::filmic::Filmic;
use crate::stages::white_balance::WbMode;

/// The recipe format version this build writes; older versions are migrated on load.
pub const RECIPE_VERSION: u32 = 1;

/// What flows between stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Normalised CFA mosaic (0 = black, 1 = white), camera filters.
    Cfa,
    /// Demosaiced, white-balanced camera RGB, linear.
    CameraRgb,
    /// Linear RGB of the output colour space (scene-referred until a tone curve runs).
    OutputRgb,
}

/// One stage and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Stage {
    /// Replace defective (hot or dead) CFA sites by their same-colour neighbours.
    Defects {
        /// A site is defective when it lies outside the range of its same-colour
        /// neighbours by more than this many times their median absolute deviation (and by
        /// at least 5 % of white).
        #[serde(default = "default_defect_threshold")]
        threshold: f32,
    },
    WhiteBalance {
        #[serde(default = "default_wb")]
        mode: WbMode,
    },
    Demosaic {
        #[serde(default)]
        method: DemosaicMethod,
    },
    Highlights {
        #[serde(default)]
        mode: HighlightMode,
    },
    /// Camera RGB to the output space through the DNG colour model (or identity for `camera`).
    ///
    /// # Units
    /// In: white-balanced camera RGB, linear. Out: linear RGB of `space` (D50-adapted XYZ in
    /// between, DNG 1.7 chapter 6), white-balanced white (1,1,1) -> the space's white, Y = 1.
    Color {
        #[serde(default)]
        space: OutputSpace,
    },
    /// Exposure in EV, plus the file's BaselineExposure when `baseline` is true.
    ///
    /// # Units
    /// Linear RGB of the output space, 1 = the raw white level after white balance;
    /// multiplies by 2^EV.
    Exposure {
        #[serde(default)]
        ev: f32,
        #[serde(default)]
        baseline: bool,
    },
    ToneCurve {
        #[serde(flatten)]
        filmic: Filmic,
    },
}

fn default_wb() -> WbMode {
    WbMode::AsShot
}
fn default_defect_threshold() -> f32 {
    8.0
}

impl Stage {
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Defects { .. } => "defects",
            Stage::WhiteBalance { .. } => "white-balance",
            Stage::Demosaic { .. } => "demosaic",
            Stage::Highlights { .. } => "highlights",
            Stage::Color { .. } => "color",
            Stage::Exposure { .. } => "exposure",
            Stage::ToneCurve { .. } => "tone-curve",
        }
    }

    /// (signal taken, signal given).
    pub fn signals(&self) -> (Signal, Signal) {
        match self {
            Stage::Defects { .. } | Stage::WhiteBalance { .. } => (Signal::Cfa, Signal::Cfa),
            Stage::Demosaic { .. } => (Signal::Cfa, Signal::CameraRgb),
            Stage::Highlights { .. } => (Signal::CameraRgb, Signal::CameraRgb),
            Stage::Color { .. } => (Signal::CameraRgb, Signal::OutputRgb),
            Stage::Exposure { .. } | Stage::ToneCurve { .. } => {
                (Signal::OutputRgb, Signal::OutputRgb)
            }
        }
    }
}

/// A development recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub version: u32,
    pub stages: Vec<Stage>,
}

impl Default for Recipe {
    /// The default development for display: as-shot white, RCD, highlight blend, sRGB,
    /// baseline exposure, filmic tone curve.
    fn default() -> Self {
        Recipe {
            version: RECIPE_VERSION,
            stages: vec![
                Stage::WhiteBalance {
                    mode: WbMode::AsShot,
                },
                Stage::Demosaic {
                    method: DemosaicMethod::default(),
                },
                Stage::Highlights {
                    mode: HighlightMode::Blend,
                },
                Stage::Color {
                    space: OutputSpace::Srgb,
                },
                Stage::Exposure {
                    ev: 0.0,
                    baseline: true,
                },
                Stage::ToneCurve {
                    filmic: Filmic::default(),
                },
            ],
        }
    }
}

impl Recipe {
    /// Parses a TOML recipe, migrating older versions, and validates it.
    pub fn from_toml(text: &str) -> Result<Self> {
        let value: toml::Value = toml::from_str(text)
            .map_err(|e| Error::parameter(format!("recipe: {}", e.message())))?;
        let version = value
            .get("version")
            .and_then(|v| v.as_integer())
            .unwrap_or(0);
        if version < 1 || version > i64::from(RECIPE_VERSION) {
            return Err(Error::parameter(format!(
                "recipe version {version} is not supported (1..={RECIPE_VERSION})"
            )));
        }
        let recipe: Recipe = value
            .try_into()
            .map_err(|e: toml::de::Error| Error::parameter(format!("recipe: {}", e.message())))?;
        recipe.validate()?;
        Ok(recipe)
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::parameter(format!("recipe: {e}")))
    }

    /// Checks the signal chain: CFA in, output RGB out, each stage at most once.
    pub fn validate(&self) -> Result<()> {
        let mut signal = Signal::Cfa;
        for (i, s) in self.stages.iter().enumerate() {
            if self.stages[..i].iter().any(|p| p.name() == s.name()) {
                return Err(Error::parameter(format!(
                    "recipe: stage '{}' appears twice",
                    s.name()
                )));
            }
            let (input, output) = s.signals();
            if input != signal {
                return Err(Error::parameter(format!(
                    "recipe: stage '{}' takes {input:?} but receives {signal:?}; order is defects, white-balance, demosaic, highlights, color, exposure, tone-curve",
                    s.name()
                )));
            }
            if let Stage::ToneCurve { filmic } = s {
                filmic.validate()?;
            }
            if let Stage::Exposure { ev, .. } = s {
                if !ev.is_finite() || ev.abs() > 20.0 {
                    return Err(Error::parameter(format!(
                        "exposure {ev} EV is out of range"
                    )));
                }
            }
            signal = output;
        }
        if signal != Signal::OutputRgb {
            return Err(Error::parameter(
                "recipe: needs at least a demosaic and a color stage",
            ));
        }
        Ok(())
    }

    /// Scene-referred variant: drops the tone curve and baseline exposure (for `--linear`).
    pub fn linear(mut self) -> Self {
        self.stages
            .retain(|s| !matches!(s, Stage::ToneCurve { .. }));
        for s in &mut self.stages {
            if let Stage::Exposure { baseline, .. } = s {
                *baseline = false;
            }
        }
        self
    }

    /// Mutable access to the first stage matching `pred`.
    pub fn stage_mut(&mut self, pred: impl Fn(&Stage) -> bool) -> Option<&mut Stage> {
        self.stages.iter_mut().find(|s| pred(s))
    }

    /// Inserts `stage` before the first stage whose input signal comes later in the chain,
    /// replacing any stage of the same kind.
    pub fn set(&mut self, stage: Stage) {
        if let Some(s) = self.stages.iter_mut().find(|s| s.name() == stage.name()) {
            *s = stage;
            return;
        }
        let order = |s: &Stage| {
            ORDER
                .iter()
                .position(|n| *n == s.name())
                .unwrap_or(ORDER.len())
        };
        let pos = self
            .stages
            .iter()
            .position(|s| order(s) > order(&stage))
            .unwrap_or(self.stages.len());
        self.stages.insert(pos, stage);
    }
}

/// Built-in looks, shipped as data files.
const LOOKS: [(&str, &str); 3] = [
    ("standard", include_str!("../../looks/standard.toml")),
    ("contrast", include_str!("../../looks/contrast.toml")),
    ("soft", include_str!("../../looks/soft.toml")),
];

/// A look file: a named set of stages laid over a recipe.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Look {
    version: u32,
    #[allow(dead_code)]
    name: Option<String>,
    stages: Vec<Stage>,
}

/// The stages of a built-in look (by name) or of a look TOML file (by path).
pub fn look(name_or_path: &str) -> Result<Vec<Stage>> {
    let text = match LOOKS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name_or_path))
    {
        Some((_, t)) => (*t).to_string(),
        None => std::fs::read_to_string(name_or_path).map_err(|e| {
            Error::parameter(format!(
                "look '{name_or_path}' is neither built in ({}) nor a readable file: {e}",
                LOOKS.map(|l| l.0).join(", ")
            ))
        })?,
    };
    let look: Look = toml::from_str(&text)
        .map_err(|e| Error::parameter(format!("look '{name_or_path}': {}", e.message())))?;
    if look.version < 1 || look.version > RECIPE_VERSION {
        return Err(Error::parameter(format!(
            "look '{name_or_path}': version {} is not supported",
            look.version
        )));
    }
    Ok(look.stages)
}

/// Canonical stage order.
const ORDER: [&str; 7] = [
    "defects",
    "white-balance",
    "demosaic",
    "highlights",
    "color",
    "exposure",
    "tone-curve",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_recipe_round_trips_through_toml() {
        let r = Recipe::default();
        let text = r.to_toml().expect("serialises");
        assert_eq!(Recipe::from_toml(&text).expect("parses"), r);
    }

    #[test]
    fn recipe_with_stages_out_of_order_is_rejected() {
        let text = "version = 1\n[[stages]]\nstage = \"color\"\n[[stages]]\nstage = \"demosaic\"\n";
        let e = Recipe::from_toml(text).expect_err("out of order");
        assert!(e.to_string().contains("color"), "{e}");
        assert!(Recipe::from_toml("version = 9\nstages = []").is_err());
        assert!(
            Recipe::from_toml("version = 1\n[[stages]]\nstage = \"demosaic\"\nmethod = \"magic\"")
                .is_err()
        );
    }

    #[test]
    fn built_in_looks_parse_and_apply() {
        for name in ["standard", "contrast", "soft"] {
            let mut r = Recipe::default();
            for s in look(name).expect("built-in look") {
                r.set(s);
            }
            assert!(r.validate().is_ok(), "{name}");
        }
        assert!(look("no-such-look").is_err());
    }

    #[test]
    fn partial_recipe_fills_defaults() {
        let text = "version = 1\n[[stages]]\nstage = \"demosaic\"\n[[stages]]\nstage = \"color\"\nspace = \"rec2020\"\n[[stages]]\nstage = \"tone-curve\"\nwhite = 4.0\n";
        let r = Recipe::from_toml(text).expect("parses");
        assert_eq!(
            r.stages[1],
            Stage::Color {
                space: OutputSpace::Rec2020
            }
        );
        let mut r = r;
        r.set(Stage::WhiteBalance { mode: WbMode::Auto });
        assert_eq!(r.stages[0].name(), "white-balance");
        assert!(r.validate().is_ok());
    }
}
