//! Runs the Python package's checks (`tests/test_api.py`) with the interpreter named by
//! `CHIARO_PYTHON` (scripts/test.sh installs the package and rawpy, its peer, into `.venv`).

use std::path::Path;
use std::process::Command;

#[test]
fn python_package_passes_its_checks() {
    let python = std::env::var("CHIARO_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/test_api.py");
    let out = Command::new(&python)
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "the Python checks failed (install the package with `pip install ./crates/chiaro-py`, \
         as scripts/test.sh does):\n{text}"
    );
}
