"""Fixtures for the endpoint layer: a live fake OpenAI server and clients pointed at it.

Tests elsewhere (LLM teacher, LLM scene generator) can use
``tests.endpoint.fake_openai_server.FakeOpenAIServer`` directly as a context manager; the
fixtures here only add fast retry settings and clean-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from prism.endpoint import CallCache, ChatClient, EndpointConfig
from tests.endpoint.fake_openai_server import FakeOpenAIServer

#: The key the fake server accepts; any other gets a 401.
FAKE_KEY = "sk-test-fake"
FAKE_MODEL = "fake-model"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A running fake server that echoes, accepts ``FAKE_KEY`` and lists ``FAKE_MODEL``."""
    with FakeOpenAIServer(api_key=FAKE_KEY, models=[FAKE_MODEL]) as server:
        yield server


@pytest.fixture
def make_config(fake_openai: FakeOpenAIServer) -> Callable[..., EndpointConfig]:
    """Build an :class:`EndpointConfig` for the fake server with millisecond backoffs."""

    def make(**overrides: Any) -> EndpointConfig:
        fields: dict[str, Any] = {
            "base_url": fake_openai.url,
            "model": FAKE_MODEL,
            "api_key": FAKE_KEY,
            "timeout_s": 5.0,
            "max_retries": 2,
            "backoff_s": 0.001,
            "max_backoff_s": 0.05,
        }
        fields.update(overrides)
        return EndpointConfig(**fields)

    return make


@pytest.fixture
def make_client(
    make_config: Callable[..., EndpointConfig],
) -> Iterator[Callable[..., ChatClient]]:
    """Build clients for the fake server (``cache=`` plus config overrides); closed after."""
    clients: list[ChatClient] = []

    def make(cache: CallCache | None = None, **overrides: Any) -> ChatClient:
        client = ChatClient(make_config(**overrides), cache)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
