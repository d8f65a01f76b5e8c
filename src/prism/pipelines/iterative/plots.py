"""The iterative loop's plots, one point per episode, from the episodes' table
(:func:`prism.pipelines.iterative.reports.tabulate_episodes`).

:func:`plot_episode_metrics` draws the token loss, the token accuracy and the closed-loop task
success per episode: the student's success with its 95 % Wilson interval as error bars, the
teacher's and the untuned base's on the same tasks as lines, and each episode's paired
comparison with the previous one (its McNemar p-value) beside its point.
:func:`plot_dataset_growth` draws the samples trained on and added per episode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: The token metrics drawn, per split.
LOSS_METRICS = ("train/mean_loss", "eval/mean_loss", "held_out/mean_loss")
ACCURACY_METRICS = ("train/mean_accuracy", "eval/mean_accuracy", "held_out/mean_accuracy")


def plot_episode_metrics(table: pd.DataFrame, summary: Mapping[str, Any]) -> Figure:
    """Loss, accuracy and task success per episode, the best episode marked (dotted).

    The task-success panel has the student's ``task/accuracy`` with error bars from
    ``task/accuracy_low`` to ``task/accuracy_high``, the teacher's ``teacher/task_accuracy``
    (dashed) and the untuned base's ``base/task_accuracy`` (dotted, its interval shaded), and
    ``p`` beside each point: the McNemar p-value against the previous episode
    (``paired/previous/p_value``; episode 1's previous is the base).
    """
    fig = Figure(figsize=(15, 3.9))
    loss_ax, acc_ax, task_ax = fig.subplots(1, 3)
    episodes = list(table["episode"]) if not table.empty else []
    for ax, names in ((loss_ax, LOSS_METRICS), (acc_ax, ACCURACY_METRICS)):
        drawn = [name for name in names if _reported(table, name)]
        for name in drawn:
            ax.plot(episodes, table[name], marker="o", label=name)
        _finish(ax, episodes, summary, bool(drawn))
    _plot_task_success(task_ax, table, episodes)
    _finish(task_ax, episodes, summary, _reported(table, "task/accuracy"))
    loss_ax.set(ylabel="mean loss", title="Token loss per episode")
    acc_ax.set(ylabel="token accuracy", title="Token accuracy per episode")
    task_ax.set(ylabel="tasks solved", title="Task success, 95 % Wilson (p: McNemar vs previous)")
    for ax in (acc_ax, task_ax):
        ax.set_ylim(-0.02, 1.02)
    objective = summary.get("objective")
    if objective:
        fig.suptitle(
            f"best episode {summary.get('best_episode')} by {objective} "
            f"({summary.get('objective_type', 'max')}), dotted",
            fontsize=9,
        )
    fig.tight_layout()
    return fig


def _plot_task_success(ax: Axes, table: pd.DataFrame, episodes: list[Any]) -> None:
    if not _reported(table, "task/accuracy"):
        return
    rate = table["task/accuracy"]
    if _reported(table, "task/accuracy_low") and _reported(table, "task/accuracy_high"):
        errors = [
            (rate - table["task/accuracy_low"]).fillna(0),
            (table["task/accuracy_high"] - rate).fillna(0),
        ]
    else:
        errors = None
    ax.errorbar(
        episodes,
        rate,
        yerr=errors,
        marker="o",
        capsize=4,
        color="tab:red",
        label="student task/accuracy",
    )
    if _reported(table, "paired/previous/p_value"):
        for episode, value, p_value in zip(
            episodes, rate, table["paired/previous/p_value"], strict=True
        ):
            if pd.notna(value) and pd.notna(p_value):
                ax.annotate(
                    f"p={p_value:.2g}",
                    (episode, value),
                    textcoords="offset points",
                    xytext=(6, -10),
                    fontsize=7,
                )
    if _reported(table, "teacher/task_accuracy"):
        ax.plot(
            episodes, table["teacher/task_accuracy"], ls="--", color="tab:green", label="teacher"
        )
    if _reported(table, "base/task_accuracy"):
        first = table.dropna(subset=["base/task_accuracy"]).iloc[0]
        ax.axhline(first["base/task_accuracy"], ls=":", color="tab:purple", label="untuned base")
        low, high = first.get("base/task_accuracy_low"), first.get("base/task_accuracy_high")
        if pd.notna(low) and pd.notna(high):
            ax.axhspan(low, high, color="tab:purple", alpha=0.12, lw=0)


def _reported(table: pd.DataFrame, name: str) -> bool:
    return name in table and bool(table[name].notna().any())


def _finish(ax: Axes, episodes: list[Any], summary: Mapping[str, Any], drawn: bool) -> None:
    if not drawn:
        ax.text(0.5, 0.5, "not reported", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=7)
    best = summary.get("best_episode")
    if best is not None:
        ax.axvline(best, color="grey", ls=":", lw=1)
    ax.set_xticks(episodes)
    ax.margins(x=0.12)  # room for the p-values beside the last point
    ax.set_xlabel("episode")


def plot_dataset_growth(table: pd.DataFrame) -> Figure:
    """Samples per episode: what the episode trained on, and the new samples it added."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
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
