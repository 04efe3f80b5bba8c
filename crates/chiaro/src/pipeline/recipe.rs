//! Recipes: the pipeline as data.
//!
//! A recipe is an ordered, versioned list of stages with their parameters, stored as TOML:
//!
//! ```toml
//! version = 2
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

use serde::Deserialize;

use super::registry::Registry;
use super::stage::{Signal, Stage};
use crate::error::{Error, Result};
use crate::stages::color::Color;
use crate::stages::demosaic::Demosaic;
use crate::stages::exposure::Exposure;
use crate::stages::highlights::{HighlightMode, Highlights};
use crate::stages::lens::LensCorrection;
use crate::stages::sharpen::Sharpen;
use crate::stages::tone::curve::ToneCurve;
use crate::stages::white_balance::WhiteBalance;

/// The recipe format version this build writes; older versions are migrated on load.
///
/// Version 2 replaced the tone curve (Hable's filmic curve with `toe` and `shoulder`, scene
/// 2.0 to display white by default) with [`ToneCurve`]; a version 1 `tone-curve` keeps its
/// white and its grey (0.18 to `grey_out`) and takes the default contrast.
pub const RECIPE_VERSION: u32 = 2;

/// Rewrites the stage tables of a version 1 file as version 2.
fn migrate_v1(stages: &mut [toml::Table]) {
    for t in stages {
        if t.get("stage").and_then(|v| v.as_str()) == Some("tone-curve") {
            t.remove("toe");
            t.remove("shoulder");
            t.entry("white").or_insert(toml::Value::Float(2.0));
            t.entry("grey_out").or_insert(toml::Value::Float(0.18));
            t.insert("grey_in".into(), toml::Value::Float(0.18));
        }
    }
}

/// A development recipe: stages in order.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub version: u32,
    pub stages: Vec<Box<dyn Stage>>,
}

impl PartialEq for Recipe {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
            && self.stages.len() == other.stages.len()
            && self
                .stages
                .iter()
                .zip(&other.stages)
                .all(|(a, b)| **a == **b)
    }
}

impl Default for Recipe {
    /// The default development for display: as-shot white, rcd-fit, lens corrections (the
    /// file's own, else lensfun's once resolved), highlight blend, sRGB, capture sharpening,
    /// baseline exposure, the tone curve (raw white to display white).
    fn default() -> Self {
        Recipe {
            version: RECIPE_VERSION,
            stages: vec![
                Box::new(WhiteBalance::default()),
                Box::new(Demosaic::default()),
                Box::new(Highlights {
                    mode: HighlightMode::Blend,
                }),
                Box::new(LensCorrection::default()),
                Box::new(Color::default()),
                Box::new(Sharpen::default()),
                Box::new(Exposure {
                    ev: 0.0,
                    baseline: true,
                    auto: false,
                }),
                Box::new(ToneCurve::default()),
            ],
        }
    }
}

/// The TOML shape of recipes and looks: stage tables are parsed by the registry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeFile {
    version: u32,
    #[serde(default)]
    name: Option<String>,
    /// One line for `chiaro looks list`.
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    stages: Vec<toml::Table>,
}

fn parse_file(text: &str, what: &str, registry: &Registry) -> Result<Recipe> {
    let value: toml::Value =
        toml::from_str(text).map_err(|e| Error::parameter(format!("{what}: {}", e.message())))?;
    let version = value
        .get("version")
        .and_then(|v| v.as_integer())
        .unwrap_or(0);
    if version < 1 || version > i64::from(RECIPE_VERSION) {
        return Err(Error::parameter(format!(
            "{what}: version {version} is not supported (1..={RECIPE_VERSION})"
        )));
    }
    let file: RecipeFile = value
        .try_into()
        .map_err(|e: toml::de::Error| Error::parameter(format!("{what}: {}", e.message())))?;
    let _ = (file.name, file.description);
    let mut tables = file.stages;
    if file.version == 1 {
        migrate_v1(&mut tables);
    }
    let stages = tables
        .into_iter()
        .map(|t| registry.parse(t))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| Error::parameter(format!("{what}: {}", e.message())))?;
    Ok(Recipe {
        version: RECIPE_VERSION,
        stages,
    })
}

impl Recipe {
    /// Parses a TOML recipe with the built-in stages, migrating older versions, and
    /// validates it.
    pub fn from_toml(text: &str) -> Result<Self> {
        Self::from_toml_with(text, Registry::builtin())
    }

    /// Parses a TOML recipe whose stages `registry` knows, and validates it.
    pub fn from_toml_with(text: &str, registry: &Registry) -> Result<Self> {
        let recipe = parse_file(text, "recipe", registry)?;
        recipe.validate()?;
        Ok(recipe)
    }

