"""Assistant-only labels: the loss sees every trained assistant turn and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from prism.formats.conversations import load_samples, to_chat_messages
from prism.training.chat_template import END_OF_TURN
from prism.training.masking import (
    IGNORE_INDEX,
    TemplateNotPrefixStableError,
    encode_conversation,
)

#: A ChatML-style template (the Qwen family's layout), to check masking beyond our own template.
CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def supervised_segments(encoded: Any) -> list[list[int]]:
    """Maximal runs of consecutive supervised tokens."""
    segments: list[list[int]] = []
    current: list[int] = []
    for token, label in zip(encoded.input_ids, encoded.labels, strict=True):
        if label != IGNORE_INDEX:
            assert label == token
            current.append(token)
        elif current:
            segments.append(current)
            current = []
    return segments + ([current] if current else [])


def a_sample_with_a_system_turn(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return next(s for s in samples if s["conversations"][0]["role"] == "system")


def untrained(sample: dict[str, Any], *assistant_turns: int) -> dict[str, Any]:
    """The sample, read again with ``"weight": 0`` on the given assistant turns (0 = first)."""
    turns = [dict(turn) for turn in sample["conversations"]]
    positions = [i for i, turn in enumerate(turns) if turn["role"] == "assistant"]
    for n in assistant_turns:
        turns[positions[n]]["weight"] = 0
    (weighted,) = load_samples([{"conversations": turns}])
    return weighted


def assistant_texts(messages: list[dict[str, Any]], end: str, *turns: int) -> list[str]:
    texts = [m["content"] + end for m in messages if m["role"] == "assistant"]
    return [texts[n] for n in turns]


def test_unmasked_tokens_decode_to_exactly_the_assistant_turns(samples, tokenizer) -> None:
    sample = a_sample_with_a_system_turn(samples)
    messages = to_chat_messages(sample)
    encoded = encode_conversation(tokenizer, messages, max_len=4096)
    decoded = [tokenizer.decode(s) for s in supervised_segments(encoded)]
    expected = [m["content"] + END_OF_TURN for m in messages if m["role"] == "assistant"]
    assert len(expected) == 3  # a multi-turn rollout: every assistant turn is supervised
    assert decoded == expected
    assert not encoded.truncated


def test_user_and_system_tokens_are_never_labels(samples, tokenizer) -> None:
    sample = a_sample_with_a_system_turn(samples)
    messages = to_chat_messages(sample)
    encoded = encode_conversation(tokenizer, messages, max_len=4096)
    masked_text = tokenizer.decode(
        [t for t, lab in zip(encoded.input_ids, encoded.labels, strict=True) if lab == IGNORE_INDEX]
    )
    for message in messages:
        if message["role"] != "assistant":
            assert message["content"] in masked_text
    assert "<|assistant|>" in masked_text  # the role header is the prompt, not the answer


def test_every_sample_of_the_fixture_labels_its_assistant_text(samples, tokenizer) -> None:
    for sample in samples:
        messages = to_chat_messages(sample)
        encoded = encode_conversation(tokenizer, messages, max_len=4096)
        decoded = "".join(tokenizer.decode(s) for s in supervised_segments(encoded))
        assert decoded == "".join(
            m["content"] + END_OF_TURN for m in messages if m["role"] == "assistant"
        )


def test_masking_follows_another_template(samples, tokenizer) -> None:
    tokenizer.chat_template = CHATML
    messages = to_chat_messages(samples[0])
    encoded = encode_conversation(tokenizer, messages, max_len=4096)
    decoded = [tokenizer.decode(s) for s in supervised_segments(encoded)]
    # ChatML closes a turn with <|im_end|> and a newline: both are part of the supervised span.
    assert decoded == [m["content"] + "<|im_end|>\n" for m in messages if m["role"] == "assistant"]


def test_truncation_keeps_the_beginning(samples, tokenizer) -> None:
    messages = to_chat_messages(samples[0])
    full = encode_conversation(tokenizer, messages, max_len=4096)
    cut = encode_conversation(tokenizer, messages, max_len=len(full.input_ids) - 20)
    assert cut.truncated
    assert cut.input_ids == full.input_ids[: len(cut.input_ids)]
    assert 0 < cut.n_supervised < full.n_supervised


def test_truncation_inside_the_first_user_turn_leaves_nothing_to_learn(samples, tokenizer) -> None:
    encoded = encode_conversation(tokenizer, to_chat_messages(samples[0]), max_len=10)
    assert encoded.truncated and encoded.n_supervised == 0


def test_a_template_that_rewrites_earlier_turns_is_refused(samples, tokenizer) -> None:
    # Renders the number of messages first: a prefix of the conversation is not a prefix of it.
    tokenizer.chat_template = (
        "{{ messages | length }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}>{% endif %}"
    )
    with pytest.raises(TemplateNotPrefixStableError, match=r"renders turn"):
        encode_conversation(tokenizer, to_chat_messages(samples[0]), max_len=4096)


@pytest.mark.parametrize(
    ("untrained_turns", "trained_turns"), [((0, 1), (2,)), ((1,), (0, 2)), ((), (0, 1, 2))]
)
def test_a_weight_0_turn_gets_no_label_and_the_turns_after_it_do(
    samples, tokenizer, untrained_turns, trained_turns
) -> None:
    sample = a_sample_with_a_system_turn(samples)
    plain = encode_conversation(tokenizer, to_chat_messages(sample), max_len=4096)
    messages = to_chat_messages(untrained(sample, *untrained_turns))
    encoded = encode_conversation(tokenizer, messages, max_len=4096)
    decoded = [tokenizer.decode(s) for s in supervised_segments(encoded)]
    assert decoded == assistant_texts(messages, END_OF_TURN, *trained_turns)
    # Same tokens as without weights: only the labels of the untrained turns are gone.
    assert encoded.input_ids == plain.input_ids
    kept = [supervised_segments(plain)[n] for n in trained_turns]
    assert supervised_segments(encoded) == kept
    assert encoded.n_supervised == sum(len(segment) for segment in kept)
    assert all(
        label in (IGNORE_INDEX, before)
        for label, before in zip(encoded.labels, plain.labels, strict=True)
    )


def test_the_dagger_sample_labels_only_the_teachers_turn_in_another_template(
    samples, tokenizer
) -> None:
    tokenizer.chat_template = CHATML
    sample = a_sample_with_a_system_turn(samples)
    messages = to_chat_messages(untrained(sample, 0, 1))
    encoded = encode_conversation(tokenizer, messages, max_len=4096)
    decoded = [tokenizer.decode(s) for s in supervised_segments(encoded)]
    assert decoded == assistant_texts(messages, "<|im_end|>\n", 2)


def test_the_chat_template_never_sees_the_weight(samples, tokenizer) -> None:
    # A template that would print a weight: the weight is for the loss, not part of the text.
    tokenizer.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] }}"
        "{% if m['weight'] is defined %}{{ 'WEIGHT' }}{% endif %}{{ '<|im_end|>\\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    sample = a_sample_with_a_system_turn(samples)
    plain = encode_conversation(tokenizer, to_chat_messages(sample), max_len=4096)
    weighted = encode_conversation(
        tokenizer, to_chat_messages(untrained(sample, 0, 1)), max_len=4096
    )
    assert weighted.input_ids == plain.input_ids
    assert "WEIGHT" not in tokenizer.decode(weighted.input_ids)
