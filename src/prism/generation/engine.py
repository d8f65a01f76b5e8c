"""The rollout engine: scenes and tasks -> teacher rollouts -> training samples.

Work is stored one record at a time in a :class:`~prism.formats.json_store.JsonStore` (the
seed's ``data_gen_*/`` folder, one sub-folder per set of parameters): ``scenes/scene_007.json``
and ``rollouts/scene_007_task_01.json``, every rollout kept, passed or failed with its reason. A
killed run resumes where it stopped: finished records are read back, never redone, never
duplicated.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from prism.endpoint import EndpointError
from prism.formats.conversations import sample_id
from prism.formats.json_store import JsonStore
from prism.generation.config import GenerationConfig
from prism.generation.stats import rollout_stats
from prism.generation.target import (
    MAX_EXTRA_ROUNDS,
    extra_scene_count,
    new_sample_ids,
    target_report,
)
from prism.progress import progress_bar
from prism.scenes.base import GeneratedScene, SceneGenerator, SceneRequest
from prism.seeding import derive_seed
from prism.teachers.base import Teacher
from prism.world.rollout import run_rollout
from prism.world.scene_graph import SceneGraph
from prism.world.simulator import PartialObservationSim
from prism.world.task import Task
from prism.world.worlds import World

logger = logging.getLogger(__name__)

#: Key of a run folder's manifest: the fingerprint and configuration it was made with.
MANIFEST_KEY = "manifest"


@dataclass(frozen=True)
class GenerationResult:
    """What a generation run produced.

    Attributes:
        samples: the passed rollouts as training samples (canonical conversation format).
        failed: the failed rollouts and scenes, with their reasons and transcripts.
        stats: counts by status, reason, task kind and source (:func:`rollout_stats`), the
            configuration and the run folder.
        scenes: the generated scenes with their tasks, in the eval task file format.
    """

    samples: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    stats: dict[str, Any]
    scenes: list[dict[str, Any]]


def generate(
    config: GenerationConfig,
    store: JsonStore,
    scene_generator: SceneGenerator,
    teacher: Teacher,
    fallback: Teacher | None = None,
    *,
    target: int | None = None,
    known: Collection[str] = (),
) -> GenerationResult:
    """Generate ``config.n_samples`` scenes x ``config.n_tasks`` tasks and a teacher rollout for
    each, in the run folder of ``config`` inside ``store`` (:func:`run_store`).

    Args:
        config: the checked generation configuration.
        store: the rollout store; a rerun with the same configuration resumes from it.
        scene_generator: makes the scenes and their tasks.
        teacher: plans every rollout.
        fallback: redoes a failed rollout on the same scene, task and hidden nodes (its records'
            ``source`` say ``<name>_fallback``), or ``None``.
        target: the passed samples wanted (distinct, none of ``known``), or ``None`` for the
            scenes of ``config`` only. While fewer passed, rounds of further scenes
            (``scene_020``, ... like the prior each index cycles to) are added, at most
            :data:`~prism.generation.target.MAX_EXTRA_ROUNDS`; stored like the others, so a
            killed run resumes them. ``stats["target"]`` says what was added and reached.
        known: ids of samples that do not count towards ``target`` (a dataset's).

    An unreachable endpoint or a wrong model name fails first, before anything is written.
    With ``n_samples`` 0 nothing is generated, checked or written.
    """
    if config.n_samples == 0:
        stats = rollout_stats([], n_scene_failures=0)
        return GenerationResult([], [], {**stats, "config": config.to_dict(), "run_dir": None}, [])
    scene_generator.check()
    teacher.check()
    run = run_store(store, config)
    logger.info("generation: scenes and rollouts go to %s", run.root)

    scenes = generate_scenes(config, run, scene_generator)
    records = _play(scenes, config, teacher, fallback, run)
    rounds = 0
    passed = len(new_sample_ids(records, known)) if target is not None else 0
    while target is not None and passed < target and rounds < MAX_EXTRA_ROUNDS:
        rounds += 1
        count = extra_scene_count(target - passed, passed, len(records), config.n_tasks)
        logger.info(
            "generation: %d of %d samples passed; %d further scene(s), round %d of at most %d",
            passed,
            target,
            count,
            rounds,
            MAX_EXTRA_ROUNDS,
        )
        indices = range(len(scenes), len(scenes) + count)
        extra = generate_scenes(config, run, scene_generator, indices)
        scenes.update(extra)
        records += _play(extra, config, teacher, fallback, run)
        passed = len(new_sample_ids(records, known))
    failed_scenes = [s for s in scenes.values() if s["status"] != "ok"]
    samples = [_to_sample(r) for r in records if r["status"] == "passed"]
    failed = [_failure(r) for r in records if r["status"] != "passed"]
    failed += [
        {"scene_id": s["scene_id"], "reason": s["reason"], "status": "failed"}
        for s in failed_scenes
    ]
    stats = rollout_stats(records, n_scene_failures=len(failed_scenes))
    stats["config"] = config.to_dict()
    stats["run_dir"] = str(run.root)
    if target is not None:
        stats["target"] = target_report(target, passed, rounds, len(scenes) - config.n_samples)
        if passed < target:
            logger.warning(
                "generation: %d of the %d samples asked for passed after %d further round(s) "
                "of scenes (%d rollouts, failures by reason: %s)",
                passed,
                target,
                rounds,
                len(records),
                stats["failed_by_reason"] or "none",
            )
    logger.info(
        "generation: %d/%d rollouts passed (%.1f %%); failures by reason: %s",
        stats["passed"],
        stats["total"],
        100 * stats["success_rate"],
        stats["failed_by_reason"] or "none",
    )
    eval_suite = [
        {"graph": s["graph"], "tasks": s["tasks"], "description": s.get("description", "")}
        for s in scenes.values()
        if s["status"] == "ok" and s["tasks"]
    ]
    return GenerationResult(samples, failed, stats, eval_suite)


def generate_scenes(
    config: GenerationConfig,
    run: JsonStore,
    scene_generator: SceneGenerator,
    indices: Sequence[int] | None = None,
) -> dict[str, dict[str, Any]]:
    """The scene records of a run (``scene_000``, ...; by default the ``config.n_samples``
    first, else those of ``indices``), generated or read back from the run folder ``run``: each
    with its ``graph`` and ``tasks`` when its ``status`` is ``ok``, else the ``reason`` it
    failed. A scene whose prior carries a world is that world (:class:`~prism.scenes.base.Prior`);
    a scene after the first ``n_samples`` is a new one like its prior."""
    indices = range(config.n_samples) if indices is None else indices
    scene_ids = [f"scene_{i:03d}" for i in indices]
    return run_parallel(
        "scenes",
        scene_ids,
        lambda sid: _scene(sid, config, scene_generator, run),
        workers=config.workers,
    )


def task_world(config: GenerationConfig, scene_record: Mapping[str, Any], task_index: int) -> World:
    """The world task ``task_index`` of a scene record is played in: the scene, the task and
    the hidden nodes drawn from the seed and the rollout's key (or the record's own hidden
    nodes, for a world played again)."""
    scene_id = scene_record["scene_id"]
    key = f"{scene_id}_task_{task_index:02d}"
    task = Task.from_record(scene_record["tasks"][task_index], source=key)
    if "hidden" in scene_record:
        return World(
            graph=scene_record["graph"],
            task=task,
            hidden=tuple(scene_record["hidden"]),
            graph_unknown=scene_record.get("graph_unknown"),
            scene_id=scene_id,
        )
    index = int(scene_id.rsplit("_", 1)[1]) * config.n_tasks + task_index
    graph_unknown = config.graph_unknown[index % len(config.graph_unknown)]
    rng = random.Random(derive_seed(config.seed, "hide", key))
    scene = SceneGraph.from_spine(scene_record["graph"], source=scene_id)
    sim = PartialObservationSim(
        scene, graph_unknown=graph_unknown, rng=rng, init_node=task.init_node
    )
    return World(
        graph=scene_record["graph"],
        task=task,
        hidden=tuple(sorted(sim.hidden)),
        graph_unknown=graph_unknown,
        scene_id=scene_id,
    )


def run_store(store: JsonStore, config: GenerationConfig) -> JsonStore:
    """The folder of this run inside the rollout store: one per set of parameters.

    Rerunning the same parameters finds its own folder and resumes; other parameters get a folder
    of their own, so two runs never mix and none is overwritten. ``n_samples`` is not part of the
    name: a larger ``n_samples`` extends a run.
    """
    run = JsonStore(store.root / f"seed{config.seed}_{config.fingerprint()[:10]}")
    if MANIFEST_KEY not in run:
        run.put(MANIFEST_KEY, {"fingerprint": config.fingerprint(), "config": config.to_dict()})
    return run


def _scene(
    scene_id: str, config: GenerationConfig, generator: SceneGenerator, store: JsonStore
) -> dict[str, Any]:
    key = f"scenes/{scene_id}"
    if (done := store.get(key)) is not None:
        return done
    index = int(scene_id.rsplit("_", 1)[1])
    rng = random.Random(derive_seed(config.seed, "layout", index))
    prior = config.priors[index % len(config.priors)] if config.priors else None
    if prior is not None and prior.world is not None and index >= config.n_samples:
        # A further scene (a generation short of its target): the world played again would
        # make the same rollout; a new scene like it may pass.
        prior = dataclasses.replace(prior, world=None)
    request = SceneRequest(
        n_regions=rng.randint(config.min_regions, config.max_regions),
        n_objects=rng.randint(config.min_objects, config.max_objects),
        n_tasks=config.n_tasks,
        seed=derive_seed(config.seed, "scene", index),
        prior=prior,
    )
    if prior is not None and prior.world is not None:
        world = prior.world
        record = {
            "scene_id": scene_id,
            "generator": "world",
            "prior": prior.to_dict(),
            "status": "ok",
            "reason": None,
            "description": f"played again: {world.scene_id or 'a world'}",
            "metadata": {"world": world.id},
            "graph": dict(world.graph),
            "tasks": [world.task.to_record()],
            "hidden": list(world.hidden),
            "graph_unknown": world.graph_unknown,
        }
        store.put(key, record)
        return record
    record: dict[str, Any] = {
        "scene_id": scene_id,
        "generator": generator.name,
        "prior": prior.to_dict() if prior else None,
    }
    try:
        generated: GeneratedScene = generator.generate(request)
        for t, task in enumerate(generated.tasks):
            task.check_against(generated.scene, source=f"{scene_id} task {t}")
    except (ValueError, RuntimeError) as err:
        # A generator that fails (an endpoint returning garbage after its retries) loses this
        # scene only; the failure is kept with its reason.
        logger.warning("%s: scene generation failed: %s", scene_id, err)
        record.update(status="failed", reason=f"scene_generation_failed: {err}")
        if not isinstance(err, EndpointError):  # an outage is retried by the next run
            store.put(key, record)
        return record
    record.update(
        status="ok",
        reason=None,
        description=generated.description,
        metadata=generated.metadata,
        graph=generated.scene.to_spine(),
        tasks=[task.to_record() for task in generated.tasks],
    )
    store.put(key, record)
    return record


def _play(
    scenes: Mapping[str, dict[str, Any]],
    config: GenerationConfig,
    teacher: Teacher,
    fallback: Teacher | None,
    run: JsonStore,
) -> list[dict[str, Any]]:
    """The rollout records of every task of the scenes that were made, in key order."""
    jobs_by_key = {
        f"{sid}_task_{t:02d}": (record, t)
        for sid, record in scenes.items()
        if record["status"] == "ok"
        for t in range(len(record["tasks"]))
    }
    return list(
        run_parallel(
            "rollouts",
            list(jobs_by_key),
            lambda key: _rollout(key, jobs_by_key[key], config, teacher, fallback, run),
            workers=config.workers,
        ).values()
    )


def _rollout(
    key: str,
    job: tuple[dict[str, Any], int],
    config: GenerationConfig,
    teacher: Teacher,
    fallback: Teacher | None,
    store: JsonStore,
) -> dict[str, Any]:
    store_key = f"rollouts/{key}"
    if (done := store.get(store_key)) is not None:
        return done
    scene_record, task_idx = job
    world = task_world(config, scene_record, task_idx)
    task = world.task
    record = _teach(teacher, task, world.sim(), config)
    record.update(
        key=key,
        scene_id=scene_record["scene_id"],
        task=task.to_record(),
        graph_unknown=world.graph_unknown,
        hidden=list(world.hidden),
    )
    if record["status"] != "passed" and fallback is not None:
        # Same scene, same task, same hidden nodes: only the planner changes.
        retry = _teach(fallback, task, world.sim(), config)
        retry.update(
            fallback_from={"teacher": teacher.name, "reason": record["reason"]},
            transient=record.get("transient", False),
        )
        record.update(retry, source=f"{fallback.name}_fallback")
    if record.get("transient"):
        logger.warning(
            "%s: not stored, the next run retries it (%s)",
            key,
            record.get("fallback_from", record)["reason"],
        )
    else:
        store.put(store_key, record)
    return record


def _teach(
    teacher: Teacher, task: Task, sim: PartialObservationSim, config: GenerationConfig
) -> dict[str, Any]:
    try:
        rollout = run_rollout(
            teacher.planner(task, sim),
            sim,
            task.task,
            max_iterations=config.max_iterations,
            max_attempts=config.max_attempts,
        )
    except (RuntimeError, ValueError, OSError) as err:
        logger.warning("teacher %s failed on %r: %s", teacher.name, task.task, err)
        return {
            "status": "failed",
            "reason": f"teacher_error: {err}",
            # An endpoint that was down or timed out may answer next time: such a failure is
            # reported but not stored, so the next run retries it.
            "transient": isinstance(err, EndpointError),
            "teacher": teacher.name,
            "source": teacher.name,
            "conversation": [],
            "rejected": [],
            "iterations": 0,
            "answer": None,
        }
    reason = rollout.reason
    if reason is None and not task.solved_by(rollout.final_turn):
        reason = "wrong_answer"
    return {
        "status": "passed" if reason is None else "failed",
        "reason": reason,
        "teacher": teacher.name,
        "source": teacher.name,
        "answer": rollout.answer,
        "iterations": rollout.iterations,
        "conversation": rollout.conversation,
        "rejected": rollout.rejected,
    }


def _to_sample(record: Mapping[str, Any]) -> dict[str, Any]:
    conversation = record["conversation"]
    return {
        "id": sample_id(conversation),
        "conversations": conversation,
        "source": record["source"],
        "task": record["task"]["task"],
        "answer": record["task"]["answer"],
        "kind": record["task"].get("kind"),
        "scene_id": record["scene_id"],
        "rollout": record["key"],
        "graph_unknown": record["graph_unknown"],
    }


#: The keys of a rollout record that a failure report keeps.
FAILURE_KEYS = (
    "key",
    "scene_id",
    "task",
    "reason",
    "teacher",
    "source",
    "answer",
    "iterations",
    "conversation",
    "rejected",
    "fallback_from",
)


def _failure(record: Mapping[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in FAILURE_KEYS}


def run_parallel(
    what: str,
    keys: list[str],
    work: Callable[[str], dict[str, Any]],
    workers: int,
    unit: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Run ``work`` on every key with a progress bar; results by key, in key order."""
    results: dict[str, dict[str, Any]] = {}
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        progress_bar(len(keys), what, unit or what.rstrip("s")) as bar,
    ):
        for key, result in zip(keys, pool.map(work, keys), strict=True):
            results[key] = result
            bar.update()
    return results
