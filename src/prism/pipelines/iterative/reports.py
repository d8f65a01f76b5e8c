"""The iterative loop's reports: the best episode, and the table and plots of every episode.

After the last episode :func:`select_best_episode` ranks the episodes by the objective
(``best_model`` links the best), and :func:`report_episodes` tabulates and plots every episode.
Plain functions: ``pipeline.py`` wires them.
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


# ---------------------------------------------------------------------------------- best
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


# ---------------------------------------------------------------------------------- report
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


def report_episodes(
    summary: Mapping[str, Any], *episodes: Any, n_episodes: int
) -> tuple[pd.DataFrame, Figure, Figure, str]:
    """The loop's report after the last episode: a table and two plots, one point per episode.

    Args:
        summary: the output of :func:`select_best_episode` (objective, best episode).
        episodes: each episode's evaluation metrics report, then each episode's dataset (what
            it trained on), then each episode's new samples; ``n_episodes`` of each, episode 1
            first.
        n_episodes: the number of episodes.

    Returns:
        The table (:func:`tabulate_episodes`), the metrics plot, the dataset growth plot, and
        the table's main columns as text (for :func:`log_episode_report`).
    """
    if len(episodes) != 3 * n_episodes:
        raise ValueError(f"expected 3 x {n_episodes} episode inputs, got {len(episodes)}")
    reports = episodes[:n_episodes]
    datasets = episodes[n_episodes : 2 * n_episodes]
    new_samples = episodes[2 * n_episodes :]
    table = tabulate_episodes(
        summary, reports, [len(d) for d in datasets], [len(s) for s in new_samples]
    )
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
    summary: Mapping[str, Any],
    reports: Sequence[Mapping[str, Any]],
    dataset_sizes: Sequence[int],
    new_samples: Sequence[int],
) -> pd.DataFrame:
    """One row per episode: ``episode``, ``dataset_size`` (samples trained on),
    ``new_samples`` (generated and added), ``next_dataset_size``, every metric of the
    episode's report (``train/mean_loss`` ... ``task/of_teacher``, then any other evaluator's,
    by name) and ``best`` (the episode ``best_model`` links, by ``objective``)."""
    rows = []
    for episode, (report, size, new) in enumerate(
        zip(reports, dataset_sizes, new_samples, strict=True), start=1
    ):
        metrics = {k: float(v) for k, v in report.get("metrics", {}).items() if is_finite_number(v)}
        rows.append(
            {
                "episode": episode,
                "dataset_size": size,
                "new_samples": new,
                "next_dataset_size": size + new,
                **metrics,
                "best": episode == summary.get("best_episode"),
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
