"""How the student is fine-tuned from its base: in full or with LoRA adapters, and at which
learning rate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, set_seed

from prism.student.bundle import MODEL_MARKER
from prism.training.base_models import StudentBase
from prism.training.config import TrainConfig
from prism.training.errors import TrainConfigError


def resolve_finetune(config: TrainConfig, base: StudentBase) -> str:
    """``lora`` or ``full``; ``auto`` means full for a random-init built-in base (see docs)."""
    if config.finetune != "auto":
        return config.finetune
    return "full" if base.is_builtin else "lora"


#: Peak learning rate when ``learning_rate`` is unset: a randomly initialised model trained in
#: full needs a large one; LoRA adapters the usual 2e-4; full fine-tuning of a pretrained model
#: a small one, not to wreck what it knows.
DEFAULT_LEARNING_RATES = {
    ("full", True): 1e-3,
    ("full", False): 2e-5,
    ("lora", True): 1e-3,
    ("lora", False): 2e-4,
}


def learning_rate(config: TrainConfig, mode: str, base: StudentBase) -> float:
    """``config.learning_rate``; else what the base recommends for this mode in its
    ``prism_model.json`` (``finetune_learning_rates``, e.g. the small planner base, which wants
    far larger steps than a 3B model); else the default for this mode and kind of base."""
    if config.learning_rate is not None:
        return config.learning_rate
    recommended = _base_card(base).get("finetune_learning_rates", {})
    if mode in recommended:
        return float(recommended[mode])
    return DEFAULT_LEARNING_RATES[(mode, base.is_builtin)]


def _base_card(base: StudentBase) -> dict[str, Any]:
    """The ``prism_model.json`` of a local base directory (empty for hub ids)."""
    path = Path(base.name_or_path) / MODEL_MARKER
    if base.is_builtin or not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return card if isinstance(card, dict) else {}


def apply_finetune(model: PreTrainedModel, mode: str, config: TrainConfig) -> Any:
    """``model`` made trainable for ``mode``: all of it for ``full``, else wrapped in LoRA
    adapters on ``config.target_modules`` (a ``peft.PeftModel``, prepared for 4-bit training
    with ``bit4``).

    Raises:
        TrainConfigError: a name in ``target_modules`` is no module of this model.
    """
    if mode == "full":
        model.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.bit4:
        model = prepare_model_for_kbit_training(model)
    lora = LoraConfig(
        r=config.r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    # Every requested module must exist: peft only complains when *none* matches, which is how
    # the reference trained for months with a misspelt "q_pror" and q_proj never adapted.
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in config.target_modules if m not in present]
    if missing:
        raise TrainConfigError(
            f"target_modules: {', '.join(missing)} not found in {type(model).__name__}; name "
            f"modules of this architecture (Llama/Qwen use q_proj, k_proj, v_proj, o_proj, "
            f"gate_proj, up_proj, down_proj)"
        )
    set_seed(config.seed)  # the adapters' random initialisation, as documented for ``seed``
    return get_peft_model(model, lora)


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """The trainable and the total number of parameters of ``model``."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
