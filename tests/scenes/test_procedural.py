"""The procedural scene generator: layouts, tasks, task classification and task inference."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from prism.formats.eval_tasks import read_eval_suite
from prism.scenes.base import GeneratedScene, Prior, SceneRequest
from prism.scenes.procedural import (
    NO,
    TASK_KINDS,
    ProceduralSceneGenerator,
)
from prism.scenes.task_reading import classify_task, infer_task
from prism.scenes.themes import THEMES, be, with_article
from prism.world.scene_graph import SceneGraph
from prism.world.task import Task

GENERATOR = ProceduralSceneGenerator()


def generate(
    seed: int, n_regions: int = 10, n_objects: int = 6, n_tasks: int = 5, **kw: Any
) -> GeneratedScene:
    return GENERATOR.generate(SceneRequest(n_regions, n_objects, n_tasks, seed, **kw))


@pytest.fixture(scope="module")
def fifty_scenes() -> list[GeneratedScene]:
    return [generate(seed) for seed in range(50)]


# ---------------------------------------------------------------------------- scenes
def test_the_same_request_gives_the_same_scene_and_tasks() -> None:
    one, two = generate(17), generate(17)
    assert one.scene.to_json() == two.scene.to_json()
    assert [t.to_record() for t in one.tasks] == [t.to_record() for t in two.tasks]
    assert one.metadata == two.metadata


def test_a_different_seed_gives_a_different_scene() -> None:
    scenes = {generate(seed).scene.to_json() for seed in range(10)}
    assert len(scenes) == 10


@pytest.mark.parametrize(("n_regions", "n_objects"), [(1, 1), (2, 1), (1, 5), (7, 3), (30, 40)])
def test_region_and_object_counts_are_exact(n_regions: int, n_objects: int) -> None:
    for seed in range(10):
        scene = generate(seed, n_regions, n_objects, 3).scene
        assert len(scene.regions) == n_regions
        assert len(scene.objects) == n_objects


def test_scenes_are_connected(fifty_scenes: list[GeneratedScene]) -> None:
    for generated in fifty_scenes:
        scene = generated.scene
        assert nx.is_connected(scene.region_graph())
        assert scene.reachable_regions(scene.robot_location) == set(scene.regions)
        for obj in scene.objects:
            neighbours = list(scene.graph.neighbors(obj))
            assert len(neighbours) == 1, obj
            assert scene.is_region(neighbours[0])


def test_scenes_are_valid_spine_graphs(fifty_scenes: list[GeneratedScene]) -> None:
    for seed, generated in enumerate(fifty_scenes):
        spine = generated.scene.to_spine()
        reread = SceneGraph.from_spine(spine, source=f"seed {seed}")
        assert reread.to_spine() == spine
        assert generated.scene.is_region(generated.scene.robot_location)


def test_every_node_has_a_description_to_reveal(fifty_scenes: list[GeneratedScene]) -> None:
    crossable = 0
    for generated in fifty_scenes:
        scene = generated.scene
        for node in scene.graph:
            assert scene.description(node) is not None
            if "bridge" in node:
                crossable += 1
                assert scene.description(node) in ("damaged, not safe to cross", "not damaged")
    assert crossable > 0


# ---------------------------------------------------------------------------- tasks
def test_tasks_fit_their_scene(fifty_scenes: list[GeneratedScene]) -> None:
    for seed, generated in enumerate(fifty_scenes):
        scene = generated.scene
        assert len(generated.tasks) == 5
        assert len({t.task for t in generated.tasks}) == 5
        for task in generated.tasks:
            task.check_against(scene, source=f"seed {seed}")  # raises on a bad node
            assert scene.is_region(task.init_node)
            assert all(target in scene for target in task.targets)
            assert task.kind in TASK_KINDS
            assert task.subject
            re.compile(task.answer, re.IGNORECASE)


def test_task_targets_are_what_the_task_is_about(fifty_scenes: list[GeneratedScene]) -> None:
    for generated in fifty_scenes:
        scene = generated.scene
        for task in generated.tasks:
            if task.kind == "existence" and not task.targets:
                assert task.answer == NO
                continue
            assert task.targets, task
            if task.kind == "attribute" and scene.is_region(task.targets[0]):
                continue  # "Can I cross the bridge?"
            assert all(scene.is_object(t) for t in task.targets), task
            # A correct answer names a target: each target's name matches the answer regex.
            if task.kind == "diagnosis":
                # Every suspect is a target; only the damaged ones explain the outage.
                for target in task.targets:
                    damaged = scene.description(target).startswith("damaged")
                    assert bool(re.search(task.answer, target, re.IGNORECASE)) == damaged, task
            elif task.kind != "attribute":
                assert all(re.search(task.answer, t, re.IGNORECASE) for t in task.targets), task


HEDGES = ("[answer(yes, no)]", "[answer(I do not know)]", "[answer(yes no not damaged)]")


def test_hedging_answers_fail_every_task(fifty_scenes: list[GeneratedScene]) -> None:
    # Answers are graded by a regex search over the final plan: saying everything must not pass.
    for generated in fifty_scenes:
        for task in generated.tasks:
            for hedge in HEDGES:
                assert not re.search(task.answer, hedge, re.IGNORECASE), (task, hedge)


def test_hedging_answers_fail_every_shipped_eval_task() -> None:
    suite = read_eval_suite(Path(__file__).resolve().parents[2] / "data/01_raw/eval_tasks_1.json")
    assert len(suite.tasks) >= 30
    for task in suite.tasks:
        for hedge in HEDGES:
            assert not task.matches(hedge), (task, hedge)


def test_attribute_answers_follow_the_hidden_state(fifty_scenes: list[GeneratedScene]) -> None:
    for generated in fifty_scenes:
        for task in generated.tasks:
            if task.kind != "attribute":
                continue
            damaged = generated.scene.description(task.targets[0]).startswith("damaged")
            yes = re.search(task.answer, "Yes, it is damaged.", re.IGNORECASE) is not None
            no = re.search(task.answer, "No, it is not damaged.", re.IGNORECASE) is not None
            is_crossing = generated.scene.is_region(task.targets[0])
            # "Is the X damaged?" -> yes when damaged; "Can I cross the X?" -> no when damaged.
            assert no if damaged == is_crossing else yes, task


def test_every_task_kind_appears(fifty_scenes: list[GeneratedScene]) -> None:
    kinds = Counter(t.kind for g in fifty_scenes for t in g.tasks)
    assert set(kinds) == set(TASK_KINDS)
    assert min(kinds.values()) >= 5


def test_scenes_come_in_many_themes(fifty_scenes: list[GeneratedScene]) -> None:
    themes = {g.metadata["theme"] for g in fifty_scenes}
    assert len(themes) >= 6
    assert themes <= {t.name for t in THEMES}
    for generated in fifty_scenes:
        assert generated.description


def test_nodes_come_from_the_scene_theme(fifty_scenes: list[GeneratedScene]) -> None:
    by_name = {t.name: t for t in THEMES}
    for generated in fifty_scenes:
        theme = by_name[generated.metadata["theme"]]
        kinds = {k.name for k in (*theme.regions, *theme.objects)}
        for node in generated.scene.graph:
            assert re.sub(r"_\d+$", "", node) in kinds


def test_a_prior_steers_the_task_kind() -> None:
    kinds = Counter()
    for seed in range(20):
        generated = generate(seed, prior=Prior("Is the truck damaged?"))
        assert generated.metadata["prior_kind"] == "attribute"  # read off the text
        kinds.update(t.kind for t in generated.tasks)
    assert kinds["attribute"] / sum(kinds.values()) >= 0.8


def test_a_prior_that_knows_its_kind_is_not_read_off_its_text() -> None:
    prior = Prior("Is the truck damaged?", kind="existence", sample_id="s1")
    assert generate(0, prior=prior).metadata["prior_kind"] == "existence"


def test_a_prior_from_configuration_text_is_the_reference_prompt() -> None:
    prior = Prior.from_value("example task: Is the truck damaged?")
    assert prior == Prior("Is the truck damaged?")
    assert prior.prompt() == "example task: Is the truck damaged?"


def test_a_prior_steers_the_theme() -> None:
    themes = {
        generate(seed, prior=Prior("Where is the forklift near the crane?")).metadata["theme"]
        for seed in range(5)
    }
    assert themes == {"port"}


def test_scene_request_rejects_non_positive_counts() -> None:
    with pytest.raises(ValueError, match="n_regions must be a positive count"):
        SceneRequest(0, 3, 3, seed=1)
    with pytest.raises(ValueError, match="n_tasks"):
        SceneRequest(3, 3, -1, seed=1)


# ---------------------------------------------------------------------------- classify_task
def _templates() -> dict[str, list[str]]:
    """Every task text the generator can write, by kind (the builders' templates)."""
    texts: dict[str, list[str]] = {kind: [] for kind in TASK_KINDS}
    objects = {k.name: k for theme in THEMES for k in theme.objects}.values()
    regions = {k.name: k for theme in THEMES for k in theme.regions}.values()
    for kind in objects:
        for word in kind.words:
            texts["existence"] += [
                f"Is there {with_article(word)} in the scene?",
                f"I heard there is {with_article(word)} around here. Is that true?",
                f"Can you check whether there is {with_article(word)} nearby?",
            ]
            texts["attribute"] += [
                f"Is the {word} damaged?",
                f"Can you check if the {word} is damaged?",
            ]
        for phrase in kind.affordances:
            texts["affordance"] += [
                f"Find me something I can {phrase}.",
                f"I need something I can {phrase}. Is there one around?",
            ]
        for item in kind.holds:
            texts["likely_location"] += [
                f"Where {be(item)} {item} likely to be?",
                f"I need {item}. Where should I look?",
            ]
        if kind.outage:
            outage = kind.outage[0].upper() + kind.outage[1:]
            texts["diagnosis"] += [f"{outage}. Why?", f"{outage}. Can you find out why?"]
    for kind in regions:
        if kind.crossable:
            for word in kind.words:
                texts["attribute"] += [
                    f"Can I cross the {word}?",
                    f"Is it safe to cross the {word}?",
                ]
    return texts


TEMPLATES = _templates()


def test_the_template_enumeration_matches_generated_tasks(
    fifty_scenes: list[GeneratedScene],
) -> None:
    known = {text for texts in TEMPLATES.values() for text in texts}
    for generated in fifty_scenes:
        for task in generated.tasks:
            assert task.task in known
            assert task.task in TEMPLATES[task.kind]


@pytest.mark.parametrize("kind", [k for k in TASK_KINDS if k != "affordance"])
def test_classify_task_on_every_template(kind: str) -> None:
    wrong = [(t, classify_task(t)) for t in TEMPLATES[kind] if classify_task(t) != kind]
    assert not wrong


def test_classify_task_on_affordance_templates() -> None:
    texts = [t for t in TEMPLATES["affordance"] if " cross " not in t]
    assert len(texts) > 50
    assert all(classify_task(t) == "affordance" for t in texts)


def test_classify_task_on_affordances_about_crossing() -> None:
    texts = [t for t in TEMPLATES["affordance"] if " cross " in t]
    assert texts
    assert [classify_task(t) for t in texts] == ["affordance"] * len(texts)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("is there a boat in the scene?", "existence"),
        ("Find me something I can drive in", "affordance"),
        ("I lost my keys. I last saw them when I parked my truck.", "likely_location"),
        ("communications are down. Why?", "diagnosis"),
        ("Is the light poles damaged?", "attribute"),
        ("Is the truck damaged?", "attribute"),
        ("Is the boat damaged?", "attribute"),
        ("Find me a place to stay for the night?", "affordance"),
        ("Where are tools likely to be?", "likely_location"),
        ("Can I cross the bridge?", "attribute"),
    ],
)
def test_classify_task_on_the_reference_eval_tasks(text: str, kind: str) -> None:
    assert classify_task(text) == kind


