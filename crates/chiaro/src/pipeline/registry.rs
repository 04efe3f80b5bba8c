//! The stage registry: recipe names to stage types.
//!
//! Adding a stage is one module implementing [`Stage`] plus one line in
//! [`Registry::builtin`]; code outside the crate (a test, a plug-in) registers its own types
//! on a copy of the built-in registry and parses recipes with it.

use std::sync::OnceLock;

use serde::de::DeserializeOwned;

use super::stage::Stage;
use crate::error::{Error, Result};

type Parse = fn(toml::Table) -> Result<Box<dyn Stage>>;

/// Known stage types by recipe name.
#[derive(Clone)]
pub struct Registry {
    entries: Vec<(&'static str, Parse)>,
}

fn parse<T: Stage + Default + DeserializeOwned + 'static>(
    params: toml::Table,
) -> Result<Box<dyn Stage>> {
    let stage: T = params.try_into().map_err(|e: toml::de::Error| {
        Error::parameter(format!("stage '{}': {}", T::default().name(), e.message()))
    })?;
    Ok(Box::new(stage))
}

impl Registry {
    /// No stages.
    pub fn empty() -> Self {
        Registry {
            entries: Vec::new(),
        }
    }

    /// The engine's stages.
    pub fn builtin() -> &'static Registry {
        static BUILTIN: OnceLock<Registry> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            use crate::stages::*;
            let mut r = Registry::empty();
            r.register::<defects::Defects>();
            r.register::<white_balance::WhiteBalance>();
            r.register::<demosaic::Demosaic>();
            r.register::<lens::LensCorrection>();
            r.register::<highlights::Highlights>();
            r.register::<color::Color>();
            r.register::<sharpen::Sharpen>();
            r.register::<exposure::Exposure>();
            r.register::<tone::curve::ToneCurve>();
            r.register::<look::Look>();
            r.register::<look::lut::LutStage>();
            r
        })
    }

    /// Registers stage type `T` under its name. A later registration of the same name wins.
    pub fn register<T: Stage + Default + DeserializeOwned + 'static>(&mut self) {
        let name = T::default().name();
        self.entries.retain(|(n, _)| *n != name);
        self.entries.push((name, parse::<T>));
    }

    /// The registered names, in registration order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.iter().map(|(n, _)| *n)
    }

    /// Builds a stage from a recipe table holding `stage = "name"` and its parameters.
    pub fn parse(&self, mut table: toml::Table) -> Result<Box<dyn Stage>> {
        let name = match table.remove("stage") {
            Some(toml::Value::String(s)) => s,
            _ => {
                return Err(Error::parameter(
                    "recipe: every stage needs `stage = \"name\"`",
                ));
            }
        };
        let (_, parse) = self
            .entries
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| {
                Error::parameter(format!(
                    "recipe: unknown stage '{name}' (known: {})",
                    self.names().collect::<Vec<_>>().join(", ")
                ))
            })?;
        parse(table)
    }
}
