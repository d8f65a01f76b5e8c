"""What a failed request says: the server's own message, and the :class:`EndpointError` that
names the URL, the model and what to check (the key, the model name, ``base_url``, limits).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import openai

from prism.endpoint.config import CREDENTIALS_FILE, EndpointConfig
from prism.endpoint.errors import EndpointError

#: Longest excerpt of a server's reply quoted in an error message.
_EXCERPT_CHARS = 300


def server_message(exc: openai.APIStatusError) -> str:
    """The server's own explanation: OpenAI's ``error.message``, FastAPI's ``detail``..."""
    body = exc.body  # the SDK already unwrapped {"error": {...}}
    if isinstance(body, Mapping):
        for field in ("message", "detail", "error"):
            if body.get(field):
                return excerpt(str(body[field]))
        return excerpt(json.dumps(body, default=str))
    if body:
        return excerpt(str(body))
    return exc.response.reason_phrase or "no message"


def describe_failure(failure: openai.APIError) -> str:
    """A transient failure in a few words, for the log line of a retry."""
    if isinstance(failure, openai.APITimeoutError):
        return "timed out"
    if isinstance(failure, openai.APIConnectionError):
        return f"connection failed ({_connection_reason(failure)})"
    if isinstance(failure, openai.APIStatusError):
        return f"HTTP {failure.status_code}: {server_message(failure)}"
    return str(failure)


def _connection_reason(exc: openai.APIConnectionError) -> str:
    """The low-level cause (``[Errno 111] Connection refused``...), not the SDK's summary."""
    cause = exc.__cause__
    return (str(cause) or type(cause).__name__) if cause is not None else str(exc)


def client_error(exc: openai.APIStatusError, config: EndpointConfig, tag: str) -> EndpointError:
    """An error for a status that retrying cannot fix, saying what to check."""
    status = exc.status_code
    if status == 401:
        hint = (
            f"The API key was rejected: check {CREDENTIALS_FILE} entry {config.credentials!r} "
            f"(key 'api_key') or ${config.api_key_env}, and that the key belongs to {config.url}."
        )
    elif status == 403:
        hint = f"The key may not use model {config.model!r}: check its permissions and project."
    elif status == 404:
        hint = (
            f"Check the model name {config.model!r} (GET {config.url}/models lists what the "
            f"server serves) and that base_url ends in /v1."
        )
    elif status in (400, 422):
        hint = (
            f"The server refused the request: check the model name {config.model!r} and that "
            f"temperature={config.temperature} and max_tokens={config.max_tokens} are supported."
        )
    else:
        hint = f"Check base_url {config.url}, the model name and the server's logs."
    code = getattr(exc, "code", None)
    return EndpointError(
        f"{config.url}{tag} answered HTTP {status} for model {config.model!r}: "
        f"{server_message(exc)}. {hint}",
        status_code=status,
        code=code if isinstance(code, str) else None,
    )


def exhausted_error(
    failure: openai.APIError, config: EndpointConfig, attempts: int, tag: str
) -> EndpointError:
    """An error for a transient failure that outlasted every retry."""
    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}{tag}"
    if isinstance(failure, openai.APITimeoutError):
        return EndpointError(
            f"no answer from {config.url} within timeout_s={config.timeout_s} {tries}. Raise "
            f"timeout_s, lower max_tokens or max_concurrency, or check the server's load."
        )
    if isinstance(failure, openai.APIConnectionError):
        return EndpointError(
            f"cannot reach {config.url}: {_connection_reason(failure)} ({tries}). Check that "
            f"the server is running and that base_url is right."
        )
    assert isinstance(failure, openai.APIStatusError)
    status = failure.status_code
    if status == 429:
        hint = "Lower max_concurrency, or raise max_retries / backoff_s."
    else:
        hint = "The server is failing: check its logs; a rerun does not repay cached calls."
    return EndpointError(
        f"{config.url} kept answering HTTP {status} {tries}: {server_message(failure)}. {hint}",
        status_code=status,
    )


def excerpt(text: str) -> str:
    """``text`` on one line (error pages are multi-line HTML), cut to a readable length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT_CHARS else flat[:_EXCERPT_CHARS] + "..."
