//! Runs one of the Python package's check scripts with the interpreter named by
//! `CHIARO_PYTHON` (scripts/test.sh installs the package, rawpy and Ray into `.venv`) and
//! fails with its output unless every check passed.

use std::path::Path;
use std::process::Command;

pub fn run_python_checks(script: &Path, envs: &[(&str, &str)]) {
    let python = std::env::var("CHIARO_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(script)
        .envs(envs.iter().copied())
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
        "the Python checks of {} failed (install the package and its peers with `pip install \
         ./crates/chiaro-py rawpy ray`, as scripts/test.sh does):\n{text}",
        script.display()
    );
}
