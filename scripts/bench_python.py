"""Throughput of the Python batch paths on the same files and cores, in one run:

- rawpy (LibRaw): ``imread`` + ``postprocess(use_camera_wb=True)`` + a Pillow JPEG q92 4:4:4
  (or a 16-bit TIFF by tifffile), on a process pool of one worker per core (what rawpy's
  maintainer advises against the GIL);
- chiaro as a drop-in (``import chiaro as rawpy``) on the same process pool;
- ``chiaro.develop_many`` (the engine's thread pool, its own JPEG q92 or TIFF writer);
- ``chiaro.ray.develop`` on a local Ray cluster started before the clock (so its start-up,
  about 4 s, is not counted: a cluster is started once for many batches).

Each method runs --runs times, alternating, and the best wall time counts (the machine is
shared and noisy). With ``../shared/data`` the set is 4 copies of the 12 MP phone DNG, 8 of
the 2 MP Canon DNG and 16 of the 0.4 MP D750 crop (hard links); without it, 32 copies of the
sample. Then, on the phone DNG (exact ground truth), the mean CIEDE2000 of its ColorChecker
for rawpy and for chiaro, both linear ProPhoto RGB (wide enough for every patch) with the camera's white balance, each scaled so the
chart's mid grey has its true lightness (colour-science computes Lab and CIEDE2000).

    .venv/bin/python scripts/bench_python.py [--runs 3] [--cores 2] [--formats jpeg,tiff]

(`pip install tifffile` for the TIFF rows: rawpy's output is written with it.)
"""
import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "nikon_d750_rose_768x512.dng"
RAW = ROOT.parent / "shared" / "data" / "raw"
PHONE = RAW / "phone_synth_lgg4_4200k_4032x3024.dng"


def file_set(d):
    """Hard links to the benchmark's raws in `d`."""
    d.mkdir()
    plan = (
        [(PHONE, 4), (RAW / "canon550d_colorchart.dng", 8), (RAW / "nikon_d750_rose_768x512.dng", 16)]
        if PHONE.exists()
        else [(SAMPLE, 32)]
    )
    files = []
    for src, n in plan:
        for k in range(n):
            dst = d / f"{src.stem}_{k:02}.dng"
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy(src, dst)
            files.append(str(dst))
    return files


def _develop_with(module, path, out, fmt):
    """One file through rawpy's API (rawpy itself, or chiaro standing in for it)."""
    lib = __import__(module)
    stem = os.path.join(out, pathlib.Path(path).stem)
    with lib.imread(path) as raw:
        rgb = raw.postprocess(use_camera_wb=True, output_bps=16 if fmt == "tiff" else 8)
    if fmt == "tiff":
        import tifffile

        tifffile.imwrite(stem + ".tif", rgb, photometric="rgb")
    else:
        from PIL import Image

        # 4:4:4, as chiaro writes at quality 90 and above (Pillow's default halves the chroma).
        Image.fromarray(rgb).save(stem + ".jpg", quality=92, subsampling=0)


def _warm(module):
    __import__(module)
    from PIL import Image  # noqa: F401

    return os.getpid()


def pool_method(module, cores):
    # Spawned, not forked: rawpy's OpenMP build can deadlock in forked workers.
    pool = cf.ProcessPoolExecutor(max_workers=cores, mp_context=multiprocessing.get_context("spawn"))
    # Start the workers (and import the libraries) before the clock.
    list(pool.map(_warm, [module] * cores * 2))

    def run(files, out, fmt):
        n = len(files)
        list(pool.map(_develop_with, [module] * n, files, [out] * n, [fmt] * n))
        return n

    return run, pool.shutdown


