"""Token metrics: the training loss of each sample, batched or not."""

from __future__ import annotations

import math

import pytest
import torch

from prism.evaluation.token_metrics import mean_metrics, score_samples
from prism.formats.conversations import load_samples, to_chat_messages
from prism.training.collate import PaddingCollator
from prism.training.masking import IGNORE_INDEX, encode_conversation


def test_a_sample_scores_its_training_loss(tiny_student, samples):
    model, tokenizer, fmt = tiny_student
    (score,) = score_samples(model, tokenizer, fmt, samples[:1])
    encoded = encode_conversation(tokenizer, fmt.encode(to_chat_messages(samples[0])), 1024)
    batch = PaddingCollator(tokenizer.pad_token_id)(
        [{"input_ids": encoded.input_ids, "labels": encoded.labels}]
    )
    with torch.no_grad():
        reference = model(**batch).loss.item()
    assert score.id == samples[0]["id"]
    assert score.loss == pytest.approx(reference, rel=1e-5)
    assert score.tokens == encoded.n_supervised  # the first token is a role marker, never a label
    assert 0.0 <= score.accuracy <= 1.0


def test_batching_changes_nothing(tiny_student, samples):
    model, tokenizer, fmt = tiny_student
    batched = score_samples(model, tokenizer, fmt, samples[:12], batch_size=5)
    single = score_samples(model, tokenizer, fmt, samples[:12], batch_size=1)
    assert [s.id for s in batched] == [s["id"] for s in samples[:12]]
    for a, b in zip(batched, single, strict=True):
        assert a.loss == pytest.approx(b.loss, rel=1e-4, abs=1e-5)
        assert a.accuracy == pytest.approx(b.accuracy)


def test_means_skip_samples_without_assistant_tokens(tiny_student, samples):
    model, tokenizer, fmt = tiny_student
    scores = score_samples(model, tokenizer, fmt, samples[:3], max_len=4)
    assert all(s.tokens == 0 and math.isnan(s.loss) for s in scores)
    assert mean_metrics("eval", scores) == {}
    scores = score_samples(model, tokenizer, fmt, samples[:3])
    means = mean_metrics("eval", scores)
    assert means["eval/n"] == 3
    assert means["eval/mean_loss"] == pytest.approx(sum(s.loss for s in scores) / 3)


def test_a_bad_batch_size_is_refused(tiny_student, samples):
    model, tokenizer, fmt = tiny_student
    with pytest.raises(ValueError, match="batch_size"):
        score_samples(model, tokenizer, fmt, samples[:1], batch_size=0)


def only_the_last_run(labels: list[int]) -> list[int]:
    """``labels`` with every label before the last run of supervised tokens masked."""
    start = max(i for i, label in enumerate(labels) if label != IGNORE_INDEX)
    while start > 0 and labels[start - 1] != IGNORE_INDEX:
        start -= 1
    return [IGNORE_INDEX] * start + labels[start:]


def test_a_dagger_sample_scores_only_its_trained_turn(tiny_student, samples):
    model, tokenizer, fmt = tiny_student
    sample = next(
        s for s in samples if sum(t["role"] == "assistant" for t in s["conversations"]) > 2
    )
    turns = [dict(t) for t in sample["conversations"]]
    last = max(i for i, t in enumerate(turns) if t["role"] == "assistant")
    for turn in turns[:last]:
        if turn["role"] == "assistant":
            turn["weight"] = 0  # the student's own turns; only the teacher's last one is trained
    (dagger,) = load_samples([{"conversations": turns}])
    (score,) = score_samples(model, tokenizer, fmt, [dagger])

    # The same conversation without weights, with every label before the last turn's masked by hand.
    plain = encode_conversation(tokenizer, fmt.encode(to_chat_messages(sample)), 1024)
    batch = PaddingCollator(tokenizer.pad_token_id)(
        [{"input_ids": plain.input_ids, "labels": only_the_last_run(plain.labels)}]
    )
    with torch.no_grad():
        output = model(**batch)
    targets = batch["labels"][0, 1:]
    scored = targets != IGNORE_INDEX
    predicted = output.logits[0, :-1].argmax(-1)
    (whole,) = score_samples(model, tokenizer, fmt, [sample])

    assert score.tokens == int(scored.sum()) < whole.tokens
    assert score.loss == pytest.approx(output.loss.item(), rel=1e-5)
    assert score.accuracy == pytest.approx(
        float((predicted[scored] == targets[scored]).float().mean())
    )
    assert score.loss != pytest.approx(whole.loss, rel=1e-5)
