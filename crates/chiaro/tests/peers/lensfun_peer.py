"""lensfun 0.3 itself (liblensfun.so.1, through ctypes) as the peer of chiaro's lensfun
reader: for each case on stdin (JSON), the camera and lens lensfun picks, the source
coordinates its correction reads for each output point (red, green, blue) and its
devignetting factor there. Usage: python3 lensfun_peer.py < cases.json > answers.json
"""
import ctypes as C
import json
import sys

lib = C.CDLL("liblensfun.so.1")
vp = C.c_void_p


class Camera(C.Structure):
    _fields_ = [("Maker", C.c_char_p), ("Model", C.c_char_p), ("Variant", C.c_char_p),
                ("Mount", C.c_char_p), ("CropFactor", C.c_float), ("Score", C.c_int)]


class Lens(C.Structure):
    _fields_ = [("Maker", C.c_char_p), ("Model", C.c_char_p), ("MinFocal", C.c_float),
                ("MaxFocal", C.c_float), ("MinAperture", C.c_float),
                ("MaxAperture", C.c_float), ("Mounts", vp), ("CenterX", C.c_float),
                ("CenterY", C.c_float), ("CropFactor", C.c_float),
                ("AspectRatio", C.c_float), ("Type", C.c_int)]


lib.lf_db_new.restype = vp
lib.lf_db_load.argtypes = [vp]
lib.lf_db_find_cameras_ext.restype = C.POINTER(C.POINTER(Camera))
lib.lf_db_find_cameras_ext.argtypes = [vp, C.c_char_p, C.c_char_p, C.c_int]
lib.lf_db_find_lenses_hd.restype = C.POINTER(C.POINTER(Lens))
lib.lf_db_find_lenses_hd.argtypes = [vp, vp, C.c_char_p, C.c_char_p, C.c_int]
lib.lf_modifier_new.restype = vp
lib.lf_modifier_new.argtypes = [vp, C.c_float, C.c_int, C.c_int]
lib.lf_modifier_initialize.restype = C.c_int
lib.lf_modifier_initialize.argtypes = [vp, vp, C.c_int, C.c_float, C.c_float, C.c_float,
                                       C.c_float, C.c_int, C.c_int, C.c_int]
lib.lf_modifier_apply_subpixel_geometry_distortion.restype = C.c_int
lib.lf_modifier_apply_subpixel_geometry_distortion.argtypes = [
    vp, C.c_float, C.c_float, C.c_int, C.c_int, C.POINTER(C.c_float)]
lib.lf_modifier_apply_color_modification.restype = C.c_int
lib.lf_modifier_apply_color_modification.argtypes = [
    vp, vp, C.c_float, C.c_float, C.c_int, C.c_int, C.c_int, C.c_int]
lib.lf_modifier_destroy.argtypes = [vp]

PF_F32 = 3
MODIFY_TCA, MODIFY_VIGNETTING, MODIFY_DISTORTION = 0x1, 0x2, 0x8
RGB_ROLES = 4 | (5 << 4) | (6 << 8)

db = lib.lf_db_new()
lib.lf_db_load(db)
answers = []
for case in json.load(sys.stdin):
    cams = lib.lf_db_find_cameras_ext(db, case["make"].encode(), case["model"].encode(), 0)
    if not cams or not cams[0]:
        answers.append(None)
        continue
    cam = cams[0]
    lenses = lib.lf_db_find_lenses_hd(db, C.cast(cam, vp), None, case["lens"].encode(), 0)
    if not lenses or not lenses[0]:
        answers.append(None)
        continue
    lens = lenses[0]
    w, h = case["width"], case["height"]
    mod = lib.lf_modifier_new(C.cast(lens, vp), cam.contents.CropFactor, w, h)
    lib.lf_modifier_initialize(mod, C.cast(lens, vp), PF_F32, case["focal"], case["aperture"],
                               case["distance"], 1.0, lens.contents.Type,
                               MODIFY_TCA | MODIFY_VIGNETTING | MODIFY_DISTORTION, 0)
    coords, factors = [], []
    for x, y in case["points"]:
        out = (C.c_float * 6)()
        lib.lf_modifier_apply_subpixel_geometry_distortion(mod, x, y, 1, 1, out)
        coords.append(list(out))
        px = (C.c_float * 3)(1.0, 1.0, 1.0)
        lib.lf_modifier_apply_color_modification(mod, C.cast(px, vp), x, y, 1, 1, RGB_ROLES, 12)
        factors.append(px[0])
    lib.lf_modifier_destroy(mod)
    answers.append({
        "camera": cam.contents.Model.decode(),
        "lens": lens.contents.Model.decode(),
        "coords": coords,
        "devignetting": factors,
    })
json.dump(answers, sys.stdout)
