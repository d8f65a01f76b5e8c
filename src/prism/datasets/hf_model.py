"""Kedro datasets for Hugging Face model directories: a trained student and its base.

Nothing in kedro-datasets saves a transformers/peft model directory, so these wrap
``save_pretrained`` / ``from_pretrained``. Saves are atomic: the directory is written next to its
destination under a temporary name and renamed into place, so a crash or an error mid-save never
leaves a half-written model where a later run (or ``--only-missing-outputs``) would take it for a
finished one.

Catalog example::

    student_model:
      type: prism.datasets.HFModelDataset
      filepath: data/06_models/student
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from prism.student.prompt_format import get_format, save_format

#: Written last into every model directory; its presence marks the directory complete.
MODEL_MARKER = "prism_model.json"
#: Marker of a student-base directory (built-in weights, or a pointer to a pretrained model).
BASE_MARKER = "prism_base.json"

#: Where peft keeps an adapter's settings, among them the base it was trained on.
ADAPTER_CONFIG = "adapter_config.json"


def _looks_like_a_path(name: str) -> bool:
    """Whether a ``base_model_name_or_path`` is a local path rather than a hub id (``org/name``)."""
    return (
        Path(name).is_absolute()
        or name.startswith(("./", "../", "~"))
        or "\\" in name
        or name.count("/") > 1
    )


def adapter_problem(path: Path, metadata: Any) -> str | None:
    """What keeps the saved student in ``path`` from loading as a LoRA adapter, or ``None``.

    Checked without loading anything: an adapter must have its ``adapter_config.json``, and a
    local ``base_model_name_or_path`` in it (an absolute path on the machine it was trained on,
    for a built-in or shipped base) must exist here, which it does not once a run directory is
    copied elsewhere. A hub id is not checked.

    Args:
        metadata: the parsed ``prism_model.json``.
    """
    adapter_config = path / ADAPTER_CONFIG
    if not adapter_config.is_file():
        if isinstance(metadata, dict) and metadata.get("adapter"):
            return (
                f"{path}: {MODEL_MARKER} says this is a LoRA adapter but {ADAPTER_CONFIG} is "
                "missing; the adapter was not copied completely"
            )
        return None
    try:
        base = json.loads(adapter_config.read_text(encoding="utf-8"))["base_model_name_or_path"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"{adapter_config}: expected a JSON object with base_model_name_or_path ({exc!r})"
    if not isinstance(base, str) or not base:
        return f"{adapter_config}: base_model_name_or_path is empty ({base!r})"
    if _looks_like_a_path(base) and not Path(base).expanduser().exists():
        hint = ""
        candidates = [
            path.resolve().parent / Path(base).name,
            path.resolve().parent / "student_base",
        ]
        found = next((c for c in candidates if (c / BASE_MARKER).is_file()), None)
        if found is not None:
            hint = f" (a student base is at {found}: is it that one?)"
        return (
            f"{path} is a LoRA adapter whose base model is missing: {ADAPTER_CONFIG} names "
            f"base_model_name_or_path {base!r}, which does not exist on this machine (was the "
            f"run directory moved?). Put the base model back at {base}, or set "
            f"base_model_name_or_path in {adapter_config} to where it is now{hint}"
        )
    return None


@dataclass
class ModelBundle:
    """A model with the tokenizer it was trained with.

    Attributes:
        model: a ``transformers.PreTrainedModel`` or a ``peft.PeftModel`` (LoRA adapter).
        tokenizer: the matching tokenizer (chat template included).
        metadata: small JSON-serialisable facts about the model (e.g. fine-tuning mode);
            saved in ``prism_model.json``.
    """

    model: Any
    tokenizer: Any
    metadata: dict[str, Any] = field(default_factory=dict)


def write_atomically(destination: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp_dir)`` and move the finished directory to ``destination``.

    The temporary directory is a sibling of ``destination`` (same filesystem, so the final
    rename is atomic); an existing ``destination`` is swapped out only after the write
    succeeded, and on any error the temporary directory is removed and the old one kept.
    Leftovers of a writer that was killed (SIGKILL runs no cleanup) are removed first: a
    full-model copy per kill otherwise.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    for kind in ("tmp", "old"):
        for stale in destination.parent.glob(f".{glob.escape(destination.name)}.{kind}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    token = uuid.uuid4().hex[:8]
    tmp = destination.with_name(f".{destination.name}.tmp-{token}")
    old = destination.with_name(f".{destination.name}.old-{token}")
    try:
        tmp.mkdir()
        write(tmp)
        if destination.exists():
            os.replace(destination, old)
        os.replace(tmp, destination)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not destination.exists():
            os.replace(old, destination)
        raise
    shutil.rmtree(old, ignore_errors=True)


class HFModelDataset(AbstractDataset[ModelBundle, ModelBundle]):
    """A trained model directory: full weights or a LoRA adapter, plus its tokenizer.

    ``load`` returns a :class:`ModelBundle`: for an adapter directory the base named in its
    ``adapter_config.json`` is loaded first and the adapter applied on top
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
        return (self._filepath / MODEL_MARKER).is_file()

    def _save(self, data: ModelBundle) -> None:
        if not isinstance(data, ModelBundle):
            raise DatasetError(
                f"{self._filepath}: expected a prism.datasets.ModelBundle, got {type(data).__name__}"
            )

        def write(tmp: Path) -> None:
            data.model.save_pretrained(tmp)
            data.tokenizer.save_pretrained(tmp)
            save_format(tmp, get_format(data.metadata.get("prompt_format", "spine")))
            marker = {"adapter": (tmp / "adapter_config.json").is_file(), **data.metadata}
            (tmp / MODEL_MARKER).write_text(json.dumps(marker, indent=2, default=str))

        write_atomically(self._filepath, write)

    def _load(self) -> ModelBundle:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not self._exists():
            raise DatasetError(
                f"{self._filepath}: no trained model here (missing {MODEL_MARKER}); run "
                "`kedro run --pipelines train` first."
            )
        metadata = json.loads((self._filepath / MODEL_MARKER).read_text())
        problem = adapter_problem(self._filepath, metadata)
        if problem:
            raise DatasetError(problem)
        tokenizer = AutoTokenizer.from_pretrained(self._filepath)
        if metadata.get("adapter"):
            from peft import PeftConfig, PeftModel

            base_path = PeftConfig.from_pretrained(self._filepath).base_model_name_or_path
            base = AutoModelForCausalLM.from_pretrained(base_path, **self._load_args)
            model = PeftModel.from_pretrained(base, self._filepath)
        else:
            model = AutoModelForCausalLM.from_pretrained(self._filepath, **self._load_args)
        return ModelBundle(model=model, tokenizer=tokenizer, metadata=metadata)


