"""The OpenAI chat-completions protocol as the served student speaks it: what a request may hold
and what is refused with which OpenAI error (the server going on), the decoding and the cap on
new tokens whatever a request asks, and the context-length errors with OpenAI's message."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from prism.serving import ServeConfig, create_app
from prism.student.planner import MAX_NEW_TOKENS, StudentPlanner
from tests.serving.conftest import (
    CAP,
    CONTEXT,
    GOOD,
    MAX_TOKENS,
    NAME,
    conversation,
    openai_messages,
    prompt_of,
    running,
)

BAD = [
    # (body or raw bytes, status, param)
    (b"{not json", 400, None),
    (b"[1, 2]", 400, None),
    ({**GOOD, "model": "gpt-4o"}, 404, "model"),
    ({k: v for k, v in GOOD.items() if k != "model"}, 400, "model"),
    ({k: v for k, v in GOOD.items() if k != "messages"}, 400, "messages"),
    ({**GOOD, "messages": []}, 400, "messages"),
    ({**GOOD, "messages": "hello"}, 400, "messages"),
    ({**GOOD, "messages": ["hello"]}, 400, "messages.[0]"),
    ({**GOOD, "messages": [{"role": "tool", "content": "x"}]}, 400, "messages.[0].role"),
    ({**GOOD, "messages": [{"role": "user", "content": 3}]}, 400, "messages.[0].content"),
    ({**GOOD, "messages": [{"role": "system", "content": "x"}]}, 400, "messages"),
    ({**GOOD, "max_tokens": 0}, 400, "max_tokens"),
    ({**GOOD, "max_tokens": "4"}, 400, "max_tokens"),
    ({**GOOD, "max_tokens": 2.5}, 400, "max_tokens"),
    ({**GOOD, "max_completion_tokens": -1}, 400, "max_completion_tokens"),
    ({**GOOD, "temperature": "hot"}, 400, "temperature"),
    ({**GOOD, "temperature": 3}, 400, "temperature"),
    ({**GOOD, "top_p": 0}, 400, "top_p"),
    ({**GOOD, "seed": 1.5}, 400, "seed"),
    ({**GOOD, "stream": True}, 400, "stream"),
    ({**GOOD, "n": 2}, 400, "n"),
    ({**GOOD, "response_format": {"type": "json_schema"}}, 400, "response_format"),
]


@pytest.mark.parametrize(("body", "status", "param"), BAD)
def test_bad_requests_get_openai_errors_and_the_server_goes_on(server, body, status, param):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = httpx.post(
        f"{server}/chat/completions", content=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    again = httpx.post(f"{server}/chat/completions", json=GOOD)
    assert again.status_code == 200 and again.json()["choices"][0]["message"]["content"]


def test_the_openai_client_sees_the_errors(client):
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=GOOD["messages"])
    with pytest.raises(openai.BadRequestError, match="positive integer"):
        client.chat.completions.create(model=NAME, messages=GOOD["messages"], max_tokens=0)
    with pytest.raises(openai.BadRequestError, match="stream"):
        client.chat.completions.create(model=NAME, messages=GOOD["messages"], stream=True)


def test_the_default_server_is_greedy_whatever_the_request_asks(client, local, samples):
    for i, turns in [(0, 1), (1, 1), (0, 2)]:
        messages = conversation(samples, i, turns)
        for sampling in ({"temperature": 1.5, "seed": 3}, {"temperature": 2, "top_p": 0.5}):
            reply = client.chat.completions.create(
                model=NAME, messages=openai_messages(messages), max_tokens=MAX_TOKENS, **sampling
            )
            assert reply.choices[0].message.content == local.respond(messages)


def test_max_tokens_above_the_servers_cap_is_lowered_to_it_not_refused(client):
    for asked in ({}, {"max_tokens": CAP + 1}, {"max_tokens": 2048}, {"max_tokens": 10**6}):
        reply = client.chat.completions.create(model=NAME, messages=GOOD["messages"], **asked)
        assert reply.usage.completion_tokens == CAP and reply.choices[0].finish_reason == "length"


def test_a_request_for_2048_tokens_gets_the_planners_256(student_dir, samples):
    """The teacher config's ``max_tokens: 2048`` is lowered to the server's default cap, the
    in-process planner's ``MAX_NEW_TOKENS``; a smaller ``max_tokens`` is honoured."""
    assert ServeConfig().max_new_tokens == MAX_NEW_TOKENS == 256
    planner = StudentPlanner.from_pretrained(student_dir)  # its default cap, 256
    messages = conversation(samples)
    app = create_app(student_dir, ServeConfig(model_name=NAME))
    with (
        running(app) as url,
        openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0) as client,
    ):
        for asked in ({"max_tokens": 2048}, {"max_completion_tokens": 2048}, {}):
            reply = client.chat.completions.create(
                model=NAME, messages=openai_messages(messages), temperature=0.2, **asked
            )
            # the untrained student never stops: it writes up to the cap, and no further
            assert reply.usage.completion_tokens == MAX_NEW_TOKENS
            assert reply.usage.prompt_tokens + MAX_NEW_TOKENS < CONTEXT  # not the context
            assert reply.choices[0].finish_reason == "length"
            assert reply.choices[0].message.content == planner.respond(messages)
        smaller = client.chat.completions.create(
            model=NAME, messages=openai_messages(messages), max_tokens=MAX_TOKENS
        )
        assert smaller.usage.completion_tokens == MAX_TOKENS
        assert smaller.choices[0].finish_reason == "length"


