"""The LLM teacher and the LLM scene generator end to end: a Kedro run against a real local HTTP
server that speaks the OpenAI chat-completions protocol (the real SDK, retries, concurrency and
the call cache all run)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from prism.endpoint import EndpointError
from tests.endpoint.fake_openai_server import FakeOpenAIServer, Reply
from tests.endpoint.planner_scripts import answer_with_every_node, slow
from tests.pipelines.generation.conftest import run_dir

KEY = "sk-local-test"
MODEL = "planner-70b"


def _endpoint(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "base_url": url,
        "max_retries": 2,
        "backoff_s": 0.001,
        "max_backoff_s": 0.05,
        "timeout_s": 5,
        **extra,
    }


def _params(url: str, *, teacher: str = "llm", scenes: str = "procedural", **extra: Any):
    generation = {
        "n_samples": 3,
        "n_tasks": 2,
        "workers": 4,
        "teacher": {"kind": teacher, "endpoint": _endpoint(url)},
        "scene_generator": {"kind": scenes, "endpoint": _endpoint(url, temperature=0.9)},
        **extra,
    }
    return {"generation": generation}


def _planner_reply(request: dict[str, Any]) -> str:
    """Malformed on its first try at a rollout, then a valid turn that answers everything."""
    messages = request["messages"]
    assert messages[0]["role"] == "system" and "SPINE" in messages[0]["content"]
    if len(messages) == 2:  # system + task: the first try of a rollout
        return "Sure! Here is my plan: goto the truck"
    return answer_with_every_node(request)


def _read(project: Path, relative: str) -> Any:
    return json.loads((project / relative).read_text())


@pytest.fixture
def key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def test_llm_teacher_end_to_end_with_feedback_concurrency_and_cache(run_kedro, project, key_in_env):
    script = slow(_planner_reply, 0.05)  # latency, so that requests in flight overlap
    with FakeOpenAIServer(script, api_key=KEY, models=[MODEL]) as server:
        run_kedro(params=_params(server.url))
        first_calls = len(server.chat_requests)

        samples = _read(project, "data/03_primary/generated_samples.json")
        stats = _read(project, "data/08_reporting/generation_stats.json")
        assert stats["total"] == 6
        assert stats["passed_by_source"].get("llm", 0) >= 1
        llm = [s for s in samples if s["source"] == "llm"]
        # The malformed first try got feedback; only the valid turn is in the training sample.
        rollout = _read(run_dir(project), f"rollouts/{llm[0]['rollout']}.json")
        assert rollout["rejected"][0]["kind"] == "not_json"
        assert "not valid JSON" in rollout["rejected"][0]["feedback"]
        assert all(
            t["value"].startswith("{") for t in llm[0]["conversations"] if t["role"] == "assistant"
        )
        feedback_requests = [r for r in server.chat_requests if len(r["messages"]) == 4]
        assert (
            feedback_requests
            and "not valid JSON" in feedback_requests[0]["messages"][-1]["content"]
        )
        assert 2 <= server.max_in_flight <= 4
        assert all(r["response_format"] == {"type": "json_object"} for r in server.chat_requests)

        # A rerun after losing every rollout pays for nothing: all calls come from the cache.
        for path in (run_dir(project) / "rollouts").glob("*.json"):
            path.unlink()
        run_kedro(params=_params(server.url))
        assert len(server.chat_requests) == first_calls
        assert _read(project, "data/03_primary/generated_samples.json") == samples


def test_failed_llm_rollouts_fall_back_to_the_oracle(run_kedro, project, key_in_env):
    # The model never produces a valid turn: each rollout fails its three attempts.
    with FakeOpenAIServer(lambda request: "no idea", api_key=KEY, models=[MODEL]) as server:
        run_kedro(params=_params(server.url))
    samples = _read(project, "data/03_primary/generated_samples.json")
    assert samples and {s["source"] for s in samples} == {"oracle_fallback"}
    rollout = _read(run_dir(project), f"rollouts/{samples[0]['rollout']}.json")
    assert rollout["fallback_from"] == {"teacher": "llm", "reason": "invalid_turn:not_json"}
    assert len(rollout["rejected"]) == 0  # the oracle's own turns were all valid


def test_an_endpoint_failure_falls_back_for_this_run_only(run_kedro, project, key_in_env):
    with FakeOpenAIServer(lambda request: 503, api_key=KEY, models=[MODEL]) as server:
        run_kedro(params=_params(server.url))
    samples = _read(project, "data/03_primary/generated_samples.json")
    assert samples and {s["source"] for s in samples} == {"oracle_fallback"}
    stats = _read(project, "data/08_reporting/generation_stats.json")
    assert stats["retried_next_run"] == stats["total"] == 6
    assert not list((run_dir(project) / "rollouts").glob("*.json"))


def test_without_fallback_teacher_failures_are_kept_with_their_reason(
    run_kedro, project, key_in_env
):
    with FakeOpenAIServer(lambda request: 503, api_key=KEY, models=[MODEL]) as server:
        params = _params(server.url)
        params["generation"]["teacher"]["fallback_to_oracle"] = False
        run_kedro(params=params)
    stats = _read(project, "data/08_reporting/generation_stats.json")
    failed = _read(project, "data/03_primary/generated_failed.json")
    assert stats["passed"] == 0 and stats["failed_by_reason"] == {"teacher_error": 6}
    assert len(failed) == 6 and all("503" in f["reason"] for f in failed)


def test_teacher_timeouts_fail_the_rollout_not_the_run(run_kedro, project, key_in_env):
    slow = Reply(text="{}", delay_s=1.0)
    with FakeOpenAIServer(lambda request: slow, api_key=KEY, models=[MODEL]) as server:
        params = _params(server.url)
        params["generation"]["teacher"]["endpoint"].update(timeout_s=0.2, max_retries=1)
        params["generation"]["teacher"]["fallback_to_oracle"] = False
        params["generation"]["n_samples"] = 1
        run_kedro(params=params)
    failed = _read(project, "data/03_primary/generated_failed.json")
    assert len(failed) == 2
    assert all(re.search("timed? ?out", f["reason"], re.I) for f in failed)


def _scene_reply(request: dict[str, Any]) -> str:
    """A scene generator that forgets a node on its first try and fixes it after feedback."""
    graph = {
        "regions": [
            {"name": "dock_1", "coords": [0, 0], "description": ""},
            {"name": "pier_1", "coords": [12, 3], "description": "slippery"},
        ],
        "objects": [{"name": "crane_1", "coords": [13, 5], "description": "damaged"}],
        "region_connections": [["dock_1", "pier_1"]],
        "object_connections": [["crane_1", "pier_1"]],
        "robot_location": "dock_1",
    }
    if len(request["messages"]) == 1:
        graph["object_connections"].append(["forklift_1", "dock_1"])
    tasks = [
        {"task": "Loading has stopped. Why?", "answer": "crane", "init_node": "dock_1"},
        {"task": "Is the crane damaged?", "answer": "yes|damaged"},
    ]
    return json.dumps({"description": "a small port", "graph": graph, "tasks": tasks})


def test_llm_scene_generator_validates_and_retries_with_feedback(run_kedro, project, key_in_env):
    with FakeOpenAIServer(_scene_reply, api_key=KEY, models=[MODEL]) as server:
        run_kedro(params=_params(server.url, teacher="oracle", scenes="llm"))
    first = next(r for r in server.chat_requests if len(r["messages"]) == 1)
    retry = next(r for r in server.chat_requests if len(r["messages"]) == 3)
    assert (
        "3 tasks" not in first["messages"][0]["content"]
        and "2 tasks" in first["messages"][0]["content"]
    )
    assert "forklift_1" in retry["messages"][-1]["content"]  # the feedback names the bad node
    scenes = _read(project, "data/03_primary/generated_scenes.json")
    assert len(scenes) == 3
    assert {r["name"] for r in scenes[0]["graph"]["regions"]} == {"dock_1", "pier_1"}
    # Tasks from the LLM carry no kind; the oracle reads what they ask for off the text.
    stats = _read(project, "data/08_reporting/generation_stats.json")
    assert stats["passed"] == 6


def test_credentials_file_supplies_the_key(run_kedro, project, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (project / "conf/local/credentials.yml").write_text(f"openai:\n  api_key: {KEY}\n")
    with FakeOpenAIServer(_planner_reply, api_key=KEY, models=[MODEL]) as server:
        run_kedro(params=_params(server.url, n_samples=1))
        assert server.chat_requests


def test_missing_key_fails_before_any_output(run_kedro, project, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(
        EndpointError,
        match=r"(?s)credentials\.yml.*OPENAI_API_KEY|OPENAI_API_KEY.*credentials\.yml",
    ):
        run_kedro(params=_params("http://127.0.0.1:9/v1"))
    assert not (project / "data/02_intermediate/data_gen").exists()
    assert not (project / "data/03_primary/generated_samples.json").exists()


def test_unreachable_endpoint_fails_before_any_output(run_kedro, project, key_in_env):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EndpointError, match=f"127.0.0.1:{port}"):
        run_kedro(params=_params(f"http://127.0.0.1:{port}/v1"))
    assert not (project / "data/02_intermediate/data_gen").exists()


def test_an_endpoint_outage_is_retried_by_the_next_run(run_kedro, project, key_in_env):
    # Failures caused by the endpoint (down, timing out) are reported but not stored as done:
    # once it is back, the same command redoes exactly those rollouts.
    state = {"down": True}

    def script(request: dict[str, Any]) -> str | int:
        return 503 if state["down"] else answer_with_every_node(request)

    with FakeOpenAIServer(script, api_key=KEY, models=[MODEL]) as server:
        params = _params(server.url, n_samples=1)
        params["generation"]["teacher"]["fallback_to_oracle"] = False
        run_kedro(params=params, node_names=["check_generation_inputs", "generate_rollouts"])
        stats = _read(project, "data/08_reporting/generation_stats.json")
        assert stats["failed_by_reason"] == {"teacher_error": 2}
        assert stats["retried_next_run"] == 2
        assert not list((run_dir(project) / "rollouts").glob("*.json"))

        state["down"] = False
        run_kedro(params=params, node_names=["check_generation_inputs", "generate_rollouts"])
    stats = _read(project, "data/08_reporting/generation_stats.json")
    assert "teacher_error" not in stats["failed_by_reason"]
    assert stats["retried_next_run"] == 0 and stats["total"] == 2
    assert len(list((run_dir(project) / "rollouts").glob("*.json"))) == 2
