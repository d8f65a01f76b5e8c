"""The DAgger collector: the student acts, the teacher labels each state it reaches."""

from __future__ import annotations

import json

import pytest

from prism.formats.json_store import JsonStore
from prism.generation import GenerationConfig
from prism.generation.dagger import collect_states
from prism.teachers.oracle import OracleTeacher
from prism.world.protocol import check_turn
from prism.world.rollout import run_rollout
from tests.generation.conftest import Garbage, Repeater

CONFIG = GenerationConfig(max_iterations=4)


def collect(worlds, tmp_path, student=Repeater, teacher=None, beta=0.0, **kwargs):
    """Collect with a student class (built per world; Repeater takes the simulator)."""
    student_for = kwargs.pop("student_for", None) or (
        (lambda task, sim: student(sim)) if student is Repeater else (lambda task, sim: student())
    )
    return collect_states(
        worlds,
        student_for,
        teacher or OracleTeacher(max_iterations=CONFIG.max_iterations),
        kwargs.pop("fallback", None),
        CONFIG,
        JsonStore(tmp_path / "states"),
        beta=beta,
        seed=3,
        **kwargs,
    )


def test_the_supervised_turn_is_the_teachers_and_the_students_turns_carry_weight_0(
    worlds, tmp_path
):
    result = collect(worlds[:2], tmp_path)
    assert result.samples and not result.failed
    oracle = OracleTeacher(max_iterations=CONFIG.max_iterations)
    for sample in result.samples:
        *context, label = sample["conversations"]
        assert label["role"] == "assistant" and "weight" not in label
        assert all(m.get("weight") == 0 for m in context if m["role"] == "assistant")
        assert sample["source"] == "dagger:oracle"
        # The label is what the oracle says in the student's state: replay the student's turns.
        world = next(w for w in worlds if w.id == sample["world"])
        sim = world.sim()
        for message in context:
            if message["role"] == "assistant":
                for action in check_turn(message["value"], sim.partial).plan:
                    if sim.execute(action).interrupts:
                        break
                sim.take_updates()
        plain = [{"role": m["role"], "value": m["value"]} for m in context]
        assert label["value"] == oracle.planner(world.task, sim).respond(plain)


def test_later_states_hold_the_students_own_repeated_steps(worlds, tmp_path):
    result = collect(worlds[:1], tmp_path)
    depths = sorted(
        sum(m["role"] == "assistant" for m in s["conversations"]) for s in result.samples
    )
    assert depths[0] == 1 and depths[-1] == CONFIG.max_iterations  # one state per student turn
    assert result.stats["teacher_executed"] == 0


def test_states_after_a_rejection_are_labelled_with_the_feedback_in_context(worlds, tmp_path):
    result = collect(worlds[:1], tmp_path, student=Garbage)
    after_feedback = [
        s
        for s in result.samples
        if s["conversations"][-2]["role"] == "user" and len(s["conversations"]) > 2
    ]
    assert after_feedback, "no state right after a rejected attempt was labelled"
    feedback = after_feedback[0]["conversations"][-2]["value"]
    assert "JSON" in feedback or "json" in feedback
    assert after_feedback[0]["conversations"][-3] == {
        "role": "assistant",
        "value": "}{ not a plan",
        "weight": 0,
    }


def test_with_beta_1_the_teacher_acts_and_solves(worlds, tmp_path):
    result = collect(worlds, tmp_path, beta=1.0)
    assert result.stats["student_success_rate"] == 1.0
    assert result.stats["teacher_executed"] == result.stats["states"]
    # Each state is then a state of the teacher's own rollout.
    world = worlds[0]
    sim = world.sim()
    rollout = run_rollout(
        OracleTeacher(max_iterations=4).planner(world.task, sim),
        sim,
        world.task.task,
        max_iterations=4,
    )
    teacher_turns = [m["value"] for m in rollout.conversation if m["role"] == "assistant"]
    labels = [s["conversations"][-1]["value"] for s in result.samples if s["world"] == world.id]
    assert labels == teacher_turns


class FailingLabeller:
    """A teacher whose planner fails on its second turn."""

    name = "flaky"

    def check(self) -> None:
        pass

    def planner(self, task, sim):
        oracle = OracleTeacher(max_iterations=CONFIG.max_iterations).planner(task, sim)

        class Planner:
            def respond(self, messages):
                if sum(m["role"] == "assistant" for m in messages) == 1:
                    raise RuntimeError("the labeller broke")
                return oracle.respond(messages)

        return Planner()


def test_a_label_that_fails_is_recorded_and_the_fallback_labels(worlds, tmp_path):
    alone = collect(worlds[:1], tmp_path / "alone", teacher=FailingLabeller())
    assert [f["reason"] for f in alone.failed] == ["teacher_error: the labeller broke"]
    assert alone.failed[0]["turn"] == 2 and alone.samples  # the world went on
    helped = collect(
        worlds[:1], tmp_path / "helped", teacher=FailingLabeller(), fallback=OracleTeacher(4)
    )
    assert {s["source"] for s in helped.samples} == {"dagger:flaky", "dagger:oracle"}
    assert len(helped.samples) == len(alone.samples) + 1


