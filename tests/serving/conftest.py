"""Tiny students for the serving tests: a random-init compact-format model (full or LoRA)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from prism.datasets import HFModelDataset, ModelBundle
from prism.student.planner import StudentPlanner
from tests.conftest import tiny_compact_model


def free_port() -> int:
    """A local TCP port nobody listens on (for a server the test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MAX_TOKENS = 12  # the untrained student never stops by itself: keep its turns short
CONTEXT = 1024  # the tiny student's max_position_embeddings


def save_lora_student(samples: list[dict[str, Any]], path: Path, base: Path) -> Path:
    """A LoRA student in ``path`` whose ``adapter_config.json`` names ``base``.

    The base is saved at ``base`` (as a built-in student base would be): remove it to get an
    adapter whose base has gone.
    """
    from peft import LoraConfig, get_peft_model

    model, tokenizer = tiny_compact_model(samples, CONTEXT)
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    model.name_or_path = str(base)  # as if loaded from there (peft records it on save)
    # init_lora_weights=False: random B as well as A, so the adapter changes the model (peft's
    # default B = 0 would make a student served without its adapter look the same)
    lora = LoraConfig(
        r=2,
        lora_alpha=4,
        target_modules=["q_proj", "v_proj"],
        task_type="CAUSAL_LM",
        init_lora_weights=False,
    )
    HFModelDataset(str(path)).save(
        ModelBundle(
            get_peft_model(model, lora),
            tokenizer,
            {"prompt_format": "compact", "finetune": "lora"},
        )
    )
    return path


@pytest.fixture(scope="session")
def student_dir(tmp_path_factory, samples) -> Path:
    """A tiny random-init compact-format student saved as a model directory."""
    model, tokenizer = tiny_compact_model(samples, CONTEXT)
    path = tmp_path_factory.mktemp("serving") / "student"
    HFModelDataset(str(path)).save(ModelBundle(model, tokenizer, {"prompt_format": "compact"}))
    return path


@pytest.fixture(scope="session")
def local(student_dir) -> StudentPlanner:
    """The same student, in process."""
    return StudentPlanner.from_pretrained(student_dir, max_new_tokens=MAX_TOKENS)
