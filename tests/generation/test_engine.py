"""The rollout engine on a world played again: the scene, task and hidden nodes are the world's."""

from __future__ import annotations

from prism.formats.json_store import JsonStore
from prism.generation import GenerationConfig, build_scene_generator, build_teacher, generate
from prism.generation.engine import task_world
from prism.scenes.base import Prior


def test_a_prior_with_a_world_is_played_again_as_it_is(worlds, tmp_path):
    world = worlds[2]
    config = GenerationConfig(
        n_samples=2, n_tasks=2, priors=(Prior.of_world(world, "probe-1"), Prior(world.task.task))
    )
    result = generate(
        config,
        JsonStore(tmp_path / "gen"),
        build_scene_generator(config, None, {}),
        build_teacher(config, None, {}),
    )
    by_scene = {}
    for sample in result.samples:
        by_scene.setdefault(sample["scene_id"], []).append(sample)
    (replayed,) = by_scene["scene_000"]  # the world's one task, nothing generated around it
    assert replayed["task"] == world.task.task
    first_user = replayed["conversations"][0]["value"]
    assert first_user.startswith(f"task: {world.task.task}")
    assert all(f'"{hidden}"' not in first_user.split("Scene graph:")[1] for hidden in world.hidden)
    assert (
        len(by_scene.get("scene_001", []))
        + len([f for f in result.failed if f.get("scene_id") == "scene_001"])
        == 2
    )  # a similar new scene, generated, with n_tasks tasks
    run = next((tmp_path / "gen").iterdir())
    record = JsonStore(run).get("scenes/scene_000")
    assert record["generator"] == "world" and record["prior"]["sample_id"] == "probe-1"
    assert task_world(config, record, 0) == world.__class__(
        graph=world.graph,
        task=world.task,
        hidden=world.hidden,
        graph_unknown=world.graph_unknown,
        scene_id="scene_000",
    )
