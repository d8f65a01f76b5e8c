"""Nodes of the iterative loop that the generation, training and evaluation pipelines lack.

The loop reuses those pipelines' nodes for the work itself (training, evaluation, rollouts);
these nodes check the parameters and the endpoints, record the run, prepare the initial dataset,
make each episode's training configuration, pick the examples that seed each episode's
generation and merge the new samples (:mod:`prism.pipelines.iterative.new_samples`) into the
next episode's dataset. The best episode and the reports are
:mod:`prism.pipelines.iterative.reports`'s. Plain functions: ``pipeline.py`` wires them to
catalog entries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

from prism.config import fingerprint as fingerprint_hash
from prism.formats.conversations import dedupe
from prism.formats.eval_tasks import EvalSuite
from prism.generation import GenerationConfig, check_endpoints
from prism.pipelines.evaluation.nodes import EvaluationConfig, check_evaluation_inputs
from prism.pipelines.iterative.config import (
    IterativeConfig,
    IterativeConfigError,
    fingerprint_changes,
)
from prism.pipelines.iterative.inputs import (
    check_collection_reach,
    check_n_batch_fits,
    check_output_dir,
    check_planner_turns,
    check_sampler_needs,
)
from prism.pipelines.iterative.tracking import LoopTracking
from prism.plugins import SampleRequest, get_evaluator, get_sampler
from prism.scenes.base import Prior
from prism.seeding import derive_seed
from prism.training.base_models import BUILTIN, resolve_base_model
from prism.training.config import TrainConfig
from prism.values import is_finite_number
from prism.world.worlds import World

logger = logging.getLogger(__name__)

#: The heavy parts of a probe outcome, left out of what a sampler is offered.
TRANSCRIPT_KEYS = ("transcript", "rejected_turns")


# ---------------------------------------------------------------------------------- checks
def check_iterative_inputs(
    params: Mapping[str, Any],
    training: Mapping[str, Any],
    generation: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    initial_data: Sequence[Mapping[str, Any]],
    held_out_data: Sequence[Mapping[str, Any]] | None,
    eval_tasks: EvalSuite,
    previous_run: Mapping[str, Any] | None,
    built_episodes: int,
) -> tuple[IterativeConfig, EvaluationConfig, dict[str, Any], dict[str, Any]]:
    """Check every parameter and input file before anything is written.

    Every other node of the loop depends on this one (through :func:`record_run`). Besides the
    values themselves it checks that ``output_dir`` is no file, that ``n_batch`` can be done,
    that the initial data trains on SPINE responses (a warning, or with ``strict_data`` an
    error: :mod:`prism.pipelines.iterative.inputs`), that the sampler and evaluators are
    installed and give what it needs, resolves
    ``objective: auto`` (:meth:`IterativeConfig.with_objective_resolved`: the closed-loop task
    success when the eval tasks run, else ``eval/mean_accuracy``), checks that some
    evaluator reports the objective, and that ``output_dir`` holds no run made with other
    parameters (a run may be continued, e.g. with more episodes, but never overwritten by a
    different one; how an endpoint is reached, its ``base_url``, key and timeouts, may
    change). Whether the endpoints answer is :func:`check_generation_endpoints`'s to check.

    Args:
        params: the ``iterative`` parameters.
        training, generation, evaluation: the pipelines' own parameters, which the loop's
            parameters override.
        initial_data: the loaded ``initial_data`` file.
        held_out_data: the loaded ``held_out_data`` file, ``None`` when not given.
        eval_tasks: the loaded eval task file.
        previous_run: the record of the run already in ``output_dir``
            (``<output_dir>/iterative_run.json``), ``None`` when there is none.
        built_episodes: the number of episodes the pipeline was built with.

    Returns:
        The loop's configuration (its objective resolved), the evaluation configuration, the
        training parameters (before the per-episode run name), and the run's fingerprint
        (what :func:`record_run` records).

    Raises:
        IterativeConfigError: a wrong value, naming the parameter.
        DataFormatError: with ``strict_data``, initial samples that train on no SPINE response.
        UnknownPluginError: an unknown sampler or evaluator, listing the installed ones.
        TrainConfigError, ConfigError, BaseModelError: a wrong training or generation value.
    """
    config = IterativeConfig.from_params(params)
    if config.n_episodes != built_episodes:
        raise IterativeConfigError(
            f"n_episodes is {config.n_episodes} but the iterative pipeline was built with "
            f"{built_episodes} episodes: register prism.pipelines.iterative.EpisodeCountHook in "
            "settings.py HOOKS so that `--params n_episodes=N` shapes the pipeline"
        )
    check_output_dir(config.output_dir)
    get_sampler(config.sampling_strategy)  # UnknownPluginError lists the installed samplers
    training_params = config.training_params(training)
    base_model = str(training_params.get("base_model", ""))
    if base_model.lower() != BUILTIN:
        resolve_base_model(base_model)  # a missing shipped base or a bad path fails now
    first = config.generation_config(generation, episode=1)  # raises naming the parameter
    check_collection_reach(config, first)

    evaluation_params = {**dict(evaluation), "skip_eval_tasks": config.skip_eval_tasks}
    evaluation_config = check_evaluation_inputs(
        evaluation_params, _closed_loop_generation(config, generation), eval_tasks
    )
    objective = config.objective
    config = config.with_objective_resolved(evaluation_config.task_metric)
    if config.objective != objective:
        logger.info(
            "iterative: objective %s is %s (%s)",
            objective,
            config.objective,
            "the closed-loop task success" if evaluation_config.task_metric else "no eval tasks",
        )
    _check_objective(config, evaluation_config, held_out=bool(held_out_data), requested=objective)
    check_sampler_needs(config, evaluation_config)

    samples = list(initial_data)
    if not samples:
        raise IterativeConfigError(f"initial_data {config.initial_data}: the file holds no samples")
    if config.initial_dataset_size is not None and config.initial_dataset_size > len(samples):
        raise IterativeConfigError(
            f"initial_dataset_size is {config.initial_dataset_size} but initial_data "
            f"{config.initial_data} holds only {len(samples)} samples; pass at most {len(samples)}"
            " or leave it null for all of them"
        )
    check_planner_turns(config, samples)  # a warning, or with strict_data an error
    check_n_batch_fits(config, samples)

    fingerprint = config.fingerprint(
        training_params,
        {
            "initial_samples": _ids_hash(samples),
            "held_out_samples": _ids_hash(held_out_data or []),
            "eval_tasks": len(eval_tasks.tasks),
            "generation": _what_generation_makes(generation),
            "evaluation": evaluation_params,
        },
    )
    if previous_run is not None and previous_run.get("fingerprint") != fingerprint:
        changes = fingerprint_changes(previous_run.get("fingerprint") or {}, fingerprint)
        raise IterativeConfigError(
            f"output_dir {config.output_dir} holds an iterative run made with other parameters "
            f"({'; '.join(changes[:8]) or 'unknown differences'}); continue it with the same "
            "parameters (n_episodes and the objective may change), or pass another output_dir"
        )
    logger.info(
        "iterative: %d episode(s) of %d new samples, sampler %s, into %s",
        config.n_episodes,
        config.n_batch,
        config.sampling_strategy,
        config.output_dir,
    )
    return config, evaluation_config, training_params, fingerprint


def check_generation_endpoints(
    config: IterativeConfig, generation: Mapping[str, Any], credentials: Mapping[str, Any]
) -> dict[str, str]:
    """Fail now, with the endpoint's own message, if the teacher or the scene generator of the
    loop's generation is an endpoint that cannot be used (a network call; the local ones have
    nothing to check).

    Args:
        config: the loop's configuration, checked by :func:`check_iterative_inputs`.
        generation: the ``generation`` parameters.
        credentials: Kedro credentials (``conf/local/credentials.yml``) for endpoints.

    Returns:
        The kinds of the teacher and the scene generator that were checked.

    Raises:
        EndpointError: a missing key, an unreachable server, an unknown model.
    """
    first_generation = config.generation_config(generation, episode=1)
    check_endpoints(first_generation, credentials)  # EndpointError says what to fix
    return {
        "teacher": first_generation.teacher.kind,
        "scene_generator": first_generation.scene_generator.kind,
    }


def record_run(
    config: IterativeConfig,
    evaluation_config: EvaluationConfig,
    fingerprint: Mapping[str, Any],
    endpoints: Mapping[str, str],
) -> tuple[dict[str, Any], IterativeConfig, EvaluationConfig]:
    """Record the run's parameters (``<output_dir>/iterative_run.json``) once its inputs and
    endpoints are checked, and hand its configuration on.

    Every other node takes the configuration from here, so nothing is written before the run
    is recorded: a run killed at any point is continued, or refused, by that record.

    Args:
        config: the loop's configuration.
        evaluation_config: the evaluation configuration.
        fingerprint: what the run's outputs depend on (:meth:`IterativeConfig.fingerprint`).
        endpoints: what :func:`check_generation_endpoints` checked.

    Returns:
        The run record, and the configuration and evaluation configuration unchanged.
    """
    record = {
        "fingerprint": dict(fingerprint),
        "hash": fingerprint_hash(fingerprint),
        "n_episodes": config.n_episodes,
        "objective": config.objective,
        "objective_type": config.objective_type,
    }
    logger.info(
        "iterative: run %s recorded (teacher %s, scene generator %s)",
        record["hash"],
        endpoints.get("teacher"),
        endpoints.get("scene_generator"),
    )
    return record, config, evaluation_config


#: Endpoint settings that decide how a server is reached, not what it answers: a run may be
#: continued with them changed (a corrected ``base_url``, a new key, a longer timeout).
CONNECTION_SETTINGS = frozenset(
    {
        "base_url",
        "credentials",
        "api_key_env",
        "timeout_s",
        "max_retries",
        "backoff_s",
        "max_backoff_s",
        "max_concurrency",
    }
)


def _what_generation_makes(generation: Mapping[str, Any]) -> dict[str, Any]:
    """The generation parameters without those that cannot change the data: ``workers`` and
    the endpoints' connection settings."""

    def strip(value: Any, key: str = "") -> Any:
        if isinstance(value, Mapping):
            drop = CONNECTION_SETTINGS if key == "endpoint" else frozenset()
            return {k: strip(v, k) for k, v in value.items() if k not in drop}
        return value

    return {k: strip(v, k) for k, v in generation.items() if k != "workers"}


