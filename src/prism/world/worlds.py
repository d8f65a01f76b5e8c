"""A task in a fully specified world: the scene graph, the nodes hidden from the planner and the
start — everything a planner faced, so that the same situation can be played again by another
planner (the teacher on the world the student failed in) or labelled state by state.

Example:
    >>> world = World(
    ...     graph={"regions": [{"name": "field_1", "coords": [0, 0]},
    ...                        {"name": "field_2", "coords": [5, 0]}],
    ...            "region_connections": [["field_1", "field_2"]],
    ...            "robot_location": "field_1"},
    ...     task=Task("Is there a boat?", "no", "field_1", kind="existence"),
    ...     hidden=("field_2",))
    >>> sorted(world.sim().partial.graph.nodes)
    ['field_1']
    >>> World.from_record(world.to_record()) == world
    True
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prism.world.scene_graph import SceneGraph
from prism.world.simulator import PartialObservationSim
from prism.world.task import Task, TaskError


@dataclass(frozen=True)
class World:
    """One task in one partly hidden scene.

    Attributes:
        graph: the full scene graph, SPINE JSON (treat as read-only).
        task: the task; the robot starts in ``task.init_node``.
        hidden: the nodes missing from the planner's view at the start.
        graph_unknown: the fraction ``hidden`` was drawn with, when it was drawn.
        scene_id: where the scene came from (e.g. ``scene_003`` of a generation run).
    """

    graph: Mapping[str, Any] = field(hash=False)
    task: Task
    hidden: tuple[str, ...] = ()
    graph_unknown: float | None = None
    scene_id: str | None = None

    @property
    def id(self) -> str:
        """A stable id of the world: 16 hex digits of sha256 over its canonical record."""
        text = json.dumps(self.to_record(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def scene(self) -> SceneGraph:
        """The full scene graph (a fresh copy)."""
        return SceneGraph.from_spine(
            copy.deepcopy(dict(self.graph)), source=self.scene_id or "world"
        )

    def sim(self) -> PartialObservationSim:
        """A fresh simulator in this world: the same hidden nodes, the robot at the start."""
        return PartialObservationSim(
            self.scene(), hidden=self.hidden, init_node=self.task.init_node
        )

    def to_record(self) -> dict[str, Any]:
        """Plain data: ``graph``, ``task`` (its record), ``hidden``, ``graph_unknown``,
        ``scene_id``."""
        return {
            "graph": copy.deepcopy(dict(self.graph)),
            "task": self.task.to_record(),
            "hidden": list(self.hidden),
            "graph_unknown": self.graph_unknown,
            "scene_id": self.scene_id,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], source: str = "<world>") -> World:
        """Read a world from :meth:`to_record`'s form.

        Raises:
            TaskError: the record or its task is malformed (named by ``source``).
        """
        if not isinstance(record, Mapping) or not isinstance(record.get("graph"), Mapping):
            raise TaskError(f"{source}: a world is an object with a 'graph', a 'task', 'hidden'")
        hidden = record.get("hidden") or []
        if not isinstance(hidden, list | tuple) or not all(isinstance(h, str) for h in hidden):
            raise TaskError(f"{source}: field 'hidden' must be a list of node names")
        return cls(
            graph=copy.deepcopy(dict(record["graph"])),
            task=Task.from_record(record.get("task"), source=f"{source}: task"),
            hidden=tuple(hidden),
            graph_unknown=record.get("graph_unknown"),
            scene_id=record.get("scene_id"),
        )
