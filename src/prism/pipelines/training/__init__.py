"""Kedro wiring of the student's training (the training code itself is in ``prism.training``)."""

from prism.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
