//! Runs the Python package's checks (`tests/test_api.py`).

mod support;

use std::path::Path;

#[test]
fn python_package_passes_its_checks() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/test_api.py");
    support::run_python_checks(&script, &[]);
}