    /// Parses a TOML recipe that states only what it changes, and lays it over the default
    /// recipe ([`Recipe::over_defaults`]); the result is validated.
    pub fn from_toml_over_defaults(text: &str) -> Result<Self> {
        let recipe = parse_file(text, "recipe", Registry::builtin())?.over_defaults();
        recipe.validate()?;
        Ok(recipe)
    }

    pub fn to_toml(&self) -> Result<String> {
        let stages = self
            .stages
            .iter()
            .map(|s| {
                let mut t = toml::Table::new();
                t.insert("stage".into(), s.name().into());
                t.extend(s.to_params()?);
                Ok(toml::Value::Table(t))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut doc = toml::Table::new();
        doc.insert("version".into(), i64::from(self.version).into());
        doc.insert("stages".into(), toml::Value::Array(stages));
        toml::to_string_pretty(&doc).map_err(|e| Error::parameter(format!("recipe: {e}")))
    }

    /// Checks the signal chain (each stage receives the signal it takes; the chain starts
    /// at CFA samples and reaches at least scene-referred RGB), that no stage appears twice,
    /// and every stage's parameters.
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
            // The transfer function sits between display-referred and encoded stages.
            let receives = if input == Signal::Encoded && signal == Signal::DisplayRgb {
                Signal::Encoded
            } else {
                signal
            };
            if input != receives {
                let place = if input > receives {
                    "later, after a stage that gives it"
                } else {
                    "earlier"
                };
                return Err(Error::parameter(format!(
                    "recipe: stage '{}' takes {} but receives {} there; move it {place}",
                    s.name(),
                    input.describe(),
                    receives.describe(),
                )));
            }
            s.validate()
                .map_err(|e| Error::parameter(format!("stage '{}': {}", s.name(), e.message())))?;
            signal = output;
        }
        if signal < Signal::SceneRgb {
            return Err(Error::parameter(format!(
                "recipe: ends with {}; it needs at least a demosaic and a color stage",
                signal.describe()
            )));
        }
        Ok(())
    }

    /// Scene-referred variant (for `--linear`): drops display-referred stages (tone curve,
    /// looks after it), capture sharpening (scene-linear output is for further work and
    /// analysis, as other raw developers export it) and the baseline exposure.
    pub fn linear(mut self) -> Self {
        self.stages
            .retain(|s| s.signals().1 <= Signal::SceneRgb && s.name() != "sharpen");
        if let Some(e) = self.get_mut::<Exposure>() {
            e.baseline = false;
        }
        self
    }

    /// The first stage of type `T`.
    pub fn get<T: Stage + 'static>(&self) -> Option<&T> {
        self.stages.iter().find_map(|s| s.as_any().downcast_ref())
    }

    /// The first stage of type `T`, mutable.
    pub fn get_mut<T: Stage + 'static>(&mut self) -> Option<&mut T> {
        self.stages
            .iter_mut()
            .find_map(|s| s.as_any_mut().downcast_mut())
    }

    /// Replaces the stage of the same name, or inserts `stage` before the first stage that
    /// comes later in canonical order ([`Stage::order`]).
    pub fn set(&mut self, stage: impl Stage + 'static) {
        self.set_boxed(Box::new(stage));
    }

    /// The default recipe with this recipe's stages in place of (or beside) the default
    /// ones: a recipe file states what it changes, and the stages it does not name (white
    /// balance, demosaic, colour, tone curve, ...) come from the defaults, so a partial recipe
    /// never develops an unbalanced, untoned picture. Scene-referred output is `linear`.
    pub fn over_defaults(self) -> Recipe {
        let mut r = Recipe::default();
        for stage in self.stages {
            r.set_boxed(stage);
        }
        r
    }

    /// [`Recipe::set`] for a boxed stage.
    pub fn set_boxed(&mut self, stage: Box<dyn Stage>) {
        if let Some(s) = self.stages.iter_mut().find(|s| s.name() == stage.name()) {
            *s = stage;
            return;
        }
        let pos = self
            .stages
            .iter()
            .position(|s| s.order() > stage.order())
            .unwrap_or(self.stages.len());
        self.stages.insert(pos, stage);
    }
}

/// Built-in looks, shipped as data files, in the order `chiaro looks list` prints them.
const LOOKS: [(&str, &str); 7] = [
    ("natural", include_str!("../../looks/natural.toml")),
    ("authentic", include_str!("../../looks/authentic.toml")),
    ("vibrant", include_str!("../../looks/vibrant.toml")),
    ("mono", include_str!("../../looks/mono.toml")),
    ("mono-warm", include_str!("../../looks/mono-warm.toml")),
    ("soft", include_str!("../../looks/soft.toml")),
    ("none", include_str!("../../looks/none.toml")),
];

/// Older names of built-in looks.
const ALIASES: [(&str, &str); 2] = [("standard", "natural"), ("contrast", "authentic")];

