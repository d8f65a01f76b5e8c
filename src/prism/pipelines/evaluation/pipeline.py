"""The evaluation pipeline: ``kedro run --pipelines evaluate``."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from prism.pipelines import CREDENTIALS_DATASET
from prism.pipelines.evaluation.nodes import (
    check_evaluation_inputs,
    evaluate_student,
    plot_sample_accuracy,
    plot_task_outcomes,
    sample_table,
    summarize_evaluation,
    task_table,
    teacher_task_success,
)


def create_pipeline() -> Pipeline:
    """student_model + data + eval tasks -> metrics, per-sample and per-task tables, plots."""
    return Pipeline(
        [
            Node(
                check_evaluation_inputs,
                ["params:evaluation", "params:generation", "eval_tasks"],
                "evaluation_config",
                name="check_evaluation_inputs",
            ),
            Node(
                evaluate_student,
                [
                    "evaluation_config",
                    "student_model",
                    "training_data",
                    "training_split",
                    "held_out_data",
                    "eval_tasks",
                ],
                ["student_evaluation", "evaluation_tables", "evaluation_transcripts"],
                name="evaluate_student",
            ),
            Node(
                teacher_task_success,
                ["evaluation_config", "eval_tasks", "call_cache", CREDENTIALS_DATASET],
                "teacher_task_eval",
                name="score_teacher",
            ),
            Node(
                summarize_evaluation,
                ["student_evaluation", "teacher_task_eval"],
                "evaluation_metrics",
                name="summarize_evaluation",
            ),
            Node(sample_table, "evaluation_tables", "sample_metrics", name="sample_table"),
            Node(
                task_table,
                ["evaluation_tables", "teacher_task_eval"],
                "task_results",
                name="task_table",
            ),
            Node(
                plot_sample_accuracy, "sample_metrics", "sample_accuracy_plot", name="plot_samples"
            ),
            Node(plot_task_outcomes, "task_results", "task_outcomes_plot", name="plot_tasks"),
        ]
    )
