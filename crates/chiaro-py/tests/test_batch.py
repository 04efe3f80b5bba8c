"""Checks of the batch paths: ``chiaro.develop_many``, ``chiaro.ray.develop`` on a local Ray
cluster this script starts (2 CPUs), and ``chiaro batch --ray`` (the CLI named by
``$CHIARO_BIN``). Run by tests/python_api.rs; exit status 0 when every check passed."""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from PIL import Image

import chiaro
from harness import SAMPLE, check, finish, skip

GOOD = 12


def shoot(d):
    """A folder of GOOD copies of the sample and one file that is not a raw."""
    src = pathlib.Path(d) / "in"
    src.mkdir()
    for k in range(GOOD):
        shutil.copy(SAMPLE, src / f"r{k:02}.dng")
    (src / "bad.dng").write_bytes(b"II*\0 this is no raw")
    return src


def assert_outputs(out):
    """Every good file's JPEG is there, whole, and nothing else (no temporary files)."""
    names = sorted(os.listdir(out))
    assert names == [f"r{k:02}.jpg" for k in range(GOOD)], names
    for n in names:
        with Image.open(out / n) as im:
            im.load()
            assert im.size == (768, 512), (n, im.size)


@check("develop_many_reports_each_file_and_a_rerun_skips_finished_ones")
def _():
    with tempfile.TemporaryDirectory() as d:
        src, out = shoot(d), pathlib.Path(d) / "out"
        r = chiaro.develop_many(src, out, jobs=2, quality=90)
        assert len(r.files) == GOOD + 1 and len(r.done) == GOOD, r
        [(bad, why)] = r.failed
        assert bad.name == "bad.dng" and "bad.dng" in why, why
        assert not r.ok
        assert_outputs(out)
        again = chiaro.develop_many(str(src / "*.dng"), out, jobs=2, quality=90)
        assert len(again.skipped) == GOOD and not again.done, again
        redo = chiaro.develop_many([src / "r00.dng"], out, overwrite=True, format="png", bits=16)
        assert len(redo.done) == 1 and (out / "r00.png").exists(), redo
        try:
            chiaro.develop_many(src, out, colour="srgb")
            raise AssertionError("an unknown option was accepted")
        except chiaro.ParameterError as e:
            assert "colour" in str(e), e


@check("develop_many_stops_on_ctrl_c_without_partial_files")
def _():
    with tempfile.TemporaryDirectory() as d:
        src = pathlib.Path(d) / "in"
        src.mkdir()
        for k in range(400):
            os.link(SAMPLE, src / f"r{k:03}.dng")
        out = pathlib.Path(d) / "out"
        code = "import sys, chiaro; chiaro.develop_many(sys.argv[1], sys.argv[2], jobs=2)"
        p = subprocess.Popen([sys.executable, "-c", code, src, out], stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120  # generous: only a hang fails it
        while not (out.is_dir() and len(os.listdir(out)) >= 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        assert p.returncode != 0 and "KeyboardInterrupt" in err, (p.returncode, err[-400:])
        names = os.listdir(out)
        assert 3 <= len(names) < 400, len(names)
        assert all(n.endswith(".jpg") and not n.startswith(".") for n in names), names


def worker_running(task):
    """The pid of a Ray worker process running `task` (Ray titles it ``ray::NAME``)."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().startswith(f"ray::{task}".encode()):
                        return int(pid)
            except OSError:
                pass
    return None


def kill_a_worker(out, seen):
    """Kills the first worker seen running a group, and notes which outputs existed then
    (with their inode: a file written again would be a new one)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pid = worker_running("_develop_group")
        if pid:
            os.kill(pid, signal.SIGKILL)
            seen["pid"] = pid
            seen["inodes"] = {n: os.stat(out / n).st_ino for n in os.listdir(out) if n.endswith(".jpg")}
            return
        time.sleep(0.005)


def run_with_a_kill(src, out, **kw):
    seen = {}
    out.mkdir()
    killer = threading.Thread(target=kill_a_worker, args=(out, seen))
    killer.start()
    report = chiaro.ray.develop(src, out, group=2, progress=False, **kw)
    killer.join()
    assert "pid" in seen, "no worker was seen running a task"
    return report, seen


try:
    import ray

    import chiaro.ray
except ImportError as e:
    ray = None
    skip("ray_checks", f"Ray is not installed ({e}); scripts/test.sh installs it")

if ray is not None:
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)

    @check("ray_run_survives_a_killed_worker_and_writes_each_good_file_once")
    def _():
        with tempfile.TemporaryDirectory() as d:
            src, out = shoot(d), pathlib.Path(d) / "out"
            report, seen = run_with_a_kill(src, out)
            assert len(report.done) == GOOD, report
            [(bad, why)] = report.failed
            assert bad.name == "bad.dng" and str(bad) in why, why
            assert_outputs(out)
            for n, ino in seen["inodes"].items():
                assert os.stat(out / n).st_ino == ino, f"{n} was written twice"
            again = chiaro.ray.develop(src, out, progress=False)
            assert len(again.skipped) == GOOD and len(again.failed) == 1, again

    @check("ray_task_whose_worker_dies_past_its_retries_fails_its_files_only")
    def _():
        with tempfile.TemporaryDirectory() as d:
            src, out = shoot(d), pathlib.Path(d) / "out"
            report, _ = run_with_a_kill(src, out, max_retries=0)
            lost = [(p, why) for p, why in report.failed if p.name != "bad.dng"]
            # The killed task's files (one or two: tasks are formed by bytes) and no others.
            assert 1 <= len(lost) <= 2 and all("Ray task failed" in why for _, why in lost), report.failed
            assert len(report.done) == GOOD - len(lost), report

    chiaro_bin = os.environ.get("CHIARO_BIN")
    if chiaro_bin:

        @check("chiaro_batch_with_ray_develops_on_the_cluster")
        def _():
            with tempfile.TemporaryDirectory() as d:
                src, out = shoot(d), pathlib.Path(d) / "out"
                addr = ray.get_runtime_context().gcs_address
                cmd = [chiaro_bin, "batch", src, "--out-dir", out, "--ray", addr, "--python", sys.executable]
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                assert p.returncode == 1, (p.returncode, p.stderr)
                assert f"developed {GOOD} of {GOOD + 1} file(s), 1 failed" in p.stderr, p.stderr
                assert_outputs(out)

    else:
        skip("chiaro_batch_with_ray_develops_on_the_cluster", "CHIARO_BIN is not set")
    ray.shutdown()

finish()
