"""Worlds of the shipped eval tasks (procedural, so the oracle solves every one), and planners
that fail in known ways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prism.evaluation.task_success import eval_sim
from prism.formats.eval_tasks import read_eval_suite
from prism.world.worlds import World

EVAL = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "eval_tasks_1.json"
UNKNOWN = (0.2, 0.3, 0.4, 0.5)


@pytest.fixture(scope="session")
def worlds() -> list[World]:
    """The first six eval tasks, each in the world the evaluation plays it in (seed 42)."""
    suite = read_eval_suite(EVAL)
    found = []
    for i in range(6):
        sim = eval_sim(suite, i, UNKNOWN, 42)
        graph = suite.graphs[suite.task_graphs[i]]
        found.append(World(graph=graph, task=suite.tasks[i], hidden=tuple(sorted(sim.hidden))))
    return found


class Garbage:
    """A student that never writes a valid turn."""

    def __init__(self) -> None:
        self.calls = 0

    def respond(self, messages) -> str:
        self.calls += 1
        return "}{ not a plan"


class Repeater:
    """A student that maps the region it stands in, turn after turn: valid, and never answers."""

    def __init__(self, sim) -> None:
        self.sim = sim

    def respond(self, messages) -> str:
        here = self.sim.partial.robot_location
        return json.dumps(
            {
                "primary_goal": "look around",
                "relevant_graph": [here],
                "reasoning": "I map where I am.",
                "plan": f"[map_region({here})]",
            }
        )
