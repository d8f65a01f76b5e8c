"""An example prism plugin: the ``longest_first`` sampler and the ``turn_count`` evaluator.

A sample's *turns* are its assistant messages: one planning step each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prism.plugins import (
    EvalContext,
    EvalResult,
    EvaluatorPlugin,
    SampleRequest,
    SamplerPlugin,
    hookimpl,
)


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


@hookimpl
def prism_register_samplers() -> list[SamplerPlugin]:
    return [SamplerPlugin("longest_first", longest_first, "the samples with the most turns")]


@hookimpl
def prism_register_evaluators() -> list[EvaluatorPlugin]:
    return [EvaluatorPlugin("turn_count", turn_count, "mean turns per validation sample")]
