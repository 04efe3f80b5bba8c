from enum import IntEnum
from os import PathLike
from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, PathLike]

class Error(Exception): ...
class DecodeError(Error): ...
class UnsupportedError(Error): ...
class LimitError(Error): ...
class ParameterError(Error): ...
class IoError(Error): ...

class ImageSizes(NamedTuple):
    raw_height: int
    raw_width: int
    height: int
    width: int
    top_margin: int
    left_margin: int
    iheight: int
    iwidth: int
    pixel_aspect: float
    flip: int
    crop_left_margin: int
    crop_top_margin: int
    crop_width: int
    crop_height: int

class ColorSpace(IntEnum):
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

class RawPy:
    """A raw file opened by imread, with rawpy's attributes."""

    def __enter__(self) -> "RawPy": ...
    def __exit__(self, *exc: Any) -> bool: ...
    def close(self) -> None: ...
    @property
    def raw_image(self) -> npt.NDArray[np.uint16]: ...
    @property
    def raw_image_visible(self) -> npt.NDArray[np.uint16]: ...
    @property
    def raw_pattern(self) -> Optional[npt.NDArray[np.uint8]]: ...
    @property
    def raw_colors(self) -> npt.NDArray[np.uint8]: ...
    @property
    def raw_colors_visible(self) -> npt.NDArray[np.uint8]: ...
    @property
    def color_desc(self) -> bytes: ...
    @property
    def num_colors(self) -> int: ...
    @property
    def black_level_per_channel(self) -> list[int]: ...
    @property
    def white_level(self) -> int: ...
    @property
    def camera_whitebalance(self) -> list[float]: ...
    @property
    def daylight_whitebalance(self) -> list[float]: ...
    @property
    def rgb_xyz_matrix(self) -> npt.NDArray[np.float64]: ...
    @property
    def sizes(self) -> ImageSizes: ...
    def postprocess(
        self,
        params: None = None,
        *,
        use_camera_wb: bool = False,
        use_auto_wb: bool = False,
        user_wb: Optional[Sequence[float]] = None,
        output_bps: int = 8,
        gamma: Optional[Tuple[float, float]] = None,
        no_auto_bright: bool = False,
        bright: float = 1.0,
        output_color: Union[ColorSpace, int] = ColorSpace.sRGB,
        demosaic_algorithm: Union[DemosaicAlgorithm, int, str, None] = None,
        half_size: bool = False,
        user_flip: Optional[int] = None,
        exp_shift: Optional[float] = None,
        **others: Any,
    ) -> npt.NDArray[Any]: ...

def imread(path: _Path) -> RawPy: ...
def develop(
    path: _Path,
    *,
    wb: str = "as-shot",
    colorspace: str = "srgb",
    linear: bool = False,
    bits: int = 16,
    exposure: float = 0.0,
    demosaic: Optional[str] = None,
    half_size: bool = False,
) -> npt.NDArray[Any]: ...
