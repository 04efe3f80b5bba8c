//! `chiaro looks`: list, show and export the built-in looks, and a contact sheet of one raw
//! in every look.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use rayon::prelude::*;

use chiaro::io::{EncodeOptions, Format, OutputImage, Pixels, Placement};
use chiaro::pipeline::recipe::{builtin_look, builtin_looks, look};
use chiaro::pipeline::{OutputSpec, Recipe, Rendering};
use chiaro::stages::look::Look;
use chiaro::stages::look::lut::{Lut3d, LutStage};
use chiaro::stages::tone::curve::ToneCurve;

use crate::raw_reader;

mod font;

#[derive(Subcommand)]
pub enum LooksCommand {
    /// The built-in looks, one a line: name, then what it does.
    List,
    /// Print a built-in look's file (a TOML recipe fragment to copy and edit).
    Show { name: String },
    /// Bake a look's display-referred edits (tone curve relative to the default, colour
    /// edits, its LUT) into a 3D LUT over sRGB code values, for video editors and GPUs.
    Export {
        /// A built-in look or a look TOML file.
        name: String,
        /// The `.cube` file to write.
        output: PathBuf,
        /// Grid points per axis: 33 or 65.
        #[arg(long, default_value_t = 33, value_parser = parse_size)]
        size: usize,
        /// Replace an existing file.
        #[arg(long)]
        overwrite: bool,
    },
    /// Render one raw in every built-in look side by side, labelled, as one JPEG.
    Sheet {
        raw: PathBuf,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Width of each rendering in the sheet, in pixels.
        #[arg(long, default_value_t = 480, value_parser = clap::value_parser!(u32).range(64..=4096))]
        width: u32,
        /// Replace an existing file.
        #[arg(long)]
        overwrite: bool,
        /// Decode camera raws in this process instead of an isolated worker process.
        #[arg(long)]
        no_isolate: bool,
    },
}

fn parse_size(s: &str) -> Result<usize, String> {
    match s {
        "33" => Ok(33),
        "65" => Ok(65),
        _ => Err(format!("'{s}': the size is 33 or 65")),
    }
}

pub fn run(command: LooksCommand) -> anyhow::Result<()> {
    match command {
        LooksCommand::List => {
            for l in builtin_looks() {
                println!("{:<10} {}", l.name, l.description());
            }
            println!("(standard = natural, contrast = authentic)");
            Ok(())
        }
        LooksCommand::Show { name } => {
            let l = builtin_look(&name)
                .with_context(|| format!("'{name}' is not a built-in look (chiaro looks list)"))?;
            print!("{}", l.text);
            Ok(())
        }
        LooksCommand::Export {
            name,
            output,
            size,
            overwrite,
        } => export(&name, &output, size, overwrite),
        LooksCommand::Sheet {
            raw,
            output,
            width,
            overwrite,
            no_isolate,
        } => sheet(&raw, &output, width as usize, overwrite, no_isolate),
    }
}

fn export(name: &str, output: &Path, size: usize, overwrite: bool) -> anyhow::Result<()> {
    let stages = look(name)?;
    let find = |n: &str| stages.iter().find(|s| s.name() == n);
    let tone = find("tone-curve").and_then(|s| s.as_any().downcast_ref::<ToneCurve>());
    let edits = find("look").and_then(|s| s.as_any().downcast_ref::<Look>());
    let cube = match find("lut").and_then(|s| s.as_any().downcast_ref::<LutStage>()) {
        Some(l) => Some(Lut3d::read_cube(&l.file)?),
        None => None,
    };
    if find("exposure").is_some() {
        eprintln!(
            "chiaro: note: the look's exposure stage acts on scene light and is not in the table"
        );
    }
    let title = format!("chiaro look {name}");
    let lut = chiaro::stages::look::display_table(tone, edits, cube.as_ref(), size, Some(title))?;
    chiaro::io::write_atomic(
        output,
        lut.to_cube().as_bytes(),
        Placement {
            overwrite,
            durable: false,
        },
    )
    .map_err(|e| e.with_path(output))?;
    eprintln!(
        "chiaro: wrote {} ({size}^3, sRGB code values in and out)",
        output.display()
    );
    Ok(())
}

