"""The loop's on-policy nodes: the closed-loop probe and the DAgger collection of an episode.

After an episode's training the student plans on fresh tasks of the training distribution (the
probe: never the eval file's tasks). Its outcomes are offered to the sampler (``task_failure``
seeds generation with the worlds it failed in). With ``collection`` ``dagger`` or ``mixed`` the
student then acts in the same worlds while the teacher labels every state it reaches
(:mod:`prism.generation.dagger`); those labelled states are the episode's new samples (all of
them, or half). Both are written as they finish, so a killed episode resumes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prism.formats.json_store import JsonStore
from prism.generation import (
    GenerationConfig,
    build_fallback,
    build_scene_generator,
    build_teacher,
)
from prism.generation.dagger import collect_states
from prism.generation.probe import probe_summary, probe_worlds, run_probe
from prism.pipelines.evaluation.nodes import EvaluationConfig
from prism.pipelines.iterative.config import IterativeConfig
from prism.pipelines.training.nodes import train
from prism.seeding import derive_seed
from prism.student.batching import batched_student
from prism.student.bundle import ModelBundle
from prism.student.prompt_format import get_format
from prism.training.base_models import StudentBase
from prism.training.config import TrainConfig
from prism.training.errors import TrainConfigError
from prism.training.split import Split


def probe_config(
    config: IterativeConfig, generation: Mapping[str, Any], episode: int
) -> GenerationConfig:
    """The probe's tasks: the loop's scenes (sizes, hidden fractions, tasks per scene) with a
    seed of their own per episode and no prior, for ``probe_tasks`` tasks."""
    return dataclasses.replace(
        config.generation_config(generation, episode),
        seed=derive_seed(config.seed, "probe", episode) % 2**31,
        n_samples=max(1, math.ceil(config.probe_tasks / config.tasks_per_sample)),
        priors=(),
    )


def probe_student(
    config: IterativeConfig,
    generation: Mapping[str, Any],
    evaluation: EvaluationConfig,
    student: ModelBundle,
    probe_store: JsonStore,
    collection_store: JsonStore,
    call_cache: JsonStore,
    credentials: Mapping[str, Any],
    episode: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """The student on the episode's probe tasks, and (``collection`` ``dagger``/``mixed``) the
    teacher's labels of every state it reaches in them.

    Returns:
        The probe's outcomes (one per task, with its world), the labelled states as training
        samples (failed worlds and states after rejections first), and a report: the probe's
        summary, the collection's statistics and its failed labels.
    """
    if config.probe_tasks == 0:
        return [], [], {"episode": episode, "probe": None, "collection": None}
    probe = probe_config(config, generation, episode)
    worlds = probe_worlds(probe, probe_store, build_scene_generator(probe, call_cache, credentials))
    worlds = worlds[: config.probe_tasks]
    planner, batch = batched_student(
        student.model,
        student.tokenizer,
        get_format(student.metadata.get("prompt_format", "spine")),
        evaluation.options.get("task_success", {}),
    )
    with planner as batched:
        outcomes = run_probe(lambda _task, _sim: batched, worlds, probe, workers=batch)
        report: dict[str, Any] = {"episode": episode, "probe": probe_summary(outcomes)}
        samples: list[dict[str, Any]] = []
        if config.collection != "teacher":
            result = collect_states(
                worlds,
                lambda _task, _sim: batched,
                build_teacher(probe, call_cache, credentials),
                build_fallback(probe),
                probe,
                collection_store,
                beta=config.beta(episode),
                seed=derive_seed(config.seed, "dagger", episode),
                workers=batch,
            )
            samples = result.samples
            report["collection"] = {"beta": config.beta(episode), **result.stats}
            report["failed_labels"] = result.failed
        else:
            report["collection"] = None
    return outcomes, samples, report


def train_episode(
    samples: list[dict[str, Any]],
    split: Split,
    base: StudentBase,
    training: TrainConfig,
    checkpoints: Path,
    config: IterativeConfig,
    previous_student: Path | None,
    previous_training: Mapping[str, Any],
) -> tuple[ModelBundle, dict[str, Any]]:
    """An episode after the first: trained from the previous episode's saved student with
    ``warm_start``, else from the fresh base like the first.

    ``previous_student`` is the previous episode's model folder as a path (nothing is loaded
    twice); ``previous_training``, the previous episode's training metrics, is written by the
    node that saves that folder, so this node runs after it.

    Raises:
        TrainConfigError: ``warm_start`` is set and the previous episode left no saved student.
    """
    del previous_training  # an input only to order this node after the previous episode's
    init_from = None
    if config.warm_start:
        if previous_student is None:
            raise TrainConfigError(
                "warm_start: the previous episode's model folder holds no saved student to "
                "continue from"
            )
        init_from = previous_student
    return train(samples, split, base, training, checkpoints, init_from=init_from)
