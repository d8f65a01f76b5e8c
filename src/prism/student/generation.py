"""Batched greedy generation of the student's next turn, within the model's context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from prism.values import is_int


def context_length(model: Any) -> int | None:
    """The most tokens (prompt + reply) the model takes: ``config.max_position_embeddings``
    (read through a peft wrapper), ``None`` when its config does not say."""
    config = getattr(model, "config", None)
    for attribute in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, attribute, None)
        if is_int(value) and value > 0:
            return value
    return None


def prompt_ids(
    tokenizer: PreTrainedTokenizerBase, conversation: Sequence[dict[str, str]]
) -> list[int]:
    """The token ids the model reads for ``conversation``: its chat template with the
    generation prompt, tokenized without special tokens of the tokenizer's own."""
    text = tokenizer.apply_chat_template(
        list(conversation), tokenize=False, add_generation_prompt=True
    )
    # verbose=False: a prompt longer than the model's context is what callers check for
    return tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def generate_replies(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    conversations: Sequence[Sequence[dict[str, str]]],
    *,
    max_new_tokens: int | Sequence[int] = 48,
    batch_size: int = 16,
) -> list[str]:
    """Greedy next assistant turn for each conversation (see :func:`generate_from_ids`)."""
    prompts = [prompt_ids(tokenizer, c) for c in conversations]
    return generate_from_ids(
        model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size
    )


@torch.no_grad()
def generate_from_ids(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int | Sequence[int] = 48,
    batch_size: int = 16,
) -> list[str]:
    """Greedy next assistant turn for each prompt (:func:`prompt_ids`), batched with left
    padding.

    Args:
        max_new_tokens: one cap for all, or one per prompt. A batch generates up to its largest
            cap and each reply is cut at its own: greedy decoding of one sequence does not
            depend on the others, so this is what generating with that cap alone gives.
    """
    if isinstance(max_new_tokens, int):
        caps = [max_new_tokens] * len(prompts)
    else:
        caps = [int(n) for n in max_new_tokens]
        if len(caps) != len(prompts):
            raise ValueError(f"{len(caps)} max_new_tokens for {len(prompts)} prompts")
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    replies: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = [list(ids) for ids in prompts[start : start + batch_size]]
            limits = caps[start : start + batch_size]
            batch = tokenizer.pad({"input_ids": chunk}, padding=True, return_tensors="pt")
            batch = batch.to(model.device)
            output = model.generate(
                **batch,
                max_new_tokens=max(limits),
                do_sample=False,
                use_cache=True,  # a checkpoint saved by a Trainer may say use_cache: false
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
            new = output[:, batch["input_ids"].shape[1] :]
            replies += [
                tokenizer.decode(row[:limit], skip_special_tokens=True).strip()
                for row, limit in zip(new, limits, strict=True)
            ]
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return replies
