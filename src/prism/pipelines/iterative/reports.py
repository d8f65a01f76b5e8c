"""The iterative loop's reports: one summary per episode, the best episode, and the table and
plots of all of them.

:func:`summarize_episode` gathers what an episode did into one JSON record
(``episode_N/episode_summary.json``): its metrics, its dataset's growth, its training and the
per-sample metrics of every split. wandb logs that record as the episode's step
(:class:`prism.hooks.WandbEpisodeHook`). After the last episode :func:`select_best_episode`
ranks the episodes by the objective (``best_model`` links the best), and
:func:`report_episodes` tabulates and plots the records of every episode. Plain functions:
``pipeline.py`` wires them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from prism.pipelines.iterative.config import IterativeConfig, IterativeConfigError
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

#: Metrics drawn by :func:`plot_episode_metrics`, in the table's column order: the token
#: metrics of each split, then the closed-loop ones.
LOSS_METRICS = ("train/mean_loss", "eval/mean_loss", "held_out/mean_loss")
ACCURACY_METRICS = ("train/mean_accuracy", "eval/mean_accuracy", "held_out/mean_accuracy")
TASK_SERIES = ("task/accuracy", "teacher/task_accuracy")
_METRIC_ORDER = (
    *LOSS_METRICS,
    *ACCURACY_METRICS,
    "task/accuracy",
    "task/valid_rate",
    "teacher/task_accuracy",
    "task/of_teacher",
)


# ---------------------------------------------------------------------------------- episode
def summarize_episode(
    training_metrics: Mapping[str, Any],
    evaluation_metrics: Mapping[str, Any],
    evaluation_tables: Mapping[str, Sequence[Mapping[str, Any]]],
    samples: Sequence[Mapping[str, Any]],
    new_samples: Sequence[Mapping[str, Any]],
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
        episode: the episode's number.

    Returns:
        ``episode``; ``metrics`` (every metric of the report); ``dataset`` (``size`` trained
        on, ``new_samples``, ``next_size``); ``training`` (the :data:`TRAINING_VALUES`);
        ``loss_curve`` (``[optimizer step, loss]`` rows); ``samples``
        (``{split: {"accuracy": [...], "loss": [...]}}``, the per-sample values).
    """
    metrics = {
        k: float(v)
        for k, v in (evaluation_metrics.get("metrics") or {}).items()
        if is_finite_number(v)
    }
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
    """The table's main columns as aligned text: dataset sizes, the objective and the
    closed-loop success of student and teacher, the best episode marked ``*``."""
    objective = summary.get("objective")
    columns = [
        "episode",
        "dataset_size",
        "new_samples",
        *dict.fromkeys(
            c
            for c in (objective, "eval/mean_accuracy", "task/accuracy", "teacher/task_accuracy")
            if c and c in table
        ),
    ]
    shown = table[columns].copy()
    shown.insert(0, "", ["*" if best else "" for best in table["best"]])
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-")


def log_episode_report(report: str) -> None:
    """Log the episodes' table at the end of the run.

    A node without outputs runs on every run, so the report node that feeds it does too: a run
    continued with more episodes (``only_missing_outputs``) rewrites the table and the plots
    instead of keeping the earlier run's.
    """
    logger.info("iterative: episodes (* the best)\n%s", report)


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


def plot_episode_metrics(table: pd.DataFrame, summary: Mapping[str, Any]) -> Figure:
    """Loss and accuracy per episode: the token metrics of every split, the student's
    closed-loop task success and the teacher's on the same tasks; the best episode marked."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    episodes = list(table["episode"]) if not table.empty else []
    styles = {
        "task/accuracy": {"color": "tab:red", "label": "task/accuracy (student)"},
        "teacher/task_accuracy": {"ls": "--", "color": "tab:green", "label": "teacher task"},
    }
    for ax, names in ((loss_ax, LOSS_METRICS), (acc_ax, (*ACCURACY_METRICS, *TASK_SERIES))):
        drawn = 0
        for name in names:
            if name in table and table[name].notna().any():
                style = {"label": name, **styles.get(name, {})}
                ax.plot(episodes, table[name], marker="o", **style)
                drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "not reported", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.legend(fontsize=7)
        best = summary.get("best_episode")
        if best is not None:
            ax.axvline(best, color="grey", ls=":", lw=1)
        ax.set_xticks(episodes)
        ax.set_xlabel("episode")
    loss_ax.set(ylabel="mean loss", title="Token loss per episode")
    acc_ax.set(ylabel="accuracy / success", title="Accuracy and task success per episode")
    acc_ax.set_ylim(-0.02, 1.02)
    objective = summary.get("objective")
    if objective:
        fig.suptitle(
            f"best episode {summary.get('best_episode')} by {objective} "
            f"({summary.get('objective_type', 'max')}), dotted",
            fontsize=9,
        )
    fig.tight_layout()
    return fig


def plot_dataset_growth(table: pd.DataFrame) -> Figure:
    """Samples per episode: what the episode trained on, and the new samples it added."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if table.empty:
        ax.text(0.5, 0.5, "no episodes", ha="center", va="center")
    else:
        episodes = list(table["episode"])
        sizes = list(table["dataset_size"])
        new = list(table["new_samples"])
        ax.bar(episodes, sizes, color="tab:blue", label="trained on")
        ax.bar(episodes, new, bottom=sizes, color="tab:orange", label="new samples")
        for x, size, extra in zip(episodes, sizes, new, strict=True):
            ax.annotate(f"{size}+{extra}", (x, size + extra), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(episodes)
        ax.legend(fontsize=8, loc="lower right")
    ax.set(xlabel="episode", ylabel="samples", title="Dataset growth")
    fig.tight_layout()
    return fig
