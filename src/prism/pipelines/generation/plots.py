"""Figures of a generation run, for people who would rather look than read JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure


def plot_generation_stats(stats: Mapping[str, Any]) -> Figure:
    """Passed and failed rollouts per task kind, and failures by reason, side by side."""
    figure = Figure(figsize=(11, 4), layout="constrained")
    by_kind, by_reason = figure.subplots(1, 2)
    kinds = list(stats["by_kind"])
    passed = [stats["by_kind"][k]["passed"] for k in kinds]
    failed = [stats["by_kind"][k]["failed"] for k in kinds]
    by_kind.barh(kinds, passed, color="tab:green", label="passed")
    by_kind.barh(kinds, failed, left=passed, color="tab:red", label="failed")
    by_kind.set_xlabel("rollouts")
    by_kind.set_title(
        f"{stats['passed']}/{stats['total']} rollouts passed ({100 * stats['success_rate']:.1f} %)"
    )
    by_kind.legend(loc="lower right")

    reasons = stats["failed_by_reason"] or {"none": 0}
    by_reason.barh(list(reasons), list(reasons.values()), color="tab:red")
    by_reason.set_xlabel("failed rollouts")
    by_reason.set_title("failures by reason")
    for axis in (by_kind, by_reason):
        axis.xaxis.get_major_locator().set_params(integer=True)
    return figure
