"""The one error type of the endpoint layer."""

from __future__ import annotations


class EndpointError(RuntimeError):
    """A chat-completions endpoint could not be configured, reached or used.

    The message always says what failed and what to check (key, model name, ``base_url``,
    limits). Callers that run many rollouts can catch this one type to stop a job cleanly.

    Attributes:
        status_code: The HTTP status the server answered with, or ``None`` when there was no
            HTTP answer (configuration error, unreachable server, timeout, malformed reply).
        code: The ``code`` of the server's OpenAI error object (e.g.
            ``context_length_exceeded``), when it gave one.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
