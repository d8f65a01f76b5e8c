"""Nodes of the generation pipeline: scenes and tasks → teacher rollouts → training samples.

Work is stored one record at a time in a :class:`~prism.datasets.json_store.JsonStore` (the
seed's ``data_gen_*/`` folder, one sub-folder per set of parameters): ``scenes/scene_007.json``
and ``rollouts/scene_007_task_01.json``, every rollout kept, passed or failed with its reason. A
killed run resumes where it stopped: finished records are read back, never redone, never
duplicated.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm.auto import tqdm

from prism.endpoint import ChatClient, EndpointError
from prism.evaluation.task_success import eval_sim
from prism.formats.conversations import sample_id
from prism.formats.eval_tasks import EvalSuite
from prism.formats.json_store import JsonStore
from prism.pipelines.generation.config import ComponentConfig, ConfigError, GenerationConfig
from prism.scenes.base import GeneratedScene, SceneGenerator, SceneRequest, Task
from prism.scenes.llm import LLMSceneGenerator
from prism.scenes.procedural import TASK_KINDS, ProceduralSceneGenerator
from prism.seeding import derive_seed
from prism.teachers.base import Teacher
from prism.teachers.llm import LLMTeacher
from prism.teachers.oracle import OracleTeacher
from prism.world.rollout import answer_matches, run_rollout
from prism.world.scene_graph import SceneGraph
from prism.world.simulator import PartialObservationSim

logger = logging.getLogger(__name__)

MANIFEST_KEY = "manifest"


# ---------------------------------------------------------------------------------- builders
def build_scene_generator(
    component: ComponentConfig, cache: JsonStore | None, credentials: Mapping[str, Any]
) -> SceneGenerator:
    """The configured scene generator (the LLM one talks to an OpenAI-compatible endpoint)."""
    if component.kind == "procedural":
        return ProceduralSceneGenerator()
    return LLMSceneGenerator(_client(component, cache, credentials))


def build_teacher(
    component: ComponentConfig,
    config: GenerationConfig,
    cache: JsonStore | None,
    credentials: Mapping[str, Any],
) -> Teacher:
    """The configured teacher."""
    if component.kind == "oracle":
        return OracleTeacher(max_iterations=config.max_iterations)
    return LLMTeacher(_client(component, cache, credentials))


def check_endpoints(config: GenerationConfig, credentials: Mapping[str, Any]) -> None:
    """Fail now, with the endpoint's own message, if the scene generator or the teacher is an
    endpoint that cannot be used (missing key, unreachable server, unknown model); the local
    ones have nothing to check."""
    build_scene_generator(config.scene_generator, None, credentials).check()
    build_teacher(config.teacher, config, None, credentials).check()


def _client(
    component: ComponentConfig, cache: JsonStore | None, credentials: Mapping[str, Any]
) -> ChatClient:
    # Raises EndpointError for a bad endpoint parameter or a missing key, before any work.
    return ChatClient.from_params(component.endpoint, credentials, cache.root if cache else None)


# ---------------------------------------------------------------------------------- nodes
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
    eval_suite_tasks(eval_tasks)
    return config


def eval_suite_tasks(suite: EvalSuite) -> list[Task]:
    """The suite's tasks as planner tasks (``kind``/``targets`` kept where the file has them).

    Raises:
        TaskError: a task's extra fields are malformed.
        ConfigError: a task names a kind the oracle does not know.
    """
    tasks = []
    for i, eval_task in enumerate(suite.tasks):
        task = Task.from_record(eval_task.to_record(), source=f"{suite.source}: task {i}")
        if task.kind is not None and task.kind not in TASK_KINDS:
            raise ConfigError(
                f"{suite.source}: task {i} has kind {task.kind!r}; known kinds are "
                f"{', '.join(TASK_KINDS)} (or leave 'kind' out)"
            )
        tasks.append(task)
    return tasks


def generate_rollouts(
    config: GenerationConfig,
    rollout_store: JsonStore,
    call_cache: JsonStore,
    credentials: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    """Generate ``n_samples`` scenes x ``n_tasks`` tasks and a teacher rollout for each.

    Args:
        config: the checked ``generation`` parameters.
        rollout_store: where scenes and rollouts are written as they finish, in a folder per
            set of parameters (:func:`run_store`); a rerun resumes from it.
        call_cache: on-disk cache of endpoint calls, so a rerun never pays twice.
        credentials: Kedro credentials (``conf/local/credentials.yml``) for endpoints.

    Returns:
        The training samples (passed rollouts, canonical conversation format), the failed
        rollouts with their reasons, statistics, and the scenes with their tasks in the eval
        task file format.
    """
    scene_generator = build_scene_generator(config.scene_generator, call_cache, credentials)
    teacher = build_teacher(config.teacher, config, call_cache, credentials)
    fallback = (
        OracleTeacher(max_iterations=config.max_iterations)
        if config.teacher.kind != "oracle" and config.teacher.fallback_to_oracle
        else None
    )
    # An unreachable endpoint or a wrong model name fails here, before anything is written.
    scene_generator.check()
    teacher.check()
    store = run_store(rollout_store, config)
    logger.info("generation: scenes and rollouts go to %s", store.root)

    scene_ids = [f"scene_{i:03d}" for i in range(config.n_samples)]
    scenes = _run_parallel(
        "scenes",
        scene_ids,
        lambda sid: _scene(sid, config, scene_generator, store),
        workers=config.workers,
    )
    jobs_by_key = {
        f"{sid}_task_{t:02d}": (scenes[sid], t)
        for sid in scene_ids
        if scenes[sid]["status"] == "ok"
        for t in range(len(scenes[sid]["tasks"]))
    }
    records = list(
        _run_parallel(
            "rollouts",
            list(jobs_by_key),
            lambda key: _rollout(key, jobs_by_key[key], config, teacher, fallback, store),
            workers=config.workers,
        ).values()
    )
    failed_scenes = [s for s in scenes.values() if s["status"] != "ok"]
    samples = [_to_sample(r) for r in records if r["status"] == "passed"]
    failed = [_failure(r) for r in records if r["status"] != "passed"]
    failed += [
        {"scene_id": s["scene_id"], "reason": s["reason"], "status": "failed"}
        for s in failed_scenes
    ]
    stats = rollout_stats(records, n_scene_failures=len(failed_scenes))
    stats["config"] = config.to_dict()
    stats["run_dir"] = str(store.root)
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
    return samples, failed, stats, eval_suite


def evaluate_teacher(
    suite: EvalSuite,
    config: GenerationConfig,
    call_cache: JsonStore,
    credentials: Mapping[str, Any],
) -> dict[str, Any]:
    """Run the configured teacher on the eval tasks and report its success rate.

    A task is correct when the teacher answers and its final plan matches the task's ``answer``
    regex. Tasks from foreign files carry no ``kind``/``targets``; for the oracle those are
    inferred from the task text (:func:`prism.scenes.procedural.infer_task`).
    """
    teacher = build_teacher(config.teacher, config, call_cache, credentials)
    teacher.check()
    tasks = eval_suite_tasks(suite)
    scenes = [suite.scene_graph(g) for g in range(len(suite.graphs))]

    def run(index: str) -> dict[str, Any]:
        i = int(index)
        task = tasks[i]
        sim = eval_sim(suite, i, config.graph_unknown, config.seed, scenes)
        record = _teach(teacher, task, sim, config)
        return {
            "task": task.task,
            "answer_regex": task.answer,
            "answer": record["answer"],
            "correct": record["status"] == "passed",
            "reason": record["reason"],
        }

    indices = [str(i) for i in range(len(suite.tasks))]
    results = list(
        _run_parallel("teacher on eval tasks", indices, run, config.workers, unit="task").values()
    )
    n_correct = sum(r["correct"] for r in results)
    rate = n_correct / len(results) if results else 0.0
    logger.info(
        "teacher '%s' on eval tasks: %d/%d correct (%.1f %%)",
        teacher.name,
        n_correct,
        len(results),
        100 * rate,
    )
    return {
        "teacher": teacher.name,
        "n_tasks": len(results),
        "correct": n_correct,
        "success_rate": rate,
        "tasks": results,
    }


# ---------------------------------------------------------------------------------- steps
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
    request = SceneRequest(
        n_regions=rng.randint(config.min_regions, config.max_regions),
        n_objects=rng.randint(config.min_objects, config.max_objects),
        n_tasks=config.n_tasks,
        seed=derive_seed(config.seed, "scene", index),
        prior=prior,
    )
    record: dict[str, Any] = {"scene_id": scene_id, "generator": generator.name, "prior": prior}
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
    scene = SceneGraph.from_spine(scene_record["graph"], source=scene_record["scene_id"])
    task = Task.from_record(scene_record["tasks"][task_idx], source=key)
    index = int(scene_record["scene_id"].rsplit("_", 1)[1]) * config.n_tasks + task_idx
    graph_unknown = config.graph_unknown[index % len(config.graph_unknown)]
    rng = random.Random(derive_seed(config.seed, "hide", key))
    sim = PartialObservationSim(
        scene, graph_unknown=graph_unknown, rng=rng, init_node=task.init_node
    )
    hidden = sorted(sim.hidden)
    record = _teach(teacher, task, sim, config)
    record.update(
        key=key,
        scene_id=scene_record["scene_id"],
        task=task.to_record(),
        graph_unknown=graph_unknown,
        hidden=hidden,
    )
    if record["status"] != "passed" and fallback is not None:
        # Same scene, same task, same hidden nodes: only the planner changes.
        retry_sim = PartialObservationSim(scene, hidden=hidden, init_node=task.init_node)
        retry = _teach(fallback, task, retry_sim, config)
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
    if reason is None and not answer_matches(rollout.final_turn, task.answer):
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


def _failure(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: record.get(key)
        for key in (
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
    }


def rollout_stats(records: list[Mapping[str, Any]], n_scene_failures: int = 0) -> dict[str, Any]:
    """Counts of passed and failed rollouts, by reason, task kind and source."""
    passed = [r for r in records if r["status"] == "passed"]
    reasons = Counter(_reason_class(r["reason"]) for r in records if r["status"] != "passed")
    if n_scene_failures:
        reasons["scene_generation_failed"] += n_scene_failures
    by_kind: dict[str, dict[str, int]] = {}
    for r in records:
        entry = by_kind.setdefault(str(r["task"].get("kind")), {"passed": 0, "failed": 0})
        entry["passed" if r["status"] == "passed" else "failed"] += 1
    total = len(records)
    return {
        "total": total,
        "passed": len(passed),
        "failed": total - len(passed),
        "success_rate": len(passed) / total if total else 0.0,
        "failed_by_reason": dict(sorted(reasons.items())),
        "by_kind": dict(sorted(by_kind.items())),
        "passed_by_source": dict(Counter(r["source"] for r in passed)),
        "retried_next_run": sum(bool(r.get("transient")) for r in records),
        "mean_turns_passed": (
            sum(r["iterations"] for r in passed) / len(passed) if passed else 0.0
        ),
    }


def _reason_class(reason: str | None) -> str:
    # "teacher_error: <details>" → "teacher_error"; details stay in the failed records.
    return (reason or "unknown").split(":", 1)[0]


def _run_parallel(
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
        tqdm(total=len(keys), desc=what, unit=unit or what.rstrip("s")) as bar,
    ):
        for key, result in zip(keys, pool.map(work, keys), strict=True):
            results[key] = result
            bar.update()
    return results
