"""How the student reads and writes the planning protocol: verbatim SPINE, or a compact form.

A hub model such as Llama-3.2-3B reads the teacher's prompts as they are (``spine``). The small
offline student learns far faster from a compact rendering of the same information (``compact``):
no coordinates, no JSON punctuation, one line per node, and a reply that is just the plan::

    at intersection_3                                 <- SPINE: task: ...\\n<advice>\\nScene graph:{json}
    region yard_2: intersection_3 collapsed_area_2
    object ambulance_1: riverbank_1 | a white van, its back door open
    task: Is there a cabin nearby?

    [map_region(intersection_3), map_region(yard_2)]  <- SPINE: {"primary_goal": ..., "plan": "[...]"}

The format a model speaks is saved with it (``prism_format.json`` next to ``config.json``), so
fine-tuning, closed-loop evaluation and serving all translate in this one place and the student
stays a drop-in for the teacher: :meth:`PromptFormat.encode` turns SPINE messages into the
student's, :meth:`PromptFormat.decode` turns its reply back into a SPINE response. The compact
reply has no reasoning; :meth:`CompactFormat.decode` fills ``primary_goal`` with the task,
``relevant_graph`` with the nodes the plan names and leaves ``reasoning`` empty.

Anything the compact encoder does not recognise (a user message that is neither a task prompt
nor simulator updates, e.g. a validation feedback) is passed on verbatim, never dropped. Every
format keeps an assistant message's training ``weight`` (``"weight": 0``: the loss ignores the
turn, see :mod:`prism.formats.conversations`) on the message it rewrites it into.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prism.formats.conversations import WEIGHT_KEY
from prism.world.protocol import RESPONSE_KEYS, PlanSyntaxError, parse_plan

FORMAT_FILE = "prism_format.json"

#: A chat message: ``role`` and ``content``, and ``weight`` on an untrained assistant turn.
Message = Mapping[str, Any]

_SCENE_MARKER = "Scene graph:"
_UPDATE_LINE = re.compile(
    r"^(add_nodes|add_connections|update_node_attributes|update_robot_location|feedback|"
    r"no_updates)\((.*)\)\s*$",
    re.DOTALL,
)


class PromptFormat:
    """The verbatim SPINE protocol: messages and replies pass through unchanged."""

    name = "spine"

    def encode(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        """SPINE chat messages (``role`` + ``content``) -> the messages the student reads.

        A message's ``weight``, where it has one, stays on it.
        """
        return [_rewritten(m, m["content"]) for m in messages]

    def decode(self, reply: str, messages: Sequence[Message]) -> str:
        """The student's reply to ``messages`` (SPINE form) -> a SPINE planner response."""
        del messages
        return reply


