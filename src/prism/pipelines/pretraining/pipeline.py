"""The pretraining pipeline: ``kedro run --pipelines pretrain``."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from prism.pipelines.pretraining.nodes import (
    check_pretraining_params,
    plot_pretraining,
    pretrain_base,
    probe_set,
)


def create_pipeline() -> Pipeline:
    """params:pretraining -> config -> planner_base + metrics + plot (+ the probe questions)."""
    return Pipeline(
        [
            Node(
                check_pretraining_params,
                "params:pretraining",
                "pretraining_config",
                name="check_pretraining_params",
            ),
            Node(probe_set, "pretraining_config", "pretraining_probe", name="probe_set"),
            Node(
                pretrain_base,
                ["pretraining_config", "pretraining_checkpoints"],
                ["planner_base", "pretraining_metrics"],
                name="pretrain_base",
            ),
            Node(
                plot_pretraining,
                "pretraining_metrics",
                "pretraining_plot",
                name="plot_pretraining",
            ),
        ]
    )
