"""Pretraining: configuration checks, tokenization, a tiny resumable run, the shipped base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prism.pretraining.corpus import CorpusSpec, corpus, probe_items
from prism.pretraining.model import probe, train_tokenizer
from prism.pretraining.pretrain import (
    PretrainConfig,
    PretrainConfigError,
    encode_document,
    pretrain,
)
from prism.student.bundle import load_bundle, save_bundle
from prism.student.prompt_format import format_of
from prism.training.masking import encode_conversation

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_BASE = ROOT / "data" / "01_raw" / "planner_base"

TINY = {
    "corpus": {"n_scenes": 12, "questions_per_drill": 3, "max_regions": 8, "max_objects": 6},
    "model": {
        "vocab_size": 400,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": 1024,
    },
    "steps": 4,
    "batch_size": 4,
    "probe_items": 2,
    "probe_every": 2,
    "checkpoint_every": 2,
    "report_to": "none",
}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"stpes": 3}, r"unknown parameter\(s\) \['stpes'\]"),
        ({"loss_on": "graphs"}, "loss_on must be 'all' or 'assistant'"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"learning_rate": -1.0}, "learning_rate must be a positive number"),
        ({"model": {"hidden_size": 30, "num_attention_heads": 4}}, "divisible"),
        ({"model": {"layers": 3}}, "pretraining.corpus / pretraining.model"),
        ({"corpus": {"drill_kinds": ["teleport"]}}, "drill_kinds: unknown"),
    ],
)
def test_bad_parameters_are_named(params, message):
    with pytest.raises(PretrainConfigError, match=message):
        PretrainConfig.from_params(params)


def test_the_fingerprint_ignores_reporting_but_not_the_recipe():
    base = PretrainConfig.from_params(TINY)
    assert (
        base.fingerprint() == PretrainConfig.from_params({**TINY, "probe_every": 9}).fingerprint()
    )
    assert base.fingerprint() != PretrainConfig.from_params({**TINY, "steps": 5}).fingerprint()


def test_a_gpu_run_has_its_own_batch_and_checkpoints():
    config = PretrainConfig.from_params({**TINY, "cuda_batch_size": 32})
    assert (config.step_batch(cuda=False), config.step_batch(cuda=True)) == (4, 32)
    assert config.fingerprint(cuda=True) != config.fingerprint(cuda=False)
    # the CPU batch alone decides a CPU run: the GPU's does not change its checkpoints
    assert config.fingerprint() == PretrainConfig.from_params(TINY).fingerprint()


def test_turn_by_turn_encoding_equals_rendering_the_chat_template():
    documents = list(corpus(CorpusSpec(n_scenes=3, questions_per_drill=2)))
    tokenizer = train_tokenizer((m["content"] for d in documents for m in d), 400, 1024)
    for document in documents:
        fast = encode_document(tokenizer, document, 1024, "assistant")
        reference = encode_conversation(tokenizer, document, 1024)
        assert fast.input_ids == reference.input_ids
        assert fast.labels == reference.labels
        every = encode_document(tokenizer, document, 1024, "all")
        assert every.n_supervised > fast.n_supervised


def test_names_are_spelt_the_same_in_the_graph_and_in_a_plan():
    tokenizer = train_tokenizer(
        ["region lookout_tower_1: x", "goto(lookout_tower_1)"] * 50, 300, 64
    )
    name = tokenizer.tokenize("lookout_tower_1")
    assert tokenizer.tokenize("region lookout_tower_1:")[2:-1] == name
    assert tokenizer.tokenize("goto(lookout_tower_1)")[2:-1] == name


def test_a_tiny_run_trains_probes_checkpoints_and_resumes(tmp_path):
    config = PretrainConfig.from_params(TINY)
    bundle, metrics = pretrain(config, tmp_path)
    assert metrics["steps"] == 4 and metrics["resumed_from"] is None
    assert metrics["device"] == "cpu" and metrics["step_batch"] == 4
    assert metrics["tokens_per_second"] > 0
    assert [e["step"] for e in metrics["probe_history"]] == [2, 4]
    assert {"probe/lookup", "probe/neighbours", "probe/path", "probe/all"} <= set(metrics)
    assert bundle.metadata["prompt_format"] == "compact"
    checkpoints = list((tmp_path / config.fingerprint()).glob("checkpoint-*"))
    assert [c.name for c in checkpoints] == ["checkpoint-4"]  # only the last is kept

    # Same configuration again: it resumes from step 4 instead of starting over.
    _, again = pretrain(config, tmp_path)
    assert again["resumed_from"].endswith("checkpoint-4")

    save_bundle(bundle, tmp_path / "base")
    assert format_of(tmp_path / "base").name == "compact"


def test_the_shipped_base_answers_look_ups_it_never_saw():
    base = load_bundle(SHIPPED_BASE)
    assert format_of(SHIPPED_BASE).name == "compact"
    assert sum(f.stat().st_size for f in SHIPPED_BASE.iterdir()) < 20e6
    card = json.loads((SHIPPED_BASE / "pretraining.json").read_text())
    config = PretrainConfig.from_params(card["config"])
    assert config.fingerprint() == card["fingerprint"]  # the card describes these very weights
    lookups = [i for i in probe_items(config.corpus, 12) if i.kind == "lookup"]
    scores = probe(base.model, base.tokenizer, lookups)
    # 3 of these 12 on the machine that built it (20 % on 50 items, bench/pretrain.py); picking
    # a random region of the scene would get about 1. Greedy decoding is deterministic, but
    # another CPU's kernels may flip a close call, hence one item of slack.
    assert scores["probe/lookup"] >= 2 / 12
