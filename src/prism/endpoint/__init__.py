"""The endpoint layer: one client for every OpenAI-compatible chat-completions server.

The LLM teacher and the LLM scene generator call teachers hosted by OpenAI, vLLM, Ollama...
through :class:`ChatClient` (:mod:`prism.endpoint.client`), configured by
:class:`EndpointConfig` (:mod:`prism.endpoint.config`) and backed by an on-disk
:class:`CallCache` (:mod:`prism.endpoint.cache`). It returns a :class:`ChatResult` and counts
in :class:`ClientStats` (:mod:`prism.endpoint.results`); it retries as
:mod:`prism.endpoint.retry` says. Everything that can go wrong raises :class:`EndpointError`
(:mod:`prism.endpoint.errors`), whose message :mod:`prism.endpoint.failures` writes.
"""

from prism.endpoint.cache import CallCache, request_key
from prism.endpoint.client import ChatClient
from prism.endpoint.config import EndpointConfig
from prism.endpoint.errors import EndpointError
from prism.endpoint.results import ChatResult, ClientStats, TokenUsage

__all__ = [
    "CallCache",
    "ChatClient",
    "ChatResult",
    "ClientStats",
    "EndpointConfig",
    "EndpointError",
    "TokenUsage",
    "request_key",
]
