"""A tiny random-init student in the compact format (samples to score: ``samples``)."""

from __future__ import annotations

import pytest

from prism.student.prompt_format import CompactFormat
from tests.conftest import tiny_compact_model


@pytest.fixture(scope="session")
def tiny_student(samples):
    """(model, tokenizer, format): untrained, but a real model with a real tokenizer."""
    model, tokenizer = tiny_compact_model(samples)
    return model, tokenizer, CompactFormat()
