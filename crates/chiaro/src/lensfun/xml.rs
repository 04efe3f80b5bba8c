//! lensfun's XML (`<lensdatabase version="1">`): mounts, cameras and lenses with their
//! calibrations. Entries missing a required element, or with an unknown model or a number
//! that does not parse, are skipped and named; the rest of the file loads.

use std::path::Path;

use roxmltree::{Document, Node, ParsingOptions};

use super::find::guess_from_name;
use super::{
    Camera, DistortionEntry, DistortionModel, Lens, LensType, Mount, TcaEntry, TcaModel,
    VignettingEntry,
};
use crate::error::{Error, Result};

/// What one file holds.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    pub mounts: Vec<Mount>,
    pub cameras: Vec<Camera>,
    pub lenses: Vec<Lens>,
    /// Entries left out, and why.
    pub skipped: Vec<String>,
}

/// Most XML nodes a file may have (the installed files have under 100 000).
const MAX_NODES: u32 = 4_000_000;

pub(super) fn parse(text: &str, path: &Path) -> Result<Parsed> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options)
        .map_err(|e| Error::parameter(format!("not a lensfun database: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "lensdatabase" {
        return Err(Error::parameter(format!(
            "not a lensfun database (the root element is <{}>)",
            root.tag_name().name()
        )));
    }
    let mut out = Parsed::default();
    for node in root.children().filter(Node::is_element) {
        let entry = match node.tag_name().name() {
            "mount" => mount(node).map(|m| out.mounts.push(m)),
            "camera" => camera(node).map(|c| out.cameras.push(c)),
            "lens" => lens(node, path).map(|l| out.lenses.push(l)),
            _ => Ok(()),
        };
        if let Err(why) = entry {
            // Only for the report: finding a line walks the text from its start.
            let line = doc.text_pos_at(node.range().start).row;
            out.skipped.push(format!(
                "line {line}: <{}> left out: {why}",
                node.tag_name().name()
            ));
        }
    }
    Ok(out)
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text<'a>(node: Node<'a, '_>) -> &'a str {
    node.text().unwrap_or("").trim()
}

/// The texts of every `name` child: the untranslated one first, then the `lang=` ones.
fn texts(node: Node<'_, '_>, name: &str) -> Vec<String> {
    let mut plain: Vec<String> = Vec::new();
    let mut translated: Vec<String> = Vec::new();
    for c in children(node, name) {
        let t = text(c).to_string();
        if t.is_empty() {
            continue;
        }
        if c.attribute("lang").is_some() {
            translated.push(t);
        } else {
            plain.push(t);
        }
    }
    plain.extend(translated);
    plain
}

fn required(node: Node<'_, '_>, name: &str) -> std::result::Result<Vec<String>, String> {
    let v = texts(node, name);
    if v.is_empty() {
        Err(format!("no <{name}>"))
    } else {
        Ok(v)
    }
}

fn number(s: &str) -> std::result::Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{s:?} is not a number"))
}

fn crop_factor(node: Node<'_, '_>) -> std::result::Result<f64, String> {
    let c = children(node, "cropfactor")
        .next()
        .ok_or("no <cropfactor>")?;
    let v = number(text(c))?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("crop factor {v}"))
    }
}

/// An attribute as a number; absent ones are `default`.
fn attr(node: Node<'_, '_>, name: &str, default: f64) -> std::result::Result<f64, String> {
    node.attribute(name).map_or(Ok(default), number)
}

fn mount(node: Node<'_, '_>) -> std::result::Result<Mount, String> {
    Ok(Mount {
        name: required(node, "name")?.swap_remove(0),
        compat: texts(node, "compat"),
    })
}

fn camera(node: Node<'_, '_>) -> std::result::Result<Camera, String> {
    Ok(Camera {
        makers: required(node, "maker")?,
        models: required(node, "model")?,
        mount: required(node, "mount")?.swap_remove(0),
        crop: crop_factor(node)?,
    })
}

