//! Runs the Python package's batch checks (`crates/chiaro-py/tests/test_batch.py`:
//! `develop_many`, `chiaro.ray.develop` on a local Ray cluster with a worker killed, and
//! `chiaro batch --ray` with this crate's binary) with the interpreter named by
//! `CHIARO_PYTHON` (scripts/test.sh installs the package and Ray into `.venv`).

use std::path::Path;
use std::process::Command;

#[test]
fn python_batch_paths_pass_their_checks() {
    let python = std::env::var("CHIARO_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chiaro-py/tests/test_batch.py");
    let out = Command::new(&python)
        .arg(&script)
        .env("CHIARO_BIN", env!("CARGO_BIN_EXE_chiaro"))
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
        "the Python batch checks failed (install the package and Ray with `pip install \
         ./crates/chiaro-py ray`, as scripts/test.sh does):\n{text}"
    );
}
