"""chiaro: camera raw development, and a drop-in for rawpy's common calls.

    import chiaro as rawpy
    with rawpy.imread("IMG.dng") as raw:
        rgb = raw.postprocess(use_camera_wb=True, output_bps=16)   # (h, w, 3) uint16

chiaro's own API: ``chiaro.develop(source, recipe, look, colorspace, linear, ...)`` develops a
file, an opened raw or a ``chiaro.Frame`` (``Frame.from_cfa`` and ``Frame.from_rgb`` make one
from numpy arrays) into an array; ``chiaro.read_recipe`` reads a recipe; ``chiaro.demosaic``
runs one stage on an array; ``chiaro.develop_many`` develops many files into a folder on the
engine's thread pool and returns a ``chiaro.Report``; ``chiaro.ray.develop`` does the same on
a Ray cluster. Decoding and development run with the GIL released. Errors are ``chiaro.Error`` subclasses whose message names the file; files that are
not DNGs are decoded in a worker process, so a hostile file never crashes the interpreter.

Where the result differs from LibRaw's on purpose: colour follows the DNG's own calibration
(ForwardMatrix, interpolation between the two illuminants, GainMap lens shading, the
embedded profile) and chiaro's tone curve, not LibRaw's matrix and auto-brightening; LibRaw's
demosaicing algorithms map to chiaro's default (``rcd-fit``), ``LINEAR`` to bilinear.
"""

from collections import namedtuple
from enum import IntEnum
import glob
import json
import math
import os
import warnings

from ._chiaro import (  # noqa: F401
    DecodeError,
    Error,
    IoError,
    LimitError,
    ParameterError,
    RawPy as _NativeRaw,  # noqa: F401 (the class behind RawPy)
    UnsupportedError,
    Frame,
    Recipe,
    _Batch,
    _develop_frame,
    _expand_inputs,
    demosaic,
    read_recipe,
    imread as _imread,
)

__all__ = [
    "ColorSpace",
    "ImageSizes",
    "DecodeError",
    "DemosaicAlgorithm",
    "Error",
    "IoError",
    "LimitError",
    "ParameterError",
    "RawPy",
    "UnsupportedError",
    "FileResult",
    "Frame",
    "Recipe",
    "Report",
    "demosaic",
    "develop",
    "develop_many",
    "imread",
    "read_recipe",
]

ImageSizes = namedtuple(
    "ImageSizes",
    [
        "raw_height",
        "raw_width",
        "height",
        "width",
        "top_margin",
        "left_margin",
        "iheight",
        "iwidth",
        "pixel_aspect",
        "flip",
        "crop_left_margin",
        "crop_top_margin",
        "crop_width",
        "crop_height",
    ],
)


class ColorSpace(IntEnum):
    """rawpy's output colour spaces (same values)."""

    raw = 0
    sRGB = 1
    Adobe = 2
    Wide = 3
    ProPhoto = 4
    XYZ = 5
    ACES = 6
    P3D65 = 7
    Rec2020 = 8


class DemosaicAlgorithm(IntEnum):
    """rawpy's demosaicing algorithms (same values); all but LINEAR run chiaro's default."""

    LINEAR = 0
    VNG = 1
    PPG = 2
    AHD = 3
    DCB = 4
    MODIFIED_AHD = 5
    AFD = 6
    VCD = 7
    VCD_MODIFIED_AHD = 8
    LMMSE = 9
    AMAZE = 10
    DHT = 11
    AAHD = 12


# rawpy output_color -> chiaro colour space (None: not available).
_SPACES = {0: "camera", 1: "srgb", 2: "adobe-rgb", 3: None, 4: "prophoto", 5: "xyz", 6: None, 7: "display-p3", 8: "rec2020"}

# rawpy keywords accepted for compatibility whose LibRaw processing chiaro does its own way.
_IGNORED = {
    "four_color_rgb",
    "dcb_iterations",
    "dcb_enhance",
    "fbdd_noise_reduction",
    "noise_thr",
    "median_filter_passes",
    "auto_bright_thr",
    "adjust_maximum_thr",
    "highlight_mode",
    "exp_preserve_highlights",
    "no_auto_scale",
    "chromatic_aberration",
    "user_black",
    "user_sat",
    "bad_pixels_path",
}

