"""The oracle teacher: it solves the tasks, speaks the SPINE protocol, and never cheats.

Every rollout is recorded turn by turn together with the planner's view of the graph at the
moment the oracle was asked, so the tests can judge each turn against what it could know.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from prism.scenes.base import SceneRequest
from prism.scenes.procedural import ProceduralSceneGenerator
from prism.scenes.task_reading import infer_task
from prism.teachers.oracle import OracleTeacher
from prism.world.protocol import RESPONSE_KEYS, check_turn, parse_plan
from prism.world.rollout import Message, Rollout, run_rollout
from prism.world.scene_graph import SceneGraph
from prism.world.simulator import PartialObservationSim
from prism.world.task import Task

GRAPH_UNKNOWN = (0.2, 0.3, 0.4, 0.5)
REFERENCE_SEEDS = (0, 1, 2)


@dataclass
class Turn:
    text: str
    view: SceneGraph
    """The planner's partial graph when the oracle was asked for this turn."""


@dataclass
class Run:
    task: Task
    scene: SceneGraph
    rollout: Rollout
    turns: list[Turn] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.rollout.answered and self.task.solved_by(self.rollout.final_turn)


class RecordingPlanner:
    """Wraps a planner and keeps every reply with a snapshot of the view it was made from."""

    def __init__(self, inner: Any, sim: PartialObservationSim, run: Run) -> None:
        self.inner, self.sim, self.run = inner, sim, run

    def respond(self, messages: Sequence[Message]) -> str:
        view = self.sim.partial.copy()
        text = self.inner.respond(messages)
        self.run.turns.append(Turn(text, view))
        return text


def run_oracle(scene: SceneGraph, task: Task, graph_unknown: float, seed: int) -> Run:
    sim = PartialObservationSim(
        scene, graph_unknown=graph_unknown, rng=random.Random(seed), init_node=task.init_node
    )
    run = Run(task, scene, Rollout(task=task.task))
    planner = RecordingPlanner(OracleTeacher().planner(task, sim), sim, run)
    run.rollout = run_rollout(planner, sim, task.task)
    return run


@pytest.fixture(scope="module")
def procedural_runs() -> list[Run]:
    """100 procedural scenes x 3 tasks, graph_unknown cycling 0.2..0.5."""
    generator = ProceduralSceneGenerator()
    runs = []
    for seed in range(100):
        generated = generator.generate(
            SceneRequest(n_regions=8 + seed % 8, n_objects=4 + seed % 6, n_tasks=3, seed=seed)
        )
        for task in generated.tasks:
            unknown = GRAPH_UNKNOWN[len(runs) % len(GRAPH_UNKNOWN)]
            runs.append(run_oracle(generated.scene, task, unknown, seed=len(runs)))
    return runs


@pytest.fixture(scope="module")
def reference_runs(reference_eval: dict[str, Any]) -> dict[int, list[Run]]:
    """The reference eval file, tasks via infer_task, graph_unknown 0.3, several hidden draws."""
    scene = SceneGraph.from_spine(reference_eval["graph"])
    tasks = [infer_task(Task.from_record(record), scene) for record in reference_eval["tasks"]]
    return {
        seed: [run_oracle(scene, task, 0.3, seed=seed * 100 + i) for i, task in enumerate(tasks)]
        for seed in REFERENCE_SEEDS
    }


def all_runs(procedural_runs: list[Run], reference_runs: dict[int, list[Run]]) -> list[Run]:
    return [*procedural_runs, *(run for runs in reference_runs.values() for run in runs)]


# ---------------------------------------------------------------------------- success
def test_oracle_solves_procedural_tasks(procedural_runs: list[Run]) -> None:
    assert len(procedural_runs) == 300
    rate = sum(run.success for run in procedural_runs) / len(procedural_runs)
    assert rate >= 0.95, [(r.task.task, r.rollout.answer) for r in procedural_runs if not r.success]


@pytest.mark.parametrize("seed", REFERENCE_SEEDS)
def test_oracle_solves_the_reference_eval_tasks(
    reference_runs: dict[int, list[Run]], seed: int
) -> None:
    runs = reference_runs[seed]
    assert len(runs) == 10
    failures = [(r.task.task, r.rollout.answer) for r in runs if not r.success]
    assert len(failures) <= 1, failures


def test_oracle_always_answers_in_time(
    procedural_runs: list[Run], reference_runs: dict[int, list[Run]]
) -> None:
    for run in all_runs(procedural_runs, reference_runs):
        assert run.rollout.reason is None, (run.task.task, run.rollout.reason)
        assert run.rollout.answered


# ---------------------------------------------------------------------------- protocol
def test_every_oracle_turn_is_a_well_formed_spine_response(
    procedural_runs: list[Run], reference_runs: dict[int, list[Run]]
) -> None:
    for run in all_runs(procedural_runs, reference_runs):
        assert run.turns
        for turn in run.turns:
            data = json.loads(turn.text)
            assert list(data) == list(RESPONSE_KEYS)
            assert isinstance(data["primary_goal"], str) and data["primary_goal"].strip()
            assert isinstance(data["relevant_graph"], list) and data["relevant_graph"]
            assert isinstance(data["plan"], str)
            assert parse_plan(data["plan"])
            check_turn(turn.text, turn.view)  # raises InvalidTurn on a bad plan


