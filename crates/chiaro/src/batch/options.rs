//! What a development is asked to do, as one serde value shared by the command line, the
//! Python package and batch workers on other machines (which receive it as JSON). Messages
//! name the options as the command line spells them (`--half-size` is `half_size` here).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::color::spaces::OutputSpace;
use crate::error::{Error, Result};
use crate::io::{Compression, Format, Placement};
use crate::pipeline::{OutputSpec, Recipe};
use crate::stages::color::Color;
use crate::stages::demosaic::{Demosaic, DemosaicMethod};
use crate::stages::exposure::Exposure;
use crate::stages::highlights::{HighlightMode, Highlights};
use crate::stages::lens::{LensCorrection, LensSource};
use crate::stages::resize::ResizeSpec;
use crate::stages::sharpen::Sharpen;
use crate::stages::white_balance::{WbMode, WhiteBalance};

/// The options of `chiaro develop`, by their long names (`half_size` for `--half-size`);
/// text where the command line takes text, so every front end parses them the same way.
/// `None` and `false` leave the recipe's (or the default) choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevelopOptions {
    /// `jpeg`, `png` or `tiff` (default: from the output's extension, else JPEG).
    pub format: Option<String>,
    /// 8, 16 or 32 (float TIFF); default 8 for JPEG and PNG, 16 for TIFF (32 linear).
    pub bits: Option<u8>,
    pub colorspace: Option<String>,
    /// A DNG camera profile (.dcp) in place of the file's colour.
    pub profile: Option<PathBuf>,
    /// An Ultra HDR JPEG (SDR picture plus gain map).
    pub hdr: bool,
    /// Scene-referred output: no tone curve, look or transfer function.
    pub linear: bool,
    /// A white balance as `WbMode::parse` reads it (`as-shot`, `auto`, `5000,10`, ...).
    pub wb: Option<String>,
    /// `EV`, `auto`, `auto+EV` or `auto-EV`.
    pub exposure: Option<String>,
    pub demosaic: Option<String>,
    /// Each CFA block becomes one pixel, no demosaicing.
    pub half_size: bool,
    /// Clockwise degrees (0, 90, 180, 270), after the file's orientation.
    pub rotate: Option<u32>,
    /// `h` or `v`, after `rotate`.
    pub flip: Option<String>,
    /// As `ResizeSpec::parse` reads it (`2048`, `1920x1080`, `50%`).
    pub resize: Option<String>,
    /// `X,Y,W,H` in upright output pixels.
    pub crop: Option<String>,
    /// `blend`, `clip`, `reconstruct` or `none`.
    pub highlights: Option<String>,
    /// `off` or an amount from 0 to 4.
    pub sharpen: Option<String>,
    /// `auto`, `embedded`, `lensfun` or `off`.
    pub lens: Option<String>,
    /// A folder of lensfun XML files instead of the installed database.
    pub lens_db: Option<PathBuf>,
    /// A built-in look, a look TOML file or a .cube LUT.
    pub look: Option<String>,
    /// A recipe TOML file whose stages replace the default ones.
    pub recipe: Option<PathBuf>,
    /// TIFF compression: `none`, `deflate` or `lzw`.
    pub compression: Option<String>,
    /// JPEG quality 1-100 (default 92).
    pub quality: Option<u8>,
    /// Output names in an output folder: a template of `{stem}`, `{look}` and `{ext}`.
    pub name: Option<String>,
    pub overwrite: bool,
    /// Leave inputs whose output exists (they are reported as skipped).
    pub skip_existing: bool,
    /// fsync each output before its rename.
    pub sync: bool,
    /// Write the recipe used beside each output (`OUTPUT.chiaro.toml`).
    pub sidecar: bool,
}

/// The default `name` template.
pub const DEFAULT_NAME: &str = "{stem}.{ext}";

