"""Nodes of the generation pipeline: the catalog's parameters, stores and credentials in, the
generation library's results out (:mod:`prism.generation`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from prism.formats.eval_tasks import EvalSuite
from prism.formats.json_store import JsonStore
from prism.generation import (
    ConfigError,
    GenerationConfig,
    build_fallback,
    build_scene_generator,
    build_teacher,
    check_task_kinds,
    generate,
    score_teacher,
)


def check_generation_inputs(params: Mapping[str, Any], eval_tasks: EvalSuite) -> GenerationConfig:
    """Check the parameters (and, by loading it, the eval task file) before anything runs.

    Every other node of the pipeline depends on this one, so a wrong parameter or a malformed
    file stops the run before any output is written.

    Raises:
        ConfigError: naming the parameter and what is wrong with it.
    """
    config = GenerationConfig.from_params(params)
    if not eval_tasks.tasks:
        raise ConfigError(f"{eval_tasks.source}: the eval task file has no tasks")
    check_task_kinds(eval_tasks)
    return config


def generate_rollouts(
    config: GenerationConfig,
    rollout_store: JsonStore,
    call_cache: JsonStore,
    credentials: Mapping[str, Any],
    *,
    target: int | None = None,
    known: Collection[str] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    """Generate ``n_samples`` scenes x ``n_tasks`` tasks and a teacher rollout for each
    (:func:`prism.generation.generate`).

    Args:
        config: the checked ``generation`` parameters.
        rollout_store: where scenes and rollouts are written as they finish, in a folder per
            set of parameters; a rerun resumes from it.
        call_cache: on-disk cache of endpoint calls, so a rerun never pays twice.
        credentials: Kedro credentials (``conf/local/credentials.yml``) for endpoints.
        target: passed rollouts to reach, not counting ``known`` ids: further scenes are
            generated until then (:func:`prism.generation.generate`); ``None``: the scenes
            the configuration holds, no more.
        known: sample ids that do not count towards ``target``.

    Returns:
        The training samples (passed rollouts, canonical conversation format), the failed
        rollouts with their reasons, statistics, and the scenes with their tasks in the eval
        task file format.
    """
    result = generate(
        config,
        rollout_store,
        build_scene_generator(config, call_cache, credentials),
        build_teacher(config, call_cache, credentials),
        build_fallback(config),
        target=target,
        known=known,
    )
    return result.samples, result.failed, result.stats, result.scenes


def evaluate_teacher(
    suite: EvalSuite,
    config: GenerationConfig,
    call_cache: JsonStore,
    credentials: Mapping[str, Any],
) -> dict[str, Any]:
    """The configured teacher's success rate on the eval tasks
    (:func:`prism.generation.score_teacher`)."""
    return score_teacher(suite, config, build_teacher(config, call_cache, credentials))
