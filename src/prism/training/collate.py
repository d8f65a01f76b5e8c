"""Batching tokenized rollouts: right-padding with masked labels, and padding statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from prism.training.masking import IGNORE_INDEX, EncodedConversation


class ConversationDataset(torch.utils.data.Dataset):
    """Encoded rollouts as a map-style dataset, with the lengths group-by-length batching needs."""

    def __init__(self, examples: Sequence[EncodedConversation]) -> None:
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        example = self.examples[index]
        return {"input_ids": example.input_ids, "labels": example.labels}

    @property
    def lengths(self) -> list[int]:
        """Token length of every example, in order."""
        return [len(e.input_ids) for e in self.examples]

    @property
    def n_tokens(self) -> int:
        """Tokens in one pass over the dataset, padding excluded."""
        return sum(self.lengths)


@dataclass(frozen=True)
class PaddingCollator:
    """Right-pad a batch to its longest example.

    Padding gets label ``IGNORE_INDEX`` and attention mask 0, so it never contributes to the
    loss nor is attended to. Right padding is correct for training a causal LM (positions are
    counted from the left); generation pads on the left, which is the tokenizer's business.
    """

    pad_token_id: int

    def __call__(self, features: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        input_ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(features), width), dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[row, :n] = torch.tensor(feature["input_ids"])
            labels[row, :n] = torch.tensor(feature["labels"])
            attention_mask[row, :n] = 1
        return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def padding_share(batch_lengths: Sequence[Sequence[int]]) -> float:
    """Fraction of padding tokens over batches padded to their longest member.

    Args:
        batch_lengths: the token lengths of the examples of each batch.
    """
    padded = sum(max(lengths) * len(lengths) for lengths in batch_lengths if lengths)
    real = sum(sum(lengths) for lengths in batch_lengths)
    return 1 - real / padded if padded else 0.0


def expected_padding_share(
    lengths: Sequence[int], batch_size: int, group_by_length: bool, seed: int = 0
) -> float:
    """Padding share of one epoch batched as the Trainer does (random or grouped by length).

    Uses the same sampler classes as ``transformers.Trainer``, with its own generator, so the
    figure describes the batching strategy rather than one particular shuffle.
    """
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(seed)
    if group_by_length:
        order = list(LengthGroupedSampler(batch_size, lengths=list(lengths), generator=generator))
    else:
        order = torch.randperm(len(lengths), generator=generator).tolist()
    batches = [
        [lengths[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)
    ]
    return padding_share(batches)
