"""Evaluation of a saved student: ``kedro run --pipelines evaluate``."""

from prism.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
