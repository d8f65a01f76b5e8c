"""The oracle teacher: a scripted expert planner, the offline default teacher.

It plans on the planner's partial graph like a good SPINE planner: explores toward what the task
needs, inspects, answers. It is told what the task asks for (the task's ``targets``) but it cannot
see hidden nodes: a target it cannot see yet is found by mapping unexplored regions, nearest first,
exactly as any planner would have to. Its reasoning says what it knows and why it acts.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from prism.scenes.task_reading import infer_task
from prism.scenes.themes import be, with_article
from prism.world.protocol import Action, render_turn
from prism.world.rollout import MAX_ITERATIONS, Message
from prism.world.scene_graph import SceneGraph
from prism.world.simulator import EMPTY_DESCRIPTION, PartialObservationSim
from prism.world.task import Task

_MAX_MAPS_PER_PLAN = 8

_GOALS = {
    "existence": "find out whether there is {a} in the scene",
    "affordance": "find something the user can {s}",
    "attribute": "find out the condition of the {s}",
    "likely_location": "find where {s} are likely to be",
    "diagnosis": "find out why {s}",
}


@dataclass
class OracleTeacher:
    """Scripted expert. ``max_iterations`` must match the rollout loop's, so that it answers with
    what it knows on its last turn rather than running out of turns."""

    max_iterations: int = MAX_ITERATIONS
    name: str = "oracle"

    def check(self) -> None:
        """Nothing to check: the oracle runs locally."""

    def planner(self, task: Task, sim: PartialObservationSim) -> OraclePlanner:
        """A planner for one rollout of ``task``.

        A task without a ``kind`` (from a foreign eval file or an LLM generator) has what it asks
        for read off its text first (:func:`prism.scenes.task_reading.infer_task`).
        """
        if task.kind is None:
            task = infer_task(task, sim.full)
        if task.kind not in _GOALS:
            raise ValueError(
                f"the oracle needs a task kind ({', '.join(_GOALS)}), got {task.kind!r} for "
                f"task {task.task!r}"
            )
        # A record with a kind but no targets or subject asks for nothing that can be seen.
        task = dataclasses.replace(task, targets=task.targets or (), subject=task.subject or "")
        return OraclePlanner(task, sim, self.max_iterations)


class OraclePlanner:
    """One rollout's oracle: reads the planner's view ``sim.partial`` to decide each turn."""

    def __init__(self, task: Task, sim: PartialObservationSim, max_iterations: int) -> None:
        self.task, self.sim, self.max_iterations = task, sim, max_iterations

    def respond(self, messages: Sequence[Message]) -> str:
        """The next turn, as SPINE-format JSON text."""
        graph = self.sim.partial
        turn = sum(m["role"] == "assistant" for m in messages) + 1
        seen = [t for t in self.task.targets if t in graph]
        visible = [t for t in seen if self._reachable(graph, t)]
        last_turn = turn >= self.max_iterations
        if self.task.kind in ("existence", "likely_location") and seen:
            # Seeing it on the map answers "is there ...?"; where things are likely to be is
            # common sense once the place is on the map. Neither needs the robot to get there.
            return self._answer(graph, (visible or seen)[0], "It is in the scene graph")
        if self.task.kind in ("attribute", "diagnosis"):
            known = [t for t in visible if graph.description(t) is not None]
            if self.task.kind == "diagnosis":
                # Several things could explain an outage: inspect them, nearest first, until one
                # turns out to be damaged.
                known = [t for t in known if _is_damaged(graph.description(t))]
                visible = sorted(
                    (t for t in visible if graph.description(t) is None),
                    key=lambda t: _path_length(graph, graph.robot_location, _place(graph, t)),
                )
            if known:
                return self._answer(graph, known[0], "I have the information I need")
            if visible and not last_turn:
                return self._inspect(graph, visible[0])
        elif visible:  # affordance: the robot takes the user there
            return self._answer(graph, visible[0], "It is in the scene graph")
        out_of_reach = [t for t in seen if not self._reachable(graph, t)]
        frontier = self._frontier(graph, toward=out_of_reach)
        if frontier and not last_turn:
            return self._explore(graph, frontier, out_of_reach)
        return self._give_up(graph, unexplored=frontier)

    # ------------------------------------------------------------------ turns
    def _turn(self, reasoning: str, plan: list[Action], relevant: list[str]) -> str:
        goal = self._what()
        return render_turn(goal, list(dict.fromkeys(relevant)), reasoning, plan)

    def _inspect(self, graph: SceneGraph, target: str) -> str:
        if graph.is_region(target):
            reasoning = (
                f"{target} is in the graph but its condition is unknown. Mapping it reveals its "
                "description."
            )
            return self._turn(reasoning, [Action("map_region", (target,))], [target])
        region = graph.region_of(target)
        query = {
            "attribute": "is it damaged?",
            "diagnosis": "is it damaged or not working?",
            "likely_location": f"are there {self.task.subject} here?",
        }[self.task.kind or ""]
        if self.task.kind == "diagnosis":
            reasoning = (
                f"{target} at {region} could explain why {self.task.subject} and I have not "
                "inspected it yet; it is the nearest such thing I can reach. I will go there and "
                "inspect it."
            )
        else:
            reasoning = (
                f"{target} at {region} is what the task asks about, but I do not know its state "
                "yet. I will go there and inspect it."
            )
        return self._turn(
            reasoning, [Action("inspect", (target, query))], [target, region or target]
        )

    def _explore(self, graph: SceneGraph, frontier: list[str], out_of_reach: list[str]) -> str:
        checked = [
            t
            for t in self.task.targets
            if t in graph and graph.description(t) is not None and t not in out_of_reach
        ]
        if out_of_reach:
            one = len(out_of_reach) == 1
            why = (
                f"{', '.join(out_of_reach)} {'is' if one else 'are'} in the graph but I cannot "
                f"reach {'it' if one else 'them'} yet"
            )
            order = f"nearest to {out_of_reach[0]}"
        elif checked:
            why = f"I inspected {', '.join(checked)} and found nothing that answers the task"
            order = "nearest to me"
        else:
            why = f"Nothing in the known graph answers this yet ({self._what()})"
            order = "nearest to me"
        plan = [Action("map_region", (r,)) for r in frontier[:_MAX_MAPS_PER_PLAN]]
        reasoning = (
            f"{why}. Part of the scene is unknown, so I will map the unexplored regions {order} "
            f"first, starting with {frontier[0]}, and replan on what I find."
        )
        return self._turn(reasoning, plan, [graph.robot_location, *frontier[:_MAX_MAPS_PER_PLAN]])

    def _answer(self, graph: SceneGraph, target: str, why: str) -> str:
        region = target if graph.is_region(target) else graph.region_of(target)
        where = f" at {region}" if region and region != target else ""
        description = graph.description(target) or ""
        damaged = _is_damaged(description)
        subject = self.task.subject
        kind = self.task.kind
        plan: list[Action] = []
        if kind == "existence":
            text = f"Yes, there is {with_article(subject)}: {target}{where}."
        elif kind == "affordance":
            text = f"{target}{where} is what you need: something you can {subject}."
            if region and region != graph.robot_location:
                plan.append(Action("goto", (region,)))
        elif kind == "likely_location":
            found = f" ({description})" if description and description != EMPTY_DESCRIPTION else ""
            text = (
                f"{subject[0].upper()}{subject[1:]} {be(subject)} likely in {target}{where}{found}."
            )
        elif kind == "diagnosis":
            text = f"{target}{where} is {description}, which explains why {subject}."
        elif graph.is_region(target):
            text = (
                f"No, {target} is damaged and not safe to cross."
                if damaged
                else f"Yes, {target} is not damaged, so you can cross it."
            )
        else:
            text = (
                f"Yes, {target} is damaged."
                if damaged
                else f"No, {target} is not damaged ({description})."
            )
        plan.append(Action("answer", (text,)))
        reasoning = f"{why}: {target}{where}" + (
            f" is described as '{description}'." if description else "."
        )
        return self._turn(reasoning, plan, [target, *([region] if region else [])])

    def _give_up(self, graph: SceneGraph, unexplored: Sequence[str]) -> str:
        if unexplored:
            searched = (
                f"I am out of time with {len(unexplored)} region(s) still unmapped "
                f"({', '.join(unexplored[:3])}{', ...' if len(unexplored) > 3 else ''}), and "
                "nothing I have seen so far answers the task."
            )
        else:
            searched = (
                "I mapped every region I can reach and nothing in the graph answers the task."
            )
        if self.task.kind == "existence":
            what = with_article(self.task.subject)
            text = f"No, I did not find {what} in the parts of the scene I explored."
        else:
            text = f"I could not find what you asked for ({self._what()})."
        reasoning = searched
        return self._turn(reasoning, [Action("answer", (text,))], [graph.robot_location])

    def _what(self) -> str:
        subject = self.task.subject or "what the user asked for"
        return _GOALS[self.task.kind or ""].format(s=subject, a=with_article(subject))

    # ------------------------------------------------------------------ graph search
    @staticmethod
    def _reachable(graph: SceneGraph, node: str) -> bool:
        goal = _place(graph, node)
        return goal is not None and goal in graph.reachable_regions(graph.robot_location)

    @staticmethod
    def _frontier(graph: SceneGraph, toward: Sequence[str] = ()) -> list[str]:
        """Reachable regions not mapped yet, in the order to map them.

        With a target in sight but out of reach, the regions closest to it come first (the
        missing connection is most likely near it); otherwise a greedy nearest-next tour.
        """
        todo = {
            r for r in graph.reachable_regions(graph.robot_location) if graph.description(r) is None
        }
        if toward:
            return sorted(todo, key=lambda r: (min(graph.distance(r, t) for t in toward), r))
        tour, here = [], graph.robot_location
        while todo:
            here = min(todo, key=lambda r: (_path_length(graph, here, r), r))
            tour.append(here)
            todo.discard(here)
        return tour


def _place(graph: SceneGraph, node: str) -> str | None:
    """Where the robot goes for ``node``: the region itself, or the region an object is at."""
    return node if graph.is_region(node) else graph.region_of(node)


def _is_damaged(description: str | None) -> bool:
    return bool(description) and description.lower().startswith("damaged")


def _path_length(graph: SceneGraph, a: str, b: str) -> float:
    path = graph.region_path(a, b)
    if path is None:
        return float("inf")
    return sum(graph.distance(u, v) for u, v in itertools.pairwise(path))
