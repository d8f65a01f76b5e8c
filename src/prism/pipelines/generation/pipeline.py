"""The generation pipeline: ``kedro run --pipelines generate``."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from prism.pipelines import CREDENTIALS_DATASET
from prism.pipelines.generation.nodes import (
    check_generation_inputs,
    evaluate_teacher,
    generate_rollouts,
)
from prism.pipelines.generation.plots import plot_generation_stats


def create_pipeline() -> Pipeline:
    """Check inputs → scenes and tasks → teacher rollouts → training samples, failures and
    statistics; and the teacher's success rate on the eval task file."""
    return Pipeline(
        [
            Node(
                check_generation_inputs,
                inputs=["params:generation", "eval_tasks"],
                outputs="generation_config",
                name="check_generation_inputs",
            ),
            Node(
                generate_rollouts,
                inputs=["generation_config", "data_gen", "call_cache", CREDENTIALS_DATASET],
                outputs=[
                    "generated_samples",
                    "generated_failed",
                    "generation_stats",
                    "generated_scenes",
                ],
                name="generate_rollouts",
            ),
            Node(
                plot_generation_stats,
                inputs="generation_stats",
                outputs="generation_stats_plot",
                name="plot_generation_stats",
            ),
            Node(
                evaluate_teacher,
                inputs=["eval_tasks", "generation_config", "call_cache", CREDENTIALS_DATASET],
                outputs="teacher_eval",
                name="evaluate_teacher",
            ),
        ]
    )
