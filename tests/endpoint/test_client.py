"""ChatClient through the real openai SDK against a live fake OpenAI server."""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from prism.endpoint import CallCache, ChatClient, EndpointConfig, EndpointError
from tests.endpoint.conftest import FAKE_KEY, FAKE_MODEL
from tests.endpoint.fake_openai_server import FakeOpenAIServer, Reply, sequence

MakeClient = Callable[..., ChatClient]
USER = [{"role": "user", "content": "where is the pickup truck?"}]


def _free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- success


def test_success_returns_text_usage_and_sends_the_configured_request(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.script = lambda request: '{"plan": "[goto(field_6)]"}'
    client = make_client(temperature=0.3, max_tokens=64, seed=7)

    result = client.complete(USER, request_tag="episode_1/task_0")

    assert result.text == '{"plan": "[goto(field_6)]"}'
    assert (result.cached, result.attempts, result.finish_reason) == (False, 1, "stop")
    assert result.usage is not None and result.usage.total_tokens > 0
    sent = fake_openai.chat_requests[0]
    assert sent["model"] == FAKE_MODEL
    assert sent["messages"] == USER
    assert (sent["temperature"], sent["max_tokens"], sent["seed"]) == (0.3, 64, 7)
    assert fake_openai.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_temperature_argument_overrides_the_config(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    make_client(temperature=0.2).complete(USER, temperature=0.9)

    assert fake_openai.chat_requests[0]["temperature"] == 0.9


def test_json_mode_sends_response_format(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    make_client(json_mode=True).complete(USER)
    make_client(json_mode=False).complete(USER)

    with_json, without_json = fake_openai.chat_requests
    assert with_json["response_format"] == {"type": "json_object"}
    assert "response_format" not in without_json


def test_rejected_response_format_is_dropped_once_and_remembered(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    def no_json_mode(request: dict) -> object:
        if "response_format" in request:
            return Reply.error(400, "response_format is not supported by this model")
        return "plain text"

    fake_openai.script = no_json_mode
    client = make_client(json_mode=True, max_retries=0)

    first = client.complete(USER)
    second = client.complete([{"role": "user", "content": "again"}])

    assert (first.text, first.attempts) == ("plain text", 2)
    assert second.attempts == 1  # remembered: no second rejected request
    assert [("response_format" in r) for r in fake_openai.chat_requests] == [True, False, False]


def test_max_tokens_is_renamed_when_the_server_asks_for_max_completion_tokens(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    def reasoning_model(request: dict) -> object:
        if "max_tokens" in request:
            return Reply.error(
                400, "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens'."
            )
        return "ok"

    fake_openai.script = reasoning_model

    assert make_client(max_tokens=99).complete(USER).text == "ok"
    assert fake_openai.chat_requests[-1]["max_completion_tokens"] == 99


# --------------------------------------------------------------------------- retries


def test_429_is_retried_after_the_servers_retry_after(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.script = sequence(Reply.error(429, "slow down", retry_after_s=0.3), "done")
    client = make_client(backoff_s=0.001, max_backoff_s=5.0)

    started = time.monotonic()
    result = client.complete(USER)
    waited = time.monotonic() - started

    assert (result.text, result.attempts) == ("done", 2)
    assert waited >= 0.3  # honoured, although our own backoff is 1 ms
    assert client.stats().retries == 1


def test_a_huge_retry_after_is_capped_by_max_backoff(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.script = sequence(Reply.error(429, retry_after_s=3600), "done")

    started = time.monotonic()
    result = make_client(max_backoff_s=0.1).complete(USER)

    assert result.text == "done"
    assert time.monotonic() - started < 2.0


def test_persistent_500_exhausts_retries_with_a_clear_error(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.script = lambda request: Reply.error(500, "model crashed")

    with pytest.raises(EndpointError) as raised:
        make_client(max_retries=2).complete(USER, request_tag="task_3")

    message = str(raised.value)
    assert raised.value.status_code == 500
    assert "kept answering HTTP 500 after 3 attempts [task_3]" in message
    assert "model crashed" in message
    assert fake_openai.url in message
    assert len(fake_openai.chat_requests) == 3


def test_401_is_not_retried_and_points_at_the_key(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    with pytest.raises(EndpointError) as raised:
        make_client(api_key="sk-wrong", max_retries=3).complete(USER)

    message = str(raised.value)
    assert raised.value.status_code == 401
    assert "Incorrect API key provided" in message  # the server's own words
    assert "API key was rejected" in message
    assert "conf/local/credentials.yml" in message and "$OPENAI_API_KEY" in message
    assert len(fake_openai.chat_requests) == 1


@pytest.mark.parametrize(
    ("status", "hint"),
    [(400, "temperature="), (403, "permissions"), (404, "ends in /v1"), (501, "Check base_url")],
)
def test_client_errors_are_not_retried_and_say_what_to_check(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, status: int, hint: str
) -> None:
    fake_openai.script = lambda request: Reply.error(status, "the server's reason")

    with pytest.raises(EndpointError) as raised:
        make_client(max_retries=3).complete(USER)

    assert raised.value.status_code == status
    assert "the server's reason" in str(raised.value)
    assert hint in str(raised.value)
    assert FAKE_MODEL in str(raised.value)
    assert len(fake_openai.chat_requests) == 1


def test_a_timeout_is_retried(fake_openai: FakeOpenAIServer, make_client: MakeClient) -> None:
    fake_openai.script = sequence(Reply.ok("too late", delay_s=2.0), "in time")

    result = make_client(timeout_s=0.2).complete(USER)

    assert (result.text, result.attempts) == ("in time", 2)


def test_persistent_timeouts_end_in_a_clear_error(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.script = lambda request: Reply.ok("too late", delay_s=2.0)

    started = time.monotonic()
    with pytest.raises(EndpointError) as raised:
        make_client(timeout_s=0.2, max_retries=1).complete(USER)

    assert "no answer from" in str(raised.value)
    assert "timeout_s=0.2 after 2 attempts" in str(raised.value)
    assert len(fake_openai.chat_requests) == 2
    assert time.monotonic() - started < 1.5


def test_an_unreachable_endpoint_is_named_with_the_reason() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    config = EndpointConfig(
        base_url=url, model=FAKE_MODEL, api_key="EMPTY", max_retries=2, backoff_s=0.001
    )

    with ChatClient(config) as client, pytest.raises(EndpointError) as raised:
        client.complete(USER)

    message = str(raised.value)
    assert message.startswith(f"cannot reach {url}: ")
    assert "refused" in message.lower()
    assert "after 3 attempts" in message
    assert raised.value.status_code is None


# --------------------------------------------------------------------------- replies


def test_empty_and_truncated_content_is_returned_for_the_caller_to_validate(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.script = sequence("", Reply.ok('{"plan": "[goto(', finish_reason="length"))
    client = make_client()

    empty = client.complete(USER)
    truncated = client.complete([{"role": "user", "content": "more"}])

    assert empty.text == ""
    assert (truncated.text, truncated.finish_reason) == ('{"plan": "[goto(', "length")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply.raw({"id": "chatcmpl-1", "object": "chat.completion"}), "without 'choices'"),
        (Reply.raw({"id": "chatcmpl-1", "choices": []}), "without 'choices'"),
        (Reply.raw("<html>proxy error</html>"), "not JSON"),
        (Reply.raw("{broken", content_type="application/json"), "not JSON"),
    ],
)
def test_a_reply_that_is_not_a_chat_completion_is_an_error(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, reply: Reply, expected: str
) -> None:
    fake_openai.script = lambda request: reply

    with pytest.raises(EndpointError, match=expected) as raised:
        make_client().complete(USER)

    assert "base_url" in str(raised.value)


@pytest.mark.parametrize(
    ("overrides", "field"), [({"temperature": 3.0}, "temperature"), ({"seed": "1"}, "seed")]
)
def test_invalid_per_call_overrides_are_rejected(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, overrides: dict, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        make_client().complete(USER, **overrides)

    assert fake_openai.requests == []


@pytest.mark.parametrize("messages", [[], "hello", [{"content": "no role"}], ["text"]])
def test_malformed_messages_are_rejected_before_any_request(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, messages: object
) -> None:
    with pytest.raises(ValueError, match="messages"):
        make_client().complete(messages)  # type: ignore[arg-type]

    assert fake_openai.requests == []


# --------------------------------------------------------------------------- cache


def test_a_repeated_call_is_served_from_the_cache(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, tmp_path: Path
) -> None:
    client = make_client(cache=CallCache(tmp_path))

    first = client.complete(USER)
    second = client.complete(USER)

    assert (first.cached, second.cached) == (False, True)
    assert (second.text, second.attempts, second.usage) == (first.text, 0, first.usage)
    assert second.key == first.key
    assert len(fake_openai.chat_requests) == 1
    assert client.stats().cache_hits == 1


def test_the_cache_survives_a_fresh_client_on_the_same_directory(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, tmp_path: Path
) -> None:
    original = make_client(cache=CallCache(tmp_path)).complete(USER)

    rerun = make_client(cache=CallCache(tmp_path)).complete(USER)

    assert rerun.cached and rerun.text == original.text
    assert len(fake_openai.chat_requests) == 1


def test_sampling_parameters_are_part_of_the_cache_key(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, tmp_path: Path
) -> None:
    client = make_client(cache=CallCache(tmp_path))

    client.complete(USER)
    client.complete(USER, temperature=1.0)
    client.complete(USER, seed=1)
    client.complete(USER, request_tag="tags are not part of the key")

    assert len(fake_openai.chat_requests) == 3


def test_failed_calls_are_not_cached(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, tmp_path: Path
) -> None:
    fake_openai.script = sequence(500, "recovered")
    cache = CallCache(tmp_path)

    with pytest.raises(EndpointError):
        make_client(cache=cache, max_retries=0).complete(USER)
    assert len(cache) == 0
    assert make_client(cache=cache, max_retries=0).complete(USER).text == "recovered"


def test_a_cache_entry_documents_its_request(make_client: MakeClient, tmp_path: Path) -> None:
    cache = CallCache(tmp_path)
    result = make_client(cache=cache).complete(USER)

    entry = json.loads(cache.path_for(result.key).read_text())["value"]

    assert entry["request"]["messages"] == USER
    assert entry["text"] == result.text


def test_identical_concurrent_requests_are_sent_once(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, tmp_path: Path
) -> None:
    fake_openai.script = lambda request: Reply.ok(f"sample {random.random()}", delay_s=0.1)
    client = make_client(cache=CallCache(tmp_path))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: client.complete(USER), range(8)))

    assert len({result.text for result in results}) == 1  # same request, same reply
    assert sorted(result.cached for result in results) == [False] + [True] * 7
    assert len(fake_openai.chat_requests) == 1


# --------------------------------------------------------------------------- concurrency


def test_no_more_than_max_concurrency_requests_are_in_flight(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.script = lambda request: Reply.ok("ok", delay_s=0.1)
    client = make_client(max_concurrency=4)
    conversations = [[{"role": "user", "content": f"task {i}"}] for i in range(16)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(client.complete, conversations))

    assert all(result.text == "ok" for result in results)
    assert len(fake_openai.chat_requests) == 16
    assert fake_openai.max_in_flight == 4  # bounded, and the bound is actually used


# --------------------------------------------------------------------------- reachability


def test_check_reachable_lists_the_servers_models(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    assert make_client().check_reachable() == [FAKE_MODEL]
    assert fake_openai.chat_requests == []  # listing is free; no completion needed


def test_check_reachable_probes_with_a_completion_when_models_are_not_listed(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.models = None

    assert make_client().check_reachable() == []
    assert fake_openai.chat_requests[0]["max_tokens"] == 1


def test_check_reachable_probes_when_the_model_list_is_not_json(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.models = Reply.raw("<html>a web UI</html>")

    assert make_client().check_reachable() == []
    assert len(fake_openai.chat_requests) == 1


def test_check_reachable_fails_fast_on_an_unknown_model(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.script = lambda request: Reply.error(404, "model 'gtp-4o' does not exist")

    with pytest.raises(EndpointError, match="gtp-4o") as raised:
        make_client(model="gtp-4o").check_reachable()

    assert raised.value.status_code == 404


def test_check_reachable_fails_fast_on_a_bad_key(make_client: MakeClient) -> None:
    with pytest.raises(EndpointError, match="API key was rejected"):
        make_client(api_key="sk-wrong").check_reachable()


def test_check_reachable_fails_fast_when_nothing_listens() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    config = EndpointConfig(base_url=url, model="m", api_key="EMPTY", max_retries=0)

    with ChatClient(config) as client, pytest.raises(EndpointError, match="cannot reach"):
        client.check_reachable()


def test_a_client_needs_a_resolved_key() -> None:
    with pytest.raises(EndpointError, match="from_params"):
        ChatClient(EndpointConfig(model="m"))
