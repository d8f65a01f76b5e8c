"""Kedro datasets for Hugging Face model directories: a trained student and its base.

Nothing in kedro-datasets saves a transformers/peft model directory, so these wrap the model
layer's symmetric save/load pairs: :func:`prism.student.bundle.save_bundle` /
:func:`~prism.student.bundle.load_bundle` for a student, and
:func:`prism.training.saved_base.save_student_base` /
:func:`~prism.training.saved_base.load_student_base` for its base. Saves are atomic.

Catalog example::

    student_model:
      type: prism.datasets.HFModelDataset
      filepath: data/06_models/student
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from prism.student.bundle import (
    ModelBundle,
    ModelDirectoryError,
    is_saved_bundle,
    load_bundle,
    save_bundle,
)
from prism.training.base_models import StudentBase
from prism.training.saved_base import (
    is_saved_student_base,
    load_student_base,
    save_student_base,
)


class HFModelDataset(AbstractDataset[ModelBundle, ModelBundle]):
    """A trained model directory: full weights or a LoRA adapter, plus its tokenizer.

    ``load`` returns a :class:`~prism.student.bundle.ModelBundle`: for an adapter directory the
    base named in its ``adapter_config.json`` is loaded first and the adapter applied on top
    (``peft.PeftModel.from_pretrained``); a full model loads with
    ``AutoModelForCausalLM.from_pretrained``.
    """

    def __init__(
        self,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            filepath: the model directory.
            load_args: keyword arguments for ``from_pretrained`` of the model (e.g. ``dtype``,
                ``device_map``).
            metadata: free-form catalog metadata (ignored by the dataset, used by plugins).
        """
        self._filepath = Path(filepath)
        self._load_args = dict(load_args or {})
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "load_args": self._load_args}

    def _exists(self) -> bool:
        return is_saved_bundle(self._filepath)

    def _save(self, data: ModelBundle) -> None:
        try:
            save_bundle(data, self._filepath)
        except ModelDirectoryError as err:
            raise DatasetError(str(err)) from err

    def _load(self) -> ModelBundle:
        try:
            return load_bundle(self._filepath, **self._load_args)
        except ModelDirectoryError as err:
            raise DatasetError(str(err)) from err


class StudentBaseDataset(AbstractDataset[StudentBase, StudentBase | None]):
    """Where the student starts from (:class:`prism.training.base_models.StudentBase`).

    A built-in base is saved in full (weights, tokenizer, the spec it was built with) and
    loaded back as a reference to this directory; a pretrained base is saved as a pointer file
    only (its hub id or path), never a multi-GB copy. Loading never reads weights: the trainer
    loads them from ``name_or_path`` when it needs them.

    With ``missing_ok: true`` a missing directory loads as ``None``: the pipeline declares the
    same directory once as this optional input (to reuse a built-in base from an earlier run)
    and once as an output.
    """

    def __init__(
        self,
        filepath: str,
        missing_ok: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            filepath: the base's directory.
            missing_ok: load ``None`` instead of failing when nothing was saved yet.
            metadata: free-form catalog metadata.
        """
        self._filepath = Path(filepath)
        self._missing_ok = missing_ok
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "missing_ok": self._missing_ok}

    def _exists(self) -> bool:
        return is_saved_student_base(self._filepath)

    def _save(self, data: StudentBase) -> None:
        save_student_base(data, self._filepath)

    def _load(self) -> StudentBase | None:
        try:
            return load_student_base(self._filepath, missing_ok=self._missing_ok)
        except ModelDirectoryError as err:
            raise DatasetError(str(err)) from err
