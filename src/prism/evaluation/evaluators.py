"""The built-in evaluators, registered through the plugin hook like any third-party one.

* ``token_metrics`` — per-sample cross-entropy and next-token accuracy over the assistant tokens
  (the training loss), for the ``train``, ``eval`` (validation) and ``held_out`` splits:
  ``train/mean_loss``, ``train/mean_accuracy``, ``eval/...``, ``held_out/...``; table
  ``samples`` with one row per sample and split.
* ``task_success`` — the student plans in the simulator for every task of the eval task file
  (:mod:`prism.evaluation.task_success`): ``task/accuracy`` with its 95 % Wilson interval
  (``task/accuracy_low``, ``task/accuracy_high``), ``task/valid_rate``, ``task/n``, and the
  success of every task family present, ``task/family/<kind>/accuracy`` and
  ``task/family/<kind>/n`` (:func:`task_success_metrics`); table ``tasks`` with one row per
  task, its ``kind`` included; the transcripts as an artifact.

A task's family is its record's ``kind``; a task without one (a foreign eval file) counts under
the family the oracle teacher reads off its text (:func:`~prism.scenes.task_reading.classify_task`),
and under ``unknown`` when its text fits no family (where the oracle would guess ``existence``,
a guess that must not count as a measurement of that family).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prism.evaluation.statistics import wilson_interval
from prism.evaluation.task_success import evaluate_planner
from prism.evaluation.token_metrics import mean_metrics, score_samples
from prism.plugins.hookspecs import hookimpl
from prism.plugins.types import EvalContext, EvalResult, EvaluatorPlugin
from prism.scenes.task_reading import classify_task
from prism.world.task import TASK_KINDS, Task

#: The splits token metrics are reported for, in this order.
SPLITS = ("train", "eval", "held_out")
#: The family of a task whose record has no kind and whose text fits none.
UNKNOWN_FAMILY = "unknown"
#: The families task success is reported for, one pair of metrics each when present.
TASK_FAMILIES = (*TASK_KINDS, UNKNOWN_FAMILY)


def token_metrics(context: EvalContext) -> EvalResult:
    """Per-sample loss and token accuracy on every split that has samples.

    Parameters (``evaluation.token_metrics``): ``batch_size`` (8).
    """
    batch_size = int(context.params.get("batch_size", 8))
    metrics: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    for split in SPLITS:
        samples = context.splits.get(split) or []
        if not samples:
            continue
        scores = score_samples(
            context.model,
            context.tokenizer,
            context.prompt_format,
            samples,
            batch_size=batch_size,
        )
        metrics.update(mean_metrics(split, scores))
        rows += [{"split": split, **score.as_row()} for score in scores]
    return EvalResult(metrics=metrics, tables={"samples": rows})


def task_family(task: Task) -> str:
    """The family a task's success counts under: its ``kind``, else the family its text reads
    as (:func:`~prism.scenes.task_reading.classify_task`, the oracle's reading), else
    :data:`UNKNOWN_FAMILY`.

    >>> task_family(Task("Is the truck damaged?", "no", "yard_1"))
    'attribute'
    >>> task_family(Task("Sing a song.", "la", "yard_1"))
    'unknown'
    """
    return task.kind or classify_task(task.task) or UNKNOWN_FAMILY


def task_success_metrics(correct: Sequence[bool], families: Sequence[str]) -> dict[str, float]:
    """The interval and per-family figures of closed-loop success, task by task.

    Args:
        correct: whether each task was solved.
        families: each task's family (:func:`task_family`), in the same order.

    Returns:
        ``task/accuracy_low`` and ``task/accuracy_high`` (the 95 % Wilson score interval of
        ``task/accuracy``; nothing when there is no task), and for every family present
        ``task/family/<kind>/accuracy`` and ``task/family/<kind>/n``, families in
        :data:`TASK_FAMILIES` order, then any other in order of appearance.

    Raises:
        ValueError: ``correct`` and ``families`` differ in length.

    Example:
        >>> kinds = ["existence", "diagnosis", "existence"]
        >>> metrics = task_success_metrics([True, False, True], kinds)
        >>> round(metrics["task/accuracy_low"], 3), metrics["task/family/existence/accuracy"]
        (0.208, 1.0)
    """
    if len(correct) != len(families):
        raise ValueError(f"{len(correct)} outcomes but {len(families)} task families")
    metrics: dict[str, float] = {}
    if correct:
        low, high = wilson_interval(sum(map(bool, correct)), len(correct))
        metrics.update({"task/accuracy_low": low, "task/accuracy_high": high})
    present = list(dict.fromkeys(families))
    ordered = [f for f in TASK_FAMILIES if f in present] + [
        f for f in present if f not in TASK_FAMILIES
    ]
    for family in ordered:
        outcomes = [bool(c) for c, f in zip(correct, families, strict=True) if f == family]
        metrics[f"task/family/{family}/accuracy"] = sum(outcomes) / len(outcomes)
        metrics[f"task/family/{family}/n"] = len(outcomes)
    return metrics


def task_success(context: EvalContext) -> EvalResult:
    """Closed-loop success of the student on the eval task file: the summary of
    :func:`~prism.evaluation.task_success.summarize` with :func:`task_success_metrics`, and a
    ``tasks`` row per task with its family (``kind``, :func:`task_family`).

    Parameters (``evaluation.task_success``): ``max_new_tokens``
    (:data:`~prism.student.planner.MAX_NEW_TOKENS`), ``batch_size`` (8: tasks run at once,
    their turns generated in one batch; 1: one at a time), and, to depart from the
    run's closed-loop settings (``context.closed_loop``: the generation parameters'),
    ``graph_unknown`` (hidden fractions, cycled over tasks), ``max_iterations`` and
    ``max_attempts``.

    Raises:
        ValueError: the closed-loop settings are neither in the parameters nor in the context.
    """
    from prism.student.batching import batched_student

    if context.eval_suite is None:
        return EvalResult(metrics={})
    params = context.params
    loop = context.closed_loop
    missing = [
        name
        for name in ("graph_unknown", "max_iterations", "max_attempts")
        if name not in params and loop is None
    ]
    if missing:
        raise ValueError(
            f"task_success needs {', '.join(missing)}: pass them in its parameters or run it "
            "with the closed-loop settings of a configuration (EvalContext.closed_loop)"
        )
    student, batch = batched_student(
        context.model, context.tokenizer, context.prompt_format, params
    )
    with student as batched:
        summary, results = evaluate_planner(
            lambda _task, _sim: batched,
            context.eval_suite,
            graph_unknown=list(params.get("graph_unknown") or loop.graph_unknown),
            seed=context.seed,
            max_iterations=int(params.get("max_iterations") or loop.max_iterations),
            max_attempts=int(params.get("max_attempts") or loop.max_attempts),
            progress="student on eval tasks",
            workers=batch,
        )
    families = [task_family(context.eval_suite.tasks[r["index"]]) for r in results]
    rows = [
        {
            # the family next to the task's text, then the outcome
            **{k: result[k] for k in ("index", "graph_index", "task")},
            "kind": family,
            **{k: v for k, v in result.items() if k not in ("transcript", "rejected")},
        }
        for result, family in zip(results, families, strict=True)
    ]
    transcripts = [
        {
            "index": r["index"],
            "task": r["task"],
            "transcript": r["transcript"],
            "rejected": r["rejected"],
        }
        for r in results
    ]
    metrics = {**summary, **task_success_metrics([r["correct"] for r in results], families)}
    return EvalResult(
        metrics=metrics, tables={"tasks": rows}, artifacts={"transcripts": transcripts}
    )


@hookimpl
def prism_register_evaluators() -> list[EvaluatorPlugin]:
    """prism's own evaluators."""
    return [
        EvaluatorPlugin(
            "token_metrics",
            token_metrics,
            "per-sample loss and token accuracy on the assistant tokens (train/eval/held_out)",
            metrics=("{split}/mean_loss", "{split}/mean_accuracy", "{split}/n"),
            sample_metrics=("loss", "accuracy"),
        ),
        EvaluatorPlugin(
            "task_success",
            task_success,
            "closed-loop success of the student planning in the simulator on the eval tasks",
            metrics=(
                "task/accuracy",
                "task/accuracy_low",
                "task/accuracy_high",
                "task/valid_rate",
                "task/n",
                *(
                    f"task/family/{family}/{name}"
                    for family in TASK_FAMILIES
                    for name in ("accuracy", "n")
                ),
            ),
            needs_eval_tasks=True,
            task_metric="task/accuracy",
        ),
    ]