def test_oracle_turns_are_never_rejected(
    procedural_runs: list[Run], reference_runs: dict[int, list[Run]]
) -> None:
    for run in all_runs(procedural_runs, reference_runs):
        assert run.rollout.rejected == []
        # ... so the conversation holds exactly the oracle's turns, in order.
        assistant = [m["value"] for m in run.rollout.conversation if m["role"] == "assistant"]
        assert assistant == [turn.text for turn in run.turns]


def test_oracle_never_names_a_node_hidden_from_it(
    procedural_runs: list[Run], reference_runs: dict[int, list[Run]]
) -> None:
    leaks = []
    for run in all_runs(procedural_runs, reference_runs):
        for turn in run.turns:
            data = json.loads(turn.text)
            for action in parse_plan(data["plan"]):
                if action.target is not None and action.target not in turn.view:
                    leaks.append((run.task.task, str(action)))
            for node in data["relevant_graph"]:
                if node not in turn.view:
                    leaks.append((run.task.task, f"relevant_graph: {node}"))
            for node in run.scene.graph:
                if node not in turn.view and re.search(rf"\b{re.escape(node)}\b", turn.text):
                    leaks.append((run.task.task, f"mentions {node}"))
    assert not leaks


def test_hidden_nodes_really_were_hidden(procedural_runs: list[Run]) -> None:
    # Guards the test above: most rollouts start with nodes the oracle cannot see.
    started_partial = [
        run for run in procedural_runs if len(run.turns[0].view.graph) < len(run.scene.graph)
    ]
    assert len(started_partial) == len(procedural_runs)


def test_oracle_reasoning_is_not_empty(
    procedural_runs: list[Run], reference_runs: dict[int, list[Run]]
) -> None:
    for run in all_runs(procedural_runs, reference_runs):
        for turn in run.turns:
            reasoning = json.loads(turn.text)["reasoning"]
            assert len(reasoning.split()) >= 5, reasoning


def test_oracle_explores_before_answering_when_it_must(procedural_runs: list[Run]) -> None:
    # A target out of sight at the start is only named after the oracle found it.
    multi_turn = [run for run in procedural_runs if len(run.turns) > 1]
    assert len(multi_turn) >= 100
    for run in multi_turn:
        first_plan = parse_plan(json.loads(run.turns[0].text)["plan"])
        assert first_plan[-1].name != "answer"


def test_oracle_give_up_reasoning_is_true(procedural_runs: list[Run]) -> None:
    false_claims = []
    for run in procedural_runs:
        final = run.turns[-1]
        if "I mapped every region I can reach" not in json.loads(final.text)["reasoning"]:
            continue
        view = final.view
        unmapped = [
            r for r in view.reachable_regions(view.robot_location) if view.description(r) is None
        ]
        if unmapped:
            false_claims.append((run.task.task, unmapped))
    assert not false_claims


# ---------------------------------------------------------------------------- the teacher
def test_oracle_rejects_an_unknown_task_kind(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    with pytest.raises(ValueError, match=r"the oracle needs a task kind .* got 'riddle'"):
        OracleTeacher().planner(Task("Sing me a song.", "la", "yard_1", kind="riddle"), sim)


def test_oracle_reads_what_a_bare_task_asks_for(tiny_graph: SceneGraph) -> None:
    task = Task("Where are tools likely to be?", "shed", "yard_1")  # no kind, no targets
    run = run_oracle(tiny_graph, task, graph_unknown=0.0, seed=0)
    assert run.success
    assert "shed_1" in run.rollout.answer


def test_oracle_on_the_tiny_scene(tiny_graph: SceneGraph) -> None:
    task = Task(
        "communications are down. Why?",
        "internet_tower|damaged",
        "yard_1",
        kind="diagnosis",
        targets=("internet_tower_1",),
        subject="communications are down",
    )
    run = run_oracle(tiny_graph, task, graph_unknown=0.0, seed=0)
    assert run.success
    plans = [json.loads(t.text)["plan"] for t in run.turns]
    assert plans[0] == "[inspect(internet_tower_1, is it damaged or not working?)]"
    assert "internet_tower_1 at field_1 is damaged" in plans[-1]


def _route_length(view: SceneGraph, node: str) -> float:
    goal = node if view.is_region(node) else view.region_of(node)
    path = view.region_path(view.robot_location, goal) if goal else None
    if path is None:
        return float("inf")
    return sum(view.distance(a, b) for a, b in itertools.pairwise(path))


def test_diagnosis_inspects_the_nearest_suspect_not_the_broken_one(
    procedural_runs: list[Run],
) -> None:
    # The oracle may know what could explain an outage, not which of those things is broken:
    # each inspection goes to the nearest suspect it has not inspected yet.
    inspections = 0
    for run in procedural_runs:
        if run.task.kind != "diagnosis" or len(run.task.targets) < 2:
            continue
        for turn in run.turns:
            plan = parse_plan(json.loads(turn.text)["plan"])
            if plan[0].name != "inspect":
                continue
            view = turn.view
            candidates = [
                t
                for t in run.task.targets
                if t in view
                and view.description(t) is None
                and _route_length(view, t) < float("inf")
            ]
            nearest = min(_route_length(view, t) for t in candidates)
            assert _route_length(view, plan[0].target) == nearest, (run.task, plan)
            inspections += 1
    assert inspections >= 10


def test_exploration_reasoning_copies_node_names_exactly(procedural_runs: list[Run]) -> None:
    for run in procedural_runs:
        names = set(run.scene.graph.nodes)
        for turn in run.turns:
            reasoning = json.loads(turn.text)["reasoning"]
            for word in re.findall(r"\b[A-Za-z][A-Za-z_]*_\d+\b", reasoning):
                assert word in names, (word, reasoning)
