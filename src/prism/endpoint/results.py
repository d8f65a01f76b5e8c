"""What a :class:`~prism.endpoint.ChatClient` hands back: a reply (:class:`ChatResult`, with the
:class:`TokenUsage` the server reported) and its counters (:class:`ClientStats`); and how a
server's reply becomes a cache entry and a cache entry a :class:`ChatResult`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from openai.types.chat import ChatCompletion

from prism.endpoint.config import EndpointConfig
from prism.endpoint.errors import EndpointError
from prism.endpoint.failures import excerpt


@dataclass(frozen=True)
class TokenUsage:
    """Tokens the server reports for one reply."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class ChatResult:
    """One assistant reply.

    Attributes:
        text: The reply's content, unvalidated: it may be empty, truncated or not JSON even in
            JSON mode; the caller's validation loop decides what to do with it.
        cached: True when it came from the cache and cost nothing now.
        attempts: HTTP requests made for it now (0 when cached).
        usage: Token counts the server reported when the reply was generated (also for a
            cached reply, where they were paid by an earlier run), or None if not reported.
        finish_reason: ``stop``, ``length`` (hit ``max_tokens``) ... or None if not reported.
        model: The model name the server reported.
        key: The cache key of the request, a stable id for provenance.
    """

    text: str
    cached: bool
    attempts: int
    usage: TokenUsage | None
    finish_reason: str | None
    model: str
    key: str


@dataclass(frozen=True)
class ClientStats:
    """Counters of one client since it was created (e.g. for logging cost per episode).

    Attributes:
        calls: Replies returned by :meth:`~prism.endpoint.ChatClient.complete`, cached ones
            included.
        cache_hits: Of those, replies that came from the cache.
        http_requests: Requests sent, retries and ``check_reachable`` included.
        retries: Requests that were retries after a transient failure.
        prompt_tokens: Prompt tokens paid for by this client (cache hits excluded).
        completion_tokens: Completion tokens paid for by this client (cache hits excluded).
    """

    calls: int = 0
    cache_hits: int = 0
    http_requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def entry_from_completion(
    completion: ChatCompletion | str,
    request: Mapping[str, Any],
    config: EndpointConfig,
    tag: str,
) -> dict[str, Any]:
    """Turn the SDK's reply into a cache entry; raise if it is not a chat completion.

    Only the envelope is checked: empty or non-JSON *content* is returned for the caller to
    validate and give the model feedback on.
    """
    if not isinstance(completion, ChatCompletion):
        raise EndpointError(
            f"{config.url}{tag} answered with something that is not JSON: "
            f"{excerpt(str(completion))!r}. Is base_url the /v1 root of an "
            f"OpenAI-compatible server (e.g. http://localhost:8000/v1)?"
        )
    # The SDK does not validate replies, so a field may be missing altogether.
    choices = getattr(completion, "choices", None)
    if not choices:
        raise EndpointError(
            f"{config.url}{tag} answered without 'choices': {excerpt(completion.to_json())!r}. "
            f"Check base_url and that model {config.model!r} serves chat completions."
        )
    choice = choices[0]
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    if content is None:
        text = ""  # e.g. a refusal or tool call: an empty reply the caller will reject
    elif isinstance(content, str):
        text = content
    else:
        text = json.dumps(content)  # a non-conforming server; keep it visible to the caller
    raw_usage = getattr(completion, "usage", None)
    usage = None
    if raw_usage is not None:
        counts = [getattr(raw_usage, name, None) for name in TokenUsage.__dataclass_fields__]
        if all(isinstance(count, int) for count in counts):
            usage = asdict(TokenUsage(*counts))
    return {
        "text": text,
        "finish_reason": getattr(choice, "finish_reason", None),
        "model": str(getattr(completion, "model", None) or request["model"]),
        "usage": usage,
        # Kept so an entry documents itself: provenance, audits, rebuilding datasets.
        "request": dict(request),
    }


def result_from_entry(entry: Mapping[str, Any], key: str, *, attempts: int = 0) -> ChatResult:
    """The :class:`ChatResult` of a cache entry: cached when no request was made for it now."""
    usage = entry.get("usage")
    return ChatResult(
        text=entry["text"],
        cached=attempts == 0,
        attempts=attempts,
        usage=TokenUsage(**usage) if usage else None,
        finish_reason=entry.get("finish_reason"),
        model=entry.get("model", ""),
        key=key,
    )
