"""The partial-observation simulator: what the planner sees, and what its actions reveal.

The simulator holds the full scene graph and the planner's *partial* view of it. At the start a
fraction ``graph_unknown`` of the nodes (never the robot's location) is missing from the partial
view, and every description is hidden. Mapping or exploring a region reveals its neighbours (nodes
and connections) and its description; inspecting an object reveals the object's description.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prism.world.protocol import Action
from prism.world.scene_graph import SceneGraph, SceneGraphError

EMPTY_DESCRIPTION = "no description"
REPEAT_LIMIT = 3


@dataclass
class Updates:
    """What the planner learns after a plan ran, rendered as the next user message."""

    new_nodes: list[dict[str, Any]] = field(default_factory=list)
    new_connections: list[list[str]] = field(default_factory=list)
    attributes: list[dict[str, str]] = field(default_factory=list)
    location: str | None = None
    feedback: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.new_nodes
            or self.new_connections
            or self.attributes
            or self.location
            or self.feedback
        )

    def render(self) -> str:
        """The update message, one call per line, or ``no_updates()``."""
        lines = []
        if self.new_nodes:
            lines.append(f"add_nodes({_dumps(self.new_nodes)})")
        if self.new_connections:
            lines.append(f"add_connections({_dumps(self.new_connections)})")
        if self.attributes:
            lines.append(f"update_node_attributes({_dumps(self.attributes)})")
        if self.location:
            lines.append(f"update_robot_location({self.location})")
        lines.extend(f"feedback({_dumps(text)})" for text in self.feedback)
        return "\n".join(lines) if lines else "no_updates()"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass
class StepResult:
    """The outcome of one executed action."""

    interrupts: bool
    """The action produced new information, so the rest of the plan should be re-planned."""
    done: bool = False
    """The action was ``answer``: the rollout ends."""


class PartialObservationSim:
    """Execute planner actions on a scene graph the planner only partly sees.

    Args:
        scene: the full scene graph (not modified).
        graph_unknown: fraction of nodes in [0, 1] hidden from the planner at the start. The
            robot's location is never hidden.
        rng: the random source that picks hidden nodes (seed it for reproducible rollouts).
        init_node: start the robot here instead of ``scene.robot_location``.
        hidden: hide exactly these nodes instead of drawing ``graph_unknown`` of them.

    Example:
        >>> scene = SceneGraph.from_spine({
        ...     "regions": [{"name": "field_1", "coords": [0, 0]},
        ...                 {"name": "field_2", "coords": [5, 0]}],
        ...     "objects": [{"name": "truck_1", "coords": [6, 1], "description": "has keys"}],
        ...     "region_connections": [["field_1", "field_2"]],
        ...     "object_connections": [["truck_1", "field_2"]],
        ...     "robot_location": "field_1"})
        >>> sim = PartialObservationSim(scene, hidden=["truck_1"])
        >>> sorted(sim.partial.graph.nodes)
        ['field_1', 'field_2']
        >>> sim.execute(Action("map_region", ("field_2",))).interrupts
        True
        >>> print(sim.take_updates().render())
        add_nodes([{"name": "truck_1", "type": "object", "coords": [6, 1]}])
        add_connections([["field_2", "truck_1"]])
        update_node_attributes([{"name": "field_2", "description": "no description"}])
        update_robot_location(field_2)
    """

    def __init__(
        self,
        scene: SceneGraph,
        *,
        graph_unknown: float = 0.0,
        rng: random.Random | None = None,
        init_node: str | None = None,
        hidden: Iterable[str] | None = None,
    ) -> None:
        if not 0.0 <= graph_unknown <= 1.0:
            raise ValueError(f"graph_unknown must be a fraction in [0, 1], got {graph_unknown}")
        self.full = scene.copy()
        if init_node is not None:
            if not self.full.is_region(init_node):
                raise SceneGraphError(f"init_node '{init_node}' is not a region of the scene graph")
            self.full.robot_location = init_node
        self.partial = self.full.copy()
        for _, attrs in self.partial.graph.nodes(data=True):
            attrs["description"] = None
        if hidden is None:
            candidates = sorted(n for n in self.full.graph if n != self.full.robot_location)
            count = min(len(candidates), int(graph_unknown * self.full.graph.number_of_nodes()))
            hidden = (rng or random.Random()).sample(candidates, count)
        self.hidden: set[str] = set(hidden) - {self.full.robot_location}
        self.partial.graph.remove_nodes_from(self.hidden)
        self.history: list[Action] = []
        self._pending = Updates()

    @property
    def location(self) -> str:
        """The robot's current region."""
        return self.partial.robot_location

    def execute(self, action: Action) -> StepResult:
        """Run one validated action and record what it reveals."""
        handler = getattr(self, f"_do_{action.name}")
        result: StepResult = handler(action)
        self.history.append(action)
        recent = self.history[-REPEAT_LIMIT:]
        if len(recent) == REPEAT_LIMIT and all(a == action for a in recent):
            self._pending.feedback.append(
                f"You called {action} {REPEAT_LIMIT} times in a row, which will not help you "
                "solve the task. Try something else; if you have tried every option, answer the "
                "user with what you found."
            )
            result.interrupts = True
        return result

    def take_updates(self) -> Updates:
        """Return the updates gathered since the last call, and start afresh."""
        updates, self._pending = self._pending, Updates()
        return updates

    # ------------------------------------------------------------------ actions
    def _move(self, region: str) -> None:
        if region != self.partial.robot_location:
            self.partial.robot_location = region
            self.full.robot_location = region
            self._pending.location = region

    def _do_goto(self, action: Action) -> StepResult:
        # The planner asked for the move, so arriving is no news: it does not interrupt the plan.
        self._move(action.args[0])
        return StepResult(interrupts=False)

    def _do_map_region(self, action: Action) -> StepResult:
        region = action.args[0]
        self._move(region)
        # Only structural news interrupts the plan: a region's description is reported in the
        # next update but does not invalidate the rest of an exploration sweep.
        learned = self._reveal_neighbours(region)
        self._reveal_description(region)
        return StepResult(interrupts=learned)

    _do_explore_region = _do_map_region

    def _do_inspect(self, action: Action) -> StepResult:
        obj = action.args[0]
        region = self.partial.region_of(obj)
        if region is not None:
            self._move(region)
        return StepResult(interrupts=self._reveal_description(obj))

    def _do_extend_map(self, action: Action) -> StepResult:
        self._pending.feedback.append("Do not call extend_map. Try explore_region instead.")
        return StepResult(interrupts=True)

    def _do_replan(self, action: Action) -> StepResult:
        return StepResult(interrupts=True)

    def _do_clarify(self, action: Action) -> StepResult:
        self._pending.feedback.append(
            "The user is not available to answer questions. Use the scene graph and your "
            "actions to find out, then answer."
        )
        return StepResult(interrupts=True)

    def _do_answer(self, action: Action) -> StepResult:
        return StepResult(interrupts=True, done=True)

    # ------------------------------------------------------------------ discovery
    def _reveal_neighbours(self, region: str) -> bool:
        learned = False
        for neighbour in self.full.graph.neighbors(region):
            if neighbour in self.hidden:
                self.hidden.discard(neighbour)
                attrs = self.full.graph.nodes[neighbour]
                self.partial.graph.add_node(
                    neighbour, type=attrs["type"], coords=attrs["coords"], description=None
                )
                self._pending.new_nodes.extend(self.full.describe_nodes([neighbour]))
                learned = True
            if not self.partial.graph.has_edge(region, neighbour):
                self.partial.graph.add_edge(region, neighbour)
                self._pending.new_connections.append(sorted((region, neighbour)))
                learned = True
        return learned

    def _reveal_description(self, name: str) -> bool:
        if self.partial.description(name) is not None:
            return False
        description = self.full.description(name) or EMPTY_DESCRIPTION
        self.partial.graph.nodes[name]["description"] = description
        self._pending.attributes.append({"name": name, "description": description})
        return True