def _closed_loop_generation(config: IterativeConfig, generation: Mapping[str, Any]) -> dict:
    # Student and teacher are scored on worlds hidden the way the loop's data is generated.
    return {**dict(generation), "seed": config.seed, "graph_unknown": list(config.graph_unknown)}


def _check_objective(
    config: IterativeConfig, evaluation: EvaluationConfig, held_out: bool, requested: str
) -> None:
    splits = ["train", *(["eval"] if config.val_frac > 0 else []), *(["held_out"] * held_out)]
    metrics, undeclared = evaluation.declared_metrics(splits)
    if config.objective in metrics:
        pass
    elif undeclared:
        logger.warning(
            "objective %r is not a declared metric of the configured evaluators; it must come "
            "from %s, which declare none",
            config.objective,
            ", ".join(undeclared),
        )
    else:
        named = repr(config.objective)
        if requested != config.objective:
            named = f"{requested} ({named} when no eval tasks run)"
        raise IterativeConfigError(
            f"objective {named} is reported by no configured evaluator; available: "
            f"{', '.join(metrics) or 'none'} (evaluators {', '.join(evaluation.evaluators)}"
            f"{', eval tasks skipped' if config.skip_eval_tasks else ''})"
        )
    if config.eval_metric not in metrics and not undeclared:
        logger.warning(
            "eval_metric %r is reported by no configured evaluator; available: %s",
            config.eval_metric,
            ", ".join(metrics),
        )


