"""How many episodes the iterative pipeline is built with: ``n_episodes`` of the run's parameters.

The pipeline's shape depends on ``n_episodes`` (one namespace per episode), but Kedro builds the
project's pipelines in ``register_pipelines()``, which gets no parameters. Kedro does build them
lazily, on first use in a run, after the run's ``KedroContext`` exists; :class:`EpisodeCountHook`
(``after_context_created``) reads ``n_episodes`` from that context's configuration, ``--params``
included, and :func:`episode_count` hands it to ``register_pipelines()``::

    # settings.py
    HOOKS = (..., EpisodeCountHook())
    # pipeline_registry.py
    "iterative": iterative.create_pipeline(iterative.episode_count()),

Outside a run (``kedro registry list``, a notebook) :func:`episode_count` reads the project's
configuration files instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)

#: ``n_episodes`` when no configuration can be read (the seed's default).
DEFAULT_EPISODES = 5

_state: dict[str, Any] = {"configured": None, "built": None}


def read_n_episodes(parameters: Any) -> Any:
    """``iterative.n_episodes`` of a parameters mapping (``None`` when absent)."""
    iterative = parameters.get("iterative") if hasattr(parameters, "get") else None
    return iterative.get("n_episodes") if hasattr(iterative, "get") else None


def buildable(n_episodes: Any) -> int:
    """The number of episodes to build for a configured value.

    A value that is not an integer >= 1 builds one episode: the run then stops in its first
    node (``check_iterative_inputs``) with a message naming the parameter, instead of the
    project failing to list its pipelines.
    """
    if isinstance(n_episodes, int) and not isinstance(n_episodes, bool) and n_episodes >= 1:
        return n_episodes
    return 1


def episode_count() -> int:
    """``n_episodes`` of the current run (set by :class:`EpisodeCountHook`), else of the
    project's configuration files, else :data:`DEFAULT_EPISODES`."""
    configured = _state["configured"]
    if configured is None:
        configured = _from_config_files()
    count = buildable(configured)
    _state["built"] = count
    return count


def _from_config_files() -> Any:
    from kedro.config import OmegaConfigLoader
    from kedro.framework.project import settings
    from kedro.utils import find_kedro_project

    project = find_kedro_project(Path.cwd())
    if project is None:
        return DEFAULT_EPISODES
    try:
        loader = OmegaConfigLoader(
            conf_source=str(project / settings.CONF_SOURCE), **settings.CONFIG_LOADER_ARGS
        )
        return read_n_episodes(loader["parameters"])
    except Exception as error:  # listing pipelines must not fail on a config problem
        logger.debug("n_episodes not readable from the configuration: %s", error)
        return DEFAULT_EPISODES


class EpisodeCountHook:
    """Make ``n_episodes`` of the run (``--params n_episodes=3`` included) shape the iterative
    pipeline, and warn when the loop runs without ``--only-missing-outputs`` (on which resuming a
    killed run rests)."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        # The raw configuration, not context.params: that one validates the parameters against
        # every pipeline and so would build them before n_episodes is known.
        n_episodes = read_n_episodes(context.config_loader["parameters"])
        _state["configured"] = n_episodes
        built = _state["built"]
        if built is not None and built != buildable(n_episodes):
            # Pipelines built for another count earlier in this process: build them again.
            from kedro.framework import project

            if project.PACKAGE_NAME:
                project.pipelines.configure(f"{project.PACKAGE_NAME}.pipeline_registry")

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        iterative = any(n.name.startswith("iterative.") for n in pipeline.nodes)
        if iterative and not run_params.get("only_missing_outputs"):
            logger.warning(
                "the iterative loop runs without --only-missing-outputs: finished episodes in "
                "output_dir are trained again instead of being continued"
            )