# LibRaw's user_flip -> EXIF orientation.
_FLIPS = {0: 1, 3: 3, 5: 8, 6: 6}


def _value(v):
    """An enum member's value (rawpy's or chiaro's), or ``v`` itself."""
    return getattr(v, "value", v)


def imread(path):
    """Opens a raw file (DNG and the camera formats chiaro reads); usable as a context manager."""
    return RawPy(_imread(str(path)))


class RawPy:
    """A raw file opened by :func:`imread`, with rawpy's attributes.

    ``raw_image`` (the stored samples, masked borders included; the decoder's buffer, so
    in-place changes to it are what ``postprocess`` develops, as with rawpy) and
    ``raw_image_visible`` (a view of its active area) are uint16 arrays without copies; ``raw_pattern`` and ``raw_colors`` use LibRaw's
    colour indices (0 R, 1 G, 2 B, 3 the green of blue rows), ``color_desc`` is ``b"RGBG"``;
    ``black_level_per_channel``, ``white_level``, ``camera_whitebalance`` and
    ``daylight_whitebalance`` (multipliers, green 1), ``rgb_xyz_matrix`` and ``sizes``.
    """

    def __init__(self, native):
        self._raw = native

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Releases the decoded samples; the object is unusable afterwards."""
        self._raw.close()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._raw, name)

    def _visible(self, array):
        """The visible (active) area of a full-raw array: a view, no copy."""
        s = self.sizes
        return array[s.top_margin : s.top_margin + s.height, s.left_margin : s.left_margin + s.width]

    @property
    def raw_image_visible(self):
        """``raw_image`` cropped to the visible (active) area: a view of it, no copy."""
        return self._visible(self._raw.raw_image)

    @property
    def raw_colors_visible(self):
        """``raw_colors`` cropped to the visible area."""
        return self._visible(self._raw.raw_colors)

    @property
    def sizes(self):
        """rawpy's ImageSizes named tuple."""
        *sizes, crop = self._raw._sizes
        return ImageSizes(*sizes, *crop)

    def postprocess(
        self,
        params=None,
        *,
        use_camera_wb=False,
        use_auto_wb=False,
        user_wb=None,
        output_bps=8,
        gamma=None,
        no_auto_bright=False,
        bright=1.0,
        output_color=ColorSpace.sRGB,
        demosaic_algorithm=None,
        half_size=False,
        user_flip=None,
        exp_shift=None,
        **others,
    ):
        """Develops the raw as rawpy's ``postprocess`` does: a (height, width, 3) uint8 array
        (uint16 with ``output_bps=16``).

        White balance: LibRaw's default (daylight multipliers from the camera's matrix),
        ``use_camera_wb`` (as shot), ``use_auto_wb`` (chiaro's estimator) or ``user_wb``
        (multipliers R, G, B, G2; only their ratios count, G2 is left out). ``gamma=(1, 1)``
        gives scene-linear output (no tone curve, no transfer function); other gamma values are
        replaced by the colour space's own transfer function. ``bright`` and ``exp_shift`` scale
        the exposure; chiaro never auto-brightens, so ``no_auto_bright`` changes nothing.
        ``half_size`` develops each 2x2 CFA cell as one pixel, without demosaicing.
        """
        if params is not None:
            raise ParameterError("postprocess(params=...) is not supported; pass the keywords")
        unknown = set(others) - _IGNORED
        if unknown:
            raise TypeError(f"postprocess() got unexpected keyword arguments {sorted(unknown)}")
        if others:
            warnings.warn(
                f"chiaro ignores the LibRaw options {sorted(others)} (it has its own processing for them)",
                stacklevel=2,
            )
        if user_wb is not None:
            wb = "gains:" + ",".join(str(float(g)) for g in user_wb)
        else:
            wb = "auto" if use_auto_wb else ("as-shot" if use_camera_wb else "daylight")
        if output_bps not in (8, 16):
            raise ParameterError(f"output_bps must be 8 or 16, not {output_bps}")
        space = _SPACES.get(int(_value(output_color)))
        if space is None:
            raise ParameterError(f"output_color {output_color!r} is not available in chiaro yet")
        linear = gamma is not None and tuple(gamma) == (1, 1)
        ev = math.log2(bright) if bright and bright > 0 else 0.0
        if exp_shift is not None and exp_shift > 0:
            ev += math.log2(exp_shift)
        demosaic = None
        if demosaic_algorithm is not None:
            d = _value(demosaic_algorithm)
            if isinstance(d, str):
                demosaic = d
            elif int(d) == DemosaicAlgorithm.LINEAR:
                demosaic = "bilinear"
        orientation = None
        if user_flip is not None and user_flip >= 0:
            if user_flip not in _FLIPS:
                raise ParameterError(f"user_flip must be 0, 3, 5 or 6, not {user_flip}")
            orientation = _FLIPS[user_flip]
        opts = {"wb": wb, "bits": output_bps, "linear": linear, "colorspace": space, "half_size": bool(half_size)}
        if ev:
            opts["exposure"] = str(ev)
        if demosaic:
            opts["demosaic"] = demosaic
        image, notes = self._raw._develop(json.dumps(opts), orientation)
        _warn(notes)
        return image

    def frame(self):
        """The raw as a :class:`Frame` (normalised, with its calibration), for
        :func:`develop` and the per-stage calls."""
        return self._raw._frame()


