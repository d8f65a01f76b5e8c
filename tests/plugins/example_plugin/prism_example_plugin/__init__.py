"""An example prism plugin: the ``longest_first`` sampler, the ``turn_count`` evaluator and the
``look_first`` teacher.

A sample's *turns* are its assistant messages: one planning step each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from prism.plugins import (
    ComponentRequest,
    EvalContext,
    EvalResult,
    EvaluatorPlugin,
    SampleRequest,
    SamplerPlugin,
    TeacherPlugin,
    hookimpl,
)
from prism.teachers.oracle import OracleTeacher


def turns(sample: Mapping[str, Any]) -> int:
    """How many assistant messages (planning steps) a canonical sample holds."""
    return sum(1 for message in sample["conversations"] if message["role"] == "assistant")


def longest_first(request: SampleRequest) -> list[str]:
    """The ``n`` samples with the most turns; ties in random order; repeated from the top."""
    shuffled = list(request.samples)
    request.rng.shuffle(shuffled)  # sorting is stable, so ties keep this random order
    ranked = [s["id"] for s in sorted(shuffled, key=turns, reverse=True)]
    return [ranked[i % len(ranked)] for i in range(request.n)]


def turn_count(context: EvalContext) -> EvalResult:
    """Mean number of turns over the validation split, and a row per sample."""
    samples = context.splits.get("eval") or []
    rows = [{"id": sample["id"], "turns": turns(sample)} for sample in samples]
    mean = sum(row["turns"] for row in rows) / len(rows) if rows else float("nan")
    return EvalResult(metrics={"turns/mean": mean}, tables={"turns": rows})


class LookFirstPlanner:
    """One rollout: the oracle's turns, but the first plan starts by mapping where the robot is."""

    def __init__(self, oracle: Any, sim: Any) -> None:
        self.oracle, self.sim = oracle, sim

    def respond(self, messages: Sequence[Mapping[str, str]]) -> str:
        text = self.oracle.respond(messages)
        if any(message["role"] == "assistant" for message in messages):
            return text
        turn = json.loads(text)
        here = self.sim.partial.robot_location
        turn["plan"] = f"[map_region({here}), " + turn["plan"].strip().removeprefix("[")
        turn["reasoning"] = f"First I look around {here}. " + turn["reasoning"]
        return json.dumps(turn)


class LookFirst:
    """A teacher that maps its start region before anything else, then plans as the oracle."""

    name = "look_first"

    def __init__(self, max_iterations: int) -> None:
        self.oracle = OracleTeacher(max_iterations=max_iterations)

    def check(self) -> None:
        """Nothing to check: it runs locally."""

    def planner(self, task: Any, sim: Any) -> LookFirstPlanner:
        return LookFirstPlanner(self.oracle.planner(task, sim), sim)


def build_look_first(request: ComponentRequest) -> LookFirst:
    return LookFirst(request.max_iterations)


@hookimpl
def prism_register_samplers() -> list[SamplerPlugin]:
    return [SamplerPlugin("longest_first", longest_first, "the samples with the most turns")]


@hookimpl
def prism_register_evaluators() -> list[EvaluatorPlugin]:
    return [
        EvaluatorPlugin(
            "turn_count", turn_count, "mean turns per validation sample", metrics=("turns/mean",)
        )
    ]


@hookimpl
def prism_register_teachers() -> list[TeacherPlugin]:
    return [TeacherPlugin("look_first", build_look_first, "the oracle, mapping its start first")]
