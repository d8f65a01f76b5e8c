"""The SPINE planning protocol: prompts, planner responses, plan parsing and plan validation.

A planner turn is one JSON object::

    {"primary_goal": "find the truck keys",
     "relevant_graph": ["pickup_truck_1", "field_6"],
     "reasoning": "The keys are likely in the truck; it is reachable through field_5.",
     "plan": "[goto(field_6), inspect(pickup_truck_1, are the keys inside?), answer(...)]"}

Every plan is checked against the planner's (partial) scene graph before it runs; a bad turn
goes back to the planner with one feedback message (:func:`check_turn`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prism.world.scene_graph import SceneGraph

RESPONSE_KEYS = ("primary_goal", "relevant_graph", "reasoning", "plan")

#: action name -> argument kinds. "text" swallows everything up to the closing parenthesis.
ACTION_SIGNATURES: dict[str, tuple[str, ...]] = {
    "goto": ("region",),
    "map_region": ("region",),
    "explore_region": ("region", "number"),
    "inspect": ("object", "text?"),
    "extend_map": ("number", "number"),
    "replan": (),
    "clarify": ("text",),
    "answer": ("text",),
}
ACTIONS = tuple(ACTION_SIGNATURES)
_TEXT_ACTIONS = {"clarify", "answer"}

ADVICE = (
    "Plan with the API. Regions and objects you cannot see may exist: map or explore regions to "
    "discover them, inspect objects to learn about them, and answer as soon as you know."
)

SYSTEM_PROMPT = f"""You are SPINE, a planner for a mobile robot that explores an outdoor scene.
You receive a task and a scene graph in JSON: regions the robot can drive between
("region_connections") and objects attached to regions ("object_connections"). Part of the scene is
unknown: nodes appear when you map or explore a region next to them, and descriptions appear when
you map a region or inspect an object.

API (use only these actions, only with nodes of the graph):
- goto(region): drive to a region reachable through region connections.
- map_region(region): drive to a region, map it, and reveal its neighbours and description.
- explore_region(region, radius): like map_region, exploring within radius metres.
- inspect(object, query): drive to the object's region and inspect it; reveals its description.
- replan(): stop here and plan again after new discoveries.
- clarify(question): ask the user a question.
- answer(text): answer the user; this ends the task.

After each plan runs you get updates: add_nodes(...), add_connections(...),
update_node_attributes(...), update_robot_location(...), feedback(...) or no_updates().

Respond with one JSON object with exactly these keys:
{{"primary_goal": "<what the user wants>",
 "relevant_graph": ["<nodes that matter>"],
 "reasoning": "<why this plan>",
 "plan": "[action(args), action(args), ...]"}}
{ADVICE}"""


@dataclass(frozen=True)
class Action:
    """One step of a plan, e.g. ``Action("inspect", ("pickup_truck_1", "keys?"))``."""

    name: str
    args: tuple[Any, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}({', '.join(_format_arg(a) for a in self.args)})"

    @property
    def target(self) -> str | None:
        """The node the action refers to, if it takes one."""
        kinds = ACTION_SIGNATURES.get(self.name, ())
        if kinds and kinds[0] in ("region", "object") and self.args:
            return str(self.args[0])
        return None


@dataclass(frozen=True)
class PlannerTurn:
    """A well-formed planner response with its plan parsed."""

    primary_goal: str
    relevant_graph: Any
    reasoning: str
    plan: tuple[Action, ...]
    text: str

    @property
    def answer(self) -> str | None:
        """The text of the plan's ``answer(...)`` step, if it has one."""
        for action in self.plan:
            if action.name == "answer":
                return str(action.args[0])
        return None

    @property
    def plan_text(self) -> str:
        """The plan as one string, ``[goto(field_7), answer(Yes)]``: what answers are graded on."""
        return "[" + ", ".join(str(action) for action in self.plan) + "]"


class PlanSyntaxError(ValueError):
    """A plan string that cannot be parsed; the message says where and why."""


# ---------------------------------------------------------------------- prompts and messages
def first_turn(task: str, partial_graph: SceneGraph) -> str:
    """The first user message of a rollout: task, short advice, the planner's scene graph."""
    return f"task: {task.strip()}\n{ADVICE}\nScene graph:{partial_graph.to_json()}"


def render_turn(
    primary_goal: str, relevant_graph: Any, reasoning: str, plan: Sequence[Action]
) -> str:
    """Render a planner turn as the JSON text a planner sends (keys in protocol order)."""
    return json.dumps(
        {
            "primary_goal": primary_goal,
            "relevant_graph": relevant_graph,
            "reasoning": reasoning,
            "plan": "[" + ", ".join(str(a) for a in plan) + "]",
        },
        ensure_ascii=False,
    )


