"""Fixtures for the student's training tests: real SPINE-style rollouts and a tiny built-in base.

Everything is offline: ``HF_HUB_OFFLINE`` is set before transformers is imported, and the tiny
base (about 0.1M parameters) is built locally once per test session.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from prism.training.base_models import BuiltinModelSpec, StudentBase, build_builtin_base
from prism.training.config import TrainConfig
from prism.training.saved_base import load_student_base, save_student_base
from tests.conftest import CONVERSATIONS

#: Small enough that a training step takes milliseconds on one CPU core.
TINY_SPEC = BuiltinModelSpec(
    vocab_size=600,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=2,
    max_position_embeddings=1024,
)


def tiny_config(**overrides: Any) -> TrainConfig:
    """A config that trains the tiny base quickly and reports nowhere."""
    defaults: dict[str, Any] = {
        "base_model": "builtin",
        "report_to": "none",
        "epochs": 2,
        "warmup_steps": 0,
        "per_device_train_batch_size": 8,
        "builtin_model": TINY_SPEC,
        "val_frac": 0.1,
    }
    return TrainConfig(**{**defaults, **overrides})


@pytest.fixture(scope="session")
def tiny_base_dir(samples: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny built-in base saved to disk once for the session."""
    texts = [turn["value"] for sample in samples for turn in sample["conversations"]]
    path = tmp_path_factory.mktemp("base") / "student_base"
    save_student_base(build_builtin_base(texts, TINY_SPEC), path)
    return path


@pytest.fixture
def tiny_base(tiny_base_dir: Path) -> StudentBase:
    """A reference to the saved tiny base (weights are loaded by the trainer)."""
    return load_student_base(tiny_base_dir)


@pytest.fixture
def tokenizer(tiny_base_dir: Path) -> Any:
    """The tiny base's tokenizer, loaded as any user would."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_base_dir)


__all__ = ["CONVERSATIONS", "TINY_SPEC", "replace", "tiny_config"]
