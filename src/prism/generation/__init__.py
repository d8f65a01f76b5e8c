"""Generation: scenes and tasks, a teacher's rollouts on them, training samples.

* :mod:`prism.generation.config`: :class:`GenerationConfig`, the checked parameters;
* :mod:`prism.generation.components`: the teacher and scene generator a configuration names,
  built by their plugins;
* :mod:`prism.generation.engine`: :func:`generate`, the resumable rollout engine;
* :mod:`prism.generation.target`: how a generation that must reach a number of samples adds
  further scenes when rollouts fail;
* :mod:`prism.generation.scoring`: :func:`score_teacher`, the teacher on an eval task file.

Example (offline: the procedural generator and the oracle)::

    config = GenerationConfig(n_samples=2)
    result = generate(config, JsonStore(tmp), build_scene_generator(config, None, {}),
                      build_teacher(config, None, {}))
    result.samples  # passed rollouts as training samples
"""

from prism.generation.components import (
    build_fallback,
    build_scene_generator,
    build_teacher,
    check_endpoints,
)
from prism.generation.config import ComponentConfig, ConfigError, GenerationConfig
from prism.generation.engine import GenerationResult, generate, run_store
from prism.generation.scoring import check_task_kinds, score_teacher
from prism.generation.stats import rollout_stats

__all__ = [
    "ComponentConfig",
    "ConfigError",
    "GenerationConfig",
    "GenerationResult",
    "build_fallback",
    "build_scene_generator",
    "build_teacher",
    "check_endpoints",
    "check_task_kinds",
    "generate",
    "rollout_stats",
    "run_store",
    "score_teacher",
]