def _context_error(excinfo: pytest.ExceptionInfo[openai.BadRequestError]) -> str:
    error = excinfo.value
    assert error.status_code == 400
    assert error.code == "context_length_exceeded" and error.param == "messages"
    assert error.type == "invalid_request_error"
    return error.message


def test_a_prompt_longer_than_the_context_is_context_length_exceeded(client, counter):
    assert counter.context_length == CONTEXT
    messages, prompt = prompt_of(counter, CONTEXT + 40)
    assert prompt > CONTEXT
    with pytest.raises(openai.BadRequestError) as explicit:
        client.chat.completions.create(model=NAME, messages=messages, max_tokens=4)
    message = _context_error(explicit)
    assert f"maximum context length is {CONTEXT} tokens" in message
    assert f"your messages resulted in {prompt} tokens" in message
    with pytest.raises(openai.BadRequestError) as default:  # no max_tokens: nothing to clip to
        client.chat.completions.create(model=NAME, messages=messages)
    message = _context_error(default)
    assert f"maximum context length is {CONTEXT} tokens" in message
    assert f"your messages resulted in {prompt} tokens" in message
    again = client.chat.completions.create(model=NAME, messages=GOOD["messages"], max_tokens=4)
    assert again.choices[0].message.content


def test_a_strict_server_refuses_max_tokens_past_the_context_as_openai(student_dir, counter):
    from fastapi.testclient import TestClient

    messages, prompt = prompt_of(counter, CONTEXT - 20)
    room = CONTEXT - prompt
    app = create_app(
        student_dir, ServeConfig(model_name=NAME, max_new_tokens=CAP, strict_context=True)
    )
    with TestClient(app) as http:

        def ask(**extra: Any) -> Any:
            body = {"model": NAME, "messages": messages, **extra}
            return http.post("/v1/chat/completions", json=body)

        refused = ask(max_tokens=room + 1)  # over by one token
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
        assert (
            f"you requested {CONTEXT + 1} tokens ({prompt} in the messages, {room + 1} in"
            in (error["message"])
        )
        assert ask(max_tokens=room).status_code == 200  # exactly the room left is fine
        default = ask()  # a cap the client did not ask for is still lowered to fit
        assert default.status_code == 200, default.text
        assert default.json()["usage"]["completion_tokens"] == room
        # lowering max_tokens to the server's cap is not a refusal, strict or not
        short = http.post(
            "/v1/chat/completions",
            json={"model": NAME, "messages": GOOD["messages"], "max_tokens": 2048},
        )
        assert short.status_code == 200, short.text
        assert short.json()["usage"]["completion_tokens"] == CAP