# ---------------------------------------------------------------------- parsing
def parse_plan(plan: Any) -> tuple[Action, ...]:
    """Parse a plan such as ``"[goto(field_6), inspect(truck_1, keys?), answer(yes)]"``.

    Also accepts a JSON list of step strings (``["goto(field_6)", ...]``). Argument types are
    not checked against the graph here; :func:`validate_plan` does that.

    Raises:
        PlanSyntaxError: the plan is not a string/list of steps, a step is not ``name(args)``,
            the action is unknown, or it has the wrong number or kind of arguments.
    """
    if isinstance(plan, list):
        if not all(isinstance(step, str) for step in plan):
            raise PlanSyntaxError("'plan' must be a string like \"[goto(region), ...]\"")
        plan = "[" + ", ".join(plan) + "]"
    if not isinstance(plan, str):
        raise PlanSyntaxError(
            f"'plan' must be a string like \"[goto(region), answer(text)]\", got {type(plan).__name__}"
        )
    text = plan.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    steps = _split_steps(text)
    if not steps:
        raise PlanSyntaxError("the plan is empty; give at least one action, e.g. [answer(...)]")
    return tuple(_parse_step(name, inner) for name, inner in steps)


def _split_steps(text: str) -> list[tuple[str, str]]:
    """Split ``a(x), b(y, z)`` into [("a", "x"), ("b", "y, z")], honouring nested brackets."""
    steps: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,;":
            i += 1
        if i >= n:
            break
        start = i
        while i < n and (text[i].isalnum() or text[i] == "_"):
            i += 1
        name = text[start:i]
        while i < n and text[i] in " \t":
            i += 1
        if not name or i >= n or text[i] != "(":
            snippet = text[start : start + 40]
            raise PlanSyntaxError(
                f"could not read a step at '{snippet}': each step must look like action(arguments)"
            )
        close = _matching_paren(text, i)
        if close is None:
            raise PlanSyntaxError(f"step '{text[start : start + 40]}' has no closing parenthesis")
        steps.append((name, text[i + 1 : close]))
        i = close + 1
    return steps


def _matching_paren(text: str, open_idx: int, *, quotes: bool = True) -> int | None:
    depth, quote = 0, ""
    for j in range(open_idx, len(text)):
        ch = text[j]
        if quote:
            if ch == quote:
                quote = ""
        elif quotes and ch in "\"'" and (j == open_idx + 1 or text[j - 1] in " ,("):
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return j
    if quote:
        # A lone apostrophe ("answer(the 'big one)") opened no quote: it must not swallow the
        # steps after it, so read the step again as plain text.
        return _matching_paren(text, open_idx, quotes=False)
    # An unbalanced free-text answer ("answer(yes :)") still ends at the last parenthesis.
    last = text.rfind(")")
    return last if last > open_idx else None


