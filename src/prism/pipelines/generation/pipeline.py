"""The generation pipeline: ``kedro run --pipelines generate``."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from prism.hooks import CREDENTIALS_DATASET
from prism.pipelines.generation.nodes import evaluate_teacher, generate_rollouts


def create_pipeline() -> Pipeline:
    """Scenes and tasks → teacher rollouts → training samples, failures, statistics; and the
    teacher's success rate on the eval task file."""
    return Pipeline(
        [
            Node(
                generate_rollouts,
                inputs=[
                    "params:generation",
                    "generation.rollout_store",
                    "call_cache",
                    CREDENTIALS_DATASET,
                ],
                outputs=[
                    "generation.samples",
                    "generation.failed",
                    "generation.stats",
                    "generation.scenes",
                ],
                name="generate_rollouts",
            ),
            Node(
                evaluate_teacher,
                inputs=["eval_tasks", "params:generation", "call_cache", CREDENTIALS_DATASET],
                outputs="generation.teacher_eval",
                name="evaluate_teacher",
            ),
        ]
    )
