"""The pretraining corpus: drills answer from the graph, rollouts are the oracle's, probes held out."""

from __future__ import annotations

import itertools
import random

import pytest

from prism.pretraining.corpus import (
    CorpusSpec,
    corpus,
    drill,
    neighbours,
    probe_items,
    question,
    shortest_paths,
)

SPEC = CorpusSpec(n_scenes=6, questions_per_drill=5, rollouts_per_scene=1, seed=3)


def test_lookup_and_neighbour_answers_restate_the_graph_line(tiny_graph):
    rng = random.Random(0)
    for _ in range(20):
        text, (answer,) = question(tiny_graph, "lookup", rng)
        obj = text.removeprefix("q: where is ").removesuffix("?")
        assert answer == f"object {obj}: {tiny_graph.region_of(obj)}"
        text, (answer,) = question(tiny_graph, "neighbours", rng)
        region = text.removeprefix("q: neighbours of ").removesuffix("?")
        assert answer == f"region {region}: {' '.join(neighbours(tiny_graph, region))}"


def test_every_accepted_path_is_a_shortest_walk_along_edges(tiny_graph):
    assert shortest_paths(tiny_graph, "yard_1", "island_1") == [
        ["yard_1", "road_1", "road_2", "bridge_1", "island_1"]
    ]
    assert shortest_paths(tiny_graph, "field_1", "field_1") == [["field_1"]]
    rng = random.Random(1)
    for _ in range(20):
        text, answers = question(tiny_graph, "path", rng)
        start, goal = text.removeprefix("q: path from ").removesuffix("?").split(" to ")
        lengths = {len(a.split()) for a in answers}
        assert len(lengths) == 1
        for answer in answers:
            hops = answer.split()[1:]
            assert hops[0] == start and hops[-1] == goal, (text, answer)
            assert all(b in neighbours(tiny_graph, a) for a, b in itertools.pairwise(hops))
        # exactly the shortest ones: no longer walk, none left out
        assert answers == tuple(
            f"path {' '.join(p)}" for p in shortest_paths(tiny_graph, start, goal)
        )


def test_a_drill_shows_the_graph_once_then_asks_more(tiny_graph):
    messages = drill(tiny_graph, ["lookup", "neighbours", "path"], 4, random.Random(0))
    assert [m["role"] for m in messages] == ["user", "assistant"] * 4
    assert "region yard_1: road_1" in messages[0]["content"]
    assert messages[0]["content"].splitlines()[-1].startswith("q: ")
    assert all("region yard_1" not in m["content"] for m in messages[2::2])


def test_the_corpus_is_deterministic_and_mixes_drills_and_rollouts():
    first, second = list(corpus(SPEC)), list(corpus(SPEC))
    assert first == second
    drills = [d for d in first if d[0]["content"].splitlines()[-1].startswith("q: ")]
    rollouts = [d for d in first if d[0]["content"].splitlines()[-1].startswith("task: ")]
    assert len(drills) == SPEC.n_scenes
    assert len(rollouts) >= SPEC.n_scenes - 1  # the oracle fails one rollout in a hundred
    assert all(d[1]["content"].startswith("[") for d in rollouts)  # compact replies: plans


def test_probe_worlds_are_not_training_worlds():
    train_graphs = {d[0]["content"].rsplit("\nq: ", 1)[0] for d in corpus(SPEC)}
    for item in probe_items(SPEC, 5):
        assert item.messages[0]["content"].rsplit("\nq: ", 1)[0] not in train_graphs


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="drill_kinds: unknown"):
        CorpusSpec(drill_kinds=("lookup", "teleport"))
    with pytest.raises(ValueError, match="n_scenes"):
        CorpusSpec(n_scenes=0)
