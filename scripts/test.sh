#!/usr/bin/env bash
# Runs chiaro's whole test suite on a fresh machine: installs what the tests need (the
# rawpy/LibRaw peer used by the comparison tests, in the virtual environment .venv), then
# licence check, format, lint and all tests.
#
# The test data lives in ../shared/data beside the repository. Without it every test that
# needs no data still runs, and the run ends with the list of tests skipped for lack of data
# before the closing totals line `N passed, N failed`. The exit status is non-zero when any
# step or test failed.
set -euo pipefail
cd "$(dirname "$0")/.."

have_data=false
if [ -d ../shared/data ]; then
  have_data=true
else
  echo "note: no ../shared/data beside the repository: the tests that need it are skipped"
fi

# The Python peers (rawpy + numpy) of tests/libraw_peer.rs and of the Python package's
# checks, and the package itself, in a virtual environment: stock Debian/Ubuntu Pythons
# refuse a global `pip install` (PEP 668). The tests run the interpreter named by
# CHIARO_PYTHON. A peer that cannot be set up is a warning here and a clear failure of the
# tests that need it.
venv=.venv
export CHIARO_PYTHON="$PWD/$venv/bin/python"
make_venv() {
  rm -rf "$venv"
  python3 -m venv "$venv" >/dev/null 2>&1 && return 0
  rm -rf "$venv"
  # Debian and Ubuntu ship the venv module (with ensurepip) as a separate package.
  local versioned
  versioned="python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing python3-venv (apt-get) for python3 -m venv..."
    apt-get update -qq >/dev/null || true
    apt-get install -y -qq python3-venv >/dev/null || apt-get install -y -qq "$versioned" >/dev/null || true
    python3 -m venv "$venv" && return 0
    rm -rf "$venv"
  fi
  echo "warning: python3 -m venv does not work; install the venv module (Debian/Ubuntu:" \
    "sudo apt-get install python3-venv or $versioned) and run again; the LibRaw comparison tests will fail" >&2
  return 1
}
venv_ok=true
if ! "$CHIARO_PYTHON" -m pip --version >/dev/null 2>&1; then
  echo "creating the Python virtual environment $venv (the Python package and the peers)..."
  make_venv || venv_ok=false
fi
if $venv_ok && ! "$CHIARO_PYTHON" -c "import rawpy, numpy, PIL" 2>/dev/null; then
  echo "installing rawpy, numpy and Pillow into $venv (pip)..."
  "$CHIARO_PYTHON" -m pip install --quiet --disable-pip-version-check "rawpy>=0.21" "numpy" "pillow" \
    || echo "warning: could not install rawpy; the LibRaw comparison tests will fail" >&2
fi
if $venv_ok && $have_data && ! "$CHIARO_PYTHON" -c "import colour_demosaicing" 2>/dev/null; then
  echo "installing colour-demosaicing into $venv (pip; the demosaicing benchmark's peer)..."
  "$CHIARO_PYTHON" -m pip install --quiet --disable-pip-version-check "colour-demosaicing" \
    || echo "warning: could not install colour-demosaicing; the peer test will fail" >&2
fi
# Ray, for the Python package's scale-out path (chiaro.ray) and its checks, which start a
# local cluster of 2 CPUs (crates/chiaro-cli/tests/python_batch.rs).
if $venv_ok && ! "$CHIARO_PYTHON" -c "import ray" 2>/dev/null; then
  echo "installing Ray into $venv (pip; about a minute)..."
  "$CHIARO_PYTHON" -m pip install --quiet --disable-pip-version-check "ray>=2.40" \
    || echo "warning: could not install Ray; the Ray checks will fail" >&2
fi
# chiaro's Python package, built from this checkout (maturin, a release build: about two
# minutes on 2 cores the first time); crates/chiaro-py/tests/python_api.rs runs its checks.
if $venv_ok; then
  echo "building and installing the chiaro Python package into $venv (pip install ./crates/chiaro-py)..."
  "$CHIARO_PYTHON" -m pip install --quiet --disable-pip-version-check ./crates/chiaro-py \
    || echo "warning: could not build the Python package; its test will fail" >&2
fi

# exiftool reads the Ultra HDR test's MPF index and gain-map XMP (an independent reader);
# without it that part of the test says it was left out.
if $have_data && ! command -v exiftool >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing exiftool (apt-get libimage-exiftool-perl) for the Ultra HDR test..."
  apt-get install -y -qq libimage-exiftool-perl >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libimage-exiftool-perl >/dev/null 2>&1; } \
    || echo "warning: could not install exiftool; the Ultra HDR test checks without it" >&2
fi

# libtiff's tiffcp reads back every TIFF compression chiaro writes (tests/io_roundtrip.rs),
# an independent decoder; without it that part of the test says it was left out.
if ! command -v tiffcp >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing tiffcp (apt-get libtiff-tools) for the TIFF read-back test..."
  apt-get install -y -qq libtiff-tools >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libtiff-tools >/dev/null 2>&1; } \
    || echo "warning: could not install libtiff-tools; the TIFF test checks without libtiff" >&2
fi

# lensfun's database (CC BY-SA data, never shipped in the repository) and lensfun itself
# (LGPL, only as the test peer, loaded by tests/peers/lensfun_peer.py through ctypes):
# tests/lens_lensfun.rs compares chiaro's lookups and corrections with it. Without them
# those parts say they were left out.
if { [ ! -d /usr/share/lensfun/version_1 ] || ! ldconfig -p 2>/dev/null | grep -q liblensfun.so.1; } \
  && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing liblensfun-data-v1 and liblensfun1 (apt-get) for the lensfun tests..."
  apt-get install -y -qq liblensfun-data-v1 liblensfun1 >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq liblensfun-data-v1 liblensfun1 >/dev/null 2>&1; } \
    || echo "warning: could not install lensfun; the lensfun peer test checks without it" >&2
fi

# Licence guard: no GPL/AGPL crate in the default build (deny.toml).
if ! cargo deny --version >/dev/null 2>&1; then
  echo "installing cargo-deny (cargo install, about 8 minutes on 2 cores)..."
  cargo install --locked --quiet cargo-deny
fi
echo "checking licences (cargo deny)..."
cargo deny --log-level error check licenses bans

echo "checking format and lints (cargo fmt, cargo clippy)..."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

log=$(mktemp)
skips=$(mktemp)
trap 'rm -f "$log" "$skips"' EXIT
# Each test that lacks ../shared/data appends a line `SKIPPED (no ../shared data): NAME`.
export CHIARO_SKIP_LOG="$skips"
echo "building and running the tests (cargo test; about 10 minutes on 2 cores)..."
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?

skipped=$(sort -u "$skips" | wc -l)
if [ "$skipped" -gt 0 ]; then
  echo
  echo "Skipped for lack of ../shared/data ($skipped tests, not counted as passed; CI, which has the data, runs them):"
  sort -u "$skips" | sed 's/^SKIPPED (no ..\/shared data): /  /'
elif ! $have_data; then
  echo "no test was skipped for lack of ../shared/data"
fi
# One closing line with the totals of every test binary (libtest reports a skipped test as
# passed: those are taken off).
awk -v skipped="$skipped" '/^test result:/ { p += $4; f += $6 }
  END { printf "%d passed, %d failed\n", p - skipped, f }' "$log"
exit "$status"
