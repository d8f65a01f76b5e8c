"""Per-sample token metrics: cross-entropy and next-token accuracy over the supervised tokens.

The same tokens the student is trained on (:mod:`prism.training.masking`, in the model's prompt
format) are scored, so a sample's loss here is its training loss: an assistant turn with
``"weight": 0`` (a DAgger sample's own student turns) is context here too, not scored. Batched,
no gradients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from prism.formats.conversations import to_chat_messages
from prism.student.generation import context_length
from prism.student.prompt_format import PromptFormat
from prism.training.collate import PaddingCollator
from prism.training.masking import IGNORE_INDEX, encode_conversation


@dataclass(frozen=True)
class SampleScore:
    """One sample's token metrics (``loss`` is NaN when no supervised token fits the context).

    ``tokens`` is the number of supervised tokens scored (those of trained assistant turns).
    """

    id: str
    loss: float
    accuracy: float
    tokens: int

    def as_row(self) -> dict[str, Any]:
        return {"id": self.id, "loss": self.loss, "accuracy": self.accuracy, "tokens": self.tokens}


@torch.no_grad()
def score_samples(
    model: Any,
    tokenizer: Any,
    prompt_format: PromptFormat,
    samples: Sequence[Mapping[str, Any]],
    *,
    batch_size: int = 8,
    max_len: int | None = None,
) -> list[SampleScore]:
    """Cross-entropy and token accuracy of each sample's supervised (trained assistant) tokens.

    Args:
        model: a causal LM (or peft model); put in eval mode for the call.
        tokenizer: its tokenizer with a chat template.
        prompt_format: the format the model was trained in.
        samples: canonical samples (``id`` + ``conversations``).
        batch_size: samples per forward pass (sorted by length, so padding stays small).
        max_len: context cap; the model's ``max_position_embeddings`` by default.

    Returns:
        One score per sample, in the order given.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    context = max_len or context_length(model) or 2048
    encoded = [
        encode_conversation(tokenizer, prompt_format.encode(to_chat_messages(s)), context)
        for s in samples
    ]
    collate = PaddingCollator(tokenizer.pad_token_id)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    scores: dict[int, SampleScore] = {}
    order = sorted(range(len(samples)), key=lambda i: len(encoded[i].input_ids))
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = collate(
                [{"input_ids": encoded[i].input_ids, "labels": encoded[i].labels} for i in chunk]
            )
            logits = model(
                input_ids=batch["input_ids"].to(device),
                attention_mask=batch["attention_mask"].to(device),
            ).logits.float()
            labels = batch["labels"].to(device)[:, 1:]
            logits = logits[:, :-1]
            mask = labels != IGNORE_INDEX
            safe = labels.masked_fill(~mask, 0)
            token_loss = torch.nn.functional.cross_entropy(
                logits.transpose(1, 2), safe, reduction="none"
            )
            correct = (logits.argmax(-1) == safe) & mask
            counts = mask.sum(1)
            for row, i in enumerate(chunk):
                n = int(counts[row])
                loss = float((token_loss[row] * mask[row]).sum() / n) if n else float("nan")
                accuracy = float(correct[row].sum() / n) if n else float("nan")
                scores[i] = SampleScore(str(samples[i]["id"]), loss, accuracy, n)
    finally:
        model.train(was_training)
    return [scores[i] for i in range(len(samples))]


def mean_metrics(prefix: str, scores: Sequence[SampleScore]) -> dict[str, float]:
    """``{prefix}/mean_loss`` and ``{prefix}/mean_accuracy`` over samples with a score."""
    scored = [s for s in scores if s.tokens]
    if not scored:
        return {}
    return {
        f"{prefix}/mean_loss": sum(s.loss for s in scored) / len(scored),
        f"{prefix}/mean_accuracy": sum(s.accuracy for s in scored) / len(scored),
        f"{prefix}/n": len(scored),
    }
