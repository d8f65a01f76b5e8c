"""A world: a task in a scene with its hidden nodes, replayed exactly."""

from __future__ import annotations

import pytest

from prism.world.task import Task, TaskError
from prism.world.worlds import World

GRAPH = {
    "regions": [{"name": "field_1", "coords": [0, 0]}, {"name": "field_2", "coords": [5, 0]}],
    "objects": [{"name": "truck_1", "coords": [6, 1], "description": "has keys"}],
    "region_connections": [["field_1", "field_2"]],
    "object_connections": [["truck_1", "field_2"]],
    "robot_location": "field_1",
}


def world(**changes) -> World:
    values = {
        "graph": GRAPH,
        "task": Task("Is the truck damaged?", "no", "field_2"),
        "hidden": ("truck_1",),
    }
    return World(**{**values, **changes})


def test_the_sim_starts_at_the_task_start_with_the_hidden_nodes_missing():
    sim = world().sim()
    assert sim.location == "field_2"
    assert "truck_1" not in sim.partial and "truck_1" in sim.full


def test_each_sim_is_fresh():
    first = world()
    sim = first.sim()
    sim.partial.graph.remove_node("field_1")
    assert "field_1" in first.sim().partial


def test_records_round_trip_and_ids_are_stable_and_distinct():
    original = world(graph_unknown=0.3, scene_id="scene_004")
    assert World.from_record(original.to_record()) == original
    assert World.from_record(original.to_record()).id == original.id
    assert world(hidden=()).id != original.id
    assert len(original.id) == 16


def test_a_malformed_record_names_the_field():
    record = world().to_record()
    record["hidden"] = "truck_1"
    with pytest.raises(TaskError, match="probe 3: field 'hidden'"):
        World.from_record(record, source="probe 3")
