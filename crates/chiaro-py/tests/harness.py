"""The little harness of the Python checks: each check is a function run at once, its
result printed as ``ok``, ``FAILED`` or ``skipped``; ``finish()`` exits 1 if any failed.
Checks skipped for lack of ``../shared`` data are logged to ``$CHIARO_SKIP_LOG`` (the test
script lists them at the end)."""

import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "nikon_d750_rose_768x512.dng"
SHARED = ROOT.parent / "shared" / "data" / "raw"

failures = []


def check(name):
    def wrap(f):
        try:
            f()
            print(f"ok      {name}", flush=True)
        except Exception as e:  # report every check, then fail
            failures.append(name)
            print(f"FAILED  {name}: {type(e).__name__}: {e}", flush=True)
        return f

    return wrap


def skip(name, why):
    print(f"skipped {name}: {why}")
    log = os.environ.get("CHIARO_SKIP_LOG")
    if log and "shared" in why:
        with open(log, "a") as f:
            f.write(f"SKIPPED (no ../shared data): python_api::{name}\n")


def finish():
    if failures:
        print(f"{len(failures)} Python check(s) failed: {', '.join(failures)}")
        sys.exit(1)
    print("all Python checks passed")
