"""Scene graphs: the SPINE JSON format, its validation, and the graph queries planners rely on."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from prism.world.scene_graph import OBJECT, REGION, SceneGraph, SceneGraphError


def _edge_set(spine: dict[str, Any], key: str) -> set[frozenset[str]]:
    return {frozenset(edge) for edge in spine[key]}


def _nodes(spine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in (*spine["regions"], *spine["objects"])}


# ---------------------------------------------------------------------------- round trip
def test_spine_round_trip_is_lossless(tiny_spine: dict[str, Any]) -> None:
    first = SceneGraph.from_spine(tiny_spine)
    written = first.to_spine()
    second = SceneGraph.from_spine(json.loads(json.dumps(written)))

    assert second.to_spine() == written
    assert dict(second.graph.nodes(data=True)) == dict(first.graph.nodes(data=True))
    assert {frozenset(e) for e in second.graph.edges} == {frozenset(e) for e in first.graph.edges}
    assert second.robot_location == first.robot_location == "yard_1"
    # ... and nothing of the input was lost on the way.
    assert _nodes(written) == _nodes(tiny_spine)
    for key in ("region_connections", "object_connections"):
        assert _edge_set(written, key) == _edge_set(tiny_spine, key)


def test_object_connections_are_written_object_first(tiny_graph: SceneGraph) -> None:
    for obj, region in tiny_graph.to_spine()["object_connections"]:
        assert tiny_graph.is_object(obj)
        assert tiny_graph.is_region(region)


def test_object_connections_accept_region_first(tiny_spine: dict[str, Any]) -> None:
    tiny_spine["object_connections"][0] = ["road_1", "shed_1"]
    assert SceneGraph.from_spine(tiny_spine).region_of("shed_1") == "road_1"


def test_without_descriptions_no_node_carries_a_description(tiny_graph: SceneGraph) -> None:
    spine = tiny_graph.to_spine(descriptions=False)
    assert all("description" not in node for node in (*spine["regions"], *spine["objects"]))
    assert "full of tools" not in tiny_graph.to_json(descriptions=False)


def test_whole_coordinates_are_written_as_integers(tiny_graph: SceneGraph) -> None:
    text = tiny_graph.to_json()
    assert '"coords": [10, 0]' in text
    assert "10.0" not in text


def test_copy_does_not_share_node_attributes(tiny_graph: SceneGraph) -> None:
    clone = tiny_graph.copy()
    clone.graph.nodes["road_1"]["description"] = None
    clone.robot_location = "road_1"
    assert tiny_graph.description("road_1") == "paved"
    assert tiny_graph.robot_location == "yard_1"


def test_reference_eval_graph_loads(reference_graph: SceneGraph) -> None:
    assert len(reference_graph.regions) == 19
    assert len(reference_graph.objects) == 7
    assert reference_graph.robot_location == "field_1"
    assert reference_graph.region_of("sail_boat_1") == "field_7"
    assert reference_graph.description("internet_tower_2") == "damaged"
    assert reference_graph.coords("pickup_truck_1") == (-8.8, -20.0)


def test_reference_eval_graph_round_trips(reference_eval: dict[str, Any]) -> None:
    graph = SceneGraph.from_spine(copy.deepcopy(reference_eval["graph"]))
    again = SceneGraph.from_spine(graph.to_spine())
    assert again.to_spine() == graph.to_spine()
    assert _nodes(again.to_spine()) == _nodes(reference_eval["graph"])


# ---------------------------------------------------------------------------- validation
Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(spine: dict[str, Any]) -> None:
        target: Any = spine
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _append(key: str, value: Any) -> Mutation:
    return lambda spine: spine[key].append(value)


def _delete(key: str) -> Mutation:
    return lambda spine: spine.pop(key)


MALFORMED: list[tuple[str, Mutation, tuple[str, ...]]] = [
    (
        "duplicate region name",
        _set(("regions", 1, "name"), "yard_1"),
        ("regions[1]", "duplicate node name 'yard_1'"),
    ),
    (
        "object named like a region",
        _set(("objects", 0, "name"), "road_2"),
        ("objects[0]", "duplicate node name 'road_2'"),
    ),
    (
        "region edge names a missing node",
        _append("region_connections", ["yard_1", "nowhere_9"]),
        ("region_connections[5]", "'nowhere_9'", "not a node"),
    ),
    (
        "object edge names a missing node",
        _append("object_connections", ["ghost_1", "yard_1"]),
        ("object_connections[4]", "'ghost_1'", "not a node"),
    ),
    (
        "object-object edge",
        _append("object_connections", ["shed_1", "pickup_truck_1"]),
        ("object_connections[4]", "must join an object and a region"),
    ),
    (
        "region-region edge among object connections",
        _append("object_connections", ["yard_1", "field_1"]),
        ("object_connections[4]", "must join an object and a region"),
    ),
    (
        "object among region connections",
        _append("region_connections", ["yard_1", "shed_1"]),
        ("region_connections[5]", "must join two regions"),
    ),
    (
        "region joined to itself",
        _append("region_connections", ["yard_1", "yard_1"]),
        ("region_connections[5]", "joins 'yard_1' to itself"),
    ),
    (
        "edge that is not a pair",
        _append("region_connections", ["yard_1", "road_1", "road_2"]),
        ("region_connections[5]", "must be a pair of node names"),
    ),
    (
        "connections not a list",
        _set(("region_connections",), {"yard_1": "road_1"}),
        ("field 'region_connections'", "list of pairs"),
    ),
    ("robot_location missing", _delete("robot_location"), ("robot_location None",)),
    (
        "robot_location unknown",
        _set(("robot_location",), "moon_1"),
        ("robot_location 'moon_1'", "not a node"),
    ),
    (
        "robot_location is an object",
        _set(("robot_location",), "shed_1"),
        ("robot_location 'shed_1'", "is an object, not a region"),
    ),
    ("coords a string", _set(("regions", 0, "coords"), "0,0"), ("regions[0].coords",)),
    ("coords of length 3", _set(("regions", 2, "coords"), [1, 2, 3]), ("regions[2].coords",)),
    ("coords missing", _set(("objects", 1, "coords"), None), ("objects[1].coords",)),
    ("coords NaN", _set(("objects", 0, "coords"), [math.nan, 1]), ("objects[0].coords",)),
    ("coords infinite", _set(("regions", 3, "coords"), [0, math.inf]), ("regions[3].coords",)),
    ("coords booleans", _set(("regions", 0, "coords"), [True, False]), ("regions[0].coords",)),
    ("coords numeric strings", _set(("regions", 0, "coords"), ["1", "2"]), ("regions[0].coords",)),
    ("regions not a list", _set(("regions",), "yard_1"), ("field 'regions' must be a list",)),
    ("objects not a list", _set(("objects",), {}), ("field 'objects' must be a list",)),
    ("entry without a name", _set(("regions", 0), {"coords": [0, 0]}), ("regions[0]", "'name'")),
    ("name not a string", _set(("objects", 2, "name"), 7), ("objects[2]", "string 'name'")),
    ("empty name", _set(("regions", 4, "name"), "  "), ("regions[4]", "'name' is empty")),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=label) for label, mutate, expected in MALFORMED],
)
def test_malformed_scene_graph_is_rejected_naming_the_field(
    tiny_spine: dict[str, Any], mutate: Mutation, expected: tuple[str, ...]
) -> None:
    mutate(tiny_spine)
    with pytest.raises(SceneGraphError) as info:
        SceneGraph.from_spine(tiny_spine, source="scene.json")
    message = str(info.value)
    assert message.startswith("scene.json")
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize("data", [[], "a graph", None, 3], ids=["list", "str", "None", "int"])
def test_scene_graph_that_is_not_an_object_is_rejected(data: Any) -> None:
    with pytest.raises(
        SceneGraphError, match=rf"eval file, graph 2: .*JSON object, got {type(data).__name__}"
    ):
        SceneGraph.from_spine(data, source="eval file, graph 2")


def test_scene_graph_without_regions_is_rejected(tiny_spine: dict[str, Any]) -> None:
    tiny_spine["regions"] = []
    tiny_spine["object_connections"] = []
    with pytest.raises(SceneGraphError, match="has no regions"):
        SceneGraph.from_spine(tiny_spine)


def test_scene_graph_error_is_a_value_error() -> None:
    assert issubclass(SceneGraphError, ValueError)


# ---------------------------------------------------------------------------- queries
def test_node_kinds(tiny_graph: SceneGraph) -> None:
    assert tiny_graph.regions == ["yard_1", "road_1", "road_2", "field_1", "bridge_1", "island_1"]
    assert tiny_graph.objects == ["shed_1", "pickup_truck_1", "internet_tower_1", "cabin_1"]
    assert tiny_graph.is_region("road_1") and not tiny_graph.is_object("road_1")
    assert tiny_graph.is_object("shed_1") and not tiny_graph.is_region("shed_1")
    assert not tiny_graph.is_region("nowhere") and not tiny_graph.is_object("nowhere")
    assert "cabin_1" in tiny_graph and "nowhere" not in tiny_graph
    assert tiny_graph.graph.nodes["yard_1"]["type"] == REGION
    assert tiny_graph.graph.nodes["cabin_1"]["type"] == OBJECT


def test_region_of(tiny_graph: SceneGraph) -> None:
    assert tiny_graph.region_of("shed_1") == "road_1"
    assert tiny_graph.region_of("cabin_1") == "island_1"


def test_region_of_takes_the_nearest_of_several_regions(tiny_spine: dict[str, Any]) -> None:
    tiny_spine["object_connections"].append(["pickup_truck_1", "field_1"])
    graph = SceneGraph.from_spine(tiny_spine)
    assert graph.region_of("pickup_truck_1") == "road_2"  # 1.4 m away, field_1 is 9 m away
    graph.graph.nodes["pickup_truck_1"]["coords"] = (20.0, 9.0)
    assert graph.region_of("pickup_truck_1") == "field_1"


def test_region_of_an_unattached_object_is_none(tiny_spine: dict[str, Any]) -> None:
    tiny_spine["object_connections"].pop()  # cabin_1
    assert SceneGraph.from_spine(tiny_spine).region_of("cabin_1") is None


def test_region_path_follows_region_connections(tiny_graph: SceneGraph) -> None:
    assert tiny_graph.region_path("yard_1", "island_1") == [
        "yard_1",
        "road_1",
        "road_2",
        "bridge_1",
        "island_1",
    ]
    assert tiny_graph.region_path("field_1", "field_1") == ["field_1"]


def test_region_path_is_the_shortest_in_metres_not_in_hops() -> None:
    graph = SceneGraph.from_spine(
        {
            "regions": [
                {"name": "a", "coords": [0, 0]},
                {"name": "far", "coords": [0, 40]},
                {"name": "b", "coords": [10, 0]},
                {"name": "c", "coords": [20, 0]},
                {"name": "goal", "coords": [30, 0]},
            ],
            "region_connections": [
                ["a", "far"],
                ["far", "goal"],
                ["a", "b"],
                ["b", "c"],
                ["c", "goal"],
            ],
            "robot_location": "a",
        }
    )
    # Two hops through "far" are 90 m, three hops along the road are 30 m.
    assert graph.region_path("a", "goal") == ["a", "b", "c", "goal"]


def test_region_path_never_passes_through_objects(tiny_spine: dict[str, Any]) -> None:
    # field_1 and island_1 are both "connected" to a shared object, not to each other.
    tiny_spine["object_connections"].append(["cabin_1", "field_1"])
    tiny_spine["region_connections"].remove(["bridge_1", "island_1"])
    graph = SceneGraph.from_spine(tiny_spine)
    assert graph.region_path("field_1", "island_1") is None


def test_region_path_is_none_without_a_path_or_for_non_regions(tiny_spine: dict[str, Any]) -> None:
    tiny_spine["region_connections"].remove(["bridge_1", "island_1"])
    graph = SceneGraph.from_spine(tiny_spine)
    assert graph.region_path("yard_1", "island_1") is None
    assert graph.region_path("yard_1", "shed_1") is None
    assert graph.region_path("yard_1", "nowhere") is None


def test_reachable_regions(tiny_spine: dict[str, Any]) -> None:
    tiny_spine["region_connections"].remove(["bridge_1", "island_1"])
    graph = SceneGraph.from_spine(tiny_spine)
    assert graph.reachable_regions("yard_1") == {
        "yard_1",
        "road_1",
        "road_2",
        "field_1",
        "bridge_1",
    }
    assert graph.reachable_regions("island_1") == {"island_1"}
    assert graph.reachable_regions("shed_1") == set()
    assert graph.reachable_regions("nowhere") == set()


def test_distance_is_euclidean(tiny_graph: SceneGraph) -> None:
    assert tiny_graph.distance("yard_1", "road_1") == 10
    assert tiny_graph.distance("road_1", "shed_1") == pytest.approx(math.hypot(1, 2))


def test_describe_nodes_gives_update_records_without_descriptions(tiny_graph: SceneGraph) -> None:
    assert tiny_graph.describe_nodes(["shed_1", "road_2"]) == [
        {"name": "shed_1", "type": "object", "coords": [9, 2]},
        {"name": "road_2", "type": "region", "coords": [20, 0]},
    ]