fn lens(node: Node<'_, '_>, path: &Path) -> std::result::Result<Lens, String> {
    let models = required(node, "model")?;
    let range = |name: &str| -> std::result::Result<(f64, f64), String> {
        match children(node, name).next() {
            Some(n) => {
                let value = attr(n, "value", 0.0)?;
                let min = attr(n, "min", value)?;
                Ok((min, attr(n, "max", value)?))
            }
            None => Ok((0.0, 0.0)),
        }
    };
    let aspect = match children(node, "aspect-ratio").next() {
        Some(n) => match text(n).split_once(':') {
            Some((a, b)) => number(a)? / number(b)?,
            None => number(text(n))?,
        },
        None => 1.5,
    };
    if !aspect.is_finite() || aspect < 1.0 {
        return Err(format!("aspect ratio {aspect}"));
    }
    let center = match children(node, "center").next() {
        Some(n) => (attr(n, "x", 0.0)?, attr(n, "y", 0.0)?),
        None => (0.0, 0.0),
    };
    if center.0.abs() > 1.0 || center.1.abs() > 1.0 {
        return Err(format!("optical centre offset {center:?} (within 1)"));
    }
    let kind = match children(node, "type").next().map(text) {
        None | Some("rectilinear") => LensType::Rectilinear,
        Some("fisheye") => LensType::Fisheye,
        Some("panoramic") => LensType::Panoramic,
        Some("equirectangular") => LensType::Equirectangular,
        Some("orthographic") => LensType::Orthographic,
        Some("stereographic") => LensType::Stereographic,
        Some("equisolid") => LensType::Equisolid,
        Some("fisheye_thoby") => LensType::FisheyeThoby,
        Some(t) => return Err(format!("lens type {t:?}")),
    };
    let mut lens = Lens {
        makers: required(node, "maker")?,
        mounts: required(node, "mount")?,
        crop: crop_factor(node)?,
        aspect,
        center,
        kind,
        focal: range("focal")?,
        aperture: range("aperture")?,
        models,
        distortion: Vec::new(),
        tca: Vec::new(),
        vignetting: Vec::new(),
        source: path.to_path_buf(),
    };
    for cal in children(node, "calibration") {
        for e in cal.children().filter(Node::is_element) {
            calibration_entry(e, &mut lens)?;
        }
    }
    guess_ranges(&mut lens);
    Ok(lens)
}

/// lensfun's `lfLens::GuessParameters`: focal and aperture ranges the file does not give
/// come from the model name (unless it is an adapter or converter) widened by the
/// calibrated focal lengths and f-numbers; a prime's longest focal length is its shortest.
fn guess_ranges(lens: &mut Lens) {
    if lens.focal.0 == 0.0 || lens.aperture.0 == 0.0 {
        let name = &lens.models[0];
        let skip = ["adapter", "reducer", "booster", "extender", "converter"];
        let named = if skip.iter().any(|w| name.contains(w)) {
            super::find::NameFacts::default()
        } else {
            guess_from_name(name)
        };
        let known = |v: f64| (v != 0.0).then_some(v);
        let focals = lens
            .distortion
            .iter()
            .map(|d| d.focal)
            .chain(lens.tca.iter().map(|t| t.focal))
            .chain(lens.vignetting.iter().map(|v| v.focal));
        let apertures = lens.vignetting.iter().map(|v| v.aperture);
        let fold = |start: Option<f64>, it: &mut dyn Iterator<Item = f64>, min: bool| {
            it.fold(start, |acc, v| {
                Some(acc.map_or(v, |a| if min { a.min(v) } else { a.max(v) }))
            })
        };
        let minf = fold(known(named.focal.0), &mut focals.clone(), true);
        let maxf = fold(known(named.focal.1), &mut focals.clone(), false);
        let mina = fold(known(named.aperture), &mut apertures.clone(), true);
        let maxa = fold(None, &mut apertures.clone(), false);
        let fill = |slot: &mut f64, v: Option<f64>| {
            if *slot == 0.0 {
                *slot = v.unwrap_or(0.0);
            }
        };
        fill(&mut lens.focal.0, minf);
        fill(&mut lens.focal.1, maxf);
        fill(&mut lens.aperture.0, mina);
        fill(&mut lens.aperture.1, maxa);
    }
    if lens.focal.1 == 0.0 {
        lens.focal.1 = lens.focal.0;
    }
}

