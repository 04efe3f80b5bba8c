#!/usr/bin/env bash
# Runs chiaro's whole test suite on a fresh machine: installs what the tests need (the
# rawpy/LibRaw peer used by the comparison tests), then format, lint and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import rawpy, numpy" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "rawpy>=0.21" "numpy" \
    || echo "warning: could not install rawpy; the LibRaw comparison tests will fail" >&2
fi
if [ ! -d ../shared/data ]; then
  echo "error: ../shared/data (the test data) must sit beside the repository" >&2
  exit 1
fi

# Licence guard: no GPL/AGPL crate in the default build (deny.toml).
if ! cargo deny --version >/dev/null 2>&1; then
  cargo install --locked --quiet cargo-deny
fi
cargo deny --log-level error check licenses bans

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line with the totals of every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