class CompactFormat(PromptFormat):
    """One line per node, no coordinates, and the plan alone as the reply (module docstring)."""

    name = "compact"

    def encode(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        known: KnownGraph | None = None
        task = ""
        for message in messages:
            role, content = message["role"], message["content"]
            if role == "system":
                continue  # the student never sees the teacher's system prompt
            if role == "assistant":
                content = compact_reply(content)
            elif role == "user" and known is None:
                parsed = KnownGraph.from_prompt(content)
                if parsed is not None:
                    known, task = parsed
                    content = "\n".join([*known.lines(), *known.hints(task), f"task: {task}"])
            elif role == "user":
                calls = _update_calls(content)
                if calls is not None:
                    try:
                        lines = _compact_calls(calls)
                        known.apply(calls)
                    except (ValueError, KeyError, TypeError, AttributeError):
                        pass  # not updates we understand: verbatim
                    else:
                        content = "\n".join([*lines, *known.hints(task), f"task: {task}"])
            out.append(_rewritten(message, content))
        return out

    def decode(self, reply: str, messages: Sequence[Message]) -> str:
        text = reply.strip()
        if text.startswith("{"):
            return reply  # the model wrote a full SPINE response itself
        task = next((_task_of(m["content"]) for m in messages if m["role"] == "user"), "") or ""
        try:
            nodes = list(dict.fromkeys(a.target for a in parse_plan(text) if a.target))
        except PlanSyntaxError:
            nodes = []
        response = dict.fromkeys(RESPONSE_KEYS, "")
        response.update(primary_goal=task, relevant_graph=nodes, plan=text)
        return json.dumps(response, ensure_ascii=False)


FORMATS: dict[str, PromptFormat] = {f.name: f for f in (PromptFormat(), CompactFormat())}


def get_format(name: str) -> PromptFormat:
    """The prompt format called ``name``; a :class:`ValueError` lists the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown prompt format {name!r}; known formats: {', '.join(FORMATS)}"
        ) from None


def format_of(model_dir: str | Path | None) -> PromptFormat:
    """The format a saved model speaks (``spine`` when it has no ``prism_format.json``)."""
    if model_dir is None:
        return FORMATS["spine"]
    path = Path(model_dir) / FORMAT_FILE
    if not path.is_file():
        return FORMATS["spine"]
    try:
        name = json.loads(path.read_text(encoding="utf-8"))["format"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f'{path}: expected {{"format": <name>}} ({error})') from None
    return get_format(name)


def save_format(model_dir: str | Path, fmt: PromptFormat) -> None:
    """Record next to a saved model which format it speaks (no file for ``spine``)."""
    path = Path(model_dir) / FORMAT_FILE
    if fmt.name == "spine":
        path.unlink(missing_ok=True)
    else:
        path.write_text(json.dumps({"format": fmt.name}) + "\n", encoding="utf-8")


def _rewritten(message: Message, content: str) -> dict[str, Any]:
    """``message`` with new ``content``; its role and its training weight, if any, are kept."""
    weight = {WEIGHT_KEY: message[WEIGHT_KEY]} if WEIGHT_KEY in message else {}
    return {"role": message["role"], "content": content, **weight}


# ---------------------------------------------------------------------- compact rendering
def compact_graph(graph: Mapping[str, Any]) -> list[str]:
    """A SPINE scene graph as lines: ``at R``, ``region R: neighbours``, ``object O: region``.

    A description follows its node after `` | ``. Node order is the graph's own.
    """
    regions = [r["name"] for r in graph.get("regions", [])]
    neighbours: dict[str, list[str]] = {r: [] for r in regions}
    for a, b in graph.get("region_connections", []):
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    region_of: dict[str, list[str]] = {}
    for a, b in graph.get("object_connections", []):
        obj, region = (a, b) if b in neighbours else (b, a)
        region_of.setdefault(obj, []).append(region)
    lines = []
    if graph.get("robot_location"):
        lines.append(f"at {graph['robot_location']}")
    for node in graph.get("regions", []):
        name = node["name"]
        lines.append(_node_line("region", name, neighbours.get(name, []), node))
    for node in graph.get("objects", []):
        name = node["name"]
        lines.append(_node_line("object", name, region_of.get(name, []), node))
    return lines


def _update_calls(text: str) -> list[tuple[str, str]] | None:
    """``[(call, argument)]`` of a simulator update message, None if it is something else."""
    matches = [_UPDATE_LINE.match(line) for line in text.strip().splitlines()]
    if not matches or not all(matches):
        return None
    return [(m[1], m[2].strip()) for m in matches if m]


def compact_reply(text: str) -> str:
    """A SPINE planner response -> its plan string; text that is no such response is kept."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict) and isinstance(data.get("plan"), str):
        return data["plan"]
    if isinstance(data, dict) and isinstance(data.get("plan"), list):
        return "[" + ", ".join(str(step) for step in data["plan"]) + "]"
    return text


def _compact_calls(calls: list[tuple[str, str]]) -> list[str]:
    args = {name: arg for name, arg in calls}
    new_nodes = json.loads(args["add_nodes"]) if "add_nodes" in args else []
    connections = json.loads(args["add_connections"]) if "add_connections" in args else []
    links: dict[str, list[str]] = {node["name"]: [] for node in new_nodes}
    old_links = []
    for a, b in connections:
        if a in links or b in links:
            if a in links:
                links[a].append(b)
            if b in links:
                links[b].append(a)
        else:
            old_links.append(f"link {a} {b}")
    lines = [
        _node_line(node.get("type", "node"), node["name"], links[node["name"]], node)
        for node in new_nodes
    ]
    lines += old_links
    for name, arg in calls:
        if name == "update_node_attributes":
            lines += [f"about {n['name']}: {n.get('description', '')}" for n in json.loads(arg)]
        elif name == "update_robot_location":
            lines.append(f"at {arg}")
        elif name == "feedback":
            lines.append(f"feedback: {json.loads(arg)}")
        elif name == "no_updates":
            lines.append("no updates")
    return lines


class KnownGraph:
    """The planner's scene graph as a conversation reveals it, for the compact format's hints.

    After the graph (or the updates) of every user message the compact format adds, then
    repeats the task::

        match object cabin_1: yard_2            <- nodes whose name shares a word with the task
        unmapped: yard_2 street_1 field_3       <- regions not mapped yet, nearest first (hops)
        task: Is there a cabin nearby?

    Both are read off the planner's own graph (nothing hidden is revealed); they put what a plan
    needs next to where the reply starts, so a small model copies instead of searching.
    """

    MAX_MATCHES = 6

    def __init__(self, graph: Mapping[str, Any]) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.links: dict[str, list[str]] = {}
        for kind in ("region", "object"):
            for node in graph.get(f"{kind}s", []):
                self.nodes[node["name"]] = {"type": kind, **node}
                self.links[node["name"]] = []
        for key in ("region_connections", "object_connections"):
            for a, b in graph.get(key, []):
                self._link(a, b)
        self.at = graph.get("robot_location")

    @classmethod
    def from_prompt(cls, text: str) -> tuple[KnownGraph, str] | None:
        """The graph and task of a SPINE first prompt; None if ``text`` is not one."""
        head, marker, graph_json = text.partition(_SCENE_MARKER)
        task = _task_of(head)
        if not marker or task is None:
            return None
        try:
            graph = json.loads(graph_json)
            return cls(graph), task
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def _link(self, a: str, b: str) -> None:
        for x, y in ((a, b), (b, a)):
            if y not in self.links.setdefault(x, []):
                self.links[x].append(y)

    def apply(self, calls: list[tuple[str, str]]) -> None:
        """Apply simulator updates (as :func:`_update_calls` returns them)."""
        for name, arg in calls:
            if name == "add_nodes":
                for node in json.loads(arg):
                    self.nodes[node["name"]] = dict(node)
                    self.links.setdefault(node["name"], [])
            elif name == "add_connections":
                for a, b in json.loads(arg):
                    self._link(a, b)
            elif name == "update_node_attributes":
                for node in json.loads(arg):
                    self.nodes.setdefault(node["name"], {"name": node["name"]}).update(node)
            elif name == "update_robot_location":
                self.at = arg

    def _kind(self, name: str) -> str:
        return self.nodes.get(name, {}).get("type", "node")

    def line(self, name: str) -> str:
        """The node as the compact graph writes it (its current links and description)."""
        kind = self._kind(name)
        links = [
            n for n in self.links.get(name, []) if kind == "object" or self._kind(n) == "region"
        ]
        return _node_line(kind, name, links, self.nodes.get(name, {}))

    def lines(self) -> list[str]:
        """The whole graph: robot location, then regions, then objects."""
        head = [f"at {self.at}"] if self.at else []
        regions = [n for n in self.nodes if self._kind(n) == "region"]
        objects = [n for n in self.nodes if self._kind(n) == "object"]
        return head + [self.line(n) for n in regions + objects]

    def unmapped(self) -> list[str]:
        """Regions without a description (never mapped), nearest to the robot first."""
        order = {self.at: 0} if self.at in self.links else {}
        frontier = list(order)
        while frontier:
            nxt = []
            for node in frontier:
                for other in self.links.get(node, []):
                    if other not in order and self._kind(other) == "region":
                        order[other] = order[node] + 1
                        nxt.append(other)
            frontier = nxt
        regions = [n for n in self.nodes if self._kind(n) == "region"]
        todo = [r for r in regions if not self.nodes[r].get("description")]
        return sorted(todo, key=lambda r: order.get(r, len(regions) + 1))

    def matches(self, task: str) -> list[str]:
        """Nodes whose name shares a word with the task, most shared words first."""
        words = _words(task)
        scored = []
        for index, name in enumerate(self.nodes):
            score = len(_words(name.replace("_", " ")) & words)
            if score:
                scored.append((-score, index, name))
        return [name for _, _, name in sorted(scored)[: self.MAX_MATCHES]]

    def hints(self, task: str) -> list[str]:
        """The ``match`` and ``unmapped`` lines (class docstring)."""
        lines = [f"match {self.line(n)}" for n in self.matches(task)]
        lines.append(f"unmapped: {' '.join(self.unmapped()) or 'none'}")
        return lines


_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "are",
        "there",
        "any",
        "can",
        "you",
        "check",
        "whether",
        "nearby",
        "near",
        "where",
        "what",
        "why",
        "which",
        "how",
        "this",
        "that",
        "with",
        "for",
        "from",
        "out",
        "not",
        "have",
        "has",
        "does",
        "did",
        "was",
        "were",
        "its",
        "some",
        "something",
        "someone",
        "find",
        "look",
        "likely",
        "area",
        "please",
        "tell",
        "know",
        "there",
    ]
)


def _words(text: str) -> set[str]:
    """Lower-case content words of ``text``, plural ``s`` stripped (``lights`` -> ``light``)."""
    words = set()
    for word in re.findall(r"[a-z]+", text.lower()):
        if len(word) < 3 or word in _STOPWORDS:
            continue
        words.add(
            word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
        )
    return words


def _node_line(kind: str, name: str, links: list[str], node: Mapping[str, Any]) -> str:
    line = f"{kind} {name}: {' '.join(links)}".rstrip()
    description = node.get("description")
    return f"{line} | {description}" if description else line


def _task_of(text: str) -> str | None:
    """The task of a SPINE first prompt (``task: ...`` up to the end of its line)."""
    match = re.match(r"\s*task:\s*(.*)", text)
    return match[1].strip() if match else None
