"""Nodes of the pretraining pipeline (``conf/base/parameters_pretraining.yml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from prism.pretraining.corpus import probe_items
from prism.pretraining.pretrain import PretrainConfig, pretrain
from prism.student.bundle import ModelBundle


def check_pretraining_params(params: dict[str, Any]) -> PretrainConfig:
    """Check every parameter before anything is built (a wrong one fails in seconds)."""
    return PretrainConfig.from_params(params)


def probe_set(config: PretrainConfig) -> list[dict[str, Any]]:
    """The held-out probe questions, for reading next to the scores."""
    return [
        {
            "kind": item.kind,
            "question": item.messages[-1]["content"],
            "accepted": list(item.accepted),
        }
        for item in probe_items(config.corpus, config.probe_items)
    ]


def pretrain_base(config: PretrainConfig, checkpoints: Path) -> tuple[ModelBundle, dict[str, Any]]:
    """Pretrain the planner base (resuming from the latest checkpoint of this configuration)."""
    return pretrain(config, checkpoints)


def plot_pretraining(metrics: dict[str, Any]) -> Figure:
    """Training loss and probe accuracy per kind against steps."""
    fig = Figure(figsize=(10, 3.6))
    ax_loss, ax_probe = fig.subplots(1, 2)
    losses = metrics.get("loss_history", [])
    ax_loss.plot([e["step"] for e in losses], [e["loss"] for e in losses], color="tab:blue")
    ax_loss.set(xlabel="step", ylabel="training loss", title="Pretraining loss")
    history = metrics.get("probe_history", [])
    kinds = sorted({k for e in history for k in e if k.startswith("probe/")})
    for kind in kinds:
        ax_probe.plot(
            [e["step"] for e in history], [e[kind] for e in history], marker="o", label=kind[6:]
        )
    ax_probe.set(xlabel="step", ylabel="exact match", ylim=(0, 1), title="Held-out probe")
    if kinds:
        ax_probe.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