/// Adds `entry` to `list`, replacing one that `same` says is the same calibration in its
/// place (lensfun's `_lf_addobj`: a file's last word on a focal length counts).
fn add_entry<T>(list: &mut Vec<T>, entry: T, same: impl Fn(&T, &T) -> bool) {
    match list.iter().position(|e| same(e, &entry)) {
        Some(i) => list[i] = entry,
        None => list.push(entry),
    }
}

fn calibration_entry(e: Node<'_, '_>, lens: &mut Lens) -> std::result::Result<(), String> {
    let model = e.attribute("model").unwrap_or("none");
    let name = e.tag_name().name();
    if model == "none" || !matches!(name, "distortion" | "tca" | "vignetting") {
        return Ok(());
    }
    let focal = attr(e, "focal", 0.0)?;
    if focal <= 0.0 {
        return Err(format!("<{name}> without a focal length"));
    }
    let a = |n: &str, d: f64| attr(e, n, d);
    match (name, model) {
        ("distortion", model) => {
            let (model, terms) = match model {
                "poly3" => (DistortionModel::Poly3, [a("k1", 0.0)?, 0.0, 0.0]),
                "poly5" => (DistortionModel::Poly5, [a("k1", 0.0)?, a("k2", 0.0)?, 0.0]),
                "ptlens" => (
                    DistortionModel::Ptlens,
                    [a("a", 0.0)?, a("b", 0.0)?, a("c", 0.0)?],
                ),
                _ => return Err(format!("unknown distortion model {model:?}")),
            };
            let entry = DistortionEntry {
                focal,
                model,
                terms,
            };
            add_entry(&mut lens.distortion, entry, |x, y| x.focal == y.focal);
        }
        ("tca", model) => {
            let (model, terms) = match model {
                "linear" => (
                    TcaModel::Linear,
                    [a("kr", 1.0)?, a("kb", 1.0)?, 0.0, 0.0, 0.0, 0.0],
                ),
                "poly3" => (
                    TcaModel::Poly3,
                    [
                        a("vr", 1.0)?,
                        a("vb", 1.0)?,
                        a("cr", 0.0)?,
                        a("cb", 0.0)?,
                        a("br", 0.0)?,
                        a("bb", 0.0)?,
                    ],
                ),
                _ => return Err(format!("unknown tca model {model:?}")),
            };
            let entry = TcaEntry {
                focal,
                model,
                terms,
            };
            add_entry(&mut lens.tca, entry, |x, y| x.focal == y.focal);
        }
        ("vignetting", "pa") => {
            let aperture = a("aperture", 0.0)?;
            let distance = a("distance", 0.0)?;
            if aperture <= 0.0 || distance <= 0.0 {
                return Err("<vignetting> without an aperture and a distance".into());
            }
            let entry = VignettingEntry {
                focal,
                aperture,
                distance,
                terms: [a("k1", 0.0)?, a("k2", 0.0)?, a("k3", 0.0)?],
            };
            add_entry(&mut lens.vignetting, entry, |x, y| {
                (x.focal, x.aperture, x.distance) == (y.focal, y.aperture, y.distance)
            });
        }
        _ => return Err(format!("unknown {name} model {model:?}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"<lensdatabase version="1">
    <mount><name>Test F</name><compat>Test G</compat></mount>
    <camera>
        <maker>Test Corporation</maker><maker lang="en">Test</maker>
        <model>Test D1</model><model lang="en">D1</model>
        <mount>Test F</mount><cropfactor>1.5</cropfactor>
    </camera>
    <camera><maker>Broken</maker><model>No crop</model><mount>Test F</mount></camera>
    <lens>
        <maker>Test</maker>
        <model>Test 18-55mm f/3.5-5.6</model>
        <model lang="en">18-55</model>
        <mount>Test F</mount><mount>Test G</mount>
        <cropfactor>1.5</cropfactor>
        <aspect-ratio>4:3</aspect-ratio>
        <center x="0.01" y="-0.02"/>
        <calibration>
            <distortion model="ptlens" focal="18" a="0.01" b="-0.03" c="0.002"/>
            <distortion model="poly3" focal="55" k1="-0.004"/>
            <tca model="poly3" focal="18" vr="1.0002" br="-0.0001"/>
            <tca model="linear" focal="55" kr="1.0003" kb="0.9998"/>
            <vignetting model="pa" focal="18" aperture="3.5" distance="10" k1="-0.3" k2="0.1" k3="-0.02"/>
        </calibration>
    </lens>
    <lens><maker>X</maker><model>Bad</model><mount>Test F</mount><cropfactor>1</cropfactor>
        <calibration><distortion model="acm" focal="10" k1="0.1"/></calibration></lens>
</lensdatabase>"#;

    #[test]
    fn lensfun_xml_reads_mounts_cameras_lenses_and_calibrations() {
        let p = parse(ONE, Path::new("one.xml")).expect("parses");
        assert_eq!(p.mounts.len(), 1);
        assert_eq!(p.mounts[0].compat, vec!["Test G"]);
        assert_eq!(p.cameras.len(), 1);
        let c = &p.cameras[0];
        assert_eq!(c.makers, vec!["Test Corporation", "Test"]);
        assert_eq!((c.mount.as_str(), c.crop), ("Test F", 1.5));
        assert_eq!(p.lenses.len(), 1);
        let l = &p.lenses[0];
        assert_eq!(l.models, vec!["Test 18-55mm f/3.5-5.6", "18-55"]);
        assert_eq!(l.mounts, vec!["Test F", "Test G"]);
        assert!((l.aspect - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(l.center, (0.01, -0.02));
        // No <focal>: from the model name, widened by the calibrations.
        assert_eq!(l.focal, (18.0, 55.0));
        assert_eq!(l.aperture, (3.5, 3.5));
        assert_eq!(l.distortion.len(), 2);
        assert_eq!(l.distortion[0].model, DistortionModel::Ptlens);
        assert_eq!(l.distortion[0].terms, [0.01, -0.03, 0.002]);
        assert_eq!(l.distortion[1].terms, [-0.004, 0.0, 0.0]);
        // TCA: absent terms take lensfun's defaults (v = 1, others 0).
        assert_eq!(l.tca[0].terms, [1.0002, 1.0, 0.0, 0.0, -0.0001, 0.0]);
        assert_eq!(l.tca[1].terms, [1.0003, 0.9998, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(l.vignetting[0].terms, [-0.3, 0.1, -0.02]);
        assert_eq!(
            (l.vignetting[0].aperture, l.vignetting[0].distance),
            (3.5, 10.0)
        );
        // The camera without a crop factor and the lens with an unknown model are named.
        assert_eq!(p.skipped.len(), 2, "{:?}", p.skipped);
        assert!(p.skipped[0].contains("cropfactor"), "{:?}", p.skipped);
        assert!(p.skipped[1].contains("\"acm\""), "{:?}", p.skipped);
    }

    #[test]
    fn files_that_are_not_lensfun_databases_are_errors() {
        for bad in [
            "",
            "<html></html>",
            "<lensdatabase>",
            "\u{feff}garbage",
            "<!DOCTYPE x [<!ENTITY a 'b'>]><lensdatabase/>",
        ] {
            assert!(parse(bad, Path::new("x.xml")).is_err(), "{bad:?}");
        }
    }
}
