"""The procedural scene generator: themed, connected scene graphs and tasks, fully offline.

Deterministic in the request's seed. With a ``prior`` (an existing sample's task and family) the
tasks are of the same kind as the example and the theme follows its words.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx

from prism.scenes.base import GeneratedScene, SceneRequest
from prism.scenes.task_reading import classify_task
from prism.scenes.themes import THEMES, ObjectKind, RegionKind, Theme, be, with_article
from prism.world.scene_graph import OBJECT, REGION, SceneGraph
from prism.world.task import TASK_KINDS, Task

NEGATIVE = r"\bno\b|did not find|couldn't find|could not find|cannot|can't|not safe"


def affirms(claim: str, *, unless: str = NEGATIVE) -> str:
    """An answer regex that a plan matches when it says ``claim`` and none of ``unless``.

    Answers are graded by searching the regex in the final plan (as in the reference's eval
    files), so a bare ``yes|no`` would be passed by an answer that says both. The lookahead makes
    hedging fail: ``affirms(r"\byes\b")`` matches "Yes, there is one" but not "yes, no".
    """
    return rf"(?s)^(?!.*(?:{unless})).*(?:{claim})"


YES = affirms(r"\byes\b")
NO = affirms(NEGATIVE, unless=r"\byes\b")

_MIN_REGION_GAP = 6.0
_PLACEMENT_TRIES = 30


def theme_for(text: str, rng: random.Random) -> Theme:
    """The theme whose vocabulary shares most words with ``text``; a random one on a tie at 0."""
    words = set(re.findall(r"[a-z]+", text.lower()))

    def overlap(theme: Theme) -> int:
        vocab: set[str] = set()
        for kind in (*theme.regions, *theme.objects):
            for phrase in kind.words:
                vocab.update(phrase.split())
        return len(words & vocab)

    best = max(overlap(t) for t in THEMES)
    candidates = [t for t in THEMES if overlap(t) == best] if best else list(THEMES)
    return rng.choice(candidates)


@dataclass
class ProceduralSceneGenerator:
    """Offline scene and task generator over the vocabularies in :mod:`prism.scenes.themes`.

    Args:
        themes: the themes to draw from (all built-in themes by default).
        task_kinds: the task families to draw from.
    """

    themes: Sequence[Theme] = THEMES
    task_kinds: Sequence[str] = TASK_KINDS
    name: str = "procedural"

    def check(self) -> None:
        """Nothing to check: the generator runs locally."""

    def generate(self, request: SceneRequest) -> GeneratedScene:
        """Generate a connected scene graph and ``request.n_tasks`` tasks for it."""
        rng = random.Random(request.seed)
        prior = request.prior if request.prior and request.prior.task else None
        theme = theme_for(prior.task, rng) if prior else rng.choice(list(self.themes))
        scene = _layout(theme, request.n_regions, request.n_objects, rng)
        wanted_kind = (prior.kind or classify_task(prior.task)) if prior else None
        builder = _TaskBuilder(scene, theme, rng)
        tasks: list[Task] = []
        seen: set[str] = set()
        for _ in range(request.n_tasks * 20):
            if len(tasks) == request.n_tasks:
                break
            kind = (
                wanted_kind if wanted_kind and rng.random() < 0.9 else rng.choice(self.task_kinds)
            )
            task = builder.build(kind)
            if task is not None and task.task not in seen:
                seen.add(task.task)
                tasks.append(task)
        # Scenes always get at least one negative existence task, so a shortfall is rare; keep
        # what there is rather than loop forever on a tiny scene.
        return GeneratedScene(
            scene=scene.graph,
            tasks=tasks,
            description=theme.summary,
            metadata={"theme": theme.name, "prior_kind": wanted_kind},
        )


# ---------------------------------------------------------------------------------- layout
@dataclass
class _Scene:
    graph: SceneGraph
    kinds: dict[str, ObjectKind | RegionKind]
    damaged: dict[str, bool]


def _layout(theme: Theme, n_regions: int, n_objects: int, rng: random.Random) -> _Scene:
    graph = nx.Graph()
    kinds: dict[str, ObjectKind | RegionKind] = {}
    damaged: dict[str, bool] = {}
    counts: Counter[str] = Counter()

    def name_for(kind: ObjectKind | RegionKind) -> str:
        counts[kind.name] += 1
        return f"{kind.name}_{counts[kind.name]}"

    plain = [k for k in theme.regions if not k.crossable] or list(theme.regions)
    crossable = [k for k in theme.regions if k.crossable]
    positions: list[tuple[float, float]] = []
    names: list[str] = []
    for i in range(n_regions):
        use_crossing = crossable and i > 1 and rng.random() < 0.12
        kind = rng.choice(crossable if use_crossing else plain)
        if i == 0:
            pos, parent = (0.0, 0.0), None
        else:
            # Grow from a recent region so layouts look like roads and trails, not stars.
            parent = names[max(0, len(names) - 1 - int(rng.expovariate(0.6)))]
            pos = _place_near(graph.nodes[parent]["coords"], positions, rng)
        name = name_for(kind)
        is_damaged = kind.crossable and rng.random() < 0.35
        graph.add_node(
            name, type=REGION, coords=pos, description=_region_state(kind, is_damaged, rng)
        )
        kinds[name], damaged[name] = kind, is_damaged
        if parent is not None:
            graph.add_edge(parent, name)
        positions.append(pos)
        names.append(name)
    # A few shortcuts between close regions give the planner alternative routes.
    for a, b in _close_pairs(graph, names, limit=22.0):
        if not graph.has_edge(a, b) and rng.random() < 0.3:
            graph.add_edge(a, b)

    for _ in range(n_objects):
        kind = rng.choice(theme.objects)
        region = rng.choice(names)
        rx, ry = graph.nodes[region]["coords"]
        pos = (round(rx + rng.uniform(-5, 5), 1), round(ry + rng.uniform(-5, 5), 1))
        name = name_for(kind)
        is_damaged = kind.damageable and rng.random() < 0.25
        graph.add_node(
            name, type=OBJECT, coords=pos, description=_object_state(kind, is_damaged, rng)
        )
        graph.add_edge(name, region)
        kinds[name], damaged[name] = kind, is_damaged

    scene = SceneGraph(graph=graph, robot_location=rng.choice(names))
    return _Scene(scene, kinds, damaged)


def _place_near(
    origin: tuple[float, float], taken: list[tuple[float, float]], rng: random.Random
) -> tuple[float, float]:
    for _ in range(_PLACEMENT_TRIES):
        angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(9, 24)
        pos = (
            round(origin[0] + dist * math.cos(angle), 1),
            round(origin[1] + dist * math.sin(angle), 1),
        )
        if all(math.dist(pos, other) >= _MIN_REGION_GAP for other in taken):
            return pos
    return pos


def _close_pairs(graph: nx.Graph, names: list[str], limit: float) -> list[tuple[str, str]]:
    coords = {n: graph.nodes[n]["coords"] for n in names}
    return [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if math.dist(coords[a], coords[b]) < limit
    ]


def _region_state(kind: RegionKind, is_damaged: bool, rng: random.Random) -> str:
    if kind.crossable:
        return "damaged, not safe to cross" if is_damaged else "not damaged"
    return rng.choice(kind.states)


def _object_state(kind: ObjectKind, is_damaged: bool, rng: random.Random) -> str:
    state = rng.choice(kind.states)
    if is_damaged:
        return "damaged"
    if kind.damageable:
        return f"not damaged, {state}" if state else "not damaged"
    return state


# ---------------------------------------------------------------------------------- tasks
def _alternation(words: Sequence[str]) -> str:
    # Longest first, then alphabetical: a set's order changes with the hash seed of the process.
    unique = sorted({w.lower() for w in words}, key=lambda w: (-len(w), w))
    return "|".join(re.escape(w) for w in unique)


class _TaskBuilder:
    """Builds tasks of each family for one scene; each builder returns None when the scene
    has nothing the family could ask about."""

    def __init__(self, scene: _Scene, theme: Theme, rng: random.Random) -> None:
        self.scene, self.theme, self.rng = scene, theme, rng
        self.graph = scene.graph
        self.init = scene.graph.robot_location
        self.objects = [n for n in self.graph.objects]
        self._builders: dict[str, Callable[[], Task | None]] = {
            "existence": self._existence,
            "affordance": self._affordance,
            "attribute": self._attribute,
            "likely_location": self._likely_location,
            "diagnosis": self._diagnosis,
        }

    def build(self, kind: str) -> Task | None:
        return self._builders[kind]()

    def _kind(self, node: str) -> ObjectKind:
        kind = self.scene.kinds[node]
        assert isinstance(kind, ObjectKind)
        return kind

    def _with_word(self, word: str) -> list[str]:
        return [o for o in self.objects if word in self._kind(o).words]

    def _existence(self) -> Task | None:
        present_words = {w for o in self.objects for w in self._kind(o).words}
        if self.objects and self.rng.random() < 0.6:
            obj = self.rng.choice(self.objects)
            word = self.rng.choice(self._kind(obj).words)
            targets = self._with_word(word)
            answer = affirms(rf"\byes\b|{_alternation(targets)}")
        else:
            absent = [
                w
                for theme in THEMES
                for k in theme.objects
                for w in k.words
                if w not in present_words and not any(w in p or p in w for p in present_words)
            ]
            if not absent:
                return None
            word, targets, answer = self.rng.choice(sorted(set(absent))), [], NO
        template = self.rng.choice(
            (
                "Is there {w} in the scene?",
                "I heard there is {w} around here. Is that true?",
                "Can you check whether there is {w} nearby?",
            )
        )
        return Task(
            template.format(w=with_article(word)),
            answer,
            self.init,
            "existence",
            tuple(targets),
            word,
        )

    def _affordance(self) -> Task | None:
        options = sorted({a for o in self.objects for a in self._kind(o).affordances})
        if not options:
            return None
        phrase = self.rng.choice(options)
        targets = [o for o in self.objects if phrase in self._kind(o).affordances]
        words = [w for o in targets for w in self._kind(o).words] + targets
        template = self.rng.choice(
            (
                "Find me something I can {a}.",
                "I need something I can {a}. Is there one around?",
            )
        )
        return Task(
            template.format(a=phrase),
            _alternation(words),
            self.init,
            "affordance",
            tuple(targets),
            phrase,
        )

    def _attribute(self) -> Task | None:
        crossings = [
            r for r in self.graph.regions if getattr(self.scene.kinds[r], "crossable", False)
        ]
        if crossings and self.rng.random() < 0.35:
            region = self.rng.choice(crossings)
            word = self.scene.kinds[region].words[-1]
            if sum(word in self.scene.kinds[r].words for r in crossings) > 1:
                return None
            answer = NO if self.scene.damaged[region] else affirms(r"\byes\b|not damaged")
            text = self.rng.choice(("Can I cross the {w}?", "Is it safe to cross the {w}?"))
            return Task(text.format(w=word), answer, self.init, "attribute", (region,), word)
        damageable = [o for o in self.objects if self._kind(o).damageable]
        if not damageable:
            return None
        obj = self.rng.choice(damageable)
        word = self.rng.choice(self._kind(obj).words)
        if len(self._with_word(word)) > 1:
            return None  # "the truck" must name one truck
        answer = (
            affirms(r"\byes\b|\bis damaged", unless=NEGATIVE + r"|not damaged")
            if self.scene.damaged[obj]
            else affirms(r"\bno\b|not damaged", unless=r"\byes\b|\bis damaged")
        )
        text = self.rng.choice(("Is the {w} damaged?", "Can you check if the {w} is damaged?"))
        return Task(text.format(w=word), answer, self.init, "attribute", (obj,), word)

    def _likely_location(self) -> Task | None:
        items = sorted({h for o in self.objects for h in self._kind(o).holds})
        if not items:
            return None
        item = self.rng.choice(items)
        targets = [o for o in self.objects if item in self._kind(o).holds]
        words = [w for o in targets for w in self._kind(o).words] + targets
        template = self.rng.choice(
            (
                "Where {be} {i} likely to be?",
                "I need {i}. Where should I look?",
            )
        )
        return Task(
            template.format(i=item, be=be(item)),
            _alternation(words),
            self.init,
            "likely_location",
            tuple(targets),
            item,
        )

    def _diagnosis(self) -> Task | None:
        damaged = [o for o in self.objects if self._kind(o).outage and self.scene.damaged[o]]
        if not damaged:
            return None
        obj = self.rng.choice(damaged)
        outage = self._kind(obj).outage
        # Every object that could explain the outage is a target: the planner has to inspect
        # them to find the broken one, and so does the oracle (it cannot know which it is).
        suspects = tuple(o for o in self.objects if self._kind(o).outage == outage)
        culprits = [o for o in suspects if self.scene.damaged[o]]
        # Name the kind only when it singles out the culprit; otherwise the culprit's name.
        words = culprits if len(culprits) < len(suspects) else [*self._kind(obj).words, *culprits]
        template = self.rng.choice(("{o}. Why?", "{o}. Can you find out why?"))
        text = template.format(o=outage[0].upper() + outage[1:])
        return Task(text, _alternation(words), self.init, "diagnosis", suspects, outage)
