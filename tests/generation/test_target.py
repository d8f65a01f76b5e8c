"""A generation with a target: failed rollouts are made up for by further scenes, for a bounded
number of rounds, resumably; a target the first scenes meet changes nothing."""

from __future__ import annotations

import logging
from pathlib import Path

from prism.formats.json_store import JsonStore
from prism.generation import GenerationConfig, build_scene_generator, build_teacher, generate
from prism.generation.engine import generate_scenes, run_store
from prism.generation.target import MAX_EXTRA_ROUNDS
from prism.scenes.base import Prior
from tests.generation.conftest import Garbage


class FailingIn:
    """The oracle, but a planner that never writes a valid turn on the tasks of the scenes
    named (every task with ``None``); records the tasks it was asked for."""

    name = "oracle"

    def __init__(self, config: GenerationConfig, root: Path, scenes: list[int] | None) -> None:
        self.oracle = build_teacher(config, None, {})
        self.failing = None if scenes is None else _tasks_of(config, root, scenes)
        self.asked: list[tuple[str, str]] = []

    def check(self) -> None:
        pass

    def planner(self, task, sim):
        self.asked.append((task.task, task.init_node))
        if self.failing is None or (task.task, task.init_node) in self.failing:
            return Garbage()
        return self.oracle.planner(task, sim)


def _tasks_of(config: GenerationConfig, root: Path, scenes: list[int]) -> set[tuple[str, str]]:
    """The tasks of the scenes of ``config`` at the indices ``scenes`` (made in a scratch
    store: they are a function of the seed and the index)."""
    run = run_store(JsonStore(root / "scratch"), config)
    made = generate_scenes(config, run, build_scene_generator(config, None, {}), scenes)
    return {(t["task"], t["init_node"]) for record in made.values() for t in record["tasks"]}


def _generate(config, root, teacher, **target):
    return generate(
        config, JsonStore(root), build_scene_generator(config, None, {}), teacher, None, **target
    )


def _ids(result):
    return [s["id"] for s in result.samples]


def test_a_target_the_first_scenes_meet_adds_nothing(tmp_path):
    config = GenerationConfig(n_samples=2, n_tasks=2, workers=2)
    plain = _generate(config, tmp_path / "plain", build_teacher(config, None, {}))
    aimed = _generate(
        config, tmp_path / "aimed", build_teacher(config, None, {}), target=len(plain.samples)
    )
    assert _ids(aimed) == _ids(plain) and aimed.failed == plain.failed
    assert aimed.stats["target"]["extra_rounds"] == 0 and aimed.stats["target"]["reached"]
    assert "target" not in plain.stats  # the generation pipeline's statistics are as before
    run = next((tmp_path / "aimed").iterdir())
    assert sorted(p.name for p in (run / "scenes").iterdir()) == [
        "scene_000.json",
        "scene_001.json",
    ]


def test_failed_rollouts_are_made_up_for_by_further_scenes(tmp_path):
    config = GenerationConfig(n_samples=2, n_tasks=2, workers=2)
    teacher = FailingIn(config, tmp_path, [0])
    result = _generate(config, tmp_path / "gen", teacher, target=4)
    assert {f["scene_id"] for f in result.failed} == {"scene_000"}
    target = result.stats["target"]
    # half the rollouts passed: 2 missing samples, 2 tasks a scene -> 2 further scenes
    assert target["reached"] and target["extra_rounds"] == 1 and target["extra_scenes"] == 2
    assert {s["scene_id"] for s in result.samples} == {"scene_001", "scene_002", "scene_003"}
    assert len(set(_ids(result))) == target["passed"] == 6

    # Killed before two of the further rollouts were stored: the same command redoes those two
    # only, and ends with the same samples.
    run = JsonStore(next((tmp_path / "gen").iterdir()))
    lost = [run.get(k) for k in run.keys("rollouts") if k.startswith("rollouts/scene_002")]
    assert lost
    for record in lost:
        run.path(f"rollouts/{record['key']}").unlink()
    again = FailingIn(config, tmp_path, [0])
    resumed = _generate(config, tmp_path / "gen", again, target=4)
    assert _ids(resumed) == _ids(result)
    assert sorted(again.asked) == sorted((r["task"]["task"], r["task"]["init_node"]) for r in lost)


def test_samples_already_known_do_not_count(tmp_path):
    config = GenerationConfig(n_samples=1, n_tasks=2, workers=2)
    first = _generate(config, tmp_path / "first", build_teacher(config, None, {}))
    result = _generate(
        config, tmp_path / "again", build_teacher(config, None, {}), target=2, known=_ids(first)
    )
    assert result.stats["target"]["extra_rounds"] >= 1
    assert len(set(_ids(result)) - set(_ids(first))) >= 2


def test_a_replayed_world_the_teacher_fails_is_made_up_for_by_a_new_scene_like_it(worlds, tmp_path):
    world = worlds[0]
    config = GenerationConfig(n_samples=1, n_tasks=2, workers=2, priors=(Prior.of_world(world),))
    result = _generate(config, tmp_path / "gen", FailingIn(config, tmp_path, [0]), target=1)
    assert result.stats["target"]["reached"]
    run = JsonStore(next((tmp_path / "gen").iterdir()))
    assert run.get("scenes/scene_000")["generator"] == "world"
    further = run.get("scenes/scene_001")
    assert further["generator"] == "procedural"  # a new scene, not the same world again
    assert further["prior"]["task"] == world.task.task and further["prior"].get("world") is None


def test_a_teacher_that_never_passes_stops_after_the_last_round_and_says_so(tmp_path, caplog):
    config = GenerationConfig(n_samples=1, n_tasks=2, workers=2)
    with caplog.at_level(logging.WARNING, logger="prism.generation.engine"):
        result = _generate(config, tmp_path, FailingIn(config, tmp_path, None), target=2)
    target = result.stats["target"]
    assert not target["reached"] and target["passed"] == 0
    assert target["extra_rounds"] == MAX_EXTRA_ROUNDS
    # each round sized for a 10 % pass rate: 2 missing samples, 2 tasks a scene -> 10 scenes
    assert target["extra_scenes"] == 10 * MAX_EXTRA_ROUNDS
    assert f"0 of the 2 samples asked for passed after {MAX_EXTRA_ROUNDS} further round" in (
        caplog.text
    )
