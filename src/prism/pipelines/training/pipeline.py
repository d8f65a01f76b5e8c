"""The training pipeline: ``kedro run --pipelines train``."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from prism.pipelines.training.nodes import (
    check_training_inputs,
    load_training_samples,
    prepare_base,
    split_train_val,
    train,
)


def create_pipeline(build_base: bool = True) -> Pipeline:
    """params:training -> training_config; training_data -> samples -> (split, student base)
    -> student model + metrics.

    ``check_training_inputs`` reads the parameters once, into the typed ``training_config``
    every other node takes, so a wrong value stops the run before anything is written.
    ``student_base_cache`` and ``student_base`` are the same directory: the first, optional,
    lets a built-in base from an earlier run be reused instead of rebuilt.

    Args:
        build_base: include the node that prepares ``student_base``. The iterative loop passes
            ``False`` for its episodes, which then share one ``student_base`` as an input
            (a dataset can have only one producing node).
    """
    nodes = [
        Node(
            check_training_inputs,
            "params:training",
            "training_config",
            name="check_training_inputs",
        ),
        Node(
            load_training_samples, "training_data", "training_samples", name="load_training_samples"
        ),
        Node(
            split_train_val,
            ["training_samples", "training_config"],
            "training_split",
            name="split_train_val",
        ),
        Node(
            train,
            [
                "training_samples",
                "training_split",
                "student_base",
                "training_config",
                "training_checkpoints",
            ],
            ["student_model", "training_metrics"],
            name="train_student",
        ),
    ]
    if build_base:
        nodes.append(
            Node(
                prepare_base,
                ["training_samples", "student_base_cache", "training_config"],
                "student_base",
                name="prepare_student_base",
            )
        )
    return Pipeline(nodes)
