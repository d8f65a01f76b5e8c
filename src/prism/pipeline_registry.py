"""The project's pipelines, by the names ``kedro run --pipelines NAME`` takes."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from prism.pipelines import evaluation, generation, iterative, pretraining, training


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = {
        "generate": generation.create_pipeline(),
        "train": training.create_pipeline(),
        "pretrain": pretraining.create_pipeline(),
        "evaluate": evaluation.create_pipeline(),
        # n_episodes comes from the run's parameters (--params n_episodes=3): see EpisodeCountHook
        "iterative": iterative.create_pipeline(iterative.episode_count()),
    }
    pipelines["__default__"] = pipelines["generate"]
    return pipelines
