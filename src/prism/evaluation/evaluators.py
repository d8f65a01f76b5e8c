"""The built-in evaluators, registered through the plugin hook like any third-party one.

* ``token_metrics`` — per-sample cross-entropy and next-token accuracy over the assistant tokens
  (the training loss), for the ``train``, ``eval`` (validation) and ``held_out`` splits:
  ``train/mean_loss``, ``train/mean_accuracy``, ``eval/...``, ``held_out/...``; table
  ``samples`` with one row per sample and split.
* ``task_success`` — the student plans in the simulator for every task of the eval task file
  (:mod:`prism.evaluation.task_success`): ``task/accuracy``, ``task/valid_rate``; table
  ``tasks`` with one row per task; the transcripts as an artifact.
"""

from __future__ import annotations

from typing import Any

from prism.evaluation.task_success import evaluate_planner
from prism.evaluation.token_metrics import mean_metrics, score_samples
from prism.plugins.hookspecs import hookimpl
from prism.plugins.types import EvalContext, EvalResult, EvaluatorPlugin

#: The splits token metrics are reported for, in this order.
SPLITS = ("train", "eval", "held_out")


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


def task_success(context: EvalContext) -> EvalResult:
    """Closed-loop success of the student on the eval task file.

    Parameters (``evaluation.task_success``): ``max_new_tokens`` (:data:`~prism.student.planner.MAX_NEW_TOKENS`), ``batch_size`` (8: tasks
    run at once, their turns generated in one batch; 1: one at a time), and, to depart from the
    run's closed-loop settings (``context.closed_loop``: the generation parameters'),
    ``graph_unknown`` (hidden fractions, cycled over tasks), ``max_iterations`` and
    ``max_attempts``.

    Raises:
        ValueError: the closed-loop settings are neither in the parameters nor in the context.
    """
    from prism.student.batching import BatchingPlanner
    from prism.student.planner import MAX_NEW_TOKENS, StudentPlanner

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
    planner = StudentPlanner(
        context.model,
        context.tokenizer,
        context.prompt_format,
        max_new_tokens=int(params.get("max_new_tokens", MAX_NEW_TOKENS)),
    )
    batch = int(params.get("batch_size", 8))
    with BatchingPlanner(planner, max_batch=batch) as batched:
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
    rows = [
        {k: v for k, v in result.items() if k not in ("transcript", "rejected")}
        for result in results
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
    return EvalResult(
        metrics=dict(summary), tables={"tasks": rows}, artifacts={"transcripts": transcripts}
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
            metrics=("task/accuracy", "task/valid_rate", "task/n"),
            needs_eval_tasks=True,
            task_metric="task/accuracy",
        ),
    ]