class StudentBaseDataset(AbstractDataset[Any, Any]):
    """Where the student starts from (``prism.training.base_models.StudentBase``).

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
        return (self._filepath / BASE_MARKER).is_file()

    def _save(self, data: Any) -> None:
        here = self._filepath.resolve()
        if data.model is None and data.is_builtin and Path(data.name_or_path).resolve() == here:
            return  # a built-in base reused from this very directory: already on disk
        marker = {"name_or_path": data.name_or_path, "builtin_spec": data.builtin_spec}

        def write(tmp: Path) -> None:
            if data.is_builtin:
                if data.model is not None:
                    data.model.save_pretrained(tmp)
                    data.tokenizer.save_pretrained(tmp)
                else:  # a built-in base that lives in another directory
                    shutil.copytree(data.name_or_path, tmp, dirs_exist_ok=True)
                marker["name_or_path"] = None  # the directory itself
            (tmp / BASE_MARKER).write_text(json.dumps(marker, indent=2))

        write_atomically(self._filepath, write)

    def _load(self) -> Any:
        from prism.training.base_models import StudentBase

        if not self._exists():
            if self._missing_ok:
                return None
            raise DatasetError(
                f"{self._filepath}: no student base here (missing {BASE_MARKER}); run "
                "`kedro run --pipelines train` to build or reference one."
            )
        marker = json.loads((self._filepath / BASE_MARKER).read_text())
        name_or_path = marker.get("name_or_path") or str(self._filepath.resolve())
        return StudentBase(name_or_path=name_or_path, builtin_spec=marker.get("builtin_spec"))