def _ids_hash(samples: Sequence[Mapping[str, Any]]) -> str:
    ids = sorted(str(s.get("id")) for s in samples)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------- data
def prepare_initial_dataset(
    config: IterativeConfig, initial_data: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The initial dataset: ``initial_data`` without duplicates, its first
    ``initial_dataset_size`` samples when that is set (as the seed subsamples).

    Returns:
        The same samples twice: as ``dataset_episode_0`` (the initial data as used) and as
        ``dataset_episode_1`` (what episode 1 trains on).
    """
    samples = [dict(s) for s in dedupe(initial_data)]
    if len(samples) < len(initial_data):
        logger.warning(
            "initial_data: dropped %d duplicate sample(s)", len(initial_data) - len(samples)
        )
    if config.initial_dataset_size is not None:
        samples = samples[: config.initial_dataset_size]
    logger.info("iterative: initial dataset of %d samples", len(samples))
    return samples, samples


def episode_training_config(
    config: IterativeConfig, training: TrainConfig, tracking: LoopTracking, episode: int
) -> TrainConfig:
    """The training configuration of one episode: the loop's, its run named
    ``<name>_episode_N``.

    While the loop logs to a wandb run of its own (:attr:`LoopTracking.logs_to_wandb`), the
    episode's Trainer reports nowhere (``report_to: none``): it would log its optimizer steps
    into the loop's run as the run's step, colliding with the episodes (wandb drops values
    logged at an earlier step). The loss per step stays in the episode's training metrics.
    """
    report_to = "none" if tracking.logs_to_wandb else training.report_to
    return dataclasses.replace(
        training, name=f"{config.name}_episode_{episode}", report_to=report_to
    )


def sample_generation_priors(
    config: IterativeConfig,
    samples: Sequence[Mapping[str, Any]],
    evaluation_tables: Mapping[str, Sequence[Mapping[str, Any]]],
    probe_outcomes: Sequence[Mapping[str, Any]],
    episode: int,
) -> dict[str, Any]:
    """Pick the examples that seed this episode's generation with the configured sampler.

    Per-sample metrics come from the evaluation's ``samples`` table (rows with ``id``,
    ``split`` and the metrics its evaluator declares in ``sample_metrics``, e.g. ``loss`` and
    ``accuracy``) and are aligned with the dataset by sample id. Samples without finite metrics
    (e.g. truncated away entirely) are not offered to the sampler. The probe's outcomes are
    offered too (``SampleRequest.outcomes``); a chosen outcome's prior plays its world again.

    Returns:
        ``{"episode", "sampler", "ids", "priors"}``: the chosen ids and their priors (task,
        kind, sample and scene, and the world of a chosen outcome:
        :class:`~prism.scenes.base.Prior` as data), one per ``graphs_per_sample`` scenes.
    """
    by_id = {s["id"]: s for s in samples}
    metrics: dict[str, dict[str, float]] = {}
    for row in evaluation_tables.get("samples", []):
        if row.get("split") in ("train", "eval") and row.get("id") in by_id:
            names = get_evaluator(row["evaluator"]).sample_metrics if "evaluator" in row else ()
            values = {k: row.get(k) for k in names}
            if values and all(is_finite_number(v) for v in values.values()):
                metrics[row["id"]] = {k: float(v) for k, v in values.items()}
    candidates = [s for s in samples if s["id"] in metrics] if metrics else list(samples)
    if not candidates:
        candidates = list(samples)
    rng = random.Random(derive_seed(config.seed, "sampling", episode))
    sampler = get_sampler(config.sampling_strategy)
    outcomes = {o["id"]: o for o in probe_outcomes}
    offered = [{k: v for k, v in o.items() if k not in TRANSCRIPT_KEYS} for o in outcomes.values()]
    request = SampleRequest(candidates, metrics, max(1, config.n_priors), rng, outcomes=offered)
    ids = sampler.draw(request)
    source = f"dataset_episode_{episode}.json"
    priors = [
        Prior.of_world(World.from_record(outcomes[i]["world"]), sample_id=i).to_dict()
        if i in outcomes and i not in by_id
        else Prior.of_sample(by_id[i], source=source).to_dict()
        for i in ids
    ]
    logger.info(
        "episode %d: %s sampler picked %d example(s) from %d samples",
        episode,
        config.sampling_strategy,
        len(ids),
        len(candidates),
    )
    return {"episode": episode, "sampler": config.sampling_strategy, "ids": ids, "priors": priors}


def episode_generation_config(
    config: IterativeConfig,
    generation: Mapping[str, Any],
    priors: Mapping[str, Any],
    episode: int,
) -> GenerationConfig:
    """The generation configuration of one episode (see
    :meth:`IterativeConfig.generation_config`): no scenes when the teacher generates nothing
    (``collection: dagger``: the labelled states are the new samples)."""
    return config.generation_config(
        generation, episode, [Prior.from_value(p) for p in priors["priors"]]
    )


def combine_datasets(
    samples: Sequence[Mapping[str, Any]], new_samples: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The next episode's dataset: this one's samples, then the new ones, each id once."""
    combined = [dict(s) for s in dedupe([*samples, *new_samples])]
    logger.info("dataset grows from %d to %d samples", len(samples), len(combined))
    return combined
