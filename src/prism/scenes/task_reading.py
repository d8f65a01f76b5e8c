"""Reading what a task asks for off its words: its family (:func:`classify_task`) and, in a given
scene, its targets and subject (:func:`infer_task`).

Tasks of foreign eval files (the reference's ``eval_1_multi_step.json``) and of LLM scene
generators have only text, an answer regex and a start node; the oracle teacher needs to know what
they are about, and a prior without a kind needs a family.
"""

from __future__ import annotations

import re

from prism.scenes.themes import ObjectKind, RegionKind, vocabulary
from prism.world.scene_graph import SceneGraph
from prism.world.task import Task

# Most specific first: "Is the boat damaged?" is an attribute question, not an existence one,
# and "something I can cross the creek in" an affordance, not an attribute question.
_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("diagnosis", re.compile(r"\bwhy\b|\bare down\b|\bis down\b|\bis out\b|\bare out\b", re.I)),
    ("affordance", re.compile(r"something (that )?i can|a place to|i need something", re.I)),
    ("attribute", re.compile(r"damaged|\bcross\b|broken|intact", re.I)),
    (
        "likely_location",
        re.compile(r"\blikely\b|where should i look|where (are|is|would|might)|\blost\b", re.I),
    ),
    ("existence", re.compile(r"\bis there\b|\bare there\b|there is an?\b|whether there", re.I)),
)


def classify_task(text: str) -> str | None:
    """The task family of a task text, or None if it fits none.

    >>> classify_task("Is the truck damaged?")
    'attribute'
    """
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return kind
    return None


_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "i",
        "can",
        "to",
        "in",
        "me",
        "for",
        "of",
        "is",
        "are",
        "there",
        "it",
        "my",
        "find",
        "something",
    ]
)


def infer_task(task: Task, scene: SceneGraph) -> Task:
    """Fill in ``kind``, ``targets`` and ``subject`` of a task that came without them.

    Tasks from foreign eval files (the reference's ``eval_1_multi_step.json``) only have text,
    answer and start node. The oracle needs to know what the task asks for; this reads it off the
    text with the themes' vocabulary (what things are called, what they afford, hold, explain).

    Example:
        >>> scene = SceneGraph.from_spine({
        ...     "regions": [{"name": "field_1", "coords": [0, 0]}],
        ...     "objects": [{"name": "shed_1", "coords": [1, 1]},
        ...                 {"name": "pickup_truck_1", "coords": [2, 1]}],
        ...     "object_connections": [["shed_1", "field_1"], ["pickup_truck_1", "field_1"]],
        ...     "robot_location": "field_1"})
        >>> task = infer_task(Task("Where are tools likely to be?", "shed", "field_1"), scene)
        >>> task.kind, task.targets, task.subject
        ('likely_location', ('shed_1',), 'tools')
    """
    text = task.task.lower()
    kind = classify_task(text) or "existence"
    kinds = vocabulary()

    def kind_of(node: str) -> ObjectKind | RegionKind | None:
        return kinds.get(re.sub(r"_\d+$", "", node))

    def words_of(node: str) -> tuple[str, ...]:
        known = kind_of(node)
        base = re.sub(r"_\d+$", "", node)
        return (*(known.words if known else ()), base.replace("_", " "))

    def mentioned(phrase: str) -> bool:
        return re.search(rf"\b{re.escape(phrase)}", text) is not None

    targets: list[str] = []
    subject = ""
    nodes = list(scene.graph.nodes)
    if kind in ("existence", "attribute"):
        for node in nodes:
            hits = [w for w in words_of(node) if mentioned(w)]
            if hits:
                targets.append(node)
                subject = subject or max(hits, key=len)
    else:
        attribute = {
            "affordance": "affordances",
            "likely_location": "holds",
            "diagnosis": "outage",
        }[kind]
        best = 0
        for node in nodes:
            known = kind_of(node)
            phrases = getattr(known, attribute, ()) if known else ()
            for phrase in (phrases,) if isinstance(phrases, str) else phrases:
                words = set(re.findall(r"[a-z]+", phrase)) - _STOPWORDS
                score = len(words & set(re.findall(r"[a-z]+", text)))
                if score and score > best:
                    best, targets, subject = score, [node], phrase
                elif score and score == best:
                    targets.append(node)
        if kind == "affordance":
            subject = text.split(" i can ", 1)[1].rstrip(" ?.!") if " i can " in text else subject
        elif kind == "diagnosis":
            subject = re.split(r"[.?!]", text, maxsplit=1)[0].strip()
    return Task(task.task, task.answer, task.init_node, kind, tuple(targets), subject)
