"""Scene graphs: regions the robot can stand in, objects that hang off regions.

A scene graph is stored on disk in the SPINE/PRISM JSON format::

    {"objects": [{"name": "pickup_truck_1", "coords": [-8.8, -20], "description": "has keys"}],
     "regions": [{"name": "field_1", "coords": [0, 0]}, {"name": "field_6", "coords": [13.7, -29]}],
     "object_connections": [["pickup_truck_1", "field_6"]],
     "region_connections": [["field_1", "field_6"]],
     "robot_location": "field_1"}

In memory it is a :class:`networkx.Graph` whose nodes carry ``type`` (``"region"`` or
``"object"``), ``coords`` and ``description``, plus the robot's location.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx

NodeType = Literal["region", "object"]
REGION: NodeType = "region"
OBJECT: NodeType = "object"


class SceneGraphError(ValueError):
    """A scene graph is malformed; the message names the source and the offending field."""


@dataclass
class SceneGraph:
    """A scene graph on top of :class:`networkx.Graph`.

    Example:
        >>> g = SceneGraph.from_spine({
        ...     "regions": [{"name": "field_1", "coords": [0, 0]}],
        ...     "objects": [{"name": "shed_1", "coords": [1, 1], "description": "tools"}],
        ...     "region_connections": [], "object_connections": [["shed_1", "field_1"]],
        ...     "robot_location": "field_1"})
        >>> g.region_of("shed_1")
        'field_1'
    """

    graph: nx.Graph = field(default_factory=nx.Graph)
    robot_location: str = ""

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_spine(cls, data: Any, source: str = "<scene graph>") -> SceneGraph:
        """Build a scene graph from the SPINE JSON format, validating every field.

        Args:
            data: the parsed JSON object.
            source: a label for error messages (a file path, "eval file, graph 2", ...).

        Raises:
            SceneGraphError: naming ``source`` and the field at fault.
        """
        if not isinstance(data, Mapping):
            raise SceneGraphError(
                f"{source}: a scene graph must be a JSON object, got {type(data).__name__}"
            )
        graph = nx.Graph()
        for kind, key in ((REGION, "regions"), (OBJECT, "objects")):
            entries = data.get(key, [])
            if not isinstance(entries, list):
                raise SceneGraphError(f"{source}: field '{key}' must be a list")
            for i, entry in enumerate(entries):
                where = f"{source}: {key}[{i}]"
                if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                    raise SceneGraphError(f"{where} must be an object with a string 'name'")
                name = entry["name"].strip()
                if not name:
                    raise SceneGraphError(f"{where}: 'name' is empty")
                if name in graph:
                    raise SceneGraphError(f"{where}: duplicate node name '{name}'")
                graph.add_node(
                    name,
                    type=kind,
                    coords=_parse_coords(entry.get("coords"), f"{where}.coords"),
                    description=str(entry.get("description") or ""),
                )
        if not any(t == REGION for _, t in graph.nodes(data="type")):
            raise SceneGraphError(f"{source}: the graph has no regions")

        for key, allowed in (
            ("region_connections", (REGION, REGION)),
            ("object_connections", (OBJECT, REGION)),
        ):
            edges = data.get(key, [])
            if not isinstance(edges, list):
                raise SceneGraphError(f"{source}: field '{key}' must be a list of pairs")
            for i, edge in enumerate(edges):
                where = f"{source}: {key}[{i}]"
                if not (isinstance(edge, list | tuple) and len(edge) == 2):
                    raise SceneGraphError(f"{where} must be a pair of node names, got {edge!r}")
                a, b = (str(n).strip() for n in edge)
                for n in (a, b):
                    if n not in graph:
                        raise SceneGraphError(
                            f"{where} names '{n}', which is not a node of the graph"
                        )
                if key == "object_connections":
                    # The reference data writes [object, region]; accept either order.
                    types = {graph.nodes[a]["type"], graph.nodes[b]["type"]}
                    if types != {OBJECT, REGION}:
                        raise SceneGraphError(f"{where} must join an object and a region: {edge!r}")
                elif {graph.nodes[a]["type"], graph.nodes[b]["type"]} != {allowed[0]}:
                    raise SceneGraphError(f"{where} must join two regions: {edge!r}")
                if a == b:
                    raise SceneGraphError(f"{where} joins '{a}' to itself")
                graph.add_edge(a, b)

        location = data.get("robot_location")
        if not isinstance(location, str) or location not in graph:
            raise SceneGraphError(
                f"{source}: robot_location {location!r} is not a node of the graph"
            )
        if graph.nodes[location]["type"] != REGION:
            raise SceneGraphError(
                f"{source}: robot_location '{location}' is an object, not a region"
            )
        return cls(graph=graph, robot_location=location)

    def to_spine(self, *, descriptions: bool = True) -> dict[str, Any]:
        """Serialise to the SPINE JSON format.

        Args:
            descriptions: include node descriptions. The planner's view omits descriptions it has
                not yet revealed; those nodes carry no ``description`` key at all.
        """
        objects, regions = [], []
        for name, attrs in self.graph.nodes(data=True):
            entry: dict[str, Any] = {"name": name, "coords": _plain_coords(attrs["coords"])}
            if descriptions and attrs.get("description") is not None:
                entry["description"] = attrs["description"]
            (regions if attrs["type"] == REGION else objects).append(entry)
        region_edges, object_edges = [], []
        for a, b in self.graph.edges:
            if self.is_region(a) and self.is_region(b):
                region_edges.append([a, b])
            else:
                obj, reg = (a, b) if self.is_object(a) else (b, a)
                object_edges.append([obj, reg])
        return {
            "objects": objects,
            "regions": regions,
            "object_connections": object_edges,
            "region_connections": region_edges,
            "robot_location": self.robot_location,
        }

    def to_json(self, *, descriptions: bool = True) -> str:
        """The SPINE JSON as one compact line (how it appears inside prompts)."""
        return json.dumps(self.to_spine(descriptions=descriptions), ensure_ascii=False)

    def copy(self) -> SceneGraph:
        """A deep copy (node attribute dicts are not shared)."""
        return SceneGraph(graph=copy.deepcopy(self.graph), robot_location=self.robot_location)

    # ------------------------------------------------------------------ queries
    def __contains__(self, name: object) -> bool:
        return name in self.graph

    @property
    def regions(self) -> list[str]:
        """Region names, in insertion order."""
        return [n for n, t in self.graph.nodes(data="type") if t == REGION]

    @property
    def objects(self) -> list[str]:
        """Object names, in insertion order."""
        return [n for n, t in self.graph.nodes(data="type") if t == OBJECT]

    def is_region(self, name: str) -> bool:
        """Whether ``name`` is a region of this graph."""
        return self.graph.nodes.get(name, {}).get("type") == REGION

    def is_object(self, name: str) -> bool:
        """Whether ``name`` is an object of this graph."""
        return self.graph.nodes.get(name, {}).get("type") == OBJECT

    def coords(self, name: str) -> tuple[float, float]:
        """The node's (x, y) coordinates."""
        return self.graph.nodes[name]["coords"]

    def description(self, name: str) -> str | None:
        """The node's description, or None where it is hidden from this view."""
        return self.graph.nodes[name].get("description")

    def region_of(self, obj: str) -> str | None:
        """The region an object is attached to (the nearest one if several), or None."""
        regions = [n for n in self.graph.neighbors(obj) if self.is_region(n)]
        if not regions:
            return None
        return min(regions, key=lambda r: self.distance(obj, r))

    def distance(self, a: str, b: str) -> float:
        """Euclidean distance between two nodes' coordinates."""
        (ax, ay), (bx, by) = self.coords(a), self.coords(b)
        return math.hypot(ax - bx, ay - by)

    def region_graph(self) -> nx.Graph:
        """The traversable part: regions and the connections between them."""
        return self.graph.subgraph(self.regions)

    def region_path(self, start: str, goal: str) -> list[str] | None:
        """Shortest path of regions from ``start`` to ``goal``, or None if none is known.

        Path length is the Euclidean length of the edges, so the robot drives the short way.
        """
        regions = self.region_graph()
        if start not in regions or goal not in regions:
            return None
        try:
            return nx.shortest_path(regions, start, goal, weight=self._edge_length)
        except nx.NetworkXNoPath:
            return None

    def reachable_regions(self, start: str) -> set[str]:
        """Regions reachable from ``start`` through region connections."""
        regions = self.region_graph()
        if start not in regions:
            return set()
        return set(nx.node_connected_component(regions, start))

    def _edge_length(self, a: str, b: str, _attrs: Mapping[str, Any]) -> float:
        return self.distance(a, b)

    def describe_nodes(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """Node records as they appear in ``add_nodes(...)`` updates (no description)."""
        return [
            {
                "name": n,
                "type": self.graph.nodes[n]["type"],
                "coords": _plain_coords(self.coords(n)),
            }
            for n in names
        ]


def _parse_coords(value: Any, where: str) -> tuple[float, float]:
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
    ):
        return (float(value[0]), float(value[1]))
    raise SceneGraphError(f"{where} must be two finite numbers [x, y], got {value!r}")


def _plain_coords(coords: tuple[float, float]) -> list[float | int]:
    # Whole numbers print as 7, not 7.0: fewer tokens in every prompt, same meaning.
    return [int(v) if float(v).is_integer() else round(v, 2) for v in coords]
