"""The teacher's own success on an eval task file: the yardstick of the student's.

The teacher plans through :func:`prism.evaluation.task_success.evaluate_planner`, the same loop
that scores the student, on the same worlds (hidden nodes drawn from the seed and the task's
index), so that ``task/of_teacher`` compares like with like.
"""

from __future__ import annotations

import logging
from typing import Any

from prism.evaluation.task_success import evaluate_planner
from prism.formats.eval_tasks import EvalSuite
from prism.generation.config import ConfigError, GenerationConfig
from prism.teachers.base import Teacher
from prism.world.task import TASK_KINDS, unknown_kinds

logger = logging.getLogger(__name__)


def score_teacher(suite: EvalSuite, config: GenerationConfig, teacher: Teacher) -> dict[str, Any]:
    """Run ``teacher`` on every task of ``suite`` and report its success rate.

    A task is correct when the teacher answers and its final plan matches the task's ``answer``
    regex. Tasks from foreign files carry no ``kind``/``targets``; the oracle reads them off the
    task text (:func:`prism.scenes.task_reading.infer_task`).

    Returns:
        ``teacher`` (its name), ``n_tasks``, ``correct``, ``success_rate`` and one row per task
        (``task``, ``answer_regex``, ``answer``, ``correct``, ``reason``).
    """
    teacher.check()
    _, results = evaluate_planner(
        teacher.planner,
        suite,
        graph_unknown=config.graph_unknown,
        seed=config.seed,
        max_iterations=config.max_iterations,
        max_attempts=config.max_attempts,
        progress="teacher on eval tasks",
        workers=config.workers,
    )
    rows = [
        {key: result[key] for key in ("task", "answer_regex", "answer", "correct", "reason")}
        for result in results
    ]
    n_correct = sum(row["correct"] for row in rows)
    rate = n_correct / len(rows) if rows else 0.0
    logger.info(
        "teacher '%s' on eval tasks: %d/%d correct (%.1f %%)",
        teacher.name,
        n_correct,
        len(rows),
        100 * rate,
    )
    return {
        "teacher": teacher.name,
        "n_tasks": len(rows),
        "correct": n_correct,
        "success_rate": rate,
        "tasks": rows,
    }


def check_task_kinds(suite: EvalSuite) -> None:
    """Refuse tasks whose ``kind`` the teachers do not know (a task may also leave it out).

    Raises:
        ConfigError: naming the file and the first such task.
    """
    for index, kind in unknown_kinds(suite.tasks).items():
        raise ConfigError(
            f"{suite.source}: task {index} has kind {kind!r}; known kinds are "
            f"{', '.join(TASK_KINDS)} (or leave 'kind' out)"
        )
