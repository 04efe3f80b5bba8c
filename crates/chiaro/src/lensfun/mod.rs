//! The lensfun lens database: distortion, lateral chromatic aberration (TCA) and vignetting
//! of about a thousand lenses, for camera raws that carry no lens corrections of their own.
//!
//! chiaro reads lensfun's version-1 XML files (Debian's `liblensfun-data-v1`, or any folder
//! of them) and reproduces lensfun 0.3's corrections, which is what that data was made for;
//! the data is CC BY-SA and is never shipped with chiaro. [`Database::system`] finds the
//! installed copy, [`Database::load_dir`] reads a folder, [`Database::find`] picks the camera
//! and lens from EXIF facts ([`find`]) and interpolates the calibration at the shot's focal
//! length and aperture ([`calibration`]) into a [`Correction`] that the lens stage applies.
//!
//! # References
//! lensfun 0.3.3, `libs/lensfun/database.cpp` (the XML schema), `lens.cpp` (interpolation),
//! `modifier.cpp`, `mod-coord.cpp`, `mod-subpix.cpp`, `mod-color.cpp` (the models), read for
//! the formulas; this is an independent implementation.

pub mod calibration;
pub mod find;
mod xml;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use calibration::Correction;

/// Folders lensfun 0.3 installs its database into, most specific first.
pub const SYSTEM_DIRS: [&str; 3] = [
    "/var/lib/lensfun-updates/version_1",
    "/usr/local/share/lensfun/version_1",
    "/usr/share/lensfun/version_1",
];

/// Largest database file read, bytes (the biggest installed file is about 600 kB).
const MAX_FILE: usize = 16 << 20;

/// A camera body: which mount it has and its crop factor.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    /// The maker and model as EXIF writes them, then their translations (`lang=`).
    pub makers: Vec<String>,
    pub models: Vec<String>,
    pub mount: String,
    /// Sensor diagonal of 35 mm film over this sensor's.
    pub crop: f64,
}

/// Projection a lens was designed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LensType {
    #[default]
    Rectilinear,
    Fisheye,
    Panoramic,
    Equirectangular,
    Orthographic,
    Stereographic,
    Equisolid,
    FisheyeThoby,
}

/// A distortion model: `r_d = r_u * f(r_u)` maps a corrected radius to the distorted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistortionModel {
    /// `f = 1 - k1 + k1 r^2`.
    Poly3,
    /// `f = 1 + k1 r^2 + k2 r^4`.
    Poly5,
    /// Panorama Tools: `f = a r^3 + b r^2 + c r + 1 - a - b - c`.
    Ptlens,
}

/// A lateral chromatic aberration model: red and blue scaled about the centre against green.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TcaModel {
    /// `r_red = kr r`, `r_blue = kb r`.
    Linear,
    /// `r_red = r (vr + cr r + br r^2)`, blue likewise with `vb cb bb`.
    Poly3,
}

/// One distortion calibration: the model's terms `[k1|a, k2|b, c]` at a focal length (mm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistortionEntry {
    pub focal: f64,
    pub model: DistortionModel,
    pub terms: [f64; 3],
}

/// One TCA calibration: `[vr|kr, vb|kb, cr, cb, br, bb]` at a focal length (mm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TcaEntry {
    pub focal: f64,
    pub model: TcaModel,
    pub terms: [f64; 6],
}

/// One vignetting calibration (lensfun's "pa" model, `1 + k1 r^2 + k2 r^4 + k3 r^6` of the
/// radius over the half-diagonal) at a focal length (mm), f-number and focus distance (m).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VignettingEntry {
    pub focal: f64,
    pub aperture: f64,
    pub distance: f64,
    pub terms: [f64; 3],
}

/// A lens and its calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Lens {
    pub makers: Vec<String>,
    pub models: Vec<String>,
    pub mounts: Vec<String>,
    /// Crop factor of the camera the calibration was shot on.
    pub crop: f64,
    /// Aspect ratio (long over short side) of that camera's images.
    pub aspect: f64,
    /// Optical centre offset, in units of half the shorter image side (+x right, +y down).
    pub center: (f64, f64),
    pub kind: LensType,
    /// Focal range (mm), from `<focal>` or the model name; 0 when unknown.
    pub focal: (f64, f64),
    /// F-number range (widest, narrowest); 0 when unknown.
    pub aperture: (f64, f64),
    pub distortion: Vec<DistortionEntry>,
    pub tca: Vec<TcaEntry>,
    pub vignetting: Vec<VignettingEntry>,
    /// The file it was read from.
    pub source: PathBuf,
}

/// A mount and the mounts whose lenses fit it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub name: String,
    pub compat: Vec<String>,
}

/// The cameras, lenses and mounts of a set of lensfun XML files.
#[derive(Debug, Clone, Default)]
pub struct Database {
    pub cameras: Vec<Camera>,
    pub lenses: Vec<Lens>,
    pub mounts: Vec<Mount>,
    /// The folder or files read.
    pub origin: Vec<PathBuf>,
    /// Files (or entries) that could not be read; the rest of the database still loads.
    pub warnings: Vec<String>,
}

