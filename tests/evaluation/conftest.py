"""A tiny random-init student in the compact format, and samples to score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prism.formats.conversations import read_samples
from prism.pretraining.model import ModelSpec, init_model, train_tokenizer
from prism.student.prompt_format import CompactFormat

CONVERSATIONS = Path(__file__).resolve().parents[1] / "training" / "fixtures" / "conversations.json"


@pytest.fixture(scope="session")
def samples() -> list[dict[str, Any]]:
    return read_samples(CONVERSATIONS)


@pytest.fixture(scope="session")
def tiny_student(samples):
    """(model, tokenizer, format): untrained, but a real model with a real tokenizer."""
    fmt = CompactFormat()
    texts = [m["content"] for s in samples for m in fmt.encode(_chat(s))]
    tokenizer = train_tokenizer(texts, 400, 1024)
    spec = ModelSpec(
        vocab_size=400,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=1024,
    )
    return init_model(spec, tokenizer, seed=0), tokenizer, fmt


def _chat(sample):
    from prism.formats.conversations import to_chat_messages

    return to_chat_messages(sample)
