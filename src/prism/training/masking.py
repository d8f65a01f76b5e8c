"""Assistant-only labels: the student learns to plan, not to predict the user or the scene graph.

A rollout is rendered with the tokenizer's own chat template and tokenized once. The loss covers
every trained assistant turn of the rollout and nothing else: for each such turn the *supervised
span* is the text the template renders for that turn after its header, i.e. the assistant's text
followed by the template's end-of-turn marker (``<|end|>`` for the built-in template, ``<|eot_id|>``
for Llama 3, ``<|im_end|>`` + newline for ChatML/Qwen). Supervising the end-of-turn marker is
deliberate: it is how the student learns to stop. The role header (``<|assistant|>``,
``<|start_header_id|>assistant<|end_header_id|>\\n\\n``), system and user turns get label -100,
and so does an assistant turn with ``"weight": 0`` (OpenAI's convention, read by
:mod:`prism.formats.conversations`): in a DAgger sample the student's own earlier turns are context,
only the teacher's last turn is learnt. The weight is not shown to the chat template, so a weighted
conversation has the same tokens as the same conversation without weights, only fewer labels.

Spans are found by rendering growing prefixes of the conversation, which works for any template
that renders a conversation's prefix as a prefix of its text (all common ones do; templates that
rewrite earlier turns, e.g. by stripping reasoning, are refused with a clear error rather than
silently mislabelled). A token is supervised when its first character lies inside a span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

from prism.formats.conversations import WEIGHT_KEY, is_trained

#: Label value ignored by the loss of every transformers causal LM.
IGNORE_INDEX = -100

#: A chat message: ``role``, ``content`` and, on an untrained assistant turn, ``"weight": 0``.
Message = Mapping[str, Any]


class TemplateNotPrefixStableError(ValueError):
    """The chat template renders a conversation's prefix differently from the full conversation."""


@dataclass(frozen=True)
class EncodedConversation:
    """One tokenized rollout.

    Attributes:
        input_ids: token ids of the rendered conversation (at most ``max_len``).
        labels: ``input_ids`` on supervised tokens (those of trained assistant turns),
            ``IGNORE_INDEX`` elsewhere.
        truncated: whether tokens past ``max_len`` were dropped.
    """

    input_ids: list[int]
    labels: list[int]
    truncated: bool

    @property
    def n_supervised(self) -> int:
        """Number of tokens the loss is computed on."""
        return sum(label != IGNORE_INDEX for label in self.labels)


def _render(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], gen_prompt: bool
) -> str:
    # The weight is for the loss, not for the model: the template never sees it.
    chat = [{key: value for key, value in m.items() if key != WEIGHT_KEY} for m in messages]
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=gen_prompt)


def supervised_spans(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]
) -> tuple[str, list[tuple[int, int]]]:
    """Render a conversation and find the character span of every trained assistant turn.

    Args:
        tokenizer: a tokenizer with a chat template.
        messages: ``[{"role": ..., "content": ...}, ...]`` as from
            ``prism.formats.conversations.to_chat_messages``; an assistant message with
            ``"weight": 0`` is context, like a user message, and gets no span.

    Returns:
        The rendered text and, per trained assistant turn, ``(start, end)`` character offsets of
        its supervised span (assistant text + end-of-turn marker), in order.

    Raises:
        TemplateNotPrefixStableError: if the template is not prefix-stable (see module docstring).
    """
    text = _render(tokenizer, messages, gen_prompt=False)
    spans = []
    for i, message in enumerate(messages):
        if not is_trained(message):
            continue
        before = _render(tokenizer, messages[:i], gen_prompt=True) if i else ""
        through = _render(tokenizer, messages[: i + 1], gen_prompt=False)
        if not (through.startswith(before) and text.startswith(through)):
            raise TemplateNotPrefixStableError(
                f"the chat template of {tokenizer.name_or_path!r} renders turn {i} differently "
                "depending on what follows it, so assistant tokens cannot be located; use a "
                "template that renders a conversation's prefix as a prefix of its text."
            )
        spans.append((len(before), len(through)))
    return text, spans


def encode_conversation(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], max_len: int
) -> EncodedConversation:
    """Tokenize a rollout with labels on its trained assistant turns only, cut to ``max_len``.

    Truncation keeps the beginning: the first user turn holds the task and the scene graph that
    every later turn depends on, so a rollout cut at the end still teaches its early plans.

    Args:
        tokenizer: a *fast* tokenizer (character offsets are needed) with a chat template.
        messages: the conversation, as chat messages (``"weight": 0`` on an assistant message
            leaves it unlabelled).
        max_len: the student's context length in tokens.

    Returns:
        The encoded conversation; ``n_supervised`` may be 0 when truncation removed every
        trained assistant token (the caller skips such samples).
    """
    text, spans = supervised_spans(tokenizer, messages)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids: list[int] = encoding["input_ids"]
    labels = [IGNORE_INDEX] * len(input_ids)
    span_iter = iter(spans)
    span = next(span_iter, None)
    # Offsets and spans are both sorted, so one merge-like pass labels every token.
    for position, (start, _end) in enumerate(encoding["offset_mapping"]):
        while span is not None and start >= span[1]:
            span = next(span_iter, None)
        if span is None:
            break
        if span[0] <= start < span[1]:
            labels[position] = input_ids[position]
    truncated = len(input_ids) > max_len
    return EncodedConversation(input_ids[:max_len], labels[:max_len], truncated)
