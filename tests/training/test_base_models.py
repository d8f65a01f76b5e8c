"""Base models: aliases, hub ids and local paths, clear errors offline, the built-in base."""

from __future__ import annotations

import pytest

from prism.training.base_models import (
    BASE_MODEL_ALIASES,
    BUILTIN,
    BaseModelError,
    build_builtin_base,
    pretrained_base,
    resolve_base_model,
    train_builtin_tokenizer,
)
from prism.training.chat_template import SPECIAL_TOKENS

from .conftest import TINY_SPEC


def test_aliases_and_builtin_resolve() -> None:
    assert resolve_base_model("llama-3.2-3b") == "meta-llama/Llama-3.2-3B-Instruct"
    assert resolve_base_model("Llama-3.2-3B") == BASE_MODEL_ALIASES["llama-3.2-3b"]
    assert resolve_base_model("builtin") == BUILTIN
    assert resolve_base_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"


def test_local_directory_resolves_to_its_absolute_path(tiny_base_dir) -> None:
    assert resolve_base_model(str(tiny_base_dir)) == str(tiny_base_dir.resolve())


def test_directory_without_config_is_refused(tmp_path) -> None:
    with pytest.raises(BaseModelError, match=r"no config.json"):
        resolve_base_model(str(tmp_path))


def test_unknown_name_lists_what_would_work() -> None:
    with pytest.raises(BaseModelError, match=r"unknown.*builtin.*llama-3.2-3b"):
        resolve_base_model("llama-9")


def test_hub_id_without_network_says_to_pass_a_local_path_or_builtin() -> None:
    with pytest.raises(BaseModelError, match=r"local path.*builtin"):
        pretrained_base("prism-tests/does-not-exist")


def test_a_local_pretrained_directory_is_a_valid_base(tiny_base_dir) -> None:
    base = pretrained_base(str(tiny_base_dir))
    assert base.name_or_path == str(tiny_base_dir.resolve())
    assert not base.is_builtin


def test_builtin_tokenizer_keeps_node_names_whole(samples) -> None:
    texts = [turn["value"] for sample in samples for turn in sample["conversations"]]
    tokenizer = train_builtin_tokenizer(texts, TINY_SPEC)
    for name in ("pickup_truck_1", "field_6", "sail_boat_2"):
        assert len(tokenizer.tokenize(" " + name)) <= 2, tokenizer.tokenize(" " + name)
    assert tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(len(SPECIAL_TOKENS)))
    # byte-level: text never seen in training still round-trips
    assert tokenizer.decode(tokenizer("Grüße, 🤖 à 3.5 m")["input_ids"]) == "Grüße, 🤖 à 3.5 m"


def test_builtin_base_is_a_seeded_tiny_llama(samples) -> None:
    texts = [turn["value"] for sample in samples for turn in sample["conversations"]]
    first, second = build_builtin_base(texts, TINY_SPEC), build_builtin_base(texts, TINY_SPEC)
    assert first.model.config.model_type == "llama"
    assert first.is_builtin and first.builtin_spec["hidden_size"] == TINY_SPEC.hidden_size
    assert sum(p.numel() for p in first.model.parameters()) < 200_000
    weights = zip(first.model.parameters(), second.model.parameters(), strict=True)
    assert all((a == b).all() for a, b in weights)
