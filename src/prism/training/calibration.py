"""How fast this machine trains the student: a few real training steps, timed.

The iterative loop says at its start how long it should take (:mod:`prism.pipelines.iterative.
plan`); for the training part it needs the tokens per second of this machine, with this base,
fine-tuning mode and batch size. :func:`measure_training` runs a few optimizer steps as
:func:`~prism.training.fit.fit` would (same encoding, collation, fine-tuning mode) on a fresh
copy of the base, and throws the copy away.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from prism.training.base_models import StudentBase, load_base_model, load_base_tokenizer
from prism.training.collate import PaddingCollator
from prism.training.config import TrainConfig
from prism.training.finetune import apply_finetune, learning_rate, resolve_finetune
from prism.training.fit import encode_samples, training_encoding


@dataclass(frozen=True)
class TrainingSpeed:
    """What :func:`measure_training` measured.

    Attributes:
        tokens_per_second: tokens (padding excluded) through forward, backward and the
            optimizer step per second, after a warm-up step.
        tokens_per_sample: mean tokens of an encoded sample (all samples given).
        steps: the optimizer steps timed.
    """

    tokens_per_second: float
    tokens_per_sample: float
    steps: int


def measure_training(
    samples: Sequence[dict[str, Any]], base: StudentBase, config: TrainConfig, *, steps: int = 2
) -> TrainingSpeed | None:
    """Time ``steps`` training steps (after one warm-up step) on batches of ``samples``.

    Args:
        samples: canonical samples (:func:`prism.formats.conversations.load_samples`); all are
            encoded (for their mean length), the first ``(steps + 1) * batch size`` trained on.
        base: the base the student is fine-tuned from.
        config: the training configuration (fine-tuning mode, batch size, context).
        steps: steps timed.

    Returns:
        The speed, or ``None`` when no sample has a token to learn.
    """
    tokenizer = load_base_tokenizer(base)
    model = load_base_model(base, bit4=config.bit4)
    max_len, prompt_format = training_encoding(model, base, config)
    examples, _ = encode_samples(samples, tokenizer, max_len, prompt_format)
    if not examples:
        return None
    batch = config.per_device_train_batch_size
    # as group_by_length batches them: similar lengths together, little padding
    chosen = sorted(examples[: batch * (steps + 1)], key=lambda e: len(e.input_ids))
    batches = [chosen[i : i + batch] for i in range(0, len(chosen), batch)]
    mode = resolve_finetune(config, base)
    model = apply_finetune(model, mode, config)
    if torch.cuda.is_available() and model.device.type != "cuda":
        model.to("cuda")  # where the Trainer trains
    on_gpu = model.device.type == "cuda"
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate(config, mode, base))
    collate = PaddingCollator(tokenizer.pad_token_id)
    tokens, seconds = 0, 0.0
    for index, chunk in enumerate(batches):
        inputs = collate([{"input_ids": e.input_ids, "labels": e.labels} for e in chunk])
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        started = time.perf_counter()
        model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if on_gpu:
            torch.cuda.synchronize()
        if index > 0 or len(batches) == 1:  # the first step pays for allocation: not timed
            seconds += time.perf_counter() - started
            tokens += sum(len(e.input_ids) for e in chunk)
    return TrainingSpeed(
        tokens_per_second=tokens / seconds if seconds > 0 else float("inf"),
        tokens_per_sample=sum(len(e.input_ids) for e in examples) / len(examples),
        steps=max(1, len(batches) - 1),
    )
