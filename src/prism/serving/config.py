"""How one server is set up: its settings (:class:`ServeConfig`) and the error for a setup that
cannot be served (:class:`ServeError`: a directory that is not a loadable student, a port that
cannot be bound).

Both sit at the bottom of :mod:`prism.serving`: the request parsing
(:mod:`prism.serving.protocol`) reads the settings, the model check
(:mod:`prism.serving.engine`) and the socket (:mod:`prism.serving.server`) raise the error, and
``prism serve`` builds the one and reports the other.

By default the server decodes as the in-process :class:`~prism.student.planner.StudentPlanner`
does, whatever a request asks: greedily, and at most ``ServeConfig.max_new_tokens`` (the
planner's 256) new tokens, cut at the room the prompt leaves in the context. So a SPINE client
(the LLM teacher backend, the ``task_success`` evaluator through it) set up for a large teacher
changes its ``base_url``, its ``model`` and its API key (any non-empty value) and nothing else,
and gets the in-process student's turns. Sampling is opt-in: ``ServeConfig.sampling``
(``prism serve --sample``).
"""

from __future__ import annotations

from dataclasses import dataclass

from prism.student.planner import MAX_NEW_TOKENS
from prism.values import is_int


@dataclass(frozen=True)
class ServeConfig:
    """Settings of one server.

    The defaults make the server a drop-in for the in-process
    :class:`~prism.student.planner.StudentPlanner` with its defaults: greedy decoding and at
    most :data:`~prism.student.planner.MAX_NEW_TOKENS` new tokens per reply, whatever the
    request asks (see :mod:`prism.serving.protocol`).

    Attributes:
        model_name: The id clients must send as ``model`` (default: the directory's name).
        max_new_tokens: Most new tokens in one reply, the planner's ``max_new_tokens``: the cap
            when a request names none, and what a larger ``max_tokens`` is lowered to (never a
            400). Serve with the value the in-process planner uses to get its turns.
        sampling: Honour the request's ``temperature``, ``top_p`` and ``seed`` (``prism serve
            --sample``). Off by default: decoding is greedy whatever they say, as in process.
        keep_system: Pass system messages to the student instead of dropping them.
        strict_context: Refuse (400 ``context_length_exceeded``, as OpenAI does) a request whose
            prompt plus explicit ``max_tokens`` (once lowered to ``max_new_tokens``) exceeds
            the model's context. Off by default: the cap is then lowered to the room left, as
            the in-process planner does.
    """

    model_name: str | None = None
    max_new_tokens: int = MAX_NEW_TOKENS
    sampling: bool = False
    keep_system: bool = False
    strict_context: bool = False

    def __post_init__(self) -> None:
        if not is_int(self.max_new_tokens) or self.max_new_tokens < 1:
            raise ValueError(
                f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}"
            )


class ServeError(Exception):
    """A student that cannot be served, or a port that cannot be used: the message says why."""
