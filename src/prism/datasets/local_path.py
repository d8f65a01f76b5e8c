"""The common part of prism's datasets that live at one local path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from kedro.io import AbstractDataset, DatasetError

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


class WorkDirDataset(LocalPathDataset[Path, Path]):
    """A working directory that a node manages itself (e.g. training checkpoints).

    ``load`` creates the directory if needed and returns its path; ``save`` only checks that
    the node hands back the same directory. Catalog example::

        pretrain_checkpoints:
          type: prism.datasets.WorkDirDataset
          filepath: data/06_models/pretrain_checkpoints
    """

    def load(self) -> Path:
        self._filepath.mkdir(parents=True, exist_ok=True)
        return self._filepath

    def save(self, data: Path) -> None:
        if Path(data).resolve() != self._filepath.resolve():
            raise DatasetError(f"{data} is not the working directory {self._filepath}")

    def _exists(self) -> bool:
        return self._filepath.is_dir()
