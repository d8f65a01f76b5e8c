"""The closed-loop probe: the student plans on fresh tasks from the training distribution.

Its outcomes — solved or not, why, in how many turns, and the exact world (scene, hidden nodes,
start) — are what the student gets wrong on its own states: samplers read them
(``task_failure`` seeds generation with the failed worlds) and the DAgger collector acts on the
same worlds. The tasks come from the configured scene generator with a seed of their own, never
from the eval task file, so the evaluation stays a held-out measure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from prism.evaluation.task_success import PlannerFactory, run_task
from prism.formats.json_store import JsonStore
from prism.generation.config import GenerationConfig
from prism.generation.engine import generate_scenes, run_parallel, run_store, task_world
from prism.scenes.base import SceneGenerator
from prism.world.worlds import World


def probe_worlds(
    config: GenerationConfig, store: JsonStore, scene_generator: SceneGenerator
) -> list[World]:
    """Every task of ``config.n_samples`` fresh scenes, each in its world (hidden nodes drawn as
    a generation run draws them), made in (or read back from) ``config``'s folder in ``store``."""
    run = run_store(store, config)
    scenes = generate_scenes(config, run, scene_generator)
    return [
        task_world(config, record, t)
        for record in scenes.values()
        if record["status"] == "ok"
        for t in range(len(record["tasks"]))
    ]


def run_probe(
    planner_for: PlannerFactory,
    worlds: Sequence[World],
    config: GenerationConfig,
    *,
    workers: int = 1,
    progress: str = "student on probe tasks",
) -> list[dict[str, Any]]:
    """Let a planner (the student) work every world; one outcome per world, in order.

    Returns:
        Rows with ``id`` (the world's), ``task``, ``kind``, ``correct``, ``valid``, ``reason``,
        ``turns``, ``rejected`` (invalid attempts), ``answer``, ``world`` (its record, to play it
        again) and the ``transcript`` with the ``rejected_turns``.
    """

    def one(index: str) -> dict[str, Any]:
        world = worlds[int(index)]
        result = run_task(
            planner_for,
            world.task,
            world.sim(),
            max_iterations=config.max_iterations,
            max_attempts=config.max_attempts,
        )
        return {
            "id": world.id,
            "task": world.task.task,
            "kind": world.task.kind,
            "correct": result["correct"],
            "valid": result["valid"],
            "reason": result["reason"],
            "turns": result["iterations"],
            "rejected": len(result["rejected"]),
            "answer": result["answer"],
            "world": world.to_record(),
            "transcript": result["transcript"],
            "rejected_turns": result["rejected"],
        }

    keys = [str(i) for i in range(len(worlds))]
    return list(run_parallel(progress, keys, one, workers=workers, unit="task").values())


def probe_summary(outcomes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``probe/accuracy``, ``probe/n`` and the failures by reason class and by task kind."""
    failed = [o for o in outcomes if not o["correct"]]
    return {
        "probe/accuracy": (len(outcomes) - len(failed)) / len(outcomes) if outcomes else 0.0,
        "probe/n": len(outcomes),
        "failed_by_reason": dict(
            sorted(Counter(str(o["reason"]).split(":", 1)[0] for o in failed).items())
        ),
        "failed_by_kind": dict(sorted(Counter(str(o["kind"]) for o in failed).items())),
    }
