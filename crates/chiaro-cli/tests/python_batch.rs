//! Runs the Python package's batch checks (`crates/chiaro-py/tests/test_batch.py`:
//! `develop_many`, `chiaro.ray.develop` on a local Ray cluster with a worker killed, and
//! `chiaro batch --ray` with this crate's binary).

#[path = "../../chiaro-py/tests/support/mod.rs"]
mod support;

use std::path::Path;

#[test]
fn python_batch_paths_pass_their_checks() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chiaro-py/tests/test_batch.py");
    support::run_python_checks(&script, &[("CHIARO_BIN", env!("CARGO_BIN_EXE_chiaro"))]);
}