def _warn(notes):
    """A development's warnings as Python warnings."""
    for n in notes:
        if n.startswith("warning: "):
            warnings.warn(n[len("warning: ") :], stacklevel=3)


def develop(source, recipe=None, look=None, colorspace="srgb", linear=False, *, bits=16, **options):
    """chiaro's development of a raw file, a :class:`Frame` or an opened raw.

    Returns a (height, width, 3) array: uint8 for ``bits=8``, uint16 for 16, float32 for 32.
    ``recipe``: a :class:`Recipe` or a recipe TOML file (its stages replace the default ones);
    ``look``: a built-in look (``natural``, ``vibrant``, ``mono``, ...), a look TOML file or a
    .cube LUT; ``colorspace``: ``srgb``, ``adobe-rgb``, ``display-p3``, ``rec2020``,
    ``prophoto``, ``xyz``, ``camera``; ``linear``: scene-referred output (no tone curve, look
    or transfer function). The other keywords are ``chiaro develop``'s options (see
    :func:`develop_many`): ``wb`` (``as-shot``, ``auto``, ``daylight``, ``"4200"``,
    ``"gains:R,G,B"``, ...), ``exposure`` (EV or ``"auto"``), ``demosaic``, ``half_size``,
    ``highlights``, ``sharpen``, ``lens``, ``rotate``, ``flip``, ``crop``, ``resize``, ...
    A development's warnings are issued as Python warnings.
    """
    if bits not in (8, 16, 32):
        raise ParameterError(f"bits must be 8, 16 or 32, not {bits}")
    opts = _options(options)
    opts.update({"colorspace": str(colorspace), "linear": bool(linear), "bits": bits})
    if look is not None:
        opts["look"] = str(look)
    native_recipe = None
    if isinstance(recipe, Recipe):
        native_recipe = recipe
    elif recipe is not None:
        opts["recipe"] = os.fspath(recipe)
    if isinstance(source, RawPy):
        frame = source.frame()
    elif isinstance(source, Frame):
        frame = source
    else:
        frame = Frame.from_file(os.fspath(source))
    image, notes = _develop_frame(frame, json.dumps(opts), native_recipe)
    _warn(notes)
    return image


FileResult = namedtuple("FileResult", ["input", "output", "status", "reason", "notes"])
FileResult.__doc__ = """One file of a batch: its ``status`` is ``done``, ``skipped`` (the output existed),
``failed`` (``reason`` says why, naming the file) or ``cancelled``; ``notes`` are what the
development chose from the image and its warnings."""


