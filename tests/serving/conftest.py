"""Tiny students for the serving tests: a random-init compact-format model (full or LoRA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prism.datasets import HFModelDataset, ModelBundle
from prism.formats.conversations import read_samples, to_chat_messages
from prism.pretraining.model import ModelSpec, init_model, train_tokenizer
from prism.student.planner import StudentPlanner
from prism.student.prompt_format import CompactFormat

ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS = ROOT / "tests" / "training" / "fixtures" / "conversations.json"
MAX_TOKENS = 12  # the untrained student never stops by itself: keep its turns short
CONTEXT = 1024  # the tiny student's max_position_embeddings


@pytest.fixture(scope="session")
def samples() -> list[dict[str, Any]]:
    return read_samples(CONVERSATIONS)


def tiny_model(samples: list[dict[str, Any]]) -> tuple[Any, Any]:
    """A tiny random-init Llama and the tokenizer it was built for (deterministic)."""
    fmt = CompactFormat()
    texts = [m["content"] for s in samples for m in fmt.encode(to_chat_messages(s))]
    tokenizer = train_tokenizer(texts, 400, CONTEXT)
    spec = ModelSpec(
        vocab_size=400,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=CONTEXT,
    )
    return init_model(spec, tokenizer, seed=0), tokenizer


def save_lora_student(samples: list[dict[str, Any]], path: Path, base: Path) -> Path:
    """A LoRA student in ``path`` whose ``adapter_config.json`` names ``base``.

    The base is saved at ``base`` (as a built-in student base would be): remove it to get an
    adapter whose base has gone.
    """
    from peft import LoraConfig, get_peft_model

    model, tokenizer = tiny_model(samples)
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    model.name_or_path = str(base)  # as if loaded from there (peft records it on save)
    lora = LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
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
    model, tokenizer = tiny_model(samples)
    path = tmp_path_factory.mktemp("serving") / "student"
    HFModelDataset(str(path)).save(ModelBundle(model, tokenizer, {"prompt_format": "compact"}))
    return path


@pytest.fixture(scope="session")
def local(student_dir) -> StudentPlanner:
    """The same student, in process."""
    return StudentPlanner.from_pretrained(student_dir, max_new_tokens=MAX_TOKENS)
