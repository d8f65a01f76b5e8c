"""Reading JSON files for the formats layer, with errors that point at the broken spot."""

from __future__ import annotations

import json
import os
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
