"""A folder of JSON records, written one at a time and atomically: the resumable store behind
generation runs (``data_gen_*/``) and the teacher's call cache.

A Kedro node receives the :class:`JsonStore` (the ``prism.datasets.JsonStoreDataset``'s
``load()``) and writes records as it works, so a killed run keeps everything finished before the
kill and the same command continues.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from prism.formats.errors import DataFormatError
from prism.formats.json_io import write_json_atomic


class JsonStore:
    """Records by key in ``<root>/<key>.json``; keys may contain ``/`` for sub-folders.

    Example:
        >>> import tempfile
        >>> store = JsonStore(tempfile.mkdtemp())
        >>> _ = store.put("rollouts/scene_000_task_00", {"status": "passed"})
        >>> store.get("rollouts/scene_000_task_00")
        {'status': 'passed'}
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Where the record for ``key`` lives."""
        parts = PurePosixPath(key).parts
        if not parts or any(p in ("..", "") for p in parts) or PurePosixPath(key).is_absolute():
            raise ValueError(f"invalid store key {key!r}")
        return self.root.joinpath(*parts[:-1], f"{parts[-1]}.json")

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def get(self, key: str, default: Any = None) -> Any:
        """The record for ``key``; ``default`` if missing.

        Raises:
            DatasetError: the file exists but is not valid JSON (named in the message).
        """
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return default
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise DataFormatError(
                f"not valid JSON ({err}); delete the file to redo it", source=str(path)
            ) from None

    def put(self, key: str, record: Any) -> Path:
        """Write ``record`` atomically: a reader never sees half a file."""
        path = self.path(key)
        write_json_atomic(path, record, ensure_ascii=False, indent=1)
        return path

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (a sub-folder), sorted."""
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return iter(())
        found = (
            p.relative_to(self.root).as_posix().removesuffix(".json")
            for p in base.rglob("*.json")
            if not p.name.startswith(".")
        )
        return iter(sorted(found))
