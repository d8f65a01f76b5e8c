"""The served student is a drop-in for the teacher: a real uvicorn server, the official
``openai`` client, and our own LLM teacher pointed at it give what the in-process student gives.

The LLM teacher is set up as a SPINE user would: the project's teacher endpoint config
(``conf/base/parameters_generation.yml``, ``temperature: 0.2``, ``max_tokens: 2048``) with only
``base_url``, ``model`` and the API key changed; the server decodes as the in-process planner
whatever those ask."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn
import yaml
from click.testing import CliRunner

from prism.datasets import HFModelDataset, ModelBundle
from prism.endpoint import ChatClient, EndpointConfig
from prism.evaluation.task_success import eval_sim, evaluate_planner
from prism.formats.eval_tasks import read_eval_suite
from prism.pipelines.generation.nodes import eval_suite_tasks
from prism.serving import ServeConfig, StudentEngine, create_app
from prism.student.generation import prompt_ids
from prism.student.planner import MAX_NEW_TOKENS, StudentPlanner
from prism.teachers.llm import LLMTeacher
from prism.world.protocol import SYSTEM_PROMPT, first_turn
from tests.serving.conftest import CONTEXT, MAX_TOKENS, free_port, save_lora_student

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "data" / "01_raw" / "eval_tasks_1.json"
PARAMS = ROOT / "conf" / "base" / "parameters_generation.yml"
PLANNER_BASE = ROOT / "data" / "01_raw" / "planner_base"
NAME = "tiny-student"
CAP = 64  # the module server's max_new_tokens: above MAX_TOKENS, so a smaller request shows


def _teacher_endpoint(base_url: str) -> EndpointConfig:
    """The project's LLM teacher endpoint pointed at ``base_url`` as a SPINE user does it: its
    parameters from ``conf/base/parameters_generation.yml``, only ``base_url`` and ``model``
    changed, the key given where the config looks for it (its credentials entry)."""
    params = yaml.safe_load(PARAMS.read_text())["generation"]["teacher"]["endpoint"]
    config = EndpointConfig.from_params(
        {**params, "base_url": base_url, "model": NAME},
        {params["credentials"]: {"api_key": "EMPTY"}},
        environ={},
    )
    # what makes the drop-in a test: the teacher samples and asks for more than the planner
    assert config.temperature > 0 and config.max_tokens > MAX_NEW_TOKENS, config
    assert config.seed is None
    return config


@contextlib.contextmanager
def _running(app: Any) -> Iterator[str]:
    """The real server (uvicorn, HTTP on a free local port) in a thread; yields its /v1 URL."""
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(student_dir):
    """Greedy (the default), at most ``CAP`` new tokens per reply."""
    with _running(create_app(student_dir, ServeConfig(model_name=NAME, max_new_tokens=CAP))) as url:
        yield url


@pytest.fixture(scope="module")
def drop_in(student_dir):
    """All defaults but the cap, which is the in-process ``local`` student's: what
    ``prism serve --max-new-tokens`` is for (256 on both sides by default)."""
    config = ServeConfig(model_name=NAME, max_new_tokens=MAX_TOKENS)
    with _running(create_app(student_dir, config)) as url:
        yield url


@pytest.fixture(scope="module")
def sampling_server(student_dir):
    """``prism serve --sample``."""
    config = ServeConfig(model_name=NAME, max_new_tokens=MAX_TOKENS, sampling=True)
    with _running(create_app(student_dir, config)) as url:
        yield url


@pytest.fixture()
def client(server):
    with openai.OpenAI(base_url=server, api_key="EMPTY", max_retries=0) as c:
        yield c


def _conversation(samples, i=0, turns=1) -> list[dict[str, str]]:
    """The first ``turns`` user turns of a sample (with the assistant turns between them)."""
    messages = samples[i]["conversations"]
    users = [k for k, m in enumerate(messages) if m["role"] == "user"]
    return [{"role": m["role"], "value": m["value"]} for m in messages[: users[turns - 1] + 1]]


def _openai(messages) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}] + [
        {"role": m["role"], "content": m["value"]} for m in messages
    ]


def test_replies_are_the_in_process_students(client, local, samples):
    for i, turns in [(0, 1), (1, 1), (0, 2)]:
        messages = _conversation(samples, i, turns)
        reply = client.chat.completions.create(
            model=NAME,
            messages=_openai(messages),
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


def test_models_and_health(client, server):
    assert [m.id for m in client.models.list().data] == [NAME]
    assert client.models.retrieve(NAME).id == NAME
    root = server.removesuffix("/v1")
    assert httpx.get(f"{root}/health").json() == {"status": "ok", "model": NAME}


GOOD = {"model": NAME, "messages": [{"role": "user", "content": "task: hi"}], "max_tokens": 4}

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


def test_unknown_paths_and_methods_are_openai_errors(server):
    root = server.removesuffix("/v1")
    for answer, status in [
        (httpx.get(f"{root}/chat/completions"), 404),  # a base_url without /v1
        (httpx.get(f"{server}/chat/completions"), 405),
        (httpx.get(f"{server}/models/gpt-4o"), 404),
    ]:
        assert answer.status_code == status
        assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_concurrent_requests_are_serialized_and_all_answered(server, local, samples):
    messages = [_conversation(samples, i % 2) for i in range(6)]

    def ask(m):
        body = {**GOOD, "messages": _openai(m), "max_tokens": MAX_TOKENS}
        return httpx.post(f"{server}/chat/completions", json=body, timeout=60).json()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(ask, messages))
    assert [r["choices"][0]["message"]["content"] for r in replies] == [
        local.respond(m) for m in messages
    ]


def test_the_default_server_is_greedy_whatever_the_request_asks(client, local, samples):
    for i, turns in [(0, 1), (1, 1), (0, 2)]:
        messages = _conversation(samples, i, turns)
        for sampling in ({"temperature": 1.5, "seed": 3}, {"temperature": 2, "top_p": 0.5}):
            reply = client.chat.completions.create(
                model=NAME, messages=_openai(messages), max_tokens=MAX_TOKENS, **sampling
            )
            assert reply.choices[0].message.content == local.respond(messages)


def _sample(url: str, messages: list[dict[str, str]], **sampling: Any) -> str:
    with openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0) as client:
        reply = client.chat.completions.create(model=NAME, messages=messages, **sampling)
    return reply.choices[0].message.content


def test_a_sampling_server_samples_reproducibly_with_a_seed(sampling_server, local, samples):
    conversations = [_conversation(samples, i, turns) for i, turns in [(0, 1), (1, 1), (0, 2)]]
    differ = 0
    for messages in conversations:
        chat, greedy = _openai(messages), local.respond(messages)
        first = _sample(sampling_server, chat, temperature=1.5, seed=3)
        assert _sample(sampling_server, chat, temperature=1.5, seed=3) == first
        differ += first != greedy
        # temperature 0 (or none) is greedy, also here
        assert _sample(sampling_server, chat, temperature=0, seed=3) == greedy
        assert _sample(sampling_server, chat) == greedy
    assert differ > 0  # it did sample
    chat = _openai(conversations[0])
    seeds = {_sample(sampling_server, chat, temperature=1.5, seed=seed) for seed in range(4)}
    assert len(seeds) > 1


def test_a_request_for_2048_tokens_gets_the_planners_256(student_dir, samples):
    """The teacher config's ``max_tokens: 2048`` is lowered to the server's default cap, the
    in-process planner's ``MAX_NEW_TOKENS``; a smaller ``max_tokens`` is honoured."""
    assert ServeConfig().max_new_tokens == MAX_NEW_TOKENS == 256
    planner = StudentPlanner.from_pretrained(student_dir)  # its default cap, 256
    messages = _conversation(samples)
    app = create_app(student_dir, ServeConfig(model_name=NAME))
    with (
        _running(app) as url,
        openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0) as client,
    ):
        for asked in ({"max_tokens": 2048}, {"max_completion_tokens": 2048}, {}):
            reply = client.chat.completions.create(
                model=NAME, messages=_openai(messages), temperature=0.2, **asked
            )
            # the untrained student never stops: it writes up to the cap, and no further
            assert reply.usage.completion_tokens == MAX_NEW_TOKENS
            assert reply.usage.prompt_tokens + MAX_NEW_TOKENS < CONTEXT  # not the context
            assert reply.choices[0].finish_reason == "length"
            assert reply.choices[0].message.content == planner.respond(messages)
        smaller = client.chat.completions.create(
            model=NAME, messages=_openai(messages), max_tokens=MAX_TOKENS
        )
        assert smaller.usage.completion_tokens == MAX_TOKENS
        assert smaller.choices[0].finish_reason == "length"


