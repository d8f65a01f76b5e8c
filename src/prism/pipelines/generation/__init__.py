"""Generation: scenes and tasks, teacher rollouts, training samples."""

from prism.pipelines.generation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
