"""Closed-loop task success: a planner (student or teacher) works each task of an eval file.

Every task runs in the partial-observation simulator with hidden nodes drawn from
``(seed, "eval", task index)``, so the student and the teacher face exactly the same worlds and a
student's success can be read as a fraction of the teacher's. A task is correct when the planner
answers with a well-formed turn whose plan matches the task's ``answer`` regex.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

from prism.formats.eval_tasks import EvalSuite
from prism.progress import progress_bar
from prism.seeding import derive_seed
from prism.world.rollout import MAX_ATTEMPTS, MAX_ITERATIONS, Planner, run_rollout
from prism.world.simulator import PartialObservationSim
from prism.world.task import Task

logger = logging.getLogger(__name__)

PlannerFactory = Callable[[Task, PartialObservationSim], Planner]


def eval_seed(seed: int, index: int) -> int:
    """The seed of task ``index``'s hidden-node draw (shared by every planner evaluated)."""
    return derive_seed(seed, "eval", index)


def eval_sim(
    suite: EvalSuite,
    index: int,
    graph_unknown: Sequence[float],
    seed: int,
    scenes: list | None = None,
) -> PartialObservationSim:
    """The simulator task ``index`` of ``suite`` runs in (``graph_unknown`` cycles over tasks)."""
    graph_index = suite.task_graphs[index]
    scene = scenes[graph_index] if scenes else suite.scene_graph(graph_index)
    return PartialObservationSim(
        scene,
        graph_unknown=graph_unknown[index % len(graph_unknown)],
        rng=random.Random(eval_seed(seed, index)),
        init_node=suite.tasks[index].init_node,
    )


def run_task(
    planner_for: PlannerFactory,
    task: Task,
    sim: PartialObservationSim,
    *,
    max_iterations: int = MAX_ITERATIONS,
    max_attempts: int = MAX_ATTEMPTS,
) -> dict[str, Any]:
    """One closed-loop episode of the planner ``planner_for(task, sim)`` returns; never raises
    for a planner that fails (to be made, or to answer).

    Returns:
        ``correct``, ``valid`` (the planner ended with a well-formed answer turn), ``reason``
        (None, ``wrong_answer``, ``invalid_turn:<kind>``, ``max_iterations``,
        ``context_length`` (the conversation outgrew the planner's context) or
        ``planner_error: ...``), ``answer``, ``iterations`` and the ``transcript`` (valid turns)
        with the ``rejected`` attempts and their feedback.
    """
    try:
        rollout = run_rollout(
            planner_for(task, sim),
            sim,
            task.task,
            max_iterations=max_iterations,
            max_attempts=max_attempts,
        )
    except (RuntimeError, ValueError, OSError) as error:
        logger.warning("planner failed on %r: %s", task.task, error)
        return {
            "task": task.task,
            "answer_regex": task.answer,
            "correct": False,
            "valid": False,
            "reason": f"planner_error: {error}",
            "answer": None,
            "iterations": 0,
            "transcript": [],
            "rejected": [],
        }
    reason = rollout.reason
    if reason is None and not task.solved_by(rollout.final_turn):
        reason = "wrong_answer"
    return {
        "task": task.task,
        "answer_regex": task.answer,
        "correct": reason is None,
        "valid": rollout.answered,
        "reason": reason,
        "answer": rollout.answer,
        "iterations": rollout.iterations,
        "transcript": rollout.conversation,
        "rejected": rollout.rejected,
    }


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, float]:
    """``task/accuracy`` and ``task/valid_rate`` over per-task results."""
    n = len(results)
    return {
        "task/accuracy": sum(r["correct"] for r in results) / n if n else 0.0,
        "task/valid_rate": sum(r["valid"] for r in results) / n if n else 0.0,
        "task/n": n,
    }


def evaluate_planner(
    planner_for: PlannerFactory,
    suite: EvalSuite,
    *,
    graph_unknown: Sequence[float],
    seed: int,
    max_iterations: int = MAX_ITERATIONS,
    max_attempts: int = MAX_ATTEMPTS,
    progress: str | None = None,
    workers: int = 1,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Run every task of ``suite`` with the planner ``planner_for(task, sim)`` returns.

    Args:
        planner_for: a new planner per task (a teacher's ``planner``) or the same one (a student).
        suite: the eval task file.
        graph_unknown: hidden fractions, cycled over the tasks.
        seed: seed of the hidden-node draws (same seed, same worlds for every planner).
        progress: a progress-bar label (:func:`prism.progress.progress_bar`), or None for
            no bar.
        workers: tasks run at once, each in a thread (a student behind a
            :class:`~prism.student.batching.BatchingPlanner` then generates for all in one batch).

    Returns:
        The summary (:func:`summarize`) and one result per task (:func:`run_task`), in order.
    """
    from concurrent.futures import ThreadPoolExecutor

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    scenes = [suite.scene_graph(g) for g in range(len(suite.graphs))]

    def run(i: int) -> dict[str, Any]:
        task = suite.tasks[i]
        sim = eval_sim(suite, i, graph_unknown, seed, scenes)
        result = run_task(
            planner_for,
            task,
            sim,
            max_iterations=max_iterations,
            max_attempts=max_attempts,
        )
        return {"index": i, "graph_index": suite.task_graphs[i], **result}

    indices = range(len(suite.tasks))
    bar = progress_bar(len(indices), progress or "", "task", disable=progress is None)
    with bar, ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, i) for i in indices]
        for future in futures:
            future.add_done_callback(lambda _f: bar.update())
        results = [future.result() for future in futures]
    return summarize(results), results
