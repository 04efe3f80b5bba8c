#!/usr/bin/env python3
"""Dumps what LibRaw (through rawpy) makes of a raw file, for chiaro's peer tests.

Usage:
    rawpy_dump.py raw     INPUT OUT   # LibRaw's raw_image: the full stored sensor array
    rawpy_dump.py develop INPUT OUT   # LibRaw's development: linear sRGB, camera WB, 16 bit
    rawpy_dump.py camera  INPUT OUT ALGO  # the same in camera RGB, demosaiced by ALGO
                                          # (AHD, DCB, PPG, VNG, AAHD, DHT, LINEAR)

Writes OUT.bin (the array, row-major, little-endian uint16) and OUT.json (shape, dtype and
LibRaw's metadata: sizes, CFA, levels, white balance, colour matrix). Exit code 3 when rawpy
or numpy cannot be imported, 4 when LibRaw cannot open the file.
"""

import json
import sys


def main() -> int:
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in ("raw", "develop", "camera"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, path, out = sys.argv[1:4]
    algo = sys.argv[4] if len(sys.argv) == 5 else "AHD"
    try:
        import numpy as np
        import rawpy
    except ImportError as e:  # the Rust test turns this into a clear failure
        print(f"cannot import rawpy/numpy: {e} (scripts/test.sh installs them into .venv)", file=sys.stderr)
        return 3
    try:
        raw = rawpy.imread(path)
    except Exception as e:  # LibRaw errors come as several rawpy exception types
        print(f"LibRaw cannot open {path}: {type(e).__name__}: {e}", file=sys.stderr)
        return 4
    with raw:
        s = raw.sizes
        meta = {
            "rawpy_version": rawpy.__version__,
            "libraw_version": list(rawpy.libraw_version),
            "sizes": {k: int(getattr(s, k)) for k in s._fields if k != "pixel_aspect"},
            "raw_pattern": raw.raw_pattern.tolist() if raw.raw_pattern is not None else None,
            "color_desc": raw.color_desc.decode("ascii", "replace"),
            "black_level_per_channel": [int(v) for v in raw.black_level_per_channel],
            "white_level": int(raw.white_level),
            "camera_whitebalance": [float(v) for v in raw.camera_whitebalance],
            "color_matrix": raw.color_matrix.tolist(),
        }
        if mode == "raw":
            arr = np.ascontiguousarray(raw.raw_image, dtype="<u2")
        else:
            arr = raw.postprocess(
                use_camera_wb=True,
                use_auto_wb=False,
                output_color=rawpy.ColorSpace.raw if mode == "camera" else rawpy.ColorSpace.sRGB,
                gamma=(1, 1),
                no_auto_bright=True,
                output_bps=16,
                user_flip=0,
                demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, algo),
                highlight_mode=rawpy.HighlightMode.Clip,
                # LibRaw lowers the white level to the image's brightest sample when that
                # exceeds 75 % of it; keep the file's white level, as chiaro does.
                adjust_maximum_thr=0.0,
            )
            arr = np.ascontiguousarray(arr, dtype="<u2")
        meta["shape"] = list(arr.shape)
        meta["dtype"] = "uint16le"
        with open(out + ".bin", "wb") as f:
            f.write(arr.tobytes())
        with open(out + ".json", "w") as f:
            json.dump(meta, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
