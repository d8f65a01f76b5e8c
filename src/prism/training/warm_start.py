"""Continuing from a saved student instead of the fresh base (the iterative loop's ``warm_start``).

LLM2LLM retrains every iteration from the base; continuing from the previous episode's weights
is cheaper per episode and may keep what was learnt. Either is one parameter away, and the
bench measures both. The saved student must be of the same base and fine-tuning mode as the run:
its LoRA adapter (or its full weights) is loaded into the model that is about to be trained.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from prism.student.bundle import MODEL_MARKER
from prism.training.base_models import StudentBase
from prism.training.errors import TrainConfigError

#: The weight files a saved student holds: a LoRA adapter, or a full model (maybe sharded).
WEIGHT_FILES = ("adapter_model.safetensors", "model.safetensors", "model-*.safetensors")


def _weight_files(path: Path) -> list[Path]:
    files = sorted({f for pattern in WEIGHT_FILES for f in path.glob(pattern)})
    if not files:
        raise TrainConfigError(
            f"{path}: no saved weights to continue from (expected {WEIGHT_FILES[0]} or "
            f"{WEIGHT_FILES[1]}); is it a trained student's directory?"
        )
    return files


def weights_digest(path: str | os.PathLike[str]) -> str:
    """sha256 over a saved student's weight files: what a continued run starts from.

    Raises:
        TrainConfigError: ``path`` holds no weights.
    """
    digest = hashlib.sha256()
    for file in _weight_files(Path(path)):
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def continue_from(
    model: Any, mode: str, init_from: str | os.PathLike[str], base: StudentBase
) -> Any:
    """``model`` (the base, made trainable for ``mode``) with the weights of the saved student
    ``init_from`` loaded into it.

    Raises:
        TrainConfigError: ``init_from`` is no saved student, or was trained on another base or in
            another mode (its ``prism_model.json`` says which).
    """
    path = Path(init_from)
    marker = path / MODEL_MARKER
    if not marker.is_file():
        raise TrainConfigError(f"{path}: no saved student to continue from (no {MODEL_MARKER})")
    saved = json.loads(marker.read_text(encoding="utf-8"))
    if saved.get("finetune") != mode:
        raise TrainConfigError(
            f"{path} was trained with finetune {saved.get('finetune')!r}, this run is {mode!r}: "
            "a run continues only a student of the same mode"
        )
    if saved.get("base_model") != base.name_or_path:
        raise TrainConfigError(
            f"{path} was trained on the base {saved.get('base_model')!r}, this run on "
            f"{base.name_or_path!r}: a run continues only a student of the same base"
        )
    _weight_files(path)
    if mode == "full":
        from transformers import AutoModelForCausalLM

        weights = AutoModelForCausalLM.from_pretrained(path).state_dict()
        model.load_state_dict(weights)
        return model
    from peft.utils import load_peft_weights, set_peft_model_state_dict

    result = set_peft_model_state_dict(model, load_peft_weights(str(path)))
    unexpected = [k for k in getattr(result, "unexpected_keys", []) if "lora" in k]
    if unexpected:
        raise TrainConfigError(
            f"{path}: its adapter does not fit this run's LoRA settings (r, target_modules): "
            f"unexpected {unexpected[:3]}"
        )
    return model