class Report:
    """What became of each file of a batch (:func:`develop_many`, ``chiaro.ray.develop``).

    ``files`` holds a :class:`FileResult` per input, in input order; ``done``, ``skipped``
    and ``cancelled`` are lists of input paths, ``failed`` a list of ``(input, reason)``;
    ``seconds`` is the wall time of the batch.
    """

    def __init__(self, files, seconds):
        self.files = list(files)
        self.seconds = seconds

    def _inputs(self, status):
        return [f.input for f in self.files if f.status == status]

    @property
    def done(self):
        return self._inputs("done")

    @property
    def skipped(self):
        return self._inputs("skipped")

    @property
    def cancelled(self):
        return self._inputs("cancelled")

    @property
    def failed(self):
        return [(f.input, f.reason) for f in self.files if f.status == "failed"]

    @property
    def ok(self):
        """True when no file failed or was cancelled."""
        return all(f.status in ("done", "skipped") for f in self.files)

    def summary(self):
        """One line, as the command line prints it."""
        s = f"developed {len(self.done)} of {len(self.files)} file(s), {len(self.failed)} failed"
        if self.skipped:
            s += f", {len(self.skipped)} skipped (their outputs exist)"
        if self.cancelled:
            s += f", {len(self.cancelled)} cancelled"
        return s + f", in {self.seconds:.2f} s"

    def __repr__(self):
        return f"<chiaro.Report: {self.summary()}>"


# develop options given as Python values, turned into the text the engine parses.
_AS_TEXT = ("exposure", "sharpen", "resize")


def _batch_options(opts, overwrite):
    """The engine's develop options (``chiaro::batch::DevelopOptions``) as a dict for JSON,
    with a batch's handling of existing outputs."""
    out = _options(opts)
    out["overwrite"] = bool(overwrite)
    out["skip_existing"] = not overwrite
    return out


def _options(opts):
    """Develop options given as Python values, as the engine's JSON takes them."""
    out = {}
    for key, v in opts.items():
        if v is None:
            continue
        v = _value(v)
        if key == "crop" and not isinstance(v, str):
            v = ",".join(str(int(c)) for c in v)
        elif key in _AS_TEXT and not isinstance(v, str):
            v = str(v)
        elif hasattr(v, "__fspath__"):
            v = os.fspath(v)
        out[key] = v
    return out


def _inputs(paths_or_glob, recursive=False):
    """Input paths from a glob pattern, a file or folder, or an iterable of them."""
    if isinstance(paths_or_glob, (str, os.PathLike)):
        p = os.fspath(paths_or_glob)
        if any(c in p for c in "*?["):
            found = sorted(glob.glob(p, recursive=True))
            if not found:
                raise ParameterError(f"{p}: the pattern matches no file")
            return _expand_inputs(found, recursive)
        return _expand_inputs([p], recursive)
    return _expand_inputs([os.fspath(p) for p in paths_or_glob], recursive)


def develop_many(paths, out_dir, *, jobs=None, overwrite=False, recursive=False, **options):
    """Develops many raw files into ``out_dir`` on the engine's own thread pool (``jobs``
    threads; all cores by default), with the GIL released; returns a :class:`Report`.

    ``paths``: a list of files or folders, one of them, or a glob pattern (``"shoot/*.dng"``).
    Outputs are named ``{stem}.{ext}`` (``name=`` takes a template of ``{stem}``, ``{look}``
    and ``{ext}``) and written atomically; ones that exist are skipped unless ``overwrite``,
    so a rerun goes on where the last one stopped. A file that fails is reported with the
    reason and the batch goes on. Ctrl-C stops it without leaving partial files.

    ``options`` are ``chiaro develop``'s options by their long names with underscores:
    ``format`` (``jpeg``, ``png``, ``tiff``), ``bits``, ``quality``, ``colorspace``, ``wb``,
    ``exposure``, ``demosaic``, ``look``, ``recipe`` (a TOML file), ``linear``, ``half_size``,
    ``rotate``, ``flip``, ``resize``, ``crop``, ``highlights``, ``sharpen``, ``lens``,
    ``lens_db``, ``profile``, ``hdr``, ``compression``, ``sidecar``, ``sync``, ``name``.
    """
    inputs = _inputs(paths, recursive)
    batch = _Batch(json.dumps(_batch_options(options, overwrite)))
    rows, seconds = batch.run(inputs, os.fspath(out_dir), int(jobs or 0))
    return Report((FileResult(*r) for r in rows), seconds)