impl DevelopOptions {
    /// Reads options from JSON (an object of the fields above); unknown names are errors.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::parameter(format!("develop options: {e}")))
    }

    /// The options as JSON; a path that is not valid UTF-8 cannot be written so.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::parameter(format!("develop options: {e}")))
    }

    /// The output format: `format`, else the extension of `output` (when one file is named),
    /// else JPEG. A format that contradicts the extension is an error.
    pub fn output_format(&self, output: Option<&Path>) -> Result<Format> {
        Ok(match (&self.format, output) {
            (Some(f), Some(o)) => {
                let given = Format::from_name(f)?;
                // Data of one format under another's extension would mislead every program
                // that opens it.
                match Format::from_path(o) {
                    Some(named) if named != given => {
                        return Err(Error::parameter(format!(
                            "{}: the name says {} but --format says {}; change one of them",
                            o.display(),
                            named.extension(),
                            given.extension()
                        )));
                    }
                    _ => given,
                }
            }
            (Some(f), None) => Format::from_name(f)?,
            (None, Some(o)) => Format::from_path(o).ok_or_else(|| {
                Error::parameter(format!(
                    "{}: unknown output extension; use --format",
                    o.display()
                ))
            })?,
            (None, None) => Format::Jpeg,
        })
    }

    /// Bits per sample for `format`, checked against it.
    pub fn output_bits(&self, format: Format) -> Result<u8> {
        let bits = self.bits.unwrap_or(match format {
            Format::Tiff if self.linear => 32,
            Format::Tiff => 16,
            _ => 8,
        });
        if !format.supports_bits(bits) {
            return Err(Error::parameter(format!(
                "{} cannot hold {bits}-bit samples",
                format.extension()
            )));
        }
        Ok(bits)
    }

    pub fn output_spec(&self, format: Format) -> Result<OutputSpec> {
        Ok(OutputSpec {
            bits: self.output_bits(format)?,
            linear: self.linear,
        })
    }

    pub fn placement(&self) -> Placement {
        Placement {
            overwrite: self.overwrite,
            durable: self.sync,
        }
    }

    pub fn compression(&self, format: Format) -> Result<Option<Compression>> {
        let c = self
            .compression
            .as_deref()
            .map(Compression::from_name)
            .transpose()?;
        if c.is_some() && format != Format::Tiff {
            return Err(Error::parameter(format!(
                "--compression is for TIFF; {} has its own",
                format.extension()
            )));
        }
        Ok(c)
    }

    /// The user's turn of the picture as an orientation code (1: none).
    pub fn turn(&self) -> Result<u16> {
        let flip = self.flip.as_deref().and_then(|f| f.chars().next());
        crate::stages::orientation::turn_code(self.rotate.unwrap_or(0), flip).ok_or_else(|| {
            Error::parameter("--rotate takes 90, 180 or 270 and --flip h or v".to_string())
        })
    }

    pub fn crop_rect(&self) -> Result<Option<(usize, usize, usize, usize)>> {
        self.crop.as_deref().map(parse_crop).transpose()
    }

    pub fn resize_spec(&self) -> Result<Option<ResizeSpec>> {
        self.resize.as_deref().map(ResizeSpec::parse).transpose()
    }

    /// What `{look}` stands for in output names: the look's name, or `default`.
    pub fn look_name(&self) -> String {
        self.look.as_deref().map_or("default".into(), |l| {
            Path::new(l)
                .file_stem()
                .map_or(l.into(), |s| s.to_string_lossy().into_owned())
        })
    }

    /// The recipe: the `recipe` file or the default, then the look, then the other options;
    /// validated.
    pub fn build_recipe(&self) -> Result<Recipe> {
        let base = match &self.recipe {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Error::parameter(format!("cannot read recipe: {e}")).with_path(p)
                })?;
                Recipe::from_toml_over_defaults(&text).map_err(|e| e.with_path(p))?
            }
            None => Recipe::default(),
        };
        self.build_recipe_over(base)
    }

    /// `base` (in place of the `recipe` file) with the look and the other options applied;
    /// validated.
    pub fn build_recipe_over(&self, base: Recipe) -> Result<Recipe> {
        let mut recipe = base;
        if let Some(look) = &self.look {
            if self.linear {
                return Err(Error::parameter(
                    "--look and --linear exclude each other: a look is display-referred",
                ));
            }
            if Path::new(look)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("cube"))
            {
                recipe.set(crate::stages::look::lut::LutStage {
                    file: PathBuf::from(look),
                    strength: 1.0,
                });
            } else {
                for stage in crate::pipeline::recipe::look(look)? {
                    recipe.set_boxed(stage);
                }
            }
        }
        if let Some(wb) = &self.wb {
            recipe.set(WhiteBalance {
                mode: WbMode::parse(wb)?,
            });
        }
        if let Some(d) = &self.demosaic {
            recipe.set(Demosaic {
                method: DemosaicMethod::from_name(d)?,
            });
        }
        if let Some(s) = &self.sharpen {
            let mut sharpen = recipe.get::<Sharpen>().copied().unwrap_or_default();
            sharpen.amount = parse_sharpen(s)?;
            recipe.set(sharpen);
        }
        if let Some(l) = &self.lens {
            let mut lens = recipe.get::<LensCorrection>().cloned().unwrap_or_default();
            lens.source = LensSource::from_name(l)?;
            lens.lensfun = None;
            recipe.set(lens);
        }
        if let Some(h) = &self.highlights {
            let mode = match h.as_str() {
                "blend" => HighlightMode::Blend,
                "clip" => HighlightMode::Clip,
                "none" => HighlightMode::None,
                "reconstruct" => HighlightMode::Reconstruct,
                other => {
                    return Err(Error::parameter(format!(
                        "--highlights {other:?}: expected blend, clip, reconstruct or none"
                    )));
                }
            };
            recipe.set(Highlights { mode });
        }
        if self.colorspace.is_some() || self.profile.is_some() {
            let mut c = recipe.get::<Color>().cloned().unwrap_or_default();
            if let Some(cs) = &self.colorspace {
                c.space = OutputSpace::from_name(cs)?;
            }
            if let Some(p) = &self.profile {
                c.profile = Some(p.clone());
            }
            recipe.set(c);
        }
        if let Some(e) = &self.exposure {
            let (auto, ev) = parse_exposure(e)?;
            // Keep the recipe's choice about BaselineExposure; without one, display output
            // uses it (linear output turns it off below).
            let baseline = recipe.get::<Exposure>().is_none_or(|e| e.baseline);
            recipe.set(Exposure { ev, baseline, auto });
        }
        if self.linear {
            recipe = recipe.linear();
        }
        recipe.validate()?;
        Ok(recipe)
    }
}

