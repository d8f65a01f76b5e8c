"""Whether an episode's student is better than before: paired comparisons on the same tasks.

A success rate over a hundred tasks moves by several points from one draw to the next, so the
loop compares models task by task. In its setup it evaluates the **untuned student base** once
(:func:`evaluate_base`: the model every episode fine-tunes, e.g. the shipped planner base for
the default LoRA student), on the same eval tasks and worlds as every episode. Each episode's
per-task outcomes are then compared (:func:`compare_episode`) with those of the previous episode
(episode 1: the base's) and with the base's: the tasks both solve, neither solves, this episode
alone solves (``gained``) and the other alone solves (``lost``), the difference of the success
rates and the exact McNemar p-value of ``gained`` against ``lost``
(:func:`prism.evaluation.statistics.paired_comparison`). :func:`paired_metrics` flattens them
into the episode's metrics, ``paired/previous/...`` and ``paired/base/...``.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from prism.evaluation.statistics import paired_comparison
from prism.formats.eval_tasks import EvalSuite
from prism.pipelines.evaluation.nodes import EvaluationConfig, evaluate_student
from prism.plugins import get_evaluator
from prism.student.bundle import ModelBundle
from prism.student.prompt_format import format_of
from prism.training.base_models import StudentBase, load_base_model, load_base_tokenizer

logger = logging.getLogger(__name__)

#: What each episode is compared with: the episode before it (episode 1: the base) and the base.
REFERENCES = ("previous", "base")
#: The figures of one comparison, in the order of the metrics ``paired/<reference>/<figure>``.
PAIRED_FIGURES = ("n", "both", "neither", "gained", "lost", "difference", "p_value")
#: The base's closed-loop figures an episode's summary carries, by the name it gives them.
BASE_METRICS = {
    "task/accuracy": "base/task_accuracy",
    "task/accuracy_low": "base/task_accuracy_low",
    "task/accuracy_high": "base/task_accuracy_high",
}
#: The reference of episode 1's comparison with "the previous episode".
BASE = "base"


class PairedComparisonError(ValueError):
    """Two tasks tables that cannot be compared task by task; the message says why."""


# ---------------------------------------------------------------------------------- the base
def untuned_student(base: StudentBase) -> ModelBundle:
    """The student before any fine-tuning: the base's weights and tokenizer, in eval mode,
    speaking the prompt format its fine-tuned students speak."""
    model = load_base_model(base)
    model.eval()
    prompt_format = format_of(None if base.is_builtin else base.name_or_path)
    metadata = {"base_model": base.name_or_path, "prompt_format": prompt_format.name}
    return ModelBundle(model=model, tokenizer=load_base_tokenizer(base), metadata=metadata)


def evaluate_base(
    config: EvaluationConfig, base: StudentBase, eval_tasks: EvalSuite
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """The untuned student base on the eval tasks, as an episode's student is evaluated: the
    closed-loop evaluators only (the base has no samples of its own to score). Nothing is
    loaded when the eval tasks are skipped.

    Returns:
        As :func:`~prism.pipelines.evaluation.nodes.evaluate_student`: the metrics report, the
        tables (``tasks``) and the transcripts.
    """
    closed_loop = tuple(e for e in config.evaluators if get_evaluator(e).needs_eval_tasks)
    if not config.runs_tasks:
        return {"evaluators": list(closed_loop), "metrics": {}, "errors": {}}, {}, []
    logger.info("iterative: the untuned base %s on the eval tasks", base.name_or_path)
    tasks_only = dataclasses.replace(config, evaluators=closed_loop)
    return evaluate_student(tasks_only, untuned_student(base), [], {}, None, eval_tasks)


def base_metrics(base_evaluation: Mapping[str, Any]) -> dict[str, float]:
    """The base's closed-loop success and its interval under the names an episode gives them
    (:data:`BASE_METRICS`, e.g. ``base/task_accuracy``)."""
    metrics = base_evaluation.get("metrics") or {}
    return {name: metrics[key] for key, name in BASE_METRICS.items() if key in metrics}


# ---------------------------------------------------------------------------------- comparing
def task_outcomes(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[tuple[int, str, bool]]:
    """``(index, task, correct)`` per task of the ``tasks`` table, by task index, from the
    first evaluator in the table that reports a closed-loop success (``task_metric``).

    Returns:
        An empty list when the table has no task (the eval tasks were skipped).
    """
    rows = list(tables.get("tasks") or [])
    scored = [r for r in rows if get_evaluator(r["evaluator"]).task_metric] if rows else []
    if not scored:
        return []
    first = scored[0]["evaluator"]
    outcomes = {
        int(r["index"]): (str(r["task"]), bool(r["correct"]))
        for r in scored
        if r["evaluator"] == first
    }
    return [(index, *outcomes[index]) for index in sorted(outcomes)]


def compare_tables(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    reference: Mapping[str, Sequence[Mapping[str, Any]]],
    name: str,
) -> dict[str, Any]:
    """This model's tasks table against a reference's (``name``), task by task.

    Returns:
        ``reference`` (``name``) and the :data:`PAIRED_FIGURES`; an empty mapping when either
        table has no task.

    Raises:
        PairedComparisonError: the tables are not of the same tasks (the first that differs is
            named).
    """
    mine, theirs = task_outcomes(tables), task_outcomes(reference)
    if not mine or not theirs:
        return {}
    tasks, reference_tasks = [(i, t) for i, t, _ in mine], [(i, t) for i, t, _ in theirs]
    if tasks != reference_tasks:
        first = next(
            pair for pair in itertools.zip_longest(tasks, reference_tasks) if pair[0] != pair[1]
        )
        raise PairedComparisonError(
            f"{name} was evaluated on other tasks than this episode ({len(theirs)} tasks "
            f"against {len(mine)}; the first that differs: {first[1]} against {first[0]}): "
            "compare models evaluated on the same eval task file"
        )
    comparison = paired_comparison([c for *_, c in mine], [c for *_, c in theirs])
    figures = {
        "n": comparison.n,
        "both": comparison.both,
        "neither": comparison.neither,
        "gained": comparison.only_a,
        "lost": comparison.only_b,
        "difference": comparison.difference,
        "p_value": comparison.p_value,
    }
    return {"reference": name, **figures}


def compare_episode(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    previous_tables: Mapping[str, Sequence[Mapping[str, Any]]],
    base_tables: Mapping[str, Sequence[Mapping[str, Any]]],
    episode: int,
) -> dict[str, Any]:
    """Episode ``episode``'s per-task outcomes against the previous episode's (episode 1: the
    untuned base's) and the base's.

    Args:
        tables: the episode's evaluation tables (``tasks``: one row per task).
        previous_tables: the previous episode's evaluation tables; for episode 1 the base's.
        base_tables: the untuned base's evaluation tables (:func:`evaluate_base`).
        episode: the episode's number.

    Returns:
        ``{"episode": N, "previous": {...}, "base": {...}}``, each comparison as
        :func:`compare_tables` makes it (empty without closed-loop tasks).
    """
    previous = BASE if episode == 1 else f"episode {episode - 1}"
    comparison = {
        "episode": episode,
        "previous": compare_tables(tables, previous_tables, previous),
        "base": compare_tables(tables, base_tables, BASE),
    }
    logged = set()  # episode 1's previous is the base: one line for it
    for name in REFERENCES:
        figures = comparison[name]
        if figures and figures["reference"] not in logged:
            logged.add(figures["reference"])
            logger.info(
                "episode %d vs %s: %+d/-%d tasks, difference %+.3f, McNemar p %.3g",
                episode,
                figures["reference"],
                figures["gained"],
                figures["lost"],
                figures["difference"],
                figures["p_value"],
            )
    return comparison


def paired_metrics(comparison: Mapping[str, Any]) -> dict[str, float]:
    """``paired/<reference>/<figure>`` for every comparison of :func:`compare_episode`
    (``paired/previous/difference``, ``paired/base/p_value`` ...)."""
    return {
        f"paired/{name}/{figure}": (comparison.get(name) or {})[figure]
        for name in REFERENCES
        for figure in PAIRED_FIGURES
        if figure in (comparison.get(name) or {})
    }
