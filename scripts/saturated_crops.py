"""Writes chiaro's second demosaicing validation set: saturated crops of real raws.

Each Bayer raw in ../shared/data/raw is white-balanced and binned 2x2 (one red, the mean of
two greens and one blue per output pixel: full colour without any demosaicing), its chroma
is boosted around the luminance (x1.6, clipped to 0..1) so channels correlate weakly, as in
saturated scenes, and the most colourful 192x192 tiles are written as 16-bit sRGB PNGs.
Used to *tune* demosaicing methods (with lab::saturated); Kodak checks them; the held-out
judging set is never used.

With --natural the chroma is left as it is and the most detailed tiles are kept: a set of
ordinary, correlated content that is not Kodak, to balance the tuning.

usage: python scripts/saturated_crops.py OUT_DIR [--natural]   (needs numpy and rawpy)
"""
import pathlib
import sys
import zlib
import struct

import numpy as np
import rawpy

RAW = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "raw"
TILE = 192
BOOST = 1.6


def png16(path, rgb):
    """A 16-bit RGB PNG from floats 0..1 (no extra dependency)."""
    h, w, _ = rgb.shape
    v = np.round(np.clip(rgb, 0, 1) * 65535).astype(">u2")
    raw = b"".join(b"\0" + v[y].tobytes() for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(data)


def srgb(x):
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def binned(path):
    r = rawpy.imread(str(path))
    pat = r.raw_pattern
    if pat is None or pat.shape != (2, 2):
        return None
    cfa = r.raw_image_visible.astype(np.float64)
    black = np.array(r.black_level_per_channel, dtype=np.float64)
    white = float(r.white_level)
    h, w = (cfa.shape[0] // 2) * 2, (cfa.shape[1] // 2) * 2
    planes = {0: [], 1: [], 2: []}
    for dy in range(2):
        for dx in range(2):
            c = int(pat[dy, dx])
            v = (cfa[dy:h:2, dx:w:2] - black[c]) / (white - black[c])
            planes[1 if c in (1, 3) else c].append(v)
    rgb = np.stack([np.mean(planes[c], axis=0) for c in range(3)], axis=-1)
    wb = np.array(r.camera_whitebalance[:3], dtype=np.float64)
    if not np.all(wb > 0):
        wb = 1 / np.maximum(rgb.reshape(-1, 3).mean(0), 1e-6)
    rgb = rgb * (wb / wb[1])
    return rgb / max(np.percentile(rgb.max(-1), 99.5), 1e-6) * 0.9


def main(out, natural):
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(RAW.glob("*.dng")):
        rgb = binned(path)
        if rgb is None:
            print(f"{path.stem}: not a Bayer raw, skipped")
            continue
        y = rgb @ np.array([0.2126, 0.7152, 0.0722])
        boost = 1.0 if natural else BOOST
        rgb = np.clip(y[..., None] + boost * (rgb - y[..., None]), 0, 1)
        if natural:
            s = srgb(rgb).mean(-1)
            chroma = np.zeros_like(s)
            chroma[1:, 1:] = np.abs(np.diff(s, axis=0))[:, 1:] + np.abs(np.diff(s, axis=1))[1:, :]
        else:
            chroma = rgb.max(-1) - rgb.min(-1)
        tiles = []
        for ty in range(0, rgb.shape[0] - TILE + 1, TILE // 2):
            for tx in range(0, rgb.shape[1] - TILE + 1, TILE // 2):
                tiles.append((chroma[ty:ty + TILE, tx:tx + TILE].mean(), ty, tx))
        tiles.sort(reverse=True)
        kept = []
        for c, ty, tx in tiles:
            if len(kept) == 3:
                break
            if all(abs(ty - a) >= TILE or abs(tx - b) >= TILE for a, b in kept):
                kept.append((ty, tx))
                png16(out / f"{path.stem}_{ty}_{tx}.png", srgb(rgb[ty:ty + TILE, tx:tx + TILE]))
                print(f"{path.stem} {ty},{tx}: score {c:.3f}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), "--natural" in sys.argv[2:])
