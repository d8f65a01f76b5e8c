"""The student as a planner in the rollout loop: SPINE messages in, a SPINE turn out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prism.student.bundle import load_bundle
from prism.student.generation import context_length, generate_from_ids, prompt_ids
from prism.student.prompt_format import PromptFormat, format_of
from prism.world.rollout import ContextLengthExceeded, Message

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
        bundle = load_bundle(path)
        return cls(bundle.model, bundle.tokenizer, format_of(path), **kwargs)

    def respond(self, messages: Sequence[Message]) -> str:
        """The student's next SPINE turn for a conversation of ``{"role", "value"}`` turns.

        Raises:
            ContextLengthExceeded: the conversation leaves no room in the model's context.
        """
        return self.respond_many([messages])[0]

    def respond_many(self, conversations: Sequence[Sequence[Message]]) -> list[str]:
        """Next turns for several conversations at once (one batched generation).

        Raises:
            ContextLengthExceeded: for the first conversation that does not fit.
        """
        replies = self.respond_each(conversations)
        for reply in replies:
            if isinstance(reply, ContextLengthExceeded):
                raise reply
        return replies  # type: ignore[return-value]

    def respond_each(
        self, conversations: Sequence[Sequence[Message]]
    ) -> list[str | ContextLengthExceeded]:
        """Next turns for several conversations at once, a conversation that does not fit the
        model's context getting a :class:`ContextLengthExceeded` in its place.

        A turn is at most ``max_new_tokens`` long, and never longer than the room its prompt
        leaves in the context (as the server does, :mod:`prism.serving.app`).
        """
        # Not formats.to_chat_messages: that validates training data, and a conversation here
        # may hold the student's own empty or garbage attempts (with their feedback).
        chats = [
            [{"role": m["role"], "content": m.get("value", m.get("content", ""))} for m in c]
            for c in conversations
        ]
        prompts = [prompt_ids(self.tokenizer, self.prompt_format.encode(chat)) for chat in chats]
        out: list[str | ContextLengthExceeded] = [""] * len(chats)
        caps = [self.max_new_tokens] * len(chats)
        context = context_length(self.model)
        if context is not None:
            for i, prompt in enumerate(prompts):
                if len(prompt) >= context:
                    out[i] = ContextLengthExceeded(
                        f"the conversation is {len(prompt)} tokens in the student's prompt "
                        f"format, and its context is {context}: no room for a reply"
                    )
                caps[i] = min(caps[i], context - len(prompt))
        todo = [i for i, reply in enumerate(out) if not isinstance(reply, Exception)]
        replies = generate_from_ids(
            self.model,
            self.tokenizer,
            [prompts[i] for i in todo],
            max_new_tokens=[caps[i] for i in todo],
        )
        for i, reply in zip(todo, replies, strict=True):
            out[i] = self.prompt_format.decode(reply, chats[i])
        return out
