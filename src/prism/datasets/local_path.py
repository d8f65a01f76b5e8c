"""The common part of prism's datasets that live at one local path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from kedro.io import AbstractDataset, DatasetError

from prism.student.bundle import is_saved_bundle

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


class SavedModelDirDataset(LocalPathDataset[Path | None, None]):
    """The directory of a saved student, read-only, as a path: what a run continues from.

    ``load`` returns the directory when it holds a saved student (a ``prism_model.json``), else
    ``None``: nothing is loaded into memory, the training loads what it needs. Catalog example::

        "iterative.episode_{n}.student_dir":
          type: prism.datasets.SavedModelDirDataset
          filepath: output/iterative_training/iterative_model_episode_{n}
    """

    def load(self) -> Path | None:
        return self._filepath if is_saved_bundle(self._filepath) else None

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._filepath}: a saved model's directory is read-only here")

    def _exists(self) -> bool:
        return is_saved_bundle(self._filepath)
