"""Peers of `chiaro lab demosaic`: demosaics chiaro's mosaics with LibRaw (through rawpy) and
colour-demosaicing, whichever is installed, and writes their results back.

usage: python lab_peers.py JOB.json

JOB.json: {"pattern": "RGGB", "images": [{"mosaic": "0.npy", "width": W, "height": H}, ...]}
(paths relative to the job's folder; each mosaic float32 H x W, code values about 0..1).
Writes NAME_METHOD.npy (float32 H x W x 3, the same units) beside each mosaic and
results.json: {"methods": {METHOD: [{"result": FILE, "seconds": S} or null, ...]},
"skipped": [why, ...]}.
"""
import json
import pathlib
import struct
import sys
import tempfile
import time

import numpy as np

LIBRAW = ["AHD", "AAHD", "DCB", "DHT", "PPG", "VNG"]


def dng(path, cfa16, pattern):
    """A minimal uncompressed little-endian DNG holding a 16-bit Bayer mosaic."""
    h, w = cfa16.shape
    colours = {"R": 0, "G": 1, "B": 2}
    cfa = bytes(colours[c] for c in pattern)
    entries = []  # (tag, type, count, value bytes)

    def add(tag, typ, values):
        fmt = {1: "B", 2: "s", 3: "H", 4: "I", 5: "II", 10: "ii"}[typ]
        if typ == 2:
            data = values.encode() + b"\0"
            count = len(data)
        elif typ in (5, 10):
            data = b"".join(struct.pack("<" + fmt, *v) for v in values)
            count = len(values)
        else:
            data = struct.pack("<%d%s" % (len(values), fmt), *values)
            count = len(values)
        entries.append((tag, typ, count, data))

    pixels = cfa16.astype("<u2").tobytes()
    add(254, 4, [0])
    add(256, 4, [w])
    add(257, 4, [h])
    add(258, 3, [16])
    add(259, 3, [1])
    add(262, 3, [32803])
    add(271, 2, "chiaro")
    add(272, 2, "lab")
    add(273, 4, [0])  # strip offset, patched below
    add(277, 3, [1])
    add(278, 4, [h])
    add(279, 4, [len(pixels)])
    add(284, 3, [1])
    add(33421, 3, [2, 2])
    add(33422, 1, list(cfa))
    add(50706, 1, [1, 4, 0, 0])
    add(50708, 2, "chiaro lab")
    add(50714, 4, [0])
    add(50717, 4, [65535])
    add(50721, 10, [(1, 1), (0, 1), (0, 1), (0, 1), (1, 1), (0, 1), (0, 1), (0, 1), (1, 1)])
    add(50728, 5, [(1, 1), (1, 1), (1, 1)])
    add(50778, 3, [21])
    entries.sort()
    ifd_size = 2 + 12 * len(entries) + 4
    extra = 8 + ifd_size
    blobs = b""
    out_entries = []
    for tag, typ, count, data in entries:
        if len(data) <= 4:
            out_entries.append((tag, typ, count, data.ljust(4, b"\0")))
        else:
            out_entries.append((tag, typ, count, struct.pack("<I", extra + len(blobs))))
            blobs += data + (b"\0" if len(data) % 2 else b"")
    strip = extra + len(blobs)
    ifd = struct.pack("<H", len(out_entries))
    for tag, typ, count, value in out_entries:
        if tag == 273:
            value = struct.pack("<I", strip)
        ifd += struct.pack("<HHI", tag, typ, count) + value
    ifd += struct.pack("<I", 0)
    path.write_bytes(b"II*\0" + struct.pack("<I", 8) + ifd + blobs + pixels)


def main(job_path):
    job_path = pathlib.Path(job_path)
    folder = job_path.parent
    job = json.loads(job_path.read_text())
    pattern = job["pattern"]
    images = job["images"]
    methods = {}
    skipped = []
    try:
        import colour_demosaicing as cd

        funcs = {
            "menon2007": cd.demosaicing_CFA_Bayer_Menon2007,
            "malvar2004": cd.demosaicing_CFA_Bayer_Malvar2004,
        }
        if len(pattern) != 4:
            skipped.append("colour-demosaicing: Bayer patterns only")
            funcs = {}
    except Exception as e:  # not installed
        skipped.append(f"colour-demosaicing: {e}")
        funcs = {}
    try:
        import rawpy

        if len(pattern) != 4:
            skipped.append("rawpy: Bayer patterns only")
            rawpy = None
    except Exception as e:
        skipped.append(f"rawpy: {e}")
        rawpy = None
    for name in list(funcs) + ([f"libraw-{a.lower()}" for a in LIBRAW] if rawpy else []):
        methods[name] = []
    def run(name, stem, compute):
        """Times `compute()` (RGB like the mosaic's values), saves it, records it or why not."""
        try:
            start = time.perf_counter()
            rgb = compute()
            seconds = time.perf_counter() - start
        except Exception as e:
            skipped.append(f"{name} on {stem}: {e}")
            methods[name].append(None)
            return
        out = f"{stem}_{name}.npy"
        np.save(folder / out, np.ascontiguousarray(rgb, dtype="<f4"))
        methods[name].append({"result": out, "seconds": seconds})

    def libraw(path, algo):
        with rawpy.imread(str(path)) as raw:
            rgb = raw.postprocess(
                demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, algo),
                output_color=rawpy.ColorSpace.raw,
                gamma=(1, 1),
                no_auto_bright=True,
                use_camera_wb=False,
                use_auto_wb=False,
                user_wb=[1.0, 1.0, 1.0, 1.0],
                output_bps=16,
                user_flip=0,
                user_black=0,
                user_sat=65535,
            )
        return rgb.astype(np.float32) / 65535.0

    for img in images:
        cfa = np.load(folder / img["mosaic"]).astype(np.float64)
        stem = pathlib.Path(img["mosaic"]).stem
        for name, f in funcs.items():
            run(name, stem, lambda: f(cfa, pattern))
        if rawpy:
            with tempfile.TemporaryDirectory() as tmp:
                path = pathlib.Path(tmp) / "m.dng"
                dng(path, np.round(np.clip(cfa, 0, 1) * 65535).astype(np.uint16), pattern)
                for algo in LIBRAW:
                    run(f"libraw-{algo.lower()}", stem, lambda: libraw(path, algo))
    (folder / "results.json").write_text(json.dumps({"methods": methods, "skipped": skipped}))


if __name__ == "__main__":
    main(sys.argv[1])
