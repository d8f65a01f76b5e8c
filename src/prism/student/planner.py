"""The student as a planner in the rollout loop: SPINE messages in, a SPINE turn out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prism.student.generation import generate_replies
from prism.student.prompt_format import PromptFormat, format_of
from prism.world.rollout import Message

#: Longest turn the student may write; the oracle's longest plans are about 120 tokens.
MAX_NEW_TOKENS = 256


class StudentPlanner:
    """Greedy decoding of a causal LM, translated to and from its prompt format.

    Args:
        model: a ``transformers`` causal LM (or a peft model wrapping one).
        tokenizer: its tokenizer, with a chat template.
        prompt_format: the format the model was trained in (see
            :mod:`prism.student.prompt_format`); :meth:`from_pretrained` reads it from disk.
        max_new_tokens: cap on the length of one turn.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        prompt_format: PromptFormat,
        *,
        max_new_tokens: int = MAX_NEW_TOKENS,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.prompt_format = prompt_format
        self.max_new_tokens = max_new_tokens

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs: Any) -> StudentPlanner:
        """Load a saved student (full model or LoRA adapter) and the format it speaks."""
        from prism.datasets.hf_model import HFModelDataset

        bundle = HFModelDataset(str(path)).load()
        return cls(bundle.model, bundle.tokenizer, format_of(path), **kwargs)

    def respond(self, messages: Sequence[Message]) -> str:
        """The student's next SPINE turn for a conversation of ``{"role", "value"}`` turns."""
        return self.respond_many([messages])[0]

    def respond_many(self, conversations: Sequence[Sequence[Message]]) -> list[str]:
        """Next turns for several conversations at once (one batched generation)."""
        # Not formats.to_chat_messages: that validates training data, and a conversation here
        # may hold the student's own empty or garbage attempts (with their feedback).
        chats = [
            [{"role": m["role"], "content": m.get("value", m.get("content", ""))} for m in c]
            for c in conversations
        ]
        encoded = [self.prompt_format.encode(chat) for chat in chats]
        replies = generate_replies(
            self.model, self.tokenizer, encoded, max_new_tokens=self.max_new_tokens
        )
        return [
            self.prompt_format.decode(reply, chat)
            for reply, chat in zip(replies, chats, strict=True)
        ]
