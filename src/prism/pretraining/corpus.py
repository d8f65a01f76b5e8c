"""Pretraining text for the offline base: procedural worlds, graph drills and oracle rollouts.

Every document is a conversation in the student's compact format
(:mod:`prism.student.prompt_format`), so what the base learns is exactly what the student reads:

* **drills** — one scene graph, then questions whose answers are copied out of it or follow its
  edges (the skills a planner needs and a tiny model does not get from a few hundred rollouts)::

      user:      q: where is truck_3?\\nat field_1\\nregion field_1: field_2\\n...
      assistant: field_6
      user:      q: neighbours of field_2?
      assistant: field_1 field_6
      user:      q: path from field_1 to field_6?
      assistant: field_1 field_2 field_6

* **rollouts** — the oracle teacher planning in the partial-observation simulator, as in the
  generation pipeline.

Drill and probe scenes are drawn from disjoint seeds, so the probe measures held-out worlds.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prism.formats.conversations import to_chat_messages
from prism.scenes.base import SceneRequest
from prism.scenes.procedural import ProceduralSceneGenerator
from prism.seeding import derive_seed
from prism.student.prompt_format import CompactFormat, compact_graph
from prism.teachers.oracle import OracleTeacher
from prism.world.rollout import run_rollout
from prism.world.scene_graph import SceneGraph
from prism.world.simulator import PartialObservationSim

DRILL_KINDS = ("lookup", "neighbours", "path")

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class CorpusSpec:
    """What the pretraining corpus holds.

    Attributes:
        n_scenes: procedural scenes; each gives one drill document and ``rollouts_per_scene``
            rollout documents.
        questions_per_drill: question/answer turns per drill document.
        rollouts_per_scene: oracle rollouts per scene (0 for drills only).
        min_regions, max_regions, min_objects, max_objects: scene sizes.
        graph_unknown: (low, high) of the hidden fraction drawn per rollout.
        drill_kinds: which drills, in :data:`DRILL_KINDS`.
        seed: everything is deterministic in it.
    """

    n_scenes: int = 2000
    questions_per_drill: int = 6
    rollouts_per_scene: int = 1
    min_regions: int = 8
    max_regions: int = 15
    min_objects: int = 5
    max_objects: int = 12
    graph_unknown: tuple[float, float] = (0.2, 0.5)
    drill_kinds: tuple[str, ...] = DRILL_KINDS
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.drill_kinds) - set(DRILL_KINDS)
        if unknown:
            raise ValueError(
                f"drill_kinds: unknown {sorted(unknown)}; choose from {', '.join(DRILL_KINDS)}"
            )
        if self.n_scenes < 1 or self.questions_per_drill < 1 or self.rollouts_per_scene < 0:
            raise ValueError("n_scenes and questions_per_drill must be >= 1, rollouts >= 0")


@dataclass(frozen=True)
class ProbeItem:
    """One held-out question: the conversation up to the question, and what answers it.

    ``accepted`` holds every correct answer (all shortest paths for a path question).
    """

    kind: str
    messages: Messages
    accepted: tuple[str, ...]


def _scene(spec: CorpusSpec, stream: str, index: int) -> tuple[SceneGraph, list, random.Random]:
    rng = random.Random(derive_seed(spec.seed, stream, index))
    request = SceneRequest(
        n_regions=rng.randint(spec.min_regions, spec.max_regions),
        n_objects=rng.randint(spec.min_objects, spec.max_objects),
        n_tasks=max(1, spec.rollouts_per_scene),
        seed=derive_seed(spec.seed, stream, index, "scene"),
    )
    generated = ProceduralSceneGenerator().generate(request)
    return generated.scene, generated.tasks, rng


# ---------------------------------------------------------------------- graph questions
def neighbours(graph: SceneGraph, region: str) -> list[str]:
    """A region's neighbour regions in the order the compact graph lists them."""
    line = next(
        line for line in compact_graph(graph.to_spine()) if line.startswith(f"region {region}:")
    )
    return line.split(":", 1)[1].split("|", 1)[0].split()