/// A built-in look.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinLook {
    pub name: &'static str,
    /// Its TOML file.
    pub text: &'static str,
}

impl BuiltinLook {
    /// The file's `description`.
    pub fn description(&self) -> String {
        toml::from_str::<toml::Table>(self.text)
            .ok()
            .and_then(|t| t.get("description")?.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// The built-in looks, in display order (aliases not repeated).
pub fn builtin_looks() -> impl Iterator<Item = BuiltinLook> {
    LOOKS.iter().map(|&(name, text)| BuiltinLook { name, text })
}

/// The built-in look called `name` (or one of its aliases), case-insensitively.
pub fn builtin_look(name: &str) -> Option<BuiltinLook> {
    let name = ALIASES
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(name))
        .map_or(name, |(_, n)| n);
    builtin_looks().find(|l| l.name.eq_ignore_ascii_case(name))
}

/// Names accepted for built-in looks, aliases included, for messages.
pub fn builtin_look_names() -> Vec<&'static str> {
    builtin_looks()
        .map(|l| l.name)
        .chain(ALIASES.iter().map(|a| a.0))
        .collect()
}

/// The stages of a built-in look (by name) or of a look TOML file (by path): a recipe
/// fragment laid over a recipe with [`Recipe::set_boxed`].
pub fn look(name_or_path: &str) -> Result<Vec<Box<dyn Stage>>> {
    let text = match builtin_look(name_or_path) {
        Some(l) => l.text.to_string(),
        None => std::fs::read_to_string(name_or_path).map_err(|e| {
            Error::parameter(format!(
                "look '{name_or_path}' is neither built in ({}) nor a readable file: {e}",
                builtin_look_names().join(", ")
            ))
        })?,
    };
    let look = parse_file(
        &text,
        &format!("look '{name_or_path}'"),
        Registry::builtin(),
    )?;
    for s in &look.stages {
        s.validate()
            .map_err(|e| Error::parameter(format!("look '{name_or_path}': {}", e.message())))?;
    }
    Ok(look.stages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_recipe_over_the_defaults_keeps_every_default_stage() {
        let text = "version = 2\n[[stages]]\nstage = \"tone-curve\"\ncontrast = 2.0\n";
        // On its own the chain is incomplete; over the defaults it is whole.
        assert!(Recipe::from_toml(text).is_err());
        let r = Recipe::from_toml_over_defaults(text).expect("parses");
        let names: Vec<&str> = r.stages.iter().map(|s| s.name()).collect();
        let defaults = Recipe::default();
        let want: Vec<&str> = defaults.stages.iter().map(|s| s.name()).collect();
        assert_eq!(names, want);
        assert_eq!(r.get::<ToneCurve>().map(|t| t.contrast), Some(2.0));
        assert!(r.get::<WhiteBalance>().is_some());
        r.validate().expect("valid");
    }
    use crate::color::spaces::OutputSpace;
    use crate::stages::white_balance::WbMode;

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
        for name in builtin_look_names() {
            let mut r = Recipe::default();
            for s in look(name).expect("built-in look") {
                r.set_boxed(s);
            }
            assert!(r.validate().is_ok(), "{name}");
        }
        assert!(look("no-such-look").is_err());
    }

    #[test]
    fn version_1_tone_curve_is_migrated_keeping_its_white_and_grey() {
        let text = "version = 1\n[[stages]]\nstage = \"demosaic\"\n[[stages]]\nstage = \"color\"\n[[stages]]\nstage = \"tone-curve\"\nwhite = 4.0\ntoe = 0.3\nshoulder = 0.2\n";
        let r = Recipe::from_toml(text).expect("migrates");
        assert_eq!(r.version, RECIPE_VERSION);
        let t = r.get::<ToneCurve>().expect("tone curve");
        assert_eq!((t.white, t.grey_in, t.grey_out), (4.0, 0.18, 0.18));
        assert_eq!(t.contrast, ToneCurve::default().contrast);
        // Version 2 has no toe: it is an unknown field there.
        assert!(Recipe::from_toml(&text.replace("version = 1", "version = 2")).is_err());
    }

    #[test]
    fn partial_recipe_fills_defaults() {
        let text = "version = 1\n[[stages]]\nstage = \"demosaic\"\n[[stages]]\nstage = \"color\"\nspace = \"rec2020\"\n[[stages]]\nstage = \"tone-curve\"\nwhite = 4.0\n";
        let r = Recipe::from_toml(text).expect("parses");
        assert_eq!(
            r.get::<Color>().map(|c| c.space),
            Some(OutputSpace::Rec2020)
        );
        let mut r = r;
        r.set(WhiteBalance {
            mode: WbMode::Auto(Default::default()),
        });
        assert_eq!(r.stages[0].name(), "white-balance");
        assert!(r.validate().is_ok());
    }
}
