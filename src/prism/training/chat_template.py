"""The chat template of the built-in student, and how a tokenizer gets one.

A real base model (Llama, Qwen, ...) brings its own chat template in its tokenizer and we use it
as it is: the student must speak the format its base was instruction-tuned on. The built-in model
has no such history, so it gets the smallest template that delimits turns unambiguously::

    <|system|>You are SPINE ...<|end|><|user|>task: ...<|end|><|assistant|>{"primary_goal": ...}<|end|>

Every marker is a special token of its own (never merged with text by the tokenizer), and there is
no whitespace between a marker and the text, so an assistant turn is exactly the tokens of its
text followed by ``<|end|>``: that is what the loss is computed on (see :mod:`prism.training.masking`).
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

#: Marks the end of every turn; the student emits it to stop generating.
END_OF_TURN = "<|end|>"
#: Padding; never a label, never attended to.
PAD = "<|pad|>"
#: One role marker per role of the canonical conversation format (docs/CONTRACTS.md).
ROLE_MARKERS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
#: All special tokens of the built-in tokenizer, in vocabulary order (ids 0..5).
SPECIAL_TOKENS = (PAD, END_OF_TURN, *ROLE_MARKERS.values())

BUILTIN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


class MissingChatTemplateError(ValueError):
    """The base model's tokenizer has no chat template to render conversations with."""


def require_chat_template(tokenizer: PreTrainedTokenizerBase, base_model: str) -> None:
    """Fail early, naming the base model, if its tokenizer cannot render a conversation.

    Base (non-instruct) checkpoints often ship without a template; guessing one would silently
    train the student on a format no inference stack will reproduce.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise MissingChatTemplateError(
            f"base_model {base_model!r}: its tokenizer has no chat template. Use an instruction-"
            "tuned checkpoint (e.g. meta-llama/Llama-3.2-3B-Instruct) or base_model: builtin."
        )