def shortest_paths(graph: SceneGraph, start: str, goal: str) -> list[list[str]]:
    """Every shortest path (in hops) between two regions, the first in listing order."""
    adjacency = {r: neighbours(graph, r) for r in graph.regions}
    distance = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in adjacency[node]:
            if nxt not in distance:
                distance[nxt] = distance[node] + 1
                queue.append(nxt)
    if goal not in distance:
        return []

    def extend(path: list[str]) -> Iterator[list[str]]:
        if path[-1] == goal:
            yield path
            return
        for nxt in adjacency[path[-1]]:
            if distance.get(nxt) == distance[path[-1]] + 1 and len(path) <= distance[goal]:
                yield from extend([*path, nxt])

    return [p for p in extend([start]) if p[-1] == goal][:64]


def question(graph: SceneGraph, kind: str, rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """A random ``kind`` question about ``graph`` and its accepted answers.

    An answer restates its key the way the graph writes it (``object truck_3: field_6``,
    ``region field_2: field_1 field_6``), so answering is copying a line: the pattern a small
    transformer learns first (an induction head), and the one every plan needs.
    """
    if kind == "lookup" and graph.objects:
        obj = rng.choice(graph.objects)
        return f"q: where is {obj}?", (f"object {obj}: {graph.region_of(obj)}",)
    if kind == "neighbours" or (kind == "lookup" and not graph.objects):
        region = rng.choice(graph.regions)
        return f"q: neighbours of {region}?", (
            f"region {region}: {' '.join(neighbours(graph, region))}".rstrip(),
        )
    start, goal = rng.sample(graph.regions, 2) if len(graph.regions) > 1 else (graph.regions * 2)
    paths = shortest_paths(graph, start, goal)
    answers = tuple(f"path {' '.join(p)}" for p in paths) or ("path none",)
    return f"q: path from {start} to {goal}?", answers


def drill(graph: SceneGraph, kinds: Sequence[str], n: int, rng: random.Random) -> Messages:
    """One drill conversation: the graph with a first question after it, then ``n - 1`` more."""
    context = "\n".join(compact_graph(graph.to_spine()))
    messages: Messages = []
    for i in range(n):
        text, answers = question(graph, rng.choice(list(kinds)), rng)
        messages.append({"role": "user", "content": f"{context}\n{text}" if i == 0 else text})
        messages.append({"role": "assistant", "content": answers[0]})
    return messages


# ---------------------------------------------------------------------- documents
def oracle_rollouts(
    graph: SceneGraph, tasks: list, spec: CorpusSpec, rng: random.Random
) -> list[Messages]:
    """The oracle's successful rollouts of ``tasks`` on ``graph``, in the compact format."""
    teacher, fmt, out = OracleTeacher(), CompactFormat(), []
    for task in tasks[: spec.rollouts_per_scene]:
        sim = PartialObservationSim(
            graph,
            graph_unknown=rng.uniform(*spec.graph_unknown),
            rng=random.Random(rng.getrandbits(63)),
            init_node=task.init_node,
        )
        rollout = run_rollout(teacher.planner(task, sim), sim, task.task)
        if rollout.answered:
            out.append(fmt.encode(to_chat_messages({"conversations": rollout.conversation})))
    return out


def corpus(spec: CorpusSpec) -> Iterator[Messages]:
    """The pretraining documents, scene by scene (deterministic in ``spec.seed``)."""
    for index in range(spec.n_scenes):
        graph, tasks, rng = _scene(spec, "train", index)
        yield drill(graph, spec.drill_kinds, spec.questions_per_drill, rng)
        yield from oracle_rollouts(graph, tasks, spec, rng)


def probe_items(spec: CorpusSpec, n_per_kind: int) -> list[ProbeItem]:
    """Held-out questions (``n_per_kind`` per drill kind) on scenes the corpus never uses."""
    items = []
    for kind in DRILL_KINDS:
        for index in range(n_per_kind):
            graph, _tasks, rng = _scene(spec, f"probe-{kind}", index)
            text, answers = question(graph, kind, rng)
            context = "\n".join(compact_graph(graph.to_spine()))
            items.append(
                ProbeItem(kind, [{"role": "user", "content": f"{context}\n{text}"}], answers)
            )
    return items
