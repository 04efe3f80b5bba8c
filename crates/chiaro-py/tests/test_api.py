"""Checks of the chiaro Python package, run by tests/python_api.rs (and by hand:
``python crates/chiaro-py/tests/test_api.py``). LibRaw, through rawpy, is the independent
peer for what a raw file holds. Exit status 0 when every check passed."""

import pathlib
import sys
import tempfile
import warnings

import numpy as np

import chiaro
from harness import SAMPLE, SHARED, check, finish, skip


def same_as_libraw(path):
    import rawpy

    with chiaro.imread(path) as c, rawpy.imread(str(path)) as r:
        assert np.array_equal(c.raw_image, r.raw_image), "raw_image"
        assert c.raw_image.dtype == np.uint16
        assert np.array_equal(c.raw_image_visible, r.raw_image_visible), "raw_image_visible"
        assert np.array_equal(c.raw_pattern, r.raw_pattern), (c.raw_pattern, r.raw_pattern)
        assert np.array_equal(c.raw_colors, r.raw_colors), "raw_colors"
        assert np.array_equal(c.raw_colors_visible, r.raw_colors_visible), "raw_colors_visible"
        assert c.color_desc == r.color_desc
        assert list(c.black_level_per_channel) == list(r.black_level_per_channel)
        assert c.white_level == r.white_level, (c.white_level, r.white_level)
        # Multipliers are relative: LibRaw scales some files' to red 1, chiaro to green 1.
        cw, rw = np.array(c.camera_whitebalance), np.array(r.camera_whitebalance)
        assert np.allclose(cw / cw[1], rw / rw[1], rtol=1e-5), (cw, rw)
        # LibRaw leaves the matrix at zero for some DNGs; chiaro gives the file's ColorMatrix.
        if np.any(r.rgb_xyz_matrix):
            assert np.allclose(c.rgb_xyz_matrix, r.rgb_xyz_matrix, atol=1e-6)
        fields = [f for f in chiaro.ImageSizes._fields if hasattr(r.sizes, f)]
        assert [getattr(c.sizes, f) for f in fields] == [getattr(r.sizes, f) for f in fields], (c.sizes, r.sizes)


def raw_shape(path):
    with chiaro.imread(path) as raw:
        return raw.sizes.height, raw.sizes.width


@check("sample_raw_reads_as_libraw_reads_it")
def _():
    same_as_libraw(SAMPLE)