# chiaro's options for each output: JPEG q92, or 16-bit TIFF without compression.
CHIARO_FORMAT = {"jpeg": {"quality": 92}, "tiff": {"format": "tiff", "bits": 16, "compression": "none"}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--formats", default="jpeg,tiff", help="jpeg, tiff or both (tiff needs tifffile)")
    a = ap.parse_args()
    formats = a.formats.split(",")

    import chiaro

    methods = {}
    try:
        import rawpy  # noqa: F401

        methods["rawpy postprocess, process pool"] = pool_method("rawpy", a.cores)
    except ImportError:
        print("rawpy is not installed: its row is left out")
    methods["chiaro drop-in (import chiaro as rawpy), process pool"] = pool_method("chiaro", a.cores)
    methods["chiaro.develop_many"] = (
        lambda files, out, fmt: len(
            chiaro.develop_many(files, out, jobs=a.cores, overwrite=True, **CHIARO_FORMAT[fmt]).done
        ),
        None,
    )
    try:
        import ray

        import chiaro.ray

        ray.init(num_cpus=a.cores, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        methods["chiaro.ray.develop (local cluster)"] = (
            lambda files, out, fmt: len(
                chiaro.ray.develop(files, out, overwrite=True, progress=False, **CHIARO_FORMAT[fmt]).done
            ),
            ray.shutdown,
        )
    except ImportError:
        print("Ray is not installed: its row is left out")
    closers = [c for _, c in methods.values() if c]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        files = file_set(tmp / "in")
        mpix = 0.0
        for f in files:
            with chiaro.imread(f) as r:
                s = r.sizes
                mpix += s.width * s.height / 1e6
        best = {}
        for run in range(a.runs):
            for fmt in formats:
                for k, (name, (fn, _)) in enumerate(methods.items()):
                    out = tmp / f"out{k}"
                    shutil.rmtree(out, ignore_errors=True)
                    out.mkdir()
                    t = time.perf_counter()
                    n = fn(files, str(out), fmt)
                    dt = time.perf_counter() - t
                    assert n == len(files), f"{name}: {n} of {len(files)} developed"
                    best[fmt, name] = min(best.get((fmt, name), dt), dt)
        for c in closers:
            c()

    for fmt in formats:
        what = "JPEG q92 4:4:4" if fmt == "jpeg" else "16-bit TIFF, uncompressed"
        print(f"\n{len(files)} raws, {mpix:.0f} MP in all, {a.cores} cores, {what}, best of {a.runs} runs")
        base = best.get((fmt, "rawpy postprocess, process pool"))
        print(f"{'method':58} {'wall s':>7} {'images/s':>9} {'vs rawpy':>9}")
        for name in methods:
            dt = best[fmt, name]
            rel = f"{base / dt:8.2f}x" if base else ""
            print(f"{name:58} {dt:7.2f} {len(files) / dt:9.2f} {rel:>9}")
        dm = best.get((fmt, "chiaro.develop_many"))
        rd = best.get((fmt, "chiaro.ray.develop (local cluster)"))
        if dm and rd:
            print(f"Ray's overhead against develop_many: {100 * (rd / dm - 1):+.1f} %")
    if PHONE.exists():
        chart_error()


def chart_error():
    """Mean CIEDE2000 of the phone DNG's chart, linear, camera white balance."""
    try:
        import warnings

        warnings.filterwarnings("ignore")
        import colour
        import rawpy
    except ImportError as e:
        print(f"colour accuracy left out ({e})")
        return
    import chiaro

    truth = json.loads(PHONE.with_suffix(".truth.json").read_text())
    boxes = truth["chart_boxes_yyxx"]
    lab_true = np.array(truth["chart_lab_d50"])
    D50 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D50"]

    def de(lib):
        with lib.imread(str(PHONE)) as raw:
            rgb = raw.postprocess(
                use_camera_wb=True, gamma=(1, 1), no_auto_bright=True, output_bps=16, output_color=lib.ColorSpace.ProPhoto
            )
        rgb = rgb.astype(np.float64) / 65535
        means = np.array([rgb[y0 + 20 : y1 - 20, x0 + 20 : x1 - 20].reshape(-1, 3).mean(0) for y0, y1, x0, x1 in boxes])
        # ProPhoto's white is D50, the truth's: no adaptation.
        xyz = colour.RGB_to_XYZ(means, colour.RGB_COLOURSPACES["ProPhoto RGB"], apply_cctf_decoding=False)
        # Exposure differs between the pipelines: scale so patch 22 (neutral 5) has its true L.
        y_true = colour.Lab_to_XYZ(lab_true[21], D50)[1]
        xyz *= y_true / xyz[21, 1]
        lab = colour.XYZ_to_Lab(xyz, D50)
        return float(np.mean(colour.delta_E(lab, lab_true, method="CIE 2000")))

    print(f"phone DNG chart, mean CIEDE2000 (linear, camera WB): rawpy {de(rawpy):.2f}, chiaro {de(chiaro):.2f}")


if __name__ == "__main__":
    sys.exit(main())
