"""Nodes of the evaluation pipeline: run the configured evaluator plugins on a saved student.

The closed-loop evaluation uses the generation parameters' ``seed``, ``graph_unknown`` and turn
limits, and the teacher is scored with them (:func:`prism.generation.score_teacher`): student and
teacher face the same worlds, so ``task/of_teacher`` (student success / teacher success) is the
paper's headline measure. What each evaluator reports and needs is its plugin's declaration
(:class:`~prism.plugins.types.EvaluatorPlugin`); no evaluator is special here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from prism.config import ParameterError
from prism.formats.eval_tasks import EvalSuite
from prism.generation import GenerationConfig, build_teacher, check_task_kinds, score_teacher
from prism.plugins import ClosedLoop, EvalContext, get_evaluator, get_plugin_manager
from prism.student.bundle import ModelBundle
from prism.student.prompt_format import get_format

logger = logging.getLogger(__name__)

#: The teacher's metrics, which the evaluation adds when it scores the teacher on the eval tasks.
TEACHER_METRICS = ("teacher/task_accuracy", "task/of_teacher")


class EvaluationConfigError(ParameterError):
    """An evaluation parameter is wrong; the message names it."""


@dataclass(frozen=True)
class EvaluationConfig:
    """The checked ``evaluation`` parameters (``conf/base/parameters_evaluation.yml``).

    Attributes:
        evaluators: names of installed evaluator plugins, run in this order.
        skip_eval_tasks: leave out the closed-loop evaluators and the teacher.
        score_teacher: also run the teacher on the eval tasks.
        options: each evaluator's own parameters, by name.
        generation: the generation configuration: seed, hidden fractions and the teacher.
    """

    evaluators: tuple[str, ...]
    skip_eval_tasks: bool = False
    score_teacher: bool = True
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    generation: GenerationConfig | None = None

    def runs(self, name: str) -> bool:
        """Whether evaluator ``name`` runs (one that needs the eval tasks not when skipped)."""
        return not (self.skip_eval_tasks and get_evaluator(name).needs_eval_tasks)

    @property
    def runs_tasks(self) -> bool:
        """Some evaluator runs the eval task file."""
        return any(self.runs(e) and get_evaluator(e).needs_eval_tasks for e in self.evaluators)

    @property
    def task_metric(self) -> str | None:
        """The closed-loop success metric of the first running evaluator that declares one
        (``task_success``: ``task/accuracy``); ``None`` when none runs."""
        return next(
            (
                get_evaluator(e).task_metric
                for e in self.evaluators
                if self.runs(e) and get_evaluator(e).task_metric
            ),
            None,
        )

    @property
    def scores_teacher(self) -> bool:
        """The teacher is scored on the eval tasks, to compare with an evaluator's success."""
        return (
            self.score_teacher
            and self.generation is not None
            and any(self.runs(e) and get_evaluator(e).task_metric for e in self.evaluators)
        )

    def declared_metrics(self, splits: Sequence[str]) -> tuple[list[str], list[str]]:
        """The metrics the running evaluators declare for these splits (and the teacher's when
        it is scored), and the running evaluators that declare none."""
        names: list[str] = []
        undeclared: list[str] = []
        for name in self.evaluators:
            if not self.runs(name):
                continue
            declared = get_evaluator(name).metric_names(splits)
            if declared is None:
                undeclared.append(name)
            else:
                names += declared
        if self.scores_teacher:
            names += TEACHER_METRICS
        return names, undeclared

    @property
    def sample_metrics(self) -> tuple[str, ...]:
        """The per-sample metrics the configured evaluators write (for samplers)."""
        return tuple(
            dict.fromkeys(m for e in self.evaluators for m in get_evaluator(e).sample_metrics)
        )

    def closed_loop(self) -> ClosedLoop | None:
        """How the closed-loop evaluators' rollouts run: the generation parameters'."""
        if self.generation is None:
            return None
        return ClosedLoop(
            graph_unknown=tuple(self.generation.graph_unknown),
            max_iterations=self.generation.max_iterations,
            max_attempts=self.generation.max_attempts,
        )


