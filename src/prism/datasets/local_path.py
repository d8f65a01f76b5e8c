"""The common part of prism's datasets that live at one local path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from kedro.io import AbstractDataset

_Load = TypeVar("_Load")
_Save = TypeVar("_Save")


class LocalPathDataset(AbstractDataset[_Load, _Save]):
    """A dataset at ``filepath`` on local disk; subclasses implement ``load`` and ``save``.

    Kedro turns a relative ``filepath`` in the catalog into one under the project root.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
