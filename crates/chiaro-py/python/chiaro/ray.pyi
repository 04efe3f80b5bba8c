from os import PathLike
from typing import Any, Iterable, Optional, Union

from . import Report

def develop(
    paths_or_glob: Union[str, PathLike, Iterable[Union[str, PathLike]]],
    out_dir: Union[str, PathLike],
    address: Optional[str] = None,
    *,
    group: int = 4,
    jobs_per_task: int = 1,
    max_in_flight: Optional[int] = None,
    max_retries: int = 3,
    progress: Optional[bool] = None,
    overwrite: bool = False,
    recursive: bool = False,
    **options: Any,
) -> Report: ...