def check_evaluation_inputs(
    params: Mapping[str, Any], generation_params: Mapping[str, Any], eval_tasks: EvalSuite
) -> EvaluationConfig:
    """Check parameters, evaluator names and the eval task file before anything runs.

    Raises:
        EvaluationConfigError: a malformed parameter.
        UnknownPluginError: an evaluator that is not installed (the message lists those that are).
    """
    known = {"evaluators", "skip_eval_tasks", "score_teacher", *get_plugin_manager().evaluators()}
    unknown = sorted(set(params) - known)
    if unknown:
        raise EvaluationConfigError(
            f"evaluation: unknown parameter(s) {unknown}; expected evaluators, skip_eval_tasks, "
            "score_teacher, or options named after an installed evaluator"
        )
    names = params.get("evaluators") or []
    if isinstance(names, str):
        names = [n.strip() for n in names.replace(";", ",").replace(" ", ",").split(",") if n]
    if not names:
        raise EvaluationConfigError("evaluation.evaluators: name at least one evaluator")
    for name in names:
        get_evaluator(name)  # raises UnknownPluginError listing the installed ones
    for flag in ("skip_eval_tasks", "score_teacher"):
        if not isinstance(params.get(flag, False), bool):
            raise EvaluationConfigError(f"evaluation.{flag} must be true or false")
    options = {name: dict(params.get(name) or {}) for name in names}
    config = EvaluationConfig(
        evaluators=tuple(names),
        skip_eval_tasks=params.get("skip_eval_tasks", False),
        score_teacher=params.get("score_teacher", True),
        options=options,
        generation=GenerationConfig.from_params(generation_params),
    )
    if config.runs_tasks:
        check_task_kinds(eval_tasks)  # a task with a kind no teacher knows fails here
    return config


def evaluate_student(
    config: EvaluationConfig,
    student: ModelBundle,
    samples: Sequence[Mapping[str, Any]],
    split: Mapping[str, Any],
    held_out: Sequence[Mapping[str, Any]] | None,
    eval_tasks: EvalSuite,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Run every configured evaluator; one that raises is reported and the others still run.

    Returns:
        The metrics report (``metrics``, ``errors`` by evaluator, ``evaluators``), every table by
        name, and the closed-loop transcripts.
    """
    by_id = {s["id"]: s for s in samples}
    splits = {
        "train": [by_id[i] for i in split.get("train", []) if i in by_id],
        "eval": [by_id[i] for i in split.get("val", []) if i in by_id],
        "held_out": list(held_out or []),
    }
    generation = config.generation or GenerationConfig.from_params({})
    closed_loop = config.closed_loop()
    metrics: dict[str, float] = {}
    errors: dict[str, str] = {}
    tables: dict[str, list[dict[str, Any]]] = {}
    transcripts: list[dict[str, Any]] = []
    for name in config.evaluators:
        if not config.runs(name):
            continue
        context = EvalContext(
            model=student.model,
            tokenizer=student.tokenizer,
            prompt_format=get_format(student.metadata.get("prompt_format", "spine")),
            splits=splits,
            eval_suite=None if config.skip_eval_tasks else eval_tasks,
            params=dict(config.options.get(name, {})),
            seed=generation.seed,
            closed_loop=closed_loop,
        )
        try:
            result = get_evaluator(name).run(context)
        except Exception as error:  # a plugin's bug must not cost the other evaluators' results
            logger.error("evaluator %r failed: %s: %s", name, type(error).__name__, error)
            errors[name] = f"{type(error).__name__}: {error}"
            continue
        metrics.update(result.metrics)
        for table, rows in result.tables.items():
            tables.setdefault(table, []).extend({"evaluator": name, **row} for row in rows)
        transcripts += result.artifacts.get("transcripts", [])
        logger.info("evaluator %s: %s", name, _brief(result.metrics))
    report = {"evaluators": list(config.evaluators), "metrics": metrics, "errors": errors}
    return report, tables, transcripts


def teacher_task_success(
    config: EvaluationConfig,
    eval_tasks: EvalSuite,
    call_cache: Any,
    credentials: Mapping[str, Any],
) -> dict[str, Any]:
    """The teacher's success on the same tasks and draws (empty when it is not scored)."""
    if not config.scores_teacher:
        return {}
    generation = config.generation
    return score_teacher(eval_tasks, generation, build_teacher(generation, call_cache, credentials))


def summarize_evaluation(report: dict[str, Any], teacher: dict[str, Any]) -> dict[str, Any]:
    """The report with the teacher's success and the student's share of it (the first
    evaluator's ``task_metric`` over the teacher's success)."""
    metrics = dict(report["metrics"])
    if teacher:
        metrics["teacher/task_accuracy"] = teacher["success_rate"]
        task_metric = next(
            (
                plugin.task_metric
                for plugin in map(get_evaluator, report["evaluators"])
                if plugin.task_metric in metrics
            ),
            None,
        )
        if task_metric and teacher["success_rate"] > 0:
            metrics["task/of_teacher"] = metrics[task_metric] / teacher["success_rate"]
    return {**report, "metrics": metrics, "teacher": teacher.get("teacher")}


#: Columns of the two built-in tables, so that an empty table still reads back as a table.
SAMPLE_COLUMNS = ("evaluator", "split", "id", "loss", "accuracy", "tokens")
TASK_COLUMNS = (
    "evaluator",
    "index",
    "graph_index",
    "task",
    "kind",
    "answer_regex",
    "correct",
    "valid",
    "reason",
    "answer",
    "iterations",
)


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(columns))