def _parse_step(name: str, inner: str) -> Action:
    if name not in ACTION_SIGNATURES:
        raise PlanSyntaxError(f"unknown action '{name}'. Valid actions are: {', '.join(ACTIONS)}")
    kinds = ACTION_SIGNATURES[name]
    inner = inner.strip()
    if name in _TEXT_ACTIONS:
        text = _unquote(inner)
        if not text:
            raise PlanSyntaxError(f"{name}() needs a text argument, e.g. {name}(...)")
        return Action(name, (text,))
    if not kinds:
        if inner:
            raise PlanSyntaxError(f"{name}() takes no arguments, got '{inner}'")
        return Action(name, ())
    # Only a trailing free-text argument (inspect's query) may itself contain commas; node names
    # and numbers never do, so "goto(a, b)" is one argument too many, not a node named "a, b".
    maxsplit = len(kinds) - 1 if kinds[-1].startswith("text") else -1
    parts = [p.strip() for p in inner.split(",", maxsplit)] if inner else []
    required = [k for k in kinds if not k.endswith("?")]
    if not (len(required) <= len(parts) <= len(kinds)):
        usage = f"{name}({', '.join(k.rstrip('?') for k in kinds)})"
        raise PlanSyntaxError(f"{name} takes {usage}, got {name}({inner})")
    args: list[Any] = []
    for kind, part in zip(kinds, parts, strict=False):
        if kind == "number":
            number = _parse_number(part)
            if number is None:
                raise PlanSyntaxError(
                    f"could not parse '{part}' as a number in {name}({inner}); "
                    f"use {name}({', '.join(k.rstrip('?') for k in kinds)}) with plain numbers"
                )
            args.append(number)
        else:
            value = _unquote(part)
            if not value and not kind.endswith("?"):
                raise PlanSyntaxError(f"{name}({inner}) is missing its {kind} argument")
            args.append(value)
    return Action(name, tuple(args))


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def _parse_number(text: str) -> float | None:
    try:
        value = float(_unquote(text).removesuffix("m").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _format_arg(arg: Any) -> str:
    if isinstance(arg, float):
        return str(int(arg)) if arg.is_integer() else f"{arg:g}"
    return str(arg)


# ---------------------------------------------------------------------- validation
def parse_turn(text: str) -> PlannerTurn:
    """Parse a planner response; raises :class:`InvalidTurn` with the planner's feedback."""
    try:
        data = json.loads(_strip_code_fence(text))
    # ValueError covers JSONDecodeError and Python's limit on huge integer literals;
    # RecursionError comes from absurdly deep nesting. Both are just bad planner output.
    except (ValueError, TypeError, RecursionError) as err:
        raise InvalidTurn(
            "not_json",
            f"Your response is not valid JSON ({err}). Respond with one JSON object with the "
            f"keys {', '.join(RESPONSE_KEYS)}.",
        ) from None
    if not isinstance(data, dict):
        raise InvalidTurn(
            "not_json",
            f"Your response must be a JSON object with the keys {', '.join(RESPONSE_KEYS)}.",
        )
    missing = [k for k in RESPONSE_KEYS if k not in data]
    if missing:
        raise InvalidTurn(
            "missing_keys",
            f"Your response is missing the key(s) {', '.join(missing)}. Respond with one JSON "
            f"object with the keys {', '.join(RESPONSE_KEYS)}.",
        )
    try:
        plan = parse_plan(data["plan"])
    except PlanSyntaxError as err:
        kind = "unknown_action" if str(err).startswith("unknown action") else "bad_plan"
        raise InvalidTurn(kind, f"Your plan could not be parsed: {err}.") from None
    return PlannerTurn(
        primary_goal=str(data["primary_goal"]),
        relevant_graph=data["relevant_graph"],
        reasoning=str(data["reasoning"]),
        plan=plan,
        text=text,
    )


class InvalidTurn(ValueError):
    """A planner turn that fails validation. ``kind`` is a short reason code for statistics,
    ``feedback`` the message that goes back to the planner."""

    def __init__(self, kind: str, feedback: str) -> None:
        super().__init__(feedback)
        self.kind = kind
        self.feedback = feedback


def validate_plan(plan: Sequence[Action], graph: SceneGraph) -> None:
    """Check a parsed plan against the planner's scene graph, step by step.

    The robot's position is followed through the plan (``goto``, ``map_region`` and ``inspect``
    move it), so every step is checked from where the robot will be at that point.

    Raises:
        InvalidTurn: for a node not in the graph, navigation to an object, ``inspect`` on a
            region, or no known path from the robot's position to the target.
    """
    location = graph.robot_location
    for action in plan:
        target = action.target
        if target is None:
            continue
        if target not in graph:
            raise InvalidTurn(
                "unknown_node",
                f"{action}: '{target}' is not in the scene graph. Use only nodes of the graph; "
                "if you expect it to exist, explore a region near where it could be, then "
                "call replan().",
            )
        wanted = ACTION_SIGNATURES[action.name][0]
        if wanted == "region" and graph.is_object(target):
            region = graph.region_of(target)
            hint = f" Go to the region it is connected to, {region}." if region else ""
            raise InvalidTurn(
                "navigate_to_object",
                f"{action}: {action.name} only takes regions and '{target}' is an object.{hint}",
            )
        if wanted == "object" and graph.is_region(target):
            raise InvalidTurn(
                "inspect_region",
                f"{action}: inspect only takes objects and '{target}' is a region. "
                f"Use map_region({target}) to learn about a region.",
            )
        goal = target if graph.is_region(target) else graph.region_of(target)
        if goal is None or graph.region_path(location, goal) is None:
            raise InvalidTurn("no_path", _no_path_feedback(action, graph, location, goal or target))
        location = goal


def _no_path_feedback(action: Action, graph: SceneGraph, start: str, goal: str) -> str:
    reachable = graph.reachable_regions(start)
    other = graph.reachable_regions(goal) if graph.is_region(goal) else set()
    message = f"{action}: there is no known path from {start} to {goal}."
    if reachable and other:
        a, b = min(
            ((a, b) for a in reachable for b in other),
            key=lambda pair: (graph.distance(*pair), pair),
        )
        message += (
            f" The closest pair of nodes across the two disconnected parts of the graph is "
            f"{a} (reachable) and {b}, {graph.distance(a, b):.1f} m apart: map or explore near "
            f"{a} to find a connection, then replan()."
        )
    return message


def check_turn(text: str, graph: SceneGraph) -> PlannerTurn:
    """Parse and validate a planner response; raises :class:`InvalidTurn` with feedback."""
    turn = parse_turn(text)
    validate_plan(turn.plan, graph)
    return turn


def _strip_code_fence(text: str) -> str:
    # Chat models like to wrap JSON in ```json fences even in JSON mode.
    stripped = text.strip() if isinstance(text, str) else text
    if isinstance(stripped, str) and stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped
