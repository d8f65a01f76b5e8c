"""The iterative loop's reports: one summary per episode, the best episode, and the table and
plots of all of them.

:func:`summarize_episode` gathers what an episode did into one JSON record
(``episode_N/episode_summary.json``): its metrics, its dataset's growth, its training and the
per-sample metrics of every split. wandb logs that record as the episode's step
(:class:`prism.hooks.wandb_run.WandbEpisodeHook`). After the last episode :func:`select_best_episode`
ranks the episodes by the objective (``best_model`` links the best), and
:func:`report_episodes` tabulates the records of every episode, prints the table with the
success intervals and the paired comparisons, and plots them
(:mod:`prism.pipelines.iterative.plots`). Plain functions: ``pipeline.py`` wires them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from prism.pipelines.iterative.comparison import (
    BASE_METRICS,
    PAIRED_FIGURES,
    REFERENCES,
    base_metrics,
    paired_metrics,
)
from prism.pipelines.iterative.config import IterativeConfig, IterativeConfigError
from prism.pipelines.iterative.plots import (
    ACCURACY_METRICS,
    LOSS_METRICS,
    plot_dataset_growth,
    plot_episode_metrics,
)
from prism.progress import format_duration
from prism.values import is_finite_number

logger = logging.getLogger(__name__)

#: Values of an episode's ``training_metrics`` that its summary keeps, by the name the summary
#: gives them (wandb logs them as ``training/<name>``).
TRAINING_VALUES = {
    "loss_first": "train_loss_first",
    "loss_last": "train_loss_last",
    "val_loss_before": "val_loss_before",
    "val_loss_after": "val_loss_after",
    "steps": "steps",
    "seconds": "train_seconds",
    "tokens_per_second": "tokens_per_second",
}
#: Per-sample metrics of the evaluation's ``samples`` table that a summary keeps, by split.
SAMPLE_METRICS = ("accuracy", "loss")

#: The table's first metric columns: the token metrics of each split, the closed-loop success
#: of the student (with its interval), the teacher and the untuned base, then the paired
#: comparisons; any other metric follows by name.
_METRIC_ORDER = (
    *LOSS_METRICS,
    *ACCURACY_METRICS,
    "task/accuracy",
    "task/accuracy_low",
    "task/accuracy_high",
    "task/valid_rate",
    "teacher/task_accuracy",
    "task/of_teacher",
    *BASE_METRICS.values(),
    *(f"paired/{name}/{figure}" for name in REFERENCES for figure in PAIRED_FIGURES),
)


# ---------------------------------------------------------------------------------- episode
def collection_metrics(report: Mapping[str, Any]) -> dict[str, Any]:
    """``probe/accuracy`` and ``probe/n``, and the DAgger collection's ``collection/beta``,
    ``collection/states`` (labelled), ``collection/distinct_states`` and
    ``collection/label_failures``, from an episode's collection report."""
    metrics = {k: v for k, v in (report.get("probe") or {}).items() if k.startswith("probe/")}
    collection = report.get("collection") or {}
    for name in ("beta", "states", "distinct_states"):
        if name in collection:
            metrics[f"collection/{name}"] = collection[name]
    if collection:
        metrics["collection/label_failures"] = len(report.get("failed_labels") or [])
    return metrics


