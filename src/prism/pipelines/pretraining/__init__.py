"""Pretraining of the offline planner base: ``kedro run --pipelines pretrain``."""

from prism.pipelines.pretraining.pipeline import create_pipeline

__all__ = ["create_pipeline"]