/// Columns of the sheet.
const COLUMNS: usize = 4;
/// Height of the label strip under each rendering, pixels.
const LABEL: usize = 34;

fn sheet(
    raw: &Path,
    output: &Path,
    width: usize,
    overwrite: bool,
    no_isolate: bool,
) -> anyhow::Result<()> {
    if !overwrite && output.exists() {
        bail!(
            "{}: exists; use --overwrite to replace it",
            output.display()
        );
    }
    let limits = chiaro::Limits::default();
    let raw_image = raw_reader(no_isolate).read(raw, &limits)?;
    let frame = chiaro::pipeline::prepare(&raw_image, &limits).map_err(|e| e.with_path(raw))?;
    drop(raw_image);
    let spec = OutputSpec {
        bits: 8,
        linear: false,
    };
    let looks: Vec<_> = builtin_looks().collect();
    let tiles = looks
        .par_iter()
        .map(|l| {
            let mut recipe = Recipe::default();
            for s in look(l.name)? {
                recipe.set_boxed(s);
            }
            let dev = Rendering::new(&frame, &recipe, &spec, &limits, None)?.image()?;
            shrink(&dev.image, width)
        })
        .collect::<chiaro::Result<Vec<_>>>()
        .map_err(|e| e.with_path(raw))?;
    let (tw, th) = (tiles[0].width, tiles[0].height);
    let rows = looks.len().div_ceil(COLUMNS);
    let (w, h) = (COLUMNS * tw, rows * (th + LABEL));
    let mut px = vec![24u8; w * h * 3];
    for (i, (tile, l)) in tiles.iter().zip(&looks).enumerate() {
        let (x0, y0) = ((i % COLUMNS) * tw, (i / COLUMNS) * (th + LABEL));
        for y in 0..th {
            let src = &tile.rgb[y * tw * 3..(y + 1) * tw * 3];
            px[((y0 + y) * w + x0) * 3..][..tw * 3].copy_from_slice(src);
        }
        // The label at the largest scale (at most 3) that fits the tile.
        let label = l.name.to_uppercase();
        let scale = ((tw.saturating_sub(16)) / (6 * label.len().max(1))).clamp(1, 3);
        font::draw(&mut px, w, x0 + 8, y0 + th + 6, scale, &label);
    }
    let img = OutputImage {
        width: w,
        height: h,
        pixels: Pixels::U8(px),
    };
    let opts = EncodeOptions {
        format: Format::Jpeg,
        quality: 90,
        icc_profile: Vec::new(),
        exif: frame.exif().clone(),
        software: format!("chiaro {}", env!("CARGO_PKG_VERSION")),
        compression: None,
    };
    chiaro::io::write_image(
        output,
        &img,
        &opts,
        Placement {
            overwrite,
            durable: false,
        },
    )
    .map_err(|e| e.with_path(output))?;
    eprintln!(
        "chiaro: wrote {} ({} looks of {})",
        output.display(),
        looks.len(),
        raw.display()
    );
    Ok(())
}

/// An 8-bit RGB image.
struct Tile {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

/// Shrinks an 8-bit rendering to `width` pixels across by averaging whole blocks (code
/// values averaged: a preview, not a measurement).
fn shrink(img: &OutputImage, width: usize) -> chiaro::Result<Tile> {
    let Pixels::U8(src) = &img.pixels else {
        return Err(chiaro::Error::encode("the sheet takes 8-bit renderings"));
    };
    let f = img.width.div_ceil(width).max(1);
    let (w, h) = (img.width / f, img.height / f);
    let mut rgb = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut sum = 0u32;
                for dy in 0..f {
                    for dx in 0..f {
                        sum += u32::from(src[((y * f + dy) * img.width + x * f + dx) * 3 + c]);
                    }
                }
                rgb[(y * w + x) * 3 + c] = (sum / (f * f) as u32) as u8;
            }
        }
    }
    Ok(Tile {
        width: w,
        height: h,
        rgb,
    })
}
