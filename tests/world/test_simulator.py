"""The partial-observation simulator: hidden nodes, what each action reveals, the update messages."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.world.protocol import Action, first_turn
from prism.world.scene_graph import SceneGraph, SceneGraphError
from prism.world.simulator import (
    EMPTY_DESCRIPTION,
    REPEAT_LIMIT,
    PartialObservationSim,
    Updates,
)


def prompt_graph(sim: PartialObservationSim) -> dict:
    """The scene graph as the planner reads it in the first prompt."""
    return json.loads(first_turn("Where is the truck?", sim.partial).split("Scene graph:", 1)[1])


def prompt_nodes(sim: PartialObservationSim) -> set[str]:
    graph = prompt_graph(sim)
    return {n["name"] for n in (*graph["regions"], *graph["objects"])}


# ---------------------------------------------------------------------------- hidden nodes
@pytest.mark.parametrize(
    ("fraction", "hidden"), [(0.0, 0), (0.2, 5), (0.3, 7), (0.5, 13), (1.0, 25)]
)
def test_graph_unknown_is_a_fraction_of_the_nodes(
    reference_graph: SceneGraph, fraction: float, hidden: int
) -> None:
    assert reference_graph.graph.number_of_nodes() == 26
    sim = PartialObservationSim(reference_graph, graph_unknown=fraction, rng=random.Random(0))
    assert len(sim.hidden) == hidden == min(25, int(fraction * 26))
    assert sim.partial.graph.number_of_nodes() == 26 - hidden
    assert not set(sim.partial.graph) & sim.hidden


def test_graph_unknown_one_leaves_only_the_robot(reference_graph: SceneGraph) -> None:
    sim = PartialObservationSim(reference_graph, graph_unknown=1.0, init_node="field_9")
    assert set(sim.partial.graph) == {"field_9"}
    assert sim.location == "field_9"


@pytest.mark.parametrize("fraction", [-0.1, 1.01, 30, 100])
def test_graph_unknown_outside_zero_one_is_rejected(
    reference_graph: SceneGraph, fraction: float
) -> None:
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\]"):
        PartialObservationSim(reference_graph, graph_unknown=fraction)


@given(
    st.floats(0.0, 1.0), st.integers(0, 2**32), st.sampled_from(["field_1", "field_9", "road_2"])
)
def test_the_robot_location_is_never_hidden(
    reference_eval: dict, fraction: float, seed: int, start: str
) -> None:
    scene = SceneGraph.from_spine(reference_eval["graph"])
    sim = PartialObservationSim(
        scene, graph_unknown=fraction, rng=random.Random(seed), init_node=start
    )
    assert start in sim.partial
    assert start not in sim.hidden
    assert sim.partial.robot_location == start
    assert len(sim.hidden) == min(25, int(fraction * 26))


def test_the_same_rng_seed_hides_the_same_nodes(reference_graph: SceneGraph) -> None:
    one = PartialObservationSim(reference_graph, graph_unknown=0.4, rng=random.Random(7))
    two = PartialObservationSim(reference_graph, graph_unknown=0.4, rng=random.Random(7))
    assert one.hidden == two.hidden
    assert one.partial.to_spine() == two.partial.to_spine()


def test_an_explicit_hidden_set_reproduces_the_partial_graph(reference_graph: SceneGraph) -> None:
    drawn = PartialObservationSim(reference_graph, graph_unknown=0.3, rng=random.Random(3))
    again = PartialObservationSim(reference_graph, hidden=sorted(drawn.hidden))
    assert again.hidden == drawn.hidden
    assert again.partial.to_spine() == drawn.partial.to_spine()
    assert first_turn("t", again.partial) == first_turn("t", drawn.partial)


def test_an_explicit_hidden_set_never_hides_the_robot(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph, hidden={"yard_1", "shed_1"})
    assert sim.hidden == {"shed_1"}
    assert "yard_1" in sim.partial


def test_hidden_nodes_are_absent_from_the_first_prompt(reference_graph: SceneGraph) -> None:
    sim = PartialObservationSim(reference_graph, graph_unknown=0.3, rng=random.Random(11))
    graph = prompt_graph(sim)
    assert prompt_nodes(sim) == set(reference_graph.graph) - sim.hidden
    for edge in (*graph["region_connections"], *graph["object_connections"]):
        assert not set(edge) & sim.hidden


def test_no_description_is_visible_at_the_start(reference_graph: SceneGraph) -> None:
    sim = PartialObservationSim(reference_graph, graph_unknown=0.0)
    graph = prompt_graph(sim)
    assert all("description" not in n for n in (*graph["regions"], *graph["objects"]))
    assert "has keys" not in first_turn("t", sim.partial)
    # The full scene keeps them, and the simulator never modifies the scene it was given.
    assert sim.full.description("pickup_truck_1") == "has keys"
    assert reference_graph.description("pickup_truck_1") == "has keys"


def test_init_node_places_the_robot(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph, init_node="field_1")
    assert sim.location == sim.partial.robot_location == "field_1"
    assert tiny_graph.robot_location == "yard_1"
    with pytest.raises(SceneGraphError, match="init_node 'shed_1' is not a region"):
        PartialObservationSim(tiny_graph, init_node="shed_1")


# ---------------------------------------------------------------------------- actions
def test_map_region_reveals_neighbours_and_description(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph, hidden={"road_2", "shed_1", "pickup_truck_1"})
    result = sim.execute(Action("map_region", ("road_1",)))
    assert result.interrupts and not result.done

    updates = sim.take_updates()
    assert updates.new_nodes == [
        {"name": "road_2", "type": "region", "coords": [20, 0]},
        {"name": "shed_1", "type": "object", "coords": [9, 2]},
    ]
    assert sorted(updates.new_connections) == [["road_1", "road_2"], ["road_1", "shed_1"]]
    assert updates.attributes == [{"name": "road_1", "description": "paved"}]
    assert updates.location == "road_1"

    assert {"road_2", "shed_1"} <= set(sim.partial.graph)
    assert sim.hidden == {"pickup_truck_1"}
    assert sim.partial.description("road_1") == "paved"
    assert sim.partial.description("road_2") is None  # seen, not mapped
    # Only the mapped region's own edges appear: road_2's others wait until it is mapped.
    assert not sim.partial.graph.has_edge("road_2", "field_1")
    assert "pickup_truck_1" not in sim.partial


def test_map_region_reveals_known_nodes_connections(tiny_graph: SceneGraph) -> None:
    # road_2 was hidden and revealed from road_1; mapping field_1 adds the field_1-road_2 edge.
    sim = PartialObservationSim(tiny_graph, hidden={"road_2"})
    sim.execute(Action("map_region", ("road_1",)))
    sim.take_updates()
    sim.execute(Action("goto", ("road_2",)))
    result = sim.execute(Action("map_region", ("field_1",)))
    assert result.interrupts
    assert ["field_1", "road_2"] in sim.take_updates().new_connections
    assert sim.partial.graph.has_edge("field_1", "road_2")


def test_mapping_a_region_twice_reveals_nothing_new(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph, hidden={"shed_1"})
    assert sim.execute(Action("map_region", ("road_1",))).interrupts
    sim.take_updates()
    assert not sim.execute(Action("map_region", ("road_1",))).interrupts
    assert not sim.take_updates()


def test_a_known_region_description_does_not_interrupt_alone(tiny_graph: SceneGraph) -> None:
    # Nothing hidden next to road_1: the description is news but no reason to re-plan.
    sim = PartialObservationSim(tiny_graph)
    result = sim.execute(Action("map_region", ("road_1",)))
    assert not result.interrupts
    assert sim.take_updates().attributes == [{"name": "road_1", "description": "paved"}]


def test_explore_region_works_like_map_region(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph, hidden={"cabin_1"}, init_node="bridge_1")
    result = sim.execute(Action("explore_region", ("island_1", 10.0)))
    assert result.interrupts
    updates = sim.take_updates()
    assert [n["name"] for n in updates.new_nodes] == ["cabin_1"]
    assert updates.attributes == [{"name": "island_1", "description": "sandy"}]
    assert sim.location == "island_1"


def test_inspect_reveals_the_description_and_moves_the_robot(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    result = sim.execute(Action("inspect", ("pickup_truck_1", "keys?")))
    assert result.interrupts
    updates = sim.take_updates()
    assert updates.attributes == [{"name": "pickup_truck_1", "description": "has keys"}]
    assert updates.location == "road_2"
    assert sim.location == "road_2"
    assert sim.partial.description("pickup_truck_1") == "has keys"
    # Inspecting again teaches nothing.
    assert not sim.execute(Action("inspect", ("pickup_truck_1", "keys?"))).interrupts
    assert not sim.take_updates()


def test_an_empty_description_is_revealed_as_no_description(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph, init_node="island_1")
    sim.execute(Action("inspect", ("cabin_1", "anyone inside?")))
    assert sim.take_updates().attributes == [{"name": "cabin_1", "description": EMPTY_DESCRIPTION}]


def test_goto_moves_without_interrupting(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph, hidden={"shed_1"})
    result = sim.execute(Action("goto", ("road_1",)))
    assert not result.interrupts and not result.done
    assert sim.location == sim.partial.robot_location == sim.full.robot_location == "road_1"
    updates = sim.take_updates()
    assert updates.location == "road_1"
    assert updates.render() == "update_robot_location(road_1)"
    assert "shed_1" not in sim.partial  # driving past is not mapping


def test_goto_where_the_robot_already_is_reports_nothing(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    sim.execute(Action("goto", ("yard_1",)))
    assert sim.take_updates().render() == "no_updates()"


def test_extend_map_feedback_says_to_use_explore_region(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    assert sim.execute(Action("extend_map", (10.0, 5.0))).interrupts
    (feedback,) = sim.take_updates().feedback
    assert "extend_map" in feedback and "explore_region" in feedback


def test_clarify_tells_the_planner_to_find_out_itself(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    assert sim.execute(Action("clarify", ("which truck?",))).interrupts
    assert "not available" in sim.take_updates().feedback[0]


def test_replan_interrupts_and_answer_ends(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    replan = sim.execute(Action("replan", ()))
    assert replan.interrupts and not replan.done
    assert sim.execute(Action("answer", ("yes",))).done


def test_the_same_action_three_times_gets_a_hint(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    goto = Action("goto", ("road_1",))
    assert REPEAT_LIMIT == 3
    assert not sim.execute(goto).interrupts
    assert not sim.execute(goto).interrupts
    third = sim.execute(goto)
    assert third.interrupts
    (hint,) = sim.take_updates().feedback
    assert "goto(road_1) 3 times in a row" in hint
    assert "answer" in hint


def test_different_actions_in_between_reset_the_repeat_count(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    for action in ("road_1", "road_1", "road_2", "road_1", "road_1"):
        assert not sim.execute(Action("goto", (action,))).interrupts
    assert not sim.take_updates().feedback
    assert len(sim.history) == 5


def test_take_updates_starts_afresh(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    sim.execute(Action("goto", ("road_1",)))
    assert sim.take_updates()
    assert not sim.take_updates()


# ---------------------------------------------------------------------------- Updates
def test_updates_render_one_call_per_line() -> None:
    updates = Updates(
        new_nodes=[{"name": "road_2", "type": "region", "coords": [20, 0]}],
        new_connections=[["road_1", "road_2"]],
        attributes=[{"name": "road_1", "description": "paved"}],
        location="road_1",
        feedback=["Do not call extend_map.", 'Ask "nobody".'],
    )
    assert updates.render().splitlines() == [
        'add_nodes([{"name": "road_2", "type": "region", "coords": [20, 0]}])',
        'add_connections([["road_1", "road_2"]])',
        'update_node_attributes([{"name": "road_1", "description": "paved"}])',
        "update_robot_location(road_1)",
        'feedback("Do not call extend_map.")',
        'feedback("Ask \\"nobody\\".")',
    ]


def test_updates_render_non_ascii_as_is() -> None:
    text = Updates(attributes=[{"name": "café_1", "description": "geöffnet"}]).render()
    assert text == 'update_node_attributes([{"name": "café_1", "description": "geöffnet"}])'


def test_no_updates() -> None:
    assert not Updates()
    assert Updates().render() == "no_updates()"
    assert Updates(location="road_1")
    assert Updates(feedback=["x"])