/// `X,Y,W,H`: four whole numbers, width and height above 0.
pub fn parse_crop(text: &str) -> Result<(usize, usize, usize, usize)> {
    let bad = || {
        Error::parameter(format!(
            "--crop '{text}' is not X,Y,W,H (four whole numbers, width and height above 0)"
        ))
    };
    let v: Vec<usize> = text
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad())?;
    match v[..] {
        [x, y, w, h] if w > 0 && h > 0 => Ok((x, y, w, h)),
        _ => Err(bad()),
    }
}

/// `off` (or `none`) or an amount from 0 to 4.
pub fn parse_sharpen(text: &str) -> Result<f32> {
    match text.trim() {
        "off" | "none" => Ok(0.0),
        t => t
            .parse::<f32>()
            .ok()
            .filter(|a| (0.0..=4.0).contains(a))
            .ok_or_else(|| {
                Error::parameter(format!(
                    "--sharpen '{text}' is not off or an amount from 0 to 4"
                ))
            }),
    }
}

/// `EV`, `auto`, `auto+EV` or `auto-EV`, as (automatic, EV).
pub fn parse_exposure(text: &str) -> Result<(bool, f32)> {
    let t = text.trim();
    let (auto, rest) = match t.strip_prefix("auto") {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    if auto && rest.is_empty() {
        return Ok((true, 0.0));
    }
    let ev = rest
        .parse::<f32>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            Error::parameter(format!(
                "--exposure '{text}' is not an exposure: give EV (e.g. 1.5), auto, or auto+EV"
            ))
        })?;
    Ok((auto, ev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_from_json_reject_unknown_names() {
        let o = DevelopOptions::from_json(r#"{"wb": "auto", "half_size": true, "bits": 16}"#)
            .expect("works");
        assert_eq!(o.wb.as_deref(), Some("auto"));
        assert!(o.half_size && !o.linear);
        let json = o.to_json().expect("works");
        assert_eq!(DevelopOptions::from_json(&json).expect("works"), o);
        let e = DevelopOptions::from_json(r#"{"colour": "srgb"}"#).expect_err("fails");
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn exposure_text_reads_auto_with_a_bias() {
        assert_eq!(parse_exposure("auto").expect("works"), (true, 0.0));
        assert_eq!(parse_exposure("auto-0.5").expect("works"), (true, -0.5));
        assert_eq!(parse_exposure("1.5").expect("works"), (false, 1.5));
        assert!(parse_exposure("autox").is_err() && parse_exposure("inf").is_err());
    }

    #[test]
    fn crop_needs_four_numbers_and_an_area() {
        assert_eq!(parse_crop("1, 2,3,4").expect("works"), (1, 2, 3, 4));
        assert!(parse_crop("1,2,0,4").is_err() && parse_crop("1,2,3").is_err());
    }

    #[test]
    fn a_format_that_contradicts_the_extension_is_refused() {
        let o = DevelopOptions {
            format: Some("png".into()),
            ..Default::default()
        };
        assert!(o.output_format(Some(Path::new("a.jpg"))).is_err());
        assert_eq!(
            o.output_format(Some(Path::new("a.png"))).expect("works"),
            Format::Png
        );
        let none = DevelopOptions::default();
        assert_eq!(none.output_format(None).expect("works"), Format::Jpeg);
        assert_eq!(none.output_bits(Format::Tiff).expect("works"), 16);
    }
}
