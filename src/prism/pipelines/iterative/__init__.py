"""The iterative train → evaluate → generate → retrain loop: ``kedro run --pipelines iterative``."""

from prism.pipelines.iterative.config import IterativeConfig, IterativeConfigError
from prism.pipelines.iterative.episodes import EpisodeCountHook, episode_count
from prism.pipelines.iterative.pipeline import create_pipeline

__all__ = [
    "EpisodeCountHook",
    "IterativeConfig",
    "IterativeConfigError",
    "create_pipeline",
    "episode_count",
]
