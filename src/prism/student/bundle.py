"""A saved student: a model directory (full weights or a LoRA adapter) with its tokenizer.

:func:`save_bundle` and :func:`load_bundle` are a symmetric pair over transformers/peft's
``save_pretrained`` / ``from_pretrained``. A model directory holds what ``save_pretrained``
writes for the model and the tokenizer, the prompt format the model speaks
(:func:`prism.student.prompt_format.save_format`) and, written last, ``prism_model.json``: its
presence marks the directory complete. Saves are atomic
(:func:`prism.formats.atomic.write_dir_atomic`): a crash or an error mid-save never leaves a
half-written model where a later run would take it for a finished one.

Example::

    bundle = load_bundle("data/06_models/student")
    save_bundle(bundle, "/tmp/student-copy")
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prism.formats.atomic import write_dir_atomic
from prism.student.prompt_format import get_format, save_format

#: Written last into every model directory; its presence marks the directory complete.
MODEL_MARKER = "prism_model.json"
#: Marker of a student-base directory (built-in weights, or a pointer to a pretrained model).
BASE_MARKER = "prism_base.json"

#: Where peft keeps an adapter's settings, among them the base it was trained on.
ADAPTER_CONFIG = "adapter_config.json"


class ModelDirectoryError(ValueError):
    """A directory holds no saved model (or student base) that loads here, or a save was handed
    something else than a model; the message names the directory and the fix."""


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


def is_saved_bundle(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a finished model directory (its ``prism_model.json`` was written)."""
    return (Path(path) / MODEL_MARKER).is_file()


def save_bundle(bundle: ModelBundle, path: str | os.PathLike[str]) -> None:
    """Save ``bundle`` into the directory ``path``, atomically, replacing what was there.

    The model and tokenizer are saved with their ``save_pretrained`` (a peft model saves its
    adapter only), then the prompt format (``metadata["prompt_format"]``, ``spine`` by
    default), then ``prism_model.json``: the metadata, with ``adapter`` telling whether the
    directory is a LoRA adapter.

    Raises:
        ModelDirectoryError: ``bundle`` is not a :class:`ModelBundle`.
    """
    path = Path(path)
    if not isinstance(bundle, ModelBundle):
        raise ModelDirectoryError(
            f"{path}: expected a prism.student.bundle.ModelBundle, got {type(bundle).__name__}"
        )

    def write(tmp: Path) -> None:
        bundle.model.save_pretrained(tmp)
        bundle.tokenizer.save_pretrained(tmp)
        save_format(tmp, get_format(bundle.metadata.get("prompt_format", "spine")))
        marker = {"adapter": (tmp / ADAPTER_CONFIG).is_file(), **bundle.metadata}
        (tmp / MODEL_MARKER).write_text(json.dumps(marker, indent=2, default=str))

    write_dir_atomic(path, write)


def load_bundle(path: str | os.PathLike[str], **load_args: Any) -> ModelBundle:
    """Load the model directory ``path`` saved by :func:`save_bundle`.

    For a LoRA adapter the base named in its ``adapter_config.json`` is loaded first and the
    adapter applied on top (``peft.PeftModel.from_pretrained``); a full model loads with
    ``AutoModelForCausalLM.from_pretrained``.

    Args:
        path: the model directory.
        load_args: keyword arguments for ``from_pretrained`` of the model (e.g. ``dtype``,
            ``device_map``); for an adapter, of its base.

    Raises:
        ModelDirectoryError: ``path`` holds no finished model, or an adapter whose base is
            missing (:func:`adapter_problem`).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not is_saved_bundle(path):
        raise ModelDirectoryError(
            f"{path}: no trained model here (missing {MODEL_MARKER}); run "
            "`kedro run --pipelines train` first."
        )
    metadata = json.loads((path / MODEL_MARKER).read_text())
    problem = adapter_problem(path, metadata)
    if problem:
        raise ModelDirectoryError(problem)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if metadata.get("adapter"):
        from peft import PeftConfig, PeftModel

        base_path = PeftConfig.from_pretrained(path).base_model_name_or_path
        base = AutoModelForCausalLM.from_pretrained(base_path, **load_args)
        model = PeftModel.from_pretrained(base, path)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, **load_args)
    return ModelBundle(model=model, tokenizer=tokenizer, metadata=metadata)