def summarize_episode(
    training_metrics: Mapping[str, Any],
    evaluation_metrics: Mapping[str, Any],
    evaluation_tables: Mapping[str, Sequence[Mapping[str, Any]]],
    samples: Sequence[Mapping[str, Any]],
    new_samples: Sequence[Mapping[str, Any]],
    paired_comparison: Mapping[str, Any],
    base_evaluation: Mapping[str, Any],
    collection_report: Mapping[str, Any] | None = None,
    *,
    episode: int,
) -> dict[str, Any]:
    """What one episode did, as one JSON record; only finite numbers are kept.

    Args:
        training_metrics: the episode's training metrics (``train_loss_first`` ...,
            ``train_losses``).
        evaluation_metrics: the episode's evaluation report (``{"metrics": ...}``).
        evaluation_tables: the evaluation's tables; ``samples`` has a row per sample and split.
        samples: the dataset the episode trained on.
        new_samples: the samples it generated and added.
        paired_comparison: the episode against the previous one and the untuned base, task by
            task (:func:`~prism.pipelines.iterative.comparison.compare_episode`).
        base_evaluation: the untuned base's evaluation report.
        collection_report: the closed-loop probe's summary (``probe/accuracy``, ``probe/n``)
            and the DAgger collection's statistics, when the episode ran them.
        episode: the episode's number.

    Returns:
        ``episode``; ``metrics`` (every metric of the report, the base's closed-loop success
        ``base/task_accuracy`` with its interval, and the paired comparisons
        ``paired/previous/...`` and ``paired/base/...``); ``dataset`` (``size`` trained
        on, ``new_samples``, ``next_size``); ``training`` (the :data:`TRAINING_VALUES`);
        ``loss_curve`` (``[optimizer step, loss]`` rows); ``samples``
        (``{split: {"accuracy": [...], "loss": [...]}}``, the per-sample values).
    """
    reported = {
        **(evaluation_metrics.get("metrics") or {}),
        **base_metrics(base_evaluation),
        **paired_metrics(paired_comparison),
        **collection_metrics(collection_report or {}),
    }
    metrics = {k: float(v) for k, v in reported.items() if is_finite_number(v)}
    training = {
        name: training_metrics[key]
        for name, key in TRAINING_VALUES.items()
        if is_finite_number(training_metrics.get(key))
    }
    return {
        "episode": episode,
        "metrics": metrics,
        "dataset": {
            "size": len(samples),
            "new_samples": len(new_samples),
            "next_size": len(samples) + len(new_samples),
        },
        "training": training,
        "loss_curve": _loss_curve(training_metrics),
        "samples": _per_sample_values(evaluation_tables),
    }


def _loss_curve(metrics: Mapping[str, Any]) -> list[list[float]]:
    # The Trainer logs every logging_steps optimizer steps: spread the losses over the steps.
    losses = [float(v) for v in metrics.get("train_losses") or [] if is_finite_number(v)]
    if not losses:
        return []
    steps = metrics.get("steps") if is_finite_number(metrics.get("steps")) else len(losses)
    return [[round((i + 1) * steps / len(losses)), loss] for i, loss in enumerate(losses)]


def _per_sample_values(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, dict[str, list[float]]]:
    by_split: dict[str, dict[str, list[float]]] = {}
    for row in tables.get("samples", []):
        split = by_split.setdefault(str(row.get("split")), {name: [] for name in SAMPLE_METRICS})
        for name, values in split.items():
            if is_finite_number(row.get(name)):
                values.append(float(row[name]))
    return {
        split: {name: values for name, values in metrics.items() if values}
        for split, metrics in by_split.items()
        if any(metrics.values())
    }


