from enum import IntEnum
from os import PathLike
from typing import Any, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

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
    def frame(self) -> "Frame": ...
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

_Pattern = Union[str, Sequence[Sequence[int]], npt.NDArray[Any]]
_Matrix = Sequence[Sequence[float]]

class Frame:
    """Normalised samples and the metadata rendering needs."""

    @staticmethod
    def from_cfa(
        data: npt.ArrayLike,
        pattern: _Pattern,
        black: Union[float, Sequence[float], None] = None,
        white: Optional[float] = None,
        color_matrix: Optional[_Matrix] = None,
        forward_matrix: Optional[_Matrix] = None,
        as_shot_neutral: Optional[Sequence[float]] = None,
        baseline_exposure: float = 0.0,
        orientation: int = 1,
    ) -> "Frame": ...
    @staticmethod
    def from_rgb(
        data: npt.ArrayLike,
        black: float = 0.0,
        white: float = 1.0,
        color_matrix: Optional[_Matrix] = None,
        forward_matrix: Optional[_Matrix] = None,
        as_shot_neutral: Optional[Sequence[float]] = None,
        baseline_exposure: float = 0.0,
    ) -> "Frame": ...
    @staticmethod
    def from_file(path: _Path) -> "Frame": ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def pattern(self) -> Optional[str]: ...
    @property
    def data(self) -> npt.NDArray[np.float32]: ...

class Recipe:
    """A development recipe: stages and their parameters."""

    @staticmethod
    def from_toml(text: str) -> "Recipe": ...
    @staticmethod
    def default() -> "Recipe": ...
    def to_toml(self) -> str: ...
    @property
    def stages(self) -> List[str]: ...

class FileResult(NamedTuple):
    input: PathLike
    output: PathLike
    status: str
    reason: Optional[str]
    notes: List[str]

class Report:
    files: List[FileResult]
    seconds: float
    @property
    def done(self) -> List[PathLike]: ...
    @property
    def skipped(self) -> List[PathLike]: ...
    @property
    def cancelled(self) -> List[PathLike]: ...
    @property
    def failed(self) -> List[Tuple[PathLike, str]]: ...
    @property
    def ok(self) -> bool: ...
    def summary(self) -> str: ...

_Inputs = Union[_Path, Iterable[_Path]]

def imread(path: _Path) -> RawPy: ...
def read_recipe(path: _Path) -> Recipe: ...
def demosaic(cfa: npt.ArrayLike, pattern: _Pattern, method: str = "rcd-fit") -> npt.NDArray[np.float32]: ...
def develop(
    source: Union[_Path, Frame, RawPy],
    recipe: Union[Recipe, _Path, None] = None,
    look: Optional[str] = None,
    colorspace: str = "srgb",
    linear: bool = False,
    *,
    bits: int = 16,
    **options: Any,
) -> npt.NDArray[Any]: ...
def develop_many(
    paths: _Inputs,
    out_dir: _Path,
    *,
    jobs: Optional[int] = None,
    overwrite: bool = False,
    recursive: bool = False,
    **options: Any,
) -> Report: ...
