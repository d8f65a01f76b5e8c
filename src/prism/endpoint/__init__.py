"""The endpoint layer: one client for every OpenAI-compatible chat-completions server.

The LLM teacher and the LLM scene generator call teachers hosted by OpenAI, vLLM, Ollama...
through :class:`ChatClient`, configured by :class:`EndpointConfig` and backed by an on-disk
:class:`CallCache`. Everything that can go wrong raises :class:`EndpointError`.
"""

from prism.endpoint.cache import CallCache, request_key
from prism.endpoint.client import ChatClient, ChatResult, ClientStats, TokenUsage
from prism.endpoint.config import EndpointConfig
from prism.endpoint.errors import EndpointError

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
