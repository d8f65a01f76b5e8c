"""JSON files for the formats layer: reading with errors that point at the broken spot, atomic writing."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prism.formats.errors import DataFormatError


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a UTF-8 JSON file.

    Raises:
        DataFormatError: the file is not valid JSON (the message gives line and column).
        FileNotFoundError: there is no such file.

    Example:
        >>> read_json("data/01_raw/eval_tasks_1.json")  # doctest: +SKIP
        {'graph': {...}, 'tasks': [...]}
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFormatError(
            f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}", source=str(path)
        ) from err


def json_type(value: Any) -> str:
    """How a JSON reader would name the type of ``value``, for error messages.

    Example:
        >>> json_type({"a": 1}), json_type([1]), json_type(None)
        ('an object', 'a list', 'null')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once, at import: os.umask cannot be read without setting it


def write_json_atomic(path: str | os.PathLike[str], data: Any, **dump_args: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file in the same folder and
    ``os.replace``: a killed process leaves the old file or the new one, never half of one."""
    text = json.dumps(data, **dump_args)
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder (fsynced) and
    ``os.replace``: a killed process leaves the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        os.chmod(tmp_name, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