@check("postprocess_gives_rawpys_shapes_and_types")
def _():
    with chiaro.imread(SAMPLE) as raw:
        h, w = raw.sizes.height, raw.sizes.width
        a = raw.postprocess()
        assert a.shape == (h, w, 3) and a.dtype == np.uint8, (a.shape, a.dtype)
        b = raw.postprocess(use_camera_wb=True, output_bps=16)
        assert b.shape == (h, w, 3) and b.dtype == np.uint16
        half = raw.postprocess(half_size=True)
        assert half.shape == (h // 2, w // 2, 3), half.shape
        turned = raw.postprocess(user_flip=6)
        assert turned.shape == (w, h, 3), turned.shape
        # 8 and 16 bits are the same picture.
        assert np.abs(b / 257.0 - raw.postprocess(use_camera_wb=True)).max() <= 1.0


@check("linear_postprocess_is_chiaros_linear_development")
def _():
    with chiaro.imread(SAMPLE) as raw:
        lin = raw.postprocess(use_camera_wb=True, gamma=(1, 1), no_auto_bright=True, output_bps=16)
    ref = chiaro.develop(SAMPLE, wb="as-shot", linear=True, bits=32)
    assert ref.dtype == np.float32 and ref.shape == lin.shape
    want = np.clip(ref, 0, 1) * 65535.0
    assert np.abs(lin - want).max() <= 1.0, np.abs(lin - want).max()
    # Scene-linear: twice the exposure is twice the values where nothing clips.
    brighter = chiaro.develop(SAMPLE, wb="as-shot", linear=True, bits=32, exposure=1.0)
    lit = (ref > 0.01) & (ref < 0.4)
    ratio = np.median(brighter[lit] / ref[lit])
    assert abs(ratio - 2.0) < 1e-3, ratio


@check("white_balance_choices_move_the_picture")
def _():
    with chiaro.imread(SAMPLE) as raw:
        shot = raw.postprocess(use_camera_wb=True).astype(float).mean(axis=(0, 1))
        day = raw.postprocess().astype(float).mean(axis=(0, 1))
        auto = raw.postprocess(use_auto_wb=True).astype(float).mean(axis=(0, 1))
    assert np.abs(shot - day).max() > 1.0 and np.abs(shot - auto).max() > 1.0, (shot, day, auto)


@check("user_multipliers_equal_to_the_cameras_give_the_as_shot_picture")
def _():
    with chiaro.imread(SAMPLE) as raw:
        shot = raw.postprocess(use_camera_wb=True, output_bps=16).astype(int)
        wb = raw.camera_whitebalance
        # rawpy's four multipliers, scaled: only their ratios count.
        mine = raw.postprocess(user_wb=[3 * wb[0], 3 * wb[1], 3 * wb[2], 0], output_bps=16)
        other = raw.postprocess(user_wb=[wb[0], wb[1], 2 * wb[2], wb[1]], output_bps=16)
    assert np.abs(mine.astype(int) - shot).max() <= 1, np.abs(mine.astype(int) - shot).max()
    assert other[..., 2].astype(float).mean() > shot[..., 2].mean() + 1000


@check("rawpy_keywords_chiaro_handles_its_own_way_warn_and_unknown_ones_fail")
def _():
    with chiaro.imread(SAMPLE) as raw:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            raw.postprocess(fbdd_noise_reduction=1, half_size=True)
        assert any("fbdd_noise_reduction" in str(x.message) for x in w)
        try:
            raw.postprocess(no_such_option=1)
        except TypeError:
            pass
        else:
            raise AssertionError("an unknown keyword was accepted")
        try:
            raw.postprocess(output_color=chiaro.ColorSpace.Adobe)
        except chiaro.ParameterError:
            pass
        else:
            raise AssertionError("Adobe RGB was accepted")
        prophoto = raw.postprocess(output_color=chiaro.ColorSpace.ProPhoto, half_size=True)
        srgb = raw.postprocess(half_size=True)
        assert not np.array_equal(prophoto, srgb)


@check("a_closed_raw_says_so")
def _():
    with chiaro.imread(SAMPLE) as raw:
        pass
    try:
        raw.raw_image
    except chiaro.Error as e:
        assert "closed" in str(e) and SAMPLE.name in str(e), e
    else:
        raise AssertionError("a closed raw gave its samples")


@check("bad_files_raise_chiaro_errors_naming_the_file")
def _():
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        data = SAMPLE.read_bytes()
        cases = {
            "truncated.dng": data[: len(data) // 3],
            "garbage.dng": bytes(range(256)) * 64,
            # TIFF magic, not a DNG: handed to the decoder worker process, which fails.
            "hostile.nef": b"II*\x00" + bytes([0xFF]) * 4096,
            "empty.cr2": b"",
        }
        for name, content in cases.items():
            p = d / name
            p.write_bytes(content)
            try:
                chiaro.imread(p)
            except chiaro.Error as e:
                assert name in str(e), (name, str(e))
            else:
                raise AssertionError(f"{name} was read")
        try:
            chiaro.imread(d / "missing.dng")
        except chiaro.IoError as e:
            assert "missing.dng" in str(e)
        else:
            raise AssertionError("a missing file was read")


@check("camera_raws_are_decoded_in_a_worker_process")
def _():
    from PIL import Image

    with tempfile.TemporaryDirectory() as d:
        # A well-formed TIFF that no camera decoder takes: it passes chiaro's structural
        # checks and reaches the worker (this interpreter), whose failure is one error.
        p = pathlib.Path(d) / "plain.nef"
        Image.new("L", (16, 16)).save(p, format="TIFF")
        try:
            chiaro.imread(p)
        except chiaro.DecodeError as e:
            assert "plain.nef" in str(e), e
        else:
            raise AssertionError("a plain TIFF was read as a camera raw")
        # Without a worker to start, the same file says so: the decode was the worker's.
        exe, sys.executable = sys.executable, "/nonexistent/python"
        try:
            chiaro.imread(p)
        except chiaro.DecodeError as e:
            assert "worker" in str(e), e
        finally:
            sys.executable = exe


@check("import_chiaro_as_rawpy_runs_a_typical_script")
def _():
    import chiaro as rawpy

    with rawpy.imread(str(SAMPLE)) as raw:
        rgb = raw.postprocess(
            use_camera_wb=True,
            no_auto_bright=True,
            output_bps=16,
            demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD,
            output_color=rawpy.ColorSpace.sRGB,
        )
        visible = raw.raw_image_visible.astype(np.float32)
        black = np.array(raw.black_level_per_channel)[raw.raw_colors_visible]
        norm = (visible - black) / (raw.white_level - black)
    assert rgb.dtype == np.uint16 and norm.shape == raw_shape(SAMPLE) and np.isfinite(norm).all()


if SHARED.is_dir():

    @check("shared_dngs_read_as_libraw_reads_them")
    def _():
        for name in ["phone_synth_lgg4_4200k_4032x3024.dng", "canon550d_colorchart.dng"]:
            same_as_libraw(SHARED / name)

else:
    skip("shared_dngs_read_as_libraw_reads_them", "no ../shared data")

finish()
