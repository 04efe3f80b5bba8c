//! `chiaro info`: what chiaro reads from a raw file, as text or JSON.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use chiaro::color::temperature::xy_to_temperature;
use chiaro::raw::RawImage;
use chiaro::stages::opcodes;
use serde_json::{Value, json};

pub fn run(path: &Path, as_json: bool) -> anyhow::Result<()> {
    let raw = chiaro::raw::read_file(path, &chiaro::Limits::default())?;
    let v = describe(path, &raw);
    let mut text = String::new();
    if as_json {
        text = serde_json::to_string_pretty(&v)? + "\n";
    } else {
        print_text(&v, 0, &mut text);
    }
    // A closed pipe (`chiaro info F | head`) is not an error worth reporting.
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn describe(path: &Path, raw: &RawImage) -> Value {
    let c = &raw.color;
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
        "format": raw.format,
        "camera": {"make": raw.exif.make, "model": raw.exif.model},
        "size": {"width": raw.width, "height": raw.height, "samples_per_pixel": raw.samples_per_pixel},
        "cfa": if raw.is_cfa() { Value::from(raw.cfa.name()) } else { Value::Null },
        "black_level": raw.black.values,
        "black_level_deltas": {"per_column": !raw.black.delta_h.is_empty(), "per_row": !raw.black.delta_v.is_empty()},
        "white_level": raw.white,
        "linearization_table": raw.linearization.as_ref().map(|t| t.len()),
        "active_area": raw.active_area,
        "default_crop": raw.default_crop,
        "orientation": raw.orientation,
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
        "opcodes": {"list1": list(&raw.opcodes.list1), "list2": list(&raw.opcodes.list2), "list3": list(&raw.opcodes.list3)},
        "noise_profile": raw.noise_profile,
        "exif": raw.exif,
        "warnings": raw.warnings,
    })
}

fn print_text(v: &Value, indent: usize, out: &mut String) {
    let Value::Object(map) = v else { return };
    for (k, val) in map {
        match val {
            Value::Null => {}
            Value::Object(_) => {
                let _ = writeln!(out, "{:indent$}{k}:", "");
                print_text(val, indent + 2, out);
            }
            Value::Array(a) if a.iter().all(|x| x.is_string()) && !a.is_empty() => {
                let _ = writeln!(out, "{:indent$}{k}:", "");
                for x in a {
                    let _ = writeln!(out, "{:indent$}  - {}", "", x.as_str().unwrap_or_default());
                }
            }
            Value::String(s) => {
                let _ = writeln!(out, "{:indent$}{k}: {s}", "");
            }
            other => {
                let _ = writeln!(out, "{:indent$}{k}: {other}", "");
            }
        }
    }
}
