"""The student engine: the served replies are the in-process student's (greedy, one request at a
time however many arrive), sampling is reproducible with a seed, the cap is lowered to the room
the prompt leaves in the context, and a LoRA student is served with its base, or refused before
loading when the base is not where its adapter says."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from prism.serving import ServeConfig, ServeError, create_app
from prism.serving.engine import check_model_dir
from prism.student.planner import StudentPlanner
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
    save_lora_student,
)


def test_replies_are_the_in_process_students(client, local, samples):
    for i, turns in [(0, 1), (1, 1), (0, 2)]:
        messages = conversation(samples, i, turns)
        reply = client.chat.completions.create(
            model=NAME,
            messages=openai_messages(messages),
            max_tokens=MAX_TOKENS,  # the in-process student's cap (the server's is CAP)
            response_format={"type": "json_object"},
        )
        assert reply.object == "chat.completion" and reply.model == NAME
        assert reply.id.startswith("chatcmpl-") and isinstance(reply.created, int)
        choice = reply.choices[0]
        assert choice.message.role == "assistant"
        assert choice.message.content == local.respond(messages)
        assert set(json.loads(choice.message.content)) >= {"primary_goal", "plan"}  # SPINE
        assert choice.finish_reason in ("stop", "length")
        usage = reply.usage
        for count in (usage.prompt_tokens, usage.completion_tokens):
            assert isinstance(count, int) and count > 0
        assert usage.completion_tokens <= MAX_TOKENS
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_concurrent_requests_are_serialized_and_all_answered(server, local, samples):
    messages = [conversation(samples, i % 2) for i in range(6)]

    def ask(m):
        body = {**GOOD, "messages": openai_messages(m), "max_tokens": MAX_TOKENS}
        return httpx.post(f"{server}/chat/completions", json=body, timeout=60).json()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(ask, messages))
    assert [r["choices"][0]["message"]["content"] for r in replies] == [
        local.respond(m) for m in messages
    ]


@pytest.fixture(scope="module")
def sampling_server(student_dir):
    """``prism serve --sample``."""
    config = ServeConfig(model_name=NAME, max_new_tokens=MAX_TOKENS, sampling=True)
    with running(create_app(student_dir, config)) as url:
        yield url


def _sample(url: str, messages: list[dict[str, str]], **sampling: Any) -> str:
    with openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0) as client:
        reply = client.chat.completions.create(model=NAME, messages=messages, **sampling)
    return reply.choices[0].message.content


def test_a_sampling_server_samples_reproducibly_with_a_seed(sampling_server, local, samples):
    conversations = [conversation(samples, i, turns) for i, turns in [(0, 1), (1, 1), (0, 2)]]
    differ = 0
    for messages in conversations:
        chat, greedy = openai_messages(messages), local.respond(messages)
        first = _sample(sampling_server, chat, temperature=1.5, seed=3)
        assert _sample(sampling_server, chat, temperature=1.5, seed=3) == first
        differ += first != greedy
        # temperature 0 (or none) is greedy, also here
        assert _sample(sampling_server, chat, temperature=0, seed=3) == greedy
        assert _sample(sampling_server, chat) == greedy
    assert differ > 0  # it did sample
    chat = openai_messages(conversations[0])
    seeds = {_sample(sampling_server, chat, temperature=1.5, seed=seed) for seed in range(4)}
    assert len(seeds) > 1


def test_max_tokens_past_the_context_is_lowered_to_the_room_left(client, counter):
    """A SPINE client set up for a large teacher asks for more than the student's context."""
    messages, prompt = prompt_of(counter, CONTEXT - 20)
    room = CONTEXT - prompt
    assert 0 < room <= 20
    fits = client.chat.completions.create(model=NAME, messages=messages, max_tokens=room)
    assert fits.usage.prompt_tokens == prompt and fits.usage.completion_tokens <= room
    for max_tokens in (room + 1, CAP, 2048, None):  # None: the server's cap, CAP
        extra = {} if max_tokens is None else {"max_tokens": max_tokens}
        clipped = client.chat.completions.create(model=NAME, messages=messages, **extra)
        assert clipped.usage.prompt_tokens == prompt
        assert clipped.usage.completion_tokens == room  # the untrained student never stops
        assert clipped.usage.total_tokens == CONTEXT
        assert clipped.choices[0].finish_reason == "length"
        assert clipped.choices[0].message.content == fits.choices[0].message.content


def test_a_lora_student_is_served_with_its_base(samples, tmp_path):
    from fastapi.testclient import TestClient

    adapter = save_lora_student(samples, tmp_path / "lora_student", tmp_path / "student_base")
    app = create_app(adapter, ServeConfig(max_new_tokens=CAP))
    assert app.state.model_name == "lora_student"
    assert app.state.engine.context_length == CONTEXT  # read through the PeftModel
    local = StudentPlanner.from_pretrained(adapter, max_new_tokens=MAX_TOKENS)
    with TestClient(app) as http:
        body = {"model": "lora_student", "messages": GOOD["messages"], "max_tokens": MAX_TOKENS}
        answer = http.post("/v1/chat/completions", json=body)
        assert answer.status_code == 200, answer.text
        content = answer.json()["choices"][0]["message"]["content"]
        assert content == local.respond([{"role": "user", "value": "task: hi"}])
    # the adapter is applied: the served model is not its base
    import torch
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tmp_path / "student_base")
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        served = app.state.engine.planner.model(input_ids=ids).logits
        assert not torch.allclose(served, base(input_ids=ids).logits)


def test_a_lora_student_whose_base_moved_is_refused_before_loading(samples, tmp_path):
    run = tmp_path / "run"
    adapter = save_lora_student(samples, run / "student", tmp_path / "elsewhere" / "student_base")
    base = tmp_path / "elsewhere" / "student_base"
    base.rename(run / "student_base")  # the base travelled with the run, the path did not
    (run / "student_base" / "prism_base.json").write_text('{"name_or_path": null}')
    with pytest.raises(ServeError) as refused:
        create_app(adapter)
    message = str(refused.value)
    assert str(adapter) in message and repr(str(base)) in message
    assert "adapter_config.json" in message and "does not exist" in message
    assert f"a student base is at {(run / 'student_base').resolve()}" in message
    with pytest.raises(ServeError, match="not a saved student"):
        check_model_dir(run / "student_base")
