"""The student engine: a saved student, loaded once, generating one reply at a time.

Greedy replies are, token for token, what the in-process
:class:`~prism.student.planner.StudentPlanner` returns for the same messages (same prompt format,
same chat template, same ``generate`` call). The cap on new tokens is fitted to the model's
context (:meth:`StudentEngine.fit`) as the planner cuts a turn at the room its prompt leaves, or,
with ``ServeConfig.strict_context``, a request that does not fit is refused with OpenAI's
:class:`~prism.serving.protocol.ContextLengthError`.

Generation is serialized: one model, one lock. :func:`check_model_dir` checks, before anything
is loaded, that a directory is a saved student that can be loaded here (for a LoRA adapter, that
the base model its ``adapter_config.json`` names is there).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prism.serving.config import ServeError
from prism.serving.protocol import ContextLengthError
from prism.student.bundle import MODEL_MARKER, adapter_problem
from prism.student.generation import context_length, prompt_ids
from prism.student.planner import StudentPlanner


def check_model_dir(model_dir: str | Path) -> Path:
    """Check, without loading anything, that ``model_dir`` is a student that can be loaded here.

    A LoRA adapter must find its base: a local ``base_model_name_or_path`` (in
    ``adapter_config.json``) that does not exist, typically because the run directory was
    copied to another machine, is refused with what to do. A hub id is not checked here.

    Raises:
        ServeError: naming the directory (and the missing base) and the fix.
    """
    path = Path(model_dir)
    if not path.exists():
        raise ServeError(f"{path}: no such directory; --model must be a saved student directory")
    if not path.is_dir():
        raise ServeError(f"{path}: not a directory; --model must be a saved student directory")
    marker = path / MODEL_MARKER
    if not marker.is_file():
        raise ServeError(
            f"{path}: not a saved student (no {MODEL_MARKER} in it); point --model at a model "
            "directory written by training, e.g. data/06_models/student or "
            "output/iterative_training/best_model"
        )
    try:
        metadata = json.loads(marker.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ServeError(
            f"{marker}: not valid JSON ({exc}); the model was not saved completely"
        ) from None
    problem = adapter_problem(path, metadata)
    if problem:
        raise ServeError(problem)
    return path


@dataclass(frozen=True)
class Completion:
    """One generated reply with what it cost."""

    content: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class StudentEngine:
    """A loaded :class:`StudentPlanner` generating one reply at a time (thread-safe).

    Greedy replies are, token for token, what ``planner.respond(messages)`` returns: same
    prompt format, same chat template, same ``generate`` call for a batch of one.

    Attributes:
        context_length: the model's context (prompt + reply tokens), ``None`` if its config
            does not say; requests that do not fit are refused (:class:`ContextLengthError`).
    """

    def __init__(self, planner: StudentPlanner) -> None:
        self.planner = planner
        self.lock = threading.Lock()
        self.context_length = context_length(planner.model)
        planner.model.eval()

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> StudentEngine:
        """The engine of the student saved in ``model_dir`` (``StudentPlanner.from_pretrained``)."""
        return cls(StudentPlanner.from_pretrained(model_dir))

    def _prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """The model's input for ``messages``: its format, its chat template, its tokenizer."""
        return prompt_ids(self.planner.tokenizer, self.planner.prompt_format.encode(messages))

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """How many tokens the model reads for ``messages`` (``usage.prompt_tokens``)."""
        with self.lock:
            return len(self._prompt(messages))

    def fit(self, prompt_tokens: int, max_tokens: int, *, clip: bool) -> int:
        """The cap on new tokens for this prompt: ``max_tokens``, or the room left if ``clip``.

        Raises:
            ContextLengthError: prompt + ``max_tokens`` exceed the context (and not ``clip``),
                or the prompt leaves no room for even one token.
        """
        context = self.context_length
        if context is None or prompt_tokens + max_tokens <= context:
            return max_tokens
        room = context - prompt_tokens
        if room < 1:
            raise ContextLengthError(context, prompt_tokens, None if clip else max_tokens)
        if not clip:
            raise ContextLengthError(context, prompt_tokens, max_tokens)
        return room

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        clip_to_context: bool = False,
    ) -> Completion:
        """The student's reply to ``messages`` (SPINE form, ``role`` + ``content``).

        Args:
            max_tokens: cap on new tokens; a prompt + ``max_tokens`` over the context is a
                :class:`ContextLengthError`, unless ``clip_to_context`` lowers the cap to the
                room left.
        """
        import torch

        planner = self.planner
        model, tokenizer, fmt = planner.model, planner.tokenizer, planner.prompt_format
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": float(temperature), "top_p": top_p}
        # The tokenizer is in the lock too: a fast tokenizer is not safe to share across threads.
        with self.lock, torch.no_grad():
            prompt = self._prompt(messages)
            prompt_tokens = len(prompt)
            max_tokens = self.fit(prompt_tokens, max_tokens, clip=clip_to_context)
            input_ids = torch.tensor([prompt], device=model.device)
            if temperature > 0 and seed is not None:
                torch.manual_seed(seed)
            output = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=max_tokens,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                use_cache=True,  # as prism.student.generation: a Trainer may have saved it off
                **sampling,
            )
        new = output[0, prompt_tokens:].tolist()
        stopped = bool(new) and new[-1] == tokenizer.eos_token_id
        reply = tokenizer.decode(new, skip_special_tokens=True).strip()
        return Completion(
            content=fmt.decode(reply, messages),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(new),
            finish_reason="stop" if stopped or len(new) < max_tokens else "length",
        )