def test_a_killed_collection_resumes_from_the_worlds_it_stored(worlds, tmp_path):
    """A run killed after three worlds left their records; the rerun plays only the others."""
    played = []

    def student_for(task, sim):
        played.append(task.task)
        return Repeater(sim)

    first = collect(worlds[:3], tmp_path, student_for=student_for)
    assert sorted(played) == sorted(w.task.task for w in worlds[:3])
    played.clear()
    again = collect(worlds, tmp_path, student_for=student_for)
    assert sorted(played) == sorted(w.task.task for w in worlds[3:])
    stored = [s for s in again.samples if s["world"] in {w.id for w in worlds[:3]}]
    assert sorted(s["id"] for s in stored) == sorted(s["id"] for s in first.samples)


def test_identical_states_are_kept_once_and_worlds_take_turns(worlds, tmp_path):
    result = collect([worlds[0], worlds[0], worlds[1]], tmp_path)
    ids = [s["id"] for s in result.samples]
    assert len(ids) == len(set(ids))
    assert {result.samples[0]["world"], result.samples[1]["world"]} == {worlds[0].id, worlds[1].id}


def test_beta_must_be_a_probability(worlds, tmp_path):
    with pytest.raises(ValueError, match="beta is a probability"):
        collect(worlds[:1], tmp_path, beta=1.5)


def test_labels_are_valid_turns_in_their_state(worlds, tmp_path):
    result = collect(worlds, tmp_path, student=Garbage)
    for sample in result.samples:
        turn = json.loads(sample["conversations"][-1]["value"])
        assert set(turn) == {"primary_goal", "relevant_graph", "reasoning", "plan"}


# ------------------------------------------------------------------------- an LLM teacher
def _llm_config(url: str) -> GenerationConfig:
    endpoint = {"model": "planner-70b", "base_url": url, "api_key_env": "DAGGER_TEST_KEY"}
    fast = {"max_retries": 1, "backoff_s": 0.001, "max_backoff_s": 0.01, "timeout_s": 5}
    return GenerationConfig.from_params(
        {"max_iterations": 4, "teacher": {"kind": "llm", "endpoint": {**endpoint, **fast}}}
    )


def _collect_with(config, worlds, tmp_path, store: str):
    from prism.generation import build_fallback, build_teacher

    cache = JsonStore(tmp_path / "calls")
    return collect_states(
        worlds,
        lambda task, sim: Garbage(),
        build_teacher(config, cache, {}),
        build_fallback(config),
        config,
        JsonStore(tmp_path / store),
        beta=0.0,
        seed=3,
        workers=2,
    )


def test_an_llm_teacher_labels_the_students_conversation_cached(worlds, tmp_path, monkeypatch):
    """A real OpenAI-compatible server: the teacher gets the student's turns and the feedback
    and answers the next turn; a second collection with the same cache calls it no more."""
    from tests.endpoint.fake_openai_server import FakeOpenAIServer
    from tests.endpoint.planner_scripts import answer_with_every_node

    monkeypatch.setenv("DAGGER_TEST_KEY", "sk-local")
    with FakeOpenAIServer(answer_with_every_node, api_key="sk-local") as server:
        config = _llm_config(server.url)
        result = _collect_with(config, worlds[:2], tmp_path, "first")
        calls = len(server.chat_requests)
        assert result.samples and not result.failed
        assert {s["source"] for s in result.samples} == {"dagger:llm"}
        # After the student's rejected turn, the teacher saw it and the feedback on it.
        later = [r["messages"] for r in server.chat_requests if len(r["messages"]) > 2]
        assert later and all(
            m[2] == {"role": "assistant", "content": "}{ not a plan"} for m in later
        )
        assert all(m[3]["role"] == "user" and "not valid JSON" in m[3]["content"] for m in later)
        for sample in result.samples:
            assert json.loads(sample["conversations"][-1]["value"])["plan"].startswith("[answer(")

        again = _collect_with(config, worlds[:2], tmp_path, "second")  # a new store, same cache
        assert len(server.chat_requests) == calls
        assert [s["id"] for s in again.samples] == [s["id"] for s in result.samples]


def test_an_llm_teacher_that_answers_garbage_is_recorded_and_the_oracle_labels(
    worlds, tmp_path, monkeypatch
):
    from tests.endpoint.fake_openai_server import FakeOpenAIServer

    monkeypatch.setenv("DAGGER_TEST_KEY", "sk-local")
    with FakeOpenAIServer(lambda request: "Sure! goto the truck", api_key="sk-local") as server:
        result = _collect_with(_llm_config(server.url), worlds[:1], tmp_path, "states")
    assert result.failed and all(f["reason"] == "invalid_label:not_json" for f in result.failed)
    assert result.samples and {s["source"] for s in result.samples} == {"dagger:oracle"}
    assert result.stats["label_failures_by_reason"] == {"invalid_label": len(result.failed)}