def test_the_llm_teacher_on_the_server_is_the_in_process_student(drop_in, local, tmp_path):
    """Closed loop through our own stack, the teacher config changed only in base_url, model
    and key: same per-task results, same seed."""
    suite_file = tmp_path / "eval_first_graph.json"
    suite_file.write_text(json.dumps(json.loads(EVAL.read_text())[:1]))
    suite = read_eval_suite(suite_file)
    tasks = eval_suite_tasks(suite)
    kwargs = {"graph_unknown": [0.3], "seed": 5, "max_iterations": 2}
    with ChatClient(_teacher_endpoint(drop_in)) as chat:
        teacher = LLMTeacher(chat)
        teacher.check()
        served_summary, served = evaluate_planner(teacher.planner, suite, tasks, **kwargs)
        assert chat.stats().http_requests > len(tasks)
    local_summary, in_process = evaluate_planner(lambda t, s: local, suite, tasks, **kwargs)
    assert served == in_process
    # the student's own turns (accepted, or rejected with their response) are in what was compared
    answers = [a["response"] for r in served for a in r["rejected"]] + [
        m["value"] for r in served for m in r["transcript"] if m["role"] == "assistant"
    ]
    assert len(answers) >= len(tasks)
    assert served_summary == local_summary


def test_the_drop_in_holds_where_conversations_outgrow_the_context(tmp_path):
    """The shipped planner base (it writes real plans) with a context cut so that it fits only
    some first turns, some with less room than a whole turn: served and in process, the same
    turns are clipped and the same tasks end with ``context_length``, transcripts equal."""
    suite = read_eval_suite(EVAL)
    tasks = eval_suite_tasks(suite)
    kwargs = {"graph_unknown": [0.3], "seed": 5, "max_iterations": 2}
    base = StudentPlanner.from_pretrained(ROOT / "data" / "01_raw" / "planner_base")
    scenes = [suite.scene_graph(g) for g in range(len(suite.graphs))]
    firsts = [
        base.prompt_format.encode([{"role": "user", "content": first_turn(t.task, sim.partial)}])
        for i, t in enumerate(tasks)
        for sim in [eval_sim(suite, i, kwargs["graph_unknown"], kwargs["seed"], scenes)]
    ]
    lengths = sorted(len(prompt_ids(base.tokenizer, first)) for first in firsts)
    base.model.config.max_position_embeddings = lengths[len(lengths) // 2] + MAX_TOKENS // 2
    path = tmp_path / "short_context"
    bundle = ModelBundle(base.model, base.tokenizer, {"prompt_format": base.prompt_format.name})
    HFModelDataset(str(path)).save(bundle)
    local = StudentPlanner.from_pretrained(path, max_new_tokens=MAX_TOKENS)
    assert local.respond_each(firsts[:1])  # sanity: it loads and answers

    in_process_summary, in_process = evaluate_planner(lambda t, s: local, suite, tasks, **kwargs)
    # the server's cap is the in-process student's; the client is the teacher config as is
    app = create_app(path, ServeConfig(model_name=NAME, max_new_tokens=MAX_TOKENS))
    with _running(app) as url, ChatClient(_teacher_endpoint(url)) as chat:
        served_summary, served = evaluate_planner(LLMTeacher(chat).planner, suite, tasks, **kwargs)

    # Half the tasks cannot start; the others write a turn (cut by the room left or the cap,
    # so rejected) and their retry, with its feedback, no longer fits.
    assert all(r["reason"] == "context_length" for r in in_process)
    written = [len(r["rejected"]) for r in in_process]
    assert 0 in written and max(written) > 0, written
    assert served == in_process
    assert served_summary == in_process_summary


def test_the_planner_base_served_with_defaults_is_the_in_process_one_with_defaults(tmp_path):
    """Nothing set on either side: ``prism serve`` as it starts, ``StudentPlanner`` as it loads,
    the teacher config as shipped but for base_url, model and key. The shipped planner base
    writes real plans (it stops by itself), in a 2048-token context."""
    suite_file = tmp_path / "eval_two_graphs.json"
    suite_file.write_text(json.dumps(json.loads(EVAL.read_text())[:2]))
    suite = read_eval_suite(suite_file)
    tasks = eval_suite_tasks(suite)
    kwargs = {"graph_unknown": [0.2, 0.5], "seed": 5, "max_iterations": 2}
    local = StudentPlanner.from_pretrained(PLANNER_BASE)
    assert local.max_new_tokens == MAX_NEW_TOKENS
    in_process_summary, in_process = evaluate_planner(lambda t, s: local, suite, tasks, **kwargs)
    app = create_app(PLANNER_BASE, ServeConfig(model_name=NAME))
    with _running(app) as url, ChatClient(_teacher_endpoint(url)) as chat:
        served_summary, served = evaluate_planner(LLMTeacher(chat).planner, suite, tasks, **kwargs)
    assert served == in_process
    assert served_summary == in_process_summary
    turns = [t for r in in_process for t in (*r["rejected"], *r["transcript"][1:])]
    assert turns  # the student wrote turns, and they were compared


def test_a_failing_generation_is_a_500_and_not_a_crash():
    from fastapi.testclient import TestClient

    class Broken(StudentEngine):
        def __init__(self):
            pass

        def complete(self, messages, **kwargs):
            raise RuntimeError("out of memory")

    app = create_app(engine=Broken(), config=ServeConfig(model_name=NAME))
    with TestClient(app, raise_server_exceptions=False) as http:
        answer = http.post("/v1/chat/completions", json=GOOD)
        assert answer.status_code == 500
        assert answer.json()["error"]["type"] == "server_error"
        assert http.get("/health").status_code == 200


def test_the_serve_command(monkeypatch, student_dir):
    from prism import cli

    calls = []
    monkeypatch.setattr(
        "prism.serving.app.serve", lambda model_dir, **kw: calls.append((model_dir, kw))
    )
    result = CliRunner().invoke(
        cli.cli, ["serve", "--model", str(student_dir), "--port", "8123", "--name", "s"]
    )
    assert result.exit_code == 0, result.output
    ((model_dir, kw),) = calls
    assert model_dir == str(student_dir) and kw["host"] == "127.0.0.1" and kw["port"] == 8123
    assert kw["config"] == ServeConfig(model_name="s")  # the defaults: greedy, 256
    result = CliRunner().invoke(
        cli.cli,
        ["serve", "--model", str(student_dir), "--sample", "--max-new-tokens", "100"],
    )
    assert result.exit_code == 0, result.output
    assert calls[1][1]["config"] == ServeConfig(max_new_tokens=100, sampling=True)
    help_text = CliRunner().invoke(cli.cli, ["serve", "--help"])
    assert help_text.exit_code == 0
    assert f"[default: {MAX_NEW_TOKENS};" in " ".join(help_text.output.split())
    assert "--max-tokens-limit" not in help_text.output


# ------------------------------------------------------------------------- context length
@pytest.fixture(scope="module")
def counter(local) -> StudentEngine:
    """Counts prompt tokens as the server does (same student, same format and template)."""
    return StudentEngine(local)


def _prompt_of(counter: StudentEngine, tokens: int) -> tuple[list[dict[str, str]], int]:
    """A user message whose prompt is ``tokens`` long, or just under; and its exact length."""
    words = "task: find the cabin"
    while counter.prompt_tokens([{"role": "user", "content": words}]) <= tokens:
        words += " near the barn"
    while (n := counter.prompt_tokens([{"role": "user", "content": words}])) > tokens:
        words = words[:-1]
    return [{"role": "user", "content": words}], n


def _context_error(excinfo: pytest.ExceptionInfo[openai.BadRequestError]) -> str:
    error = excinfo.value
    assert error.status_code == 400
    assert error.code == "context_length_exceeded" and error.param == "messages"
    assert error.type == "invalid_request_error"
    return error.message


def test_a_prompt_longer_than_the_context_is_context_length_exceeded(client, counter):
    assert counter.context_length == CONTEXT
    messages, prompt = _prompt_of(counter, CONTEXT + 40)
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


def test_max_tokens_past_the_context_is_lowered_to_the_room_left(client, counter):
    """A SPINE client set up for a large teacher asks for more than the student's context."""
    messages, prompt = _prompt_of(counter, CONTEXT - 20)
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


def test_a_strict_server_refuses_max_tokens_past_the_context_as_openai(student_dir, counter):
    from fastapi.testclient import TestClient

    messages, prompt = _prompt_of(counter, CONTEXT - 20)
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


def test_max_tokens_above_the_servers_cap_is_lowered_to_it_not_refused(client):
    for asked in ({}, {"max_tokens": CAP + 1}, {"max_tokens": 2048}, {"max_tokens": 10**6}):
        reply = client.chat.completions.create(model=NAME, messages=GOOD["messages"], **asked)
        assert reply.usage.completion_tokens == CAP and reply.choices[0].finish_reason == "length"


# -------------------------------------------------------------------------- LoRA students
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
    from prism.serving.app import ServeError, check_model_dir

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
