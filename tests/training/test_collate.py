"""Batching: right padding never reaches the loss or attention; padding share arithmetic."""

from __future__ import annotations

import pytest

from prism.training.collate import ConversationDataset, PaddingCollator, padding_share
from prism.training.masking import IGNORE_INDEX, EncodedConversation


def test_padding_is_masked_from_loss_and_attention() -> None:
    data = ConversationDataset(
        [EncodedConversation([5, 6, 7], [-100, 6, 7], False), EncodedConversation([8], [8], False)]
    )
    batch = PaddingCollator(pad_token_id=0)([data[0], data[1]])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert data.lengths == [3, 1] and data.n_tokens == 4


def test_padding_share() -> None:
    assert padding_share([[4, 4], [2, 2]]) == 0
    assert padding_share([[4, 2]]) == pytest.approx(0.25)
    assert padding_share([]) == 0