impl Database {
    /// The installed database (the first of [`SYSTEM_DIRS`] whose XML files hold lenses), or
    /// `None`.
    pub fn system() -> Option<Database> {
        SYSTEM_DIRS
            .iter()
            .map(Path::new)
            .filter(|d| d.is_dir())
            .find_map(|d| {
                Database::load_dir(d)
                    .ok()
                    .filter(|db| !db.lenses.is_empty())
            })
    }

    /// Reads every `*.xml` file of `dir` (sorted by name). A file that is not a lensfun
    /// database is named in [`Database::warnings`]; no file at all is an error.
    pub fn load_dir(dir: &Path) -> Result<Database> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::io(e).with_path(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")));
        let mut files: Vec<PathBuf> = entries.collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::parameter(format!(
                "{}: no lensfun XML files there",
                dir.display()
            )));
        }
        let mut db = Database {
            origin: vec![dir.to_path_buf()],
            ..Database::default()
        };
        // Parsed in parallel (most of the load), merged in name order.
        let parsed: Vec<_> = {
            use rayon::prelude::*;
            files.par_iter().map(|f| (f, parse_file(f))).collect()
        };
        let mut index = Index::of(&db);
        for (f, p) in parsed {
            match p {
                Ok(p) => db.merge(f, p, &mut index),
                Err(e) => db.warnings.push(e.to_string()),
            }
        }
        Ok(db)
    }

    /// Adds one XML file's mounts, cameras and lenses; entries of a later file replace
    /// earlier ones of the same name (lenses: and crop factor), as in lensfun.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let parsed = parse_file(path)?;
        let mut index = Index::of(self);
        self.merge(path, parsed, &mut index);
        Ok(())
    }

    /// Adds one parsed file; `index` holds the keys of the entries already here.
    fn merge(&mut self, path: &Path, parsed: xml::Parsed, index: &mut Index) {
        self.warnings.extend(
            parsed
                .skipped
                .into_iter()
                .map(|w| format!("{}: {w}", path.display())),
        );
        replace_or_add(
            &mut self.mounts,
            parsed.mounts,
            &mut index.mounts,
            mount_key,
        );
        replace_or_add(
            &mut self.cameras,
            parsed.cameras,
            &mut index.cameras,
            camera_key,
        );
        replace_or_add(&mut self.lenses, parsed.lenses, &mut index.lenses, lens_key);
        if !self.origin.iter().any(|o| path.starts_with(o)) {
            self.origin.push(path.to_path_buf());
        }
    }
}

/// Reads and parses one XML file.
fn parse_file(path: &Path) -> Result<xml::Parsed> {
    let text = crate::limits::read_side_file(path, MAX_FILE).map_err(|e| e.with_path(path))?;
    let text =
        String::from_utf8(text).map_err(|_| Error::parameter("not UTF-8 text").with_path(path))?;
    xml::parse(&text, path).map_err(|e| e.with_path(path))
}

type Keys = std::collections::HashMap<String, usize>;

/// Where each entry of a database is, by the key a later entry replaces it by (lensfun:
/// the normalised name; for lenses, and the crop factor).
struct Index {
    mounts: Keys,
    cameras: Keys,
    lenses: Keys,
}

impl Index {
    fn of(db: &Database) -> Index {
        fn keys<T>(list: &[T], key: fn(&T) -> String) -> Keys {
            list.iter().enumerate().map(|(i, e)| (key(e), i)).collect()
        }
        Index {
            mounts: keys(&db.mounts, mount_key),
            cameras: keys(&db.cameras, camera_key),
            lenses: keys(&db.lenses, lens_key),
        }
    }
}

fn mount_key(m: &Mount) -> String {
    norm(&m.name)
}

fn camera_key(c: &Camera) -> String {
    format!("{}\n{}", norm(&c.makers[0]), norm(&c.models[0]))
}

fn lens_key(l: &Lens) -> String {
    format!("{}\n{}\n{}", norm(&l.makers[0]), norm(&l.models[0]), l.crop)
}

/// Puts each of `new` in `list`, in the place of an entry with the same key.
fn replace_or_add<T>(list: &mut Vec<T>, new: Vec<T>, at: &mut Keys, key: fn(&T) -> String) {
    for e in new {
        let k = key(&e);
        match at.get(&k) {
            Some(&i) => list[i] = e,
            None => {
                at.insert(k, list.len());
                list.push(e);
            }
        }
    }
}

/// A name as lensfun compares names: lower case, runs of white space as one, none at the
/// ends.
fn norm(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.is_ascii() {
            out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            out.push_str(&word.to_lowercase());
        }
    }
    out
}

/// lensfun's string equality ([`norm`]).
pub(crate) fn same(a: &str, b: &str) -> bool {
    norm(a) == norm(b)
}