# ---------------------------------------------------------------------------------- the loop
def select_best_episode(
    config: IterativeConfig, *reports: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rank the episodes by ``objective`` (``objective_type`` max or min).

    Args:
        config: the loop's configuration.
        reports: each episode's evaluation metrics report, episode 1 first.

    Returns:
        The selection (``{"episode": N, ...}``, which the ``best_model`` dataset links) and a
        summary of every episode's objective and ``eval_metric``.

    Raises:
        IterativeConfigError: no episode reported the objective (the evaluators' errors are
            named).
    """
    episodes = []
    for episode, report in enumerate(reports, start=1):
        metrics = report.get("metrics", {})
        episodes.append(
            {
                "episode": episode,
                "objective": metrics.get(config.objective),
                "eval_metric": metrics.get(config.eval_metric),
                "metrics": metrics,
                "errors": report.get("errors", {}),
            }
        )
    scored = [e for e in episodes if is_finite_number(e["objective"])]
    if not scored:
        errors = {e["episode"]: e["errors"] for e in episodes if e["errors"]}
        raise IterativeConfigError(
            f"objective {config.objective!r} was reported by no episode"
            + (f"; evaluator errors: {errors}" if errors else "")
        )
    # the earliest of equally good episodes
    best = max(scored, key=lambda e: (config.objective_score(e["objective"]), -e["episode"]))
    logger.info(
        "best episode: %d with %s %.4g (%s)",
        best["episode"],
        config.objective,
        best["objective"],
        config.objective_type,
    )
    selection = {
        "episode": best["episode"],
        "objective": config.objective,
        "objective_type": config.objective_type,
        "value": best["objective"],
    }
    summary = {
        **selection,
        "best_episode": best["episode"],
        "eval_metric": config.eval_metric,
        "episodes": [
            {k: e[k] for k in ("episode", "objective", "eval_metric", "errors")} for e in episodes
        ],
    }
    return selection, summary


def report_episodes(
    summary: Mapping[str, Any], *episodes: Mapping[str, Any]
) -> tuple[pd.DataFrame, Figure, Figure, str]:
    """The loop's report after the last episode: a table and two plots, one point per episode.

    Args:
        summary: the output of :func:`select_best_episode` (objective, best episode).
        episodes: each episode's summary (:func:`summarize_episode`), episode 1 first.

    Returns:
        The table (:func:`tabulate_episodes`), the metrics plot, the dataset growth plot, and
        the table's main columns as text (for :func:`log_episode_report`).

    Raises:
        ValueError: the summaries are not those of episodes 1, 2, ... in order.
    """
    numbers = [e.get("episode") for e in episodes]
    if numbers != list(range(1, len(episodes) + 1)):
        raise ValueError(f"expected the summaries of episodes 1 to {len(episodes)}, got {numbers}")
    table = tabulate_episodes(summary, episodes)
    text = format_episode_report(table, summary)
    return table, plot_episode_metrics(table, summary), plot_dataset_growth(table), text


def format_episode_report(table: pd.DataFrame, summary: Mapping[str, Any]) -> str:
    """The table's main columns as aligned text that fits 80 columns, the best episode marked
    ``*``: the samples each episode trained on and the new ones it added, the objective (when it
    is not the closed-loop success; ``eval/mean_accuracy`` reads ``token acc``), the
    student's closed-loop success with its 95 % interval, and the paired comparisons with the
    previous episode and the untuned base (``+gained/-lost p=McNemar``). When the base was
    evaluated, a first row ``base`` shows its success. The teacher's success, the same for
    every episode as it is scored once, is the first line's; a teacher that differs between
    episodes gets a column.

    The full table, every metric under its own name, is ``iterative_metrics.csv``.
    """
    objective = summary.get("objective")
    shown = pd.DataFrame(
        {
            "": ["*" if best else "" for best in table["best"]],
            "episode": [str(n) for n in table["episode"]],
            "samples": [str(n) for n in table["dataset_size"]],
            "new": [str(n) for n in table["new_samples"]],
        }
    )
    for column in dict.fromkeys(c for c in (objective, "eval/mean_accuracy") if c in table):
        if column != "task/accuracy":
            shown[SHORT_NAMES.get(column, column)] = [_number(v) for v in table[column]]
    rows = table.to_dict("records")
    if "task/accuracy" in table:
        shown[TASK_COLUMN] = [_rate(row, "task/accuracy") for row in rows]
    teacher = [v for v in table.get("teacher/task_accuracy", []) if is_finite_number(v)]
    if len(set(teacher)) > 1:
        shown["teacher"] = [_number(v) for v in table["teacher/task_accuracy"]]
    for name in REFERENCES:
        if f"paired/{name}/difference" in table:
            shown[f"vs {name}"] = [_paired(row, name) for row in rows]
    # the first summary that has the base's figures (those of a run continued from before the
    # base was evaluated have none)
    base = next((r for r in rows if is_finite_number(r.get("base/task_accuracy"))), None)
    if base is not None:
        first = dict.fromkeys(shown.columns, "-")
        first.update({"": "", "episode": "base", TASK_COLUMN: _rate(base, "base/task_accuracy")})
        shown = pd.concat([pd.DataFrame([first]), shown], ignore_index=True)
    title = "episodes (* the best"
    if len(set(teacher)) == 1:
        title += f"; the teacher solves {teacher[0]:.2f} of the tasks"
    return f"{title})\n{shown.to_string(index=False)}"


def format_episode_line(
    summary: Mapping[str, Any], n_episodes: int, seconds: float, left: float | None = None
) -> str:
    """The line that ends an episode on the console: its closed-loop success with the 95 %
    interval (and the untuned base's and the teacher's), or its token accuracy when the eval
    tasks are skipped, the dataset it trained on and what it added, its time and, given
    ``left``, about how long the episodes after it will take, e.g. ``episode 2/5 done in 3 min
    12 s: task success 0.56 [0.47, 0.64] (base 0.55, teacher 0.98); trained on 128 samples,
    +10 -> 138; about 9 min 36 s left``.
    """
    metrics = summary.get("metrics") or {}
    if is_finite_number(metrics.get("task/accuracy")):
        result = f"task success {_rate(metrics, 'task/accuracy')}"
        references = [
            f"{name} {metrics[key]:.2f}"
            for name, key in (("base", "base/task_accuracy"), ("teacher", "teacher/task_accuracy"))
            if is_finite_number(metrics.get(key))
        ]
        if references:
            result += f" ({', '.join(references)})"
    elif is_finite_number(metrics.get("eval/mean_accuracy")):
        result = f"eval/mean_accuracy {metrics['eval/mean_accuracy']:.4g} (no eval tasks)"
    else:
        result = "no accuracy reported"
    dataset = summary.get("dataset") or {}
    line = (
        f"episode {summary.get('episode')}/{n_episodes} done in {format_duration(seconds)}: "
        f"{result}; trained on {dataset.get('size')} samples, "
        f"+{dataset.get('new_samples')} -> {dataset.get('next_size')}"
    )
    if left is not None:
        line += f"; about {format_duration(left)} left" if left > 0 else "; the report follows"
    return line


#: The report's column of the student's closed-loop success (``task/accuracy``) and its interval.
TASK_COLUMN = "success [95% CI]"

#: The report's headers for metrics whose names would widen it past 80 columns.
SHORT_NAMES = {"eval/mean_accuracy": "token acc"}


def _number(value: Any) -> str:
    return f"{value:.4g}" if is_finite_number(value) else "-"


def _rate(row: Mapping[str, Any], name: str) -> str:
    """``0.46 [0.38, 0.55]``: a success rate and its interval (``<name>_low``/``_high``)."""
    rate, low, high = (row.get(name), row.get(f"{name}_low"), row.get(f"{name}_high"))
    if _number(rate) == "-":
        return "-"
    if _number(low) == "-" or _number(high) == "-":
        return f"{rate:.2f}"
    return f"{rate:.2f} [{low:.2f}, {high:.2f}]"


def _paired(row: Mapping[str, Any], name: str) -> str:
    """``+12/-3 p=0.035``: tasks gained and lost against reference ``name`` and the McNemar
    p-value (the difference of the rates is the success column's)."""
    figures = [row.get(f"paired/{name}/{f}") for f in ("gained", "lost", "p_value")]
    if any(_number(v) == "-" for v in figures):
        return "-"
    gained, lost, p_value = figures
    return f"+{gained:.0f}/-{lost:.0f} p={p_value:.2g}"


def log_episode_report(report: str) -> None:
    """Log the episodes' table at the end of the run.

    A node without outputs runs on every run, so the report node that feeds it does too: a run
    continued with more episodes (``only_missing_outputs``) rewrites the table and the plots
    instead of keeping the earlier run's.
    """
    logger.info("iterative: %s", report)


def tabulate_episodes(
    summary: Mapping[str, Any], episodes: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per episode summary: ``episode``, ``dataset_size`` (samples trained on),
    ``new_samples`` (generated and added), ``next_dataset_size``, every metric of the
    episode (``train/mean_loss`` ... ``task/of_teacher``, then any other evaluator's, by name)
    and ``best`` (the episode ``best_model`` links, by ``objective``)."""
    rows = []
    for episode in episodes:
        dataset = episode["dataset"]
        rows.append(
            {
                "episode": episode["episode"],
                "dataset_size": dataset["size"],
                "new_samples": dataset["new_samples"],
                "next_dataset_size": dataset["next_size"],
                **episode["metrics"],
                "best": episode["episode"] == summary.get("best_episode"),
            }
        )
    fixed = ["episode", "dataset_size", "new_samples", "next_dataset_size"]
    names = {k for row in rows for k in row} - {*fixed, "best"}
    ordered = [m for m in _METRIC_ORDER if m in names] + sorted(names - set(_METRIC_ORDER))
    return pd.DataFrame(rows, columns=[*fixed, *ordered, "best"])