def sample_table(tables: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """Per-sample token metrics as a table (one row per sample and split)."""
    return _frame(tables.get("samples", []), SAMPLE_COLUMNS)


def task_table(tables: dict[str, list[dict[str, Any]]], teacher: dict[str, Any]) -> pd.DataFrame:
    """Per-task outcomes of the student, with the teacher's on the same task when scored."""
    frame = _frame(tables.get("tasks", []), TASK_COLUMNS)
    if teacher and not frame.empty:
        frame["teacher_correct"] = [t["correct"] for t in teacher["tasks"]][: len(frame)]
    return frame


def plot_sample_accuracy(samples: pd.DataFrame) -> Figure:
    """Histogram of per-sample token accuracy, one series per split."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    if samples.empty:
        ax.text(0.5, 0.5, "no token metrics", ha="center", va="center")
    else:
        for split, rows in samples.groupby("split", sort=False):
            values = [v for v in rows["accuracy"] if not math.isnan(v)]
            ax.hist(values, bins=20, range=(0, 1), alpha=0.6, label=f"{split} ({len(values)})")
        ax.legend(fontsize=8)
    ax.set(
        xlabel="token accuracy on assistant tokens", ylabel="samples", title="Per-sample accuracy"
    )
    fig.tight_layout()
    return fig


def plot_task_outcomes(tasks: pd.DataFrame) -> Figure:
    """Per-task outcome of the student (and the teacher) on the eval tasks."""
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    if tasks.empty:
        ax.text(0.5, 0.5, "no closed-loop tasks (skip_eval_tasks)", ha="center", va="center")
    else:
        reasons = tasks["reason"].fillna("correct")
        counts = reasons.value_counts()
        ax.barh(list(counts.index), list(counts.values), color="tab:blue", label="student")
        if "teacher_correct" in tasks:
            ax.axvline(
                int(tasks["teacher_correct"].sum()),
                color="tab:green",
                ls="--",
                label="teacher correct",
            )
        ax.legend(fontsize=8)
        rate = tasks["correct"].mean()
        ax.set_title(f"Student on {len(tasks)} eval tasks: {rate:.0%} correct")
    ax.set(xlabel="tasks")
    fig.tight_layout()
    return fig


def _brief(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in list(metrics.items())[:6])
