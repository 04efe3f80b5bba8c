//! Which files a batch develops, and where each output goes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// File extensions taken as raw files when a folder is given.
pub const RAW_EXTENSIONS: &[&str] = &[
    "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "rw2", "orf", "pef",
    "srw", "iiq", "3fr", "x3f", "mrw", "erf", "kdc", "dcr", "mos", "raw",
];

fn is_raw_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| RAW_EXTENSIONS.iter().any(|r| r.eq_ignore_ascii_case(e)))
}

/// The inputs with each folder replaced by the raw files in it (sorted; with `recursive`,
/// its subfolders' too). A folder without raws is an error; files are kept as given.
pub fn expand_inputs(inputs: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(e).with_path(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            // Linked folders are not followed: a link loop would never end.
            let linked = p
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink());
            if p.is_dir() {
                if recursive && !linked {
                    walk(&p, recursive, out)?;
                }
            } else if is_raw_name(&p) {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for i in inputs {
        if i.is_dir() {
            let before = out.len();
            walk(i, recursive, &mut out)?;
            if out.len() == before {
                return Err(Error::parameter(format!(
                    "no raw files in this folder{}",
                    if recursive {
                        " or below"
                    } else {
                        " (a recursive search takes subfolders)"
                    }
                ))
                .with_path(i));
            }
        } else {
            out.push(i.clone());
        }
    }
    Ok(out)
}

/// An output file name from a `name` template of `{stem}`, `{look}` and `{ext}`.
pub fn output_name(template: &str, stem: &str, look: &str, ext: &str) -> Result<String> {
    let bad = |why: String| Error::parameter(format!("output name {template:?}: {why}"));
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| bad("a '{' without its '}'".into()))?;
        out.push_str(match &rest[open + 1..open + close] {
            "stem" => stem,
            "look" => look,
            "ext" => ext,
            other => return Err(bad(format!("unknown field {{{other}}} (stem, look, ext)"))),
        });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    if out.is_empty() || out.contains(['/', '\\']) {
        return Err(bad(format!("gives {out:?}, not a file name")));
    }
    Ok(out)
}

/// The output path in `dir` of each input, from the `name` template; two inputs that would
/// share an output (same name in different folders) are an error before anything is written.
pub fn plan_outputs(
    inputs: &[PathBuf],
    dir: &Path,
    template: &str,
    look: &str,
    ext: &str,
) -> Result<Vec<PathBuf>> {
    let outputs = inputs
        .iter()
        .map(|i| {
            let stem = i.file_stem().unwrap_or(i.as_os_str()).to_string_lossy();
            output_name(template, &stem, look, ext).map(|n| dir.join(n))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut seen = HashMap::new();
    for (input, output) in inputs.iter().zip(&outputs) {
        if let Some(first) = seen.insert(output, input) {
            return Err(Error::parameter(format!(
                "{} and {} would both be written to {}; develop them into different folders",
                first.display(),
                input.display(),
                output.display()
            )));
        }
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_template_fills_its_fields_and_refuses_paths() {
        assert_eq!(
            output_name("{stem}-{look}.{ext}", "IMG_1", "mono", "jpg").expect("works"),
            "IMG_1-mono.jpg"
        );
        assert!(output_name("{stem}/{ext}", "a", "b", "c").is_err());
        assert!(output_name("{stem", "a", "b", "c").is_err());
        assert!(output_name("{size}", "a", "b", "c").is_err());
    }

    #[test]
    fn same_stem_in_two_folders_is_refused() {
        let inputs = [PathBuf::from("a/x.dng"), PathBuf::from("b/x.nef")];
        let e = plan_outputs(&inputs, Path::new("out"), "{stem}.{ext}", "default", "jpg");
        assert!(
            e.expect_err("fails")
                .to_string()
                .contains("would both be written")
        );
        let ok = plan_outputs(&inputs[..1], Path::new("out"), "{stem}.{ext}", "d", "jpg");
        assert_eq!(ok.expect("works"), vec![PathBuf::from("out/x.jpg")]);
    }
}