def test_classify_task_returns_none_for_other_text() -> None:
    assert classify_task("Sing me a song.") is None


def test_reference_eval_tasks_are_all_classified(reference_eval: dict[str, Any]) -> None:
    assert all(classify_task(t["task"]) in TASK_KINDS for t in reference_eval["tasks"])


# ---------------------------------------------------------------------------- infer_task
@pytest.mark.parametrize(
    ("text", "kind", "targets"),
    [
        ("is there a boat in the scene?", "existence", ("sail_boat_1",)),
        ("Is the boat damaged?", "attribute", ("sail_boat_1",)),
        ("Where are tools likely to be?", "likely_location", ("shed_1",)),
        ("communications are down. Why?", "diagnosis", ("internet_tower_2",)),
        ("Find me something I can drive in", "affordance", ("pickup_truck_1",)),
        ("Find me a place to stay for the night?", "affordance", ("cabin_1", "cabin_2")),
        ("Can I cross the bridge?", "attribute", ("bridge_1",)),
        ("Is the truck damaged?", "attribute", ("pickup_truck_1",)),
        ("Is the light poles damaged?", "attribute", ("light_pole_1",)),
        (
            "I lost my keys. I last saw them when I parked my truck.",
            "likely_location",
            ("pickup_truck_1",),
        ),
    ],
)
def test_infer_task_on_the_reference_eval_tasks(
    reference_graph: SceneGraph, text: str, kind: str, targets: tuple[str, ...]
) -> None:
    inferred = infer_task(Task(text, "x", "field_1"), reference_graph)
    assert inferred.kind == kind
    assert inferred.targets == targets
    assert inferred.subject
    assert (inferred.task, inferred.answer, inferred.init_node) == (text, "x", "field_1")


def test_infer_task_on_every_reference_record(
    reference_eval: dict[str, Any], reference_graph: SceneGraph
) -> None:
    for i, record in enumerate(reference_eval["tasks"]):
        task = infer_task(Task.from_record(record, source=f"task {i}"), reference_graph)
        assert task.targets, record
        task.check_against(reference_graph)


def test_infer_task_recovers_generated_tasks(fifty_scenes: list[GeneratedScene]) -> None:
    # A generated task stripped of kind and targets reads back to a task about the same nodes
    # (negative existence tasks have no targets).
    wrong = []
    for generated in fifty_scenes:
        for task in generated.tasks:
            if not task.targets:
                continue
            inferred = infer_task(Task(task.task, task.answer, task.init_node), generated.scene)
            if inferred.kind != task.kind or not set(task.targets) <= set(inferred.targets):
                wrong.append((task.task, task.targets, inferred.kind, inferred.targets))
    assert not wrong
