"""Token metrics: the training loss of each sample, batched or not."""

from __future__ import annotations

import math

import pytest
import torch

from prism.evaluation.token_metrics import mean_metrics, score_samples
from prism.formats.conversations import to_chat_messages
from prism.training.collate import PaddingCollator
from prism.training.masking import encode_conversation


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
