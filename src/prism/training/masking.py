"""Assistant-only labels: the student learns to plan, not to predict the user or the scene graph.

A rollout is rendered with the tokenizer's own chat template and tokenized once. The loss covers
every assistant turn of the rollout and nothing else: for each assistant turn the *supervised span*
is the text the template renders for that turn after its header, i.e. the assistant's text followed
by the template's end-of-turn marker (``<|end|>`` for the built-in template, ``<|eot_id|>`` for
Llama 3, ``<|im_end|>`` + newline for ChatML/Qwen). Supervising the end-of-turn marker is deliberate:
it is how the student learns to stop. The role header (``<|assistant|>``,
``<|start_header_id|>assistant<|end_header_id|>\\n\\n``), system and user turns get label -100.

Spans are found by rendering growing prefixes of the conversation, which works for any template
that renders a conversation's prefix as a prefix of its text (all common ones do; templates that
rewrite earlier turns, e.g. by stripping reasoning, are refused with a clear error rather than
silently mislabelled). A token is supervised when its first character lies inside a span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

#: Label value ignored by the loss of every transformers causal LM.
IGNORE_INDEX = -100

Message = dict[str, str]


class TemplateNotPrefixStableError(ValueError):
    """The chat template renders a conversation's prefix differently from the full conversation."""


@dataclass(frozen=True)
class EncodedConversation:
    """One tokenized rollout.

    Attributes:
        input_ids: token ids of the rendered conversation (at most ``max_len``).
        labels: ``input_ids`` on supervised (assistant) tokens, ``IGNORE_INDEX`` elsewhere.
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
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=gen_prompt
    )


def assistant_spans(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]
) -> tuple[str, list[tuple[int, int]]]:
    """Render a conversation and find the character span of every assistant turn.

    Args:
        tokenizer: a tokenizer with a chat template.
        messages: ``[{"role": ..., "content": ...}, ...]`` as from
            ``prism.formats.conversations.to_chat_messages``.

    Returns:
        The rendered text and, per assistant turn, ``(start, end)`` character offsets of its
        supervised span (assistant text + end-of-turn marker).

    Raises:
        TemplateNotPrefixStableError: if the template is not prefix-stable (see module docstring).
    """
    text = _render(tokenizer, messages, gen_prompt=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
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
    """Tokenize a rollout with assistant-only labels, truncating it to ``max_len`` tokens.

    Truncation keeps the beginning: the first user turn holds the task and the scene graph that
    every later turn depends on, so a rollout cut at the end still teaches its early plans.

    Args:
        tokenizer: a *fast* tokenizer (character offsets are needed) with a chat template.
        messages: the conversation, as chat messages.
        max_len: the student's context length in tokens.

    Returns:
        The encoded conversation; ``n_supervised`` may be 0 when truncation removed every
        assistant token (the caller skips such samples).
    """
    text, spans = assistant_spans(tokenizer, messages)
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
