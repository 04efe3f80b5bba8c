//! `chiaro info`: what chiaro reads from a raw file, as text or JSON.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use chiaro::color::temperature::xy_to_temperature;
use chiaro::raw::RawImage;
use chiaro::stages::opcodes;
use serde_json::{Value, json};

pub fn run(path: &Path, as_json: bool, reader: &crate::RawReader) -> anyhow::Result<()> {
    let raw = reader.read(path, &chiaro::Limits::default())?;
    let mut v = describe(path, &raw);
    v["auto_exposure"] = auto_exposure(&raw).map_or(Value::Null, Value::from);
    let mut text = String::new();
    if as_json {
        text = json_printable(&(serde_json::to_string_pretty(&v)? + "\n"));
    } else {
        print_text(&v, 0, &mut text);
    }
    // A closed pipe (`chiaro info F | head`) is not an error worth reporting.
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// What `--exposure auto` would choose for the default development (`None` when the file
/// cannot be prepared for rendering).
fn auto_exposure(raw: &RawImage) -> Option<String> {
    use chiaro::pipeline::{OutputSpec, Recipe, Rendering};
    use chiaro::stages::exposure::Exposure;
    let limits = chiaro::Limits::default();
    let frame = chiaro::pipeline::prepare(raw, &limits).ok()?;
    let mut recipe = Recipe::default();
    recipe.set(Exposure {
        ev: 0.0,
        baseline: true,
        auto: true,
    });
    let spec = OutputSpec {
        bits: 8,
        linear: false,
    };
    let rendering = Rendering::new(&frame, &recipe, &spec, &limits, None).ok()?;
    let note = rendering
        .notes()
        .iter()
        .find(|(stage, _)| *stage == "exposure");
    note.map(|(_, n)| n.clone())
}

fn describe(path: &Path, raw: &RawImage) -> Value {
    let c = &raw.color();
    let white = if c.has_matrix() {
        let n = chiaro::stages::white_balance::neutral_for(
            chiaro::stages::white_balance::WbMode::AsShot,
            c,
            || [1.0; 3],
        )
        .ok();
        n.map(|n| {
            let xy = c.neutral_to_xy(n);
            let (t, tint) = xy_to_temperature(xy);
            json!({"xy": xy, "temperature_k": t.round(), "tint": (tint * 10.0).round() / 10.0})
        })
    } else {
        None
    };
    let list = |l: &[opcodes::Opcode]| l.iter().map(opcodes::describe).collect::<Vec<_>>();
    json!({
        "file": path.display().to_string(),
        "format": raw.format(),
        "camera": {"make": raw.exif().make, "model": raw.exif().model},
        "size": {"width": raw.width(), "height": raw.height(), "samples_per_pixel": raw.samples_per_pixel()},
        "cfa": if raw.is_cfa() { Value::from(raw.cfa().name()) } else { Value::Null },
        "black_level": raw.black().values,
        "black_level_deltas": {"per_column": !raw.black().delta_h.is_empty(), "per_row": !raw.black().delta_v.is_empty()},
        "white_level": raw.white(),
        "linearization_table": raw.linearization().as_ref().map(|t| t.len()),
        "active_area": raw.active_area(),
        "default_crop": raw.default_crop(),
        "orientation": raw.orientation(),
        "color": {
            "as_shot_neutral": c.as_shot_neutral,
            "as_shot_white": white,
            "illuminants": [c.illuminant1, c.illuminant2],
            "color_matrix1": c.color_matrix1, "color_matrix2": c.color_matrix2,
            "forward_matrix1": c.forward_matrix1, "forward_matrix2": c.forward_matrix2,
            "camera_calibration1": c.camera_calibration1, "camera_calibration2": c.camera_calibration2,
            "analog_balance": c.analog_balance,
            "baseline_exposure_ev": c.baseline_exposure,
        },
        "opcodes": {"list1": list(&raw.opcodes().list1), "list2": list(&raw.opcodes().list2), "list3": list(&raw.opcodes().list3)},
        "noise_profile": raw.noise_profile(),
        "exif": raw.exif(),
        "warnings": raw.warnings(),
    })
}

/// serde_json escapes C0 controls but leaves DEL, C1 controls and invisible format
/// characters (bidirectional overrides) raw; escape those too (`\uXXXX`, still valid JSON
/// with the same strings), so file data cannot drive the terminal.
fn json_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c != '\n' && chiaro::error::is_unprintable(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Text output: every string (file data: Make, Model, warnings) goes through
/// [`chiaro::error::printable`], so control characters never reach the terminal.
fn print_text(v: &Value, indent: usize, out: &mut String) {
    use chiaro::error::printable;
    let Value::Object(map) = v else { return };
    for (k, val) in map {
        match val {
            Value::Null => {}
            Value::Object(_) => {
                let _ = writeln!(out, "{:indent$}{}:", "", printable(k));
                print_text(val, indent + 2, out);
            }
            Value::Array(a) if a.iter().all(|x| x.is_string()) && !a.is_empty() => {
                let _ = writeln!(out, "{:indent$}{}:", "", printable(k));
                for x in a {
                    let s = printable(x.as_str().unwrap_or_default()).into_owned();
                    let _ = writeln!(out, "{:indent$}  - {s}", "");
                }
            }
            Value::String(s) => {
                let _ = writeln!(out, "{:indent$}{}: {}", "", printable(k), printable(s));
            }
            other => {
                // Nested arrays and numbers: serde_json's text, which escapes C0 controls.
                let s = json_printable(&other.to_string());
                let _ = writeln!(out, "{:indent$}{}: {s}", "", printable(k));
            }
        }
    }
}
