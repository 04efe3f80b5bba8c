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
            raw.postprocess(output_color=chiaro.ColorSpace.ACES)
        except chiaro.ParameterError:
            pass
        else:
            raise AssertionError("ACES was accepted")
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


@check("linear_camera_wb_postprocess_matches_libraws_colour")
def _():
    import rawpy

    # Where both pipelines are defined alike (a DNG with one ColorMatrix, no ForwardMatrix or
    # GainMap, the camera's white balance, linear output) the colour must agree: 32 px block
    # means compared by level and by chromaticity, away from clipping and from the dark.
    def blocks(x):
        h, w = x.shape[0] // 32 * 32, x.shape[1] // 32 * 32
        return x[:h, :w].reshape(h // 32, 32, w // 32, 32, 3).mean((1, 3)).reshape(-1, 3)

    for space in ("sRGB", "ProPhoto"):
        out = []
        for lib in (chiaro, rawpy):
            with lib.imread(str(SAMPLE)) as r:
                rgb = r.postprocess(
                    use_camera_wb=True, gamma=(1, 1), no_auto_bright=True, output_bps=16,
                    output_color=getattr(lib.ColorSpace, space),
                )
            out.append(blocks(rgb.astype(np.float64)))
        a, b = out
        ok = (np.minimum(a, b).min(1) > 500) & (np.maximum(a, b).max(1) < 60000)
        level = float(np.median(b[ok].sum(1) / a[ok].sum(1)))
        chroma = np.abs(a[ok] / a[ok].sum(1, keepdims=True) - b[ok] / b[ok].sum(1, keepdims=True))
        print(f"        {space}: {ok.sum()} blocks, level {level:.4f}, chromaticity median {np.median(chroma):.5f}, 90 % {np.quantile(chroma, 0.9):.5f}")
        assert ok.sum() > 100 and abs(level - 1) < 0.01, (space, level)
        assert np.median(chroma) < 0.002 and np.quantile(chroma, 0.9) < 0.01, space


@check("adobe_rgb_output_is_srgb_through_the_standards_matrices")
def _():
    # IEC 61966-2-1 (sRGB to XYZ) and Adobe RGB (1998) 4.3.4.1 (XYZ to Adobe RGB), both D65.
    srgb_to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz_to_adobe = np.array([[2.04159, -0.56501, -0.34473], [-0.96924, 1.87597, 0.04156], [0.01344, -0.11836, 1.01517]])
    srgb = chiaro.develop(SAMPLE, colorspace="srgb", linear=True, bits=32)
    adobe = chiaro.develop(SAMPLE, colorspace="adobe-rgb", linear=True, bits=32)
    want = srgb @ (xyz_to_adobe @ srgb_to_xyz).T
    ok = (srgb.min(-1) > 0.02) & (srgb.max(-1) < 0.9)
    err = np.abs(adobe[ok] - want[ok]).max()
    assert ok.sum() > 10000 and err < 2e-3, (ok.sum(), err)
    with chiaro.imread(SAMPLE) as raw:
        a8 = raw.postprocess(output_color=chiaro.ColorSpace.Adobe)
        s8 = raw.postprocess(output_color=chiaro.ColorSpace.sRGB)
    assert a8.shape == s8.shape and not np.array_equal(a8, s8)


@check("raw_image_is_the_decoders_buffer_and_edits_to_it_are_developed")
def _():
    with chiaro.imread(SAMPLE) as raw:
        img = raw.raw_image
        assert img is raw.raw_image and img.flags.writeable
        assert np.shares_memory(raw.raw_image_visible, img)
        before = raw.postprocess(gamma=(1, 1), output_bps=16)
        assert before.mean() > 1000, before.mean()
        # As with rawpy, the samples as edited in place are what is developed.
        img[:] = raw.black_level_per_channel[0]
        after = raw.postprocess(gamma=(1, 1), output_bps=16)
        assert after.max() == 0, after.max()


@check("frame_from_libraws_arrays_develops_as_the_file_does")
def _():
    import rawpy

    # LibRaw reads the samples and levels, so the frame is built independently of chiaro's
    # DNG reader; the sample's calibration is its ColorMatrix1 (D65) and AsShotNeutral.
    with rawpy.imread(str(SAMPLE)) as r:
        mosaic = r.raw_image_visible.copy()
        pattern, black, white = r.raw_pattern.copy(), list(r.black_level_per_channel), r.white_level
        wb = np.array(r.camera_whitebalance[:3])
    with chiaro.imread(SAMPLE) as c:
        matrix = c.rgb_xyz_matrix[:3].tolist()
    frame = chiaro.Frame.from_cfa(
        mosaic, pattern, black=black, white=white, color_matrix=matrix, as_shot_neutral=(1 / wb).tolist()
    )
    assert (frame.width, frame.height, frame.pattern) == (768, 512, "RGGB"), frame
    assert abs(float(frame.data[0, 0]) - (mosaic[0, 0] - black[pattern[0, 0]]) / (white - black[pattern[0, 0]])) < 1e-6
    ours = chiaro.develop(frame, linear=True, bits=32, lens="off")
    file = chiaro.develop(SAMPLE, linear=True, bits=32, lens="off")
    assert ours.shape == file.shape == (512, 768, 3) and ours.dtype == np.float32
    assert np.abs(ours - file).max() < 1e-4, np.abs(ours - file).max()
    # The same from an opened raw and from the raw's own frame.
    with chiaro.imread(SAMPLE) as c:
        assert np.array_equal(chiaro.develop(c, bits=8), chiaro.develop(c.frame(), bits=8))


@check("demosaic_recovers_a_smooth_image_and_keeps_each_sites_sample")
def _():
    # A smooth colour image by formula, mosaicked here: RGGB as a name and as rawpy's rows.
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    rgb = np.stack([0.5 + 0.3 * np.sin(x / 9), 0.4 + 0.2 * np.cos(y / 11), 0.3 + 0.2 * np.sin((x + y) / 13)], -1)
    cfa = np.where((y % 2 == 0) & (x % 2 == 0), rgb[..., 0], np.where((y % 2 == 1) & (x % 2 == 1), rgb[..., 2], rgb[..., 1]))
    for method in ("rcd-fit", "bilinear", "malvar"):
        out = chiaro.demosaic(cfa, "RGGB", method)
        assert out.shape == (96, 128, 3) and out.dtype == np.float32
        inner = (slice(8, -8), slice(8, -8))
        mse = float(np.mean((out[inner] - rgb[inner]) ** 2))
        assert 10 * np.log10(1 / mse) > 40, (method, 10 * np.log10(1 / mse))
        assert np.array_equal(out[0::2, 0::2, 0], cfa[0::2, 0::2]), method
    assert np.array_equal(chiaro.demosaic(cfa, [[0, 1], [3, 2]]), chiaro.demosaic(cfa, "RGGB"))
    try:
        chiaro.demosaic(cfa, "RGGB", "nonsense")
        raise AssertionError("an unknown method was accepted")
    except chiaro.ParameterError:
        pass


@check("recipes_read_from_files_develop_as_their_stages_say")
def _():
    base = chiaro.Recipe.default()
    assert base.stages[:2] == ["white-balance", "demosaic"], base
    brighter = base.to_toml().replace("ev = 0.0", "ev = 1.0")
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "plus1.toml"
        path.write_text(brighter)
        recipe = chiaro.read_recipe(path)
        by_object = chiaro.develop(SAMPLE, recipe=recipe, linear=True, bits=32)
        by_file = chiaro.develop(SAMPLE, recipe=path, linear=True, bits=32)
        plain = chiaro.develop(SAMPLE, linear=True, bits=32)
        assert np.array_equal(by_object, by_file)
        # Scene-linear output: one stop more is twice the light where nothing clips.
        ok = (plain > 0.01) & (by_object < 0.9)
        ratio = float(np.median(by_object[ok] / plain[ok]))
        assert abs(ratio - 2) < 0.01, ratio
        (pathlib.Path(d) / "bad.toml").write_text("[[stages]]\nstage = 'no-such-stage'\n")
        try:
            chiaro.read_recipe(pathlib.Path(d) / "bad.toml")
            raise AssertionError("a bad recipe was accepted")
        except chiaro.ParameterError as e:
            assert "bad.toml" in str(e), e


if SHARED.is_dir():

    @check("shared_dngs_read_as_libraw_reads_them")
    def _():
        for name in ["phone_synth_lgg4_4200k_4032x3024.dng", "canon550d_colorchart.dng"]:
            same_as_libraw(SHARED / name)

else:
    skip("shared_dngs_read_as_libraw_reads_them", "no ../shared data")

finish()
