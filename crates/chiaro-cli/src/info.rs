//! `chiaro info`: what chiaro reads from a raw file, as text or JSON.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use chiaro::color::temperature::xy_to_temperature;
use chiaro::raw::RawImage;
use chiaro::stages::opcodes;
use serde_json::{Value, json};

pub fn run(
    path: &Path,
    as_json: bool,
    reader: &chiaro::batch::Reader,
    lens_db: &chiaro::batch::LensDb,
) -> anyhow::Result<()> {
    let raw = reader.read(path, &chiaro::Limits::default())?;
    let mut v = describe(path, &raw);
    let plan = plan(&raw, lens_db);
    v["lens_correction"] = plan
        .as_ref()
        .map_or(Value::Null, |p| Value::from(p.lens.clone()));
    v["auto_exposure"] = plan
        .as_ref()
        .and_then(|p| p.auto_exposure.clone())
        .map_or(Value::Null, Value::from);
    v["pipeline"] = plan.as_ref().map_or(
        Value::Null,
        |p| json!({"steps": p.steps, "warnings": p.warnings}),
    );
    let mut text = String::new();
    if as_json {
        text = json_printable(&(serde_json::to_string_pretty(&v)? + "\n"));
    } else {
        summary(path, &raw, &v, plan.as_ref(), &mut text);
    }
    // A closed pipe (`chiaro info F | head`) is not an error worth reporting.
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// What the default development would do with the file.
struct Plan {
    /// The planned steps, by stage.
    steps: Vec<&'static str>,
    /// What `--exposure auto` would choose.
    auto_exposure: Option<String>,
    /// The default development's choices from the image (white balance, ...).
    notes: Vec<(&'static str, String)>,
    warnings: Vec<String>,
    /// Which lens correction the default development applies, from where (or why none).
    lens: String,
}

/// Plans the default development with automatic exposure (`None` when the file cannot be
/// prepared for rendering).
fn plan(raw: &RawImage, lens_db: &chiaro::batch::LensDb) -> Option<Plan> {
    use chiaro::pipeline::{OutputSpec, Recipe, Rendering};
    use chiaro::stages::exposure::Exposure;
    let limits = chiaro::Limits::default();
    let frame = chiaro::pipeline::prepare(raw, &limits).ok()?;
    let spec = OutputSpec {
        bits: 8,
        linear: false,
    };
    let (with_lens, lens, _) = lens_db.resolve(&Recipe::default(), &frame);
    let default = Rendering::new(&frame, &with_lens, &spec, &limits, None).ok()?;
    let mut recipe = with_lens.clone();
    recipe.set(Exposure {
        ev: 0.0,
        baseline: true,
        auto: true,
    });
    let auto = Rendering::new(&frame, &recipe, &spec, &limits, None).ok()?;
    let auto_exposure = auto
        .notes()
        .iter()
        .find(|(stage, _)| *stage == "exposure")
        .map(|(_, n)| n.clone());
    Some(Plan {
        steps: default.steps().to_vec(),
        auto_exposure,
        notes: default.notes().to_vec(),
        warnings: default.warnings().to_vec(),
        lens: lens.trim_start_matches("lens: ").to_string(),
    })
}

/// The text output: the file, then a short summary of what it is and what the default
/// development will do (the whole tree is `--json`). File data goes through
/// [`chiaro::error::printable`], so control characters never reach the terminal.
fn summary(path: &Path, raw: &RawImage, v: &Value, plan: Option<&Plan>, out: &mut String) {
    use chiaro::error::printable;
    let _ = writeln!(out, "{}", printable(&path.display().to_string()));
    let e = raw.exif();
    let join = |parts: Vec<Option<String>>| {
        let parts: Vec<String> = parts.into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    let mut line = |label: &str, text: Option<String>| {
        if let Some(t) = text {
            let _ = writeln!(out, "  {label:<10}{}", printable(&t));
        }
    };
    line("camera", join(vec![e.make.clone(), e.model.clone()]));
    line(
        "lens",
        join(vec![e.lens_make.clone(), e.lens_model.clone()]),
    );
    let shutter = e.exposure_time.map(|t| {
        if t > 0.0 && t < 0.5 {
            format!("1/{:.0} s", 1.0 / t)
        } else {
            format!("{t:.1} s")
        }
    });
    line(
        "shot",
        join(vec![
            e.iso.map(|i| format!("ISO {i}")),
            shutter,
            e.f_number.map(|f| format!("f/{f:.1}")),
            e.focal_length.map(|f| format!("{f:.0} mm")),
            e.date_time.clone(),
        ]),
    );
    let layout = if raw.is_cfa() {
        format!("{} CFA", raw.cfa().name())
    } else {
        format!("{} samples per pixel", raw.samples_per_pixel())
    };
    line(
        "sensor",
        Some(format!(
            "{} x {} {}, {}, white {:?}",
            raw.width(),
            raw.height(),
            layout,
            raw.format(),
            raw.white()
        )),
    );
    let white = &v["color"]["as_shot_white"];
    let c = raw.color();
    let matrices = match (c.color_matrix2.is_some(), c.forward_matrix1.is_some()) {
        _ if !c.has_matrix() => "no colour matrix",
        (true, true) => "two calibrations with ForwardMatrix",
        (true, false) => "two calibrations",
        (false, true) => "one calibration with ForwardMatrix",
        (false, false) => "one calibration",
    };
    let as_shot = white["temperature_k"].as_f64().map(|t| {
        let tint = white["tint"].as_f64().unwrap_or(0.0);
        format!("as shot {t:.0} K, tint {tint:+.1}; ")
    });
    line(
        "colour",
        Some(format!("{}{matrices}", as_shot.unwrap_or_default())),
    );
    // Opcodes by list, repeats counted: "list 2: GainMap x4".
    let lists = raw.opcodes();
    let mut parts = Vec::new();
    for (i, list) in [&lists.list1, &lists.list2, &lists.list3]
        .iter()
        .enumerate()
    {
        let mut names: Vec<(&str, usize)> = Vec::new();
        for op in list.iter() {
            let n = opcodes::name(op.id());
            match names.last_mut() {
                Some((last, k)) if *last == n => *k += 1,
                _ => names.push((n, 1)),
            }
        }
        if !names.is_empty() {
            let named: Vec<String> = names
                .iter()
                .map(|(n, k)| {
                    if *k > 1 {
                        format!("{n} x{k}")
                    } else {
                        n.to_string()
                    }
                })
                .collect();
            parts.push(format!("list {}: {}", i + 1, named.join(", ")));
        }
    }
    line("opcodes", (!parts.is_empty()).then(|| parts.join("; ")));
    if let Some(p) = plan {
        line("develops", Some(p.steps.join(" > ")));
        line("corrects", Some(format!("lens: {}", p.lens)));
        for (stage, note) in p.notes.iter().filter(|(stage, _)| *stage != "lens") {
            line("", Some(format!("{stage}: {note}")));
        }
        line(
            "auto",
            p.auto_exposure.clone().map(|a| format!("exposure {a}")),
        );
        for w in &p.warnings {
            line("warning", Some(w.clone()));
        }
    }
    for w in raw.warnings() {
        line("warning", Some(w.clone()));
    }
    let _ = writeln!(out, "  (everything chiaro reads: --json)");
}

fn describe(path: &Path, raw: &RawImage) -> Value {
    let c = &raw.color();
    let white = if c.has_matrix() {
        let n = chiaro::stages::white_balance::neutral_for(
            chiaro::stages::white_balance::WbMode::AsShot,
            c,
            |_| [1.0; 3],
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
