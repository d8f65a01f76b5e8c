"""Whether the turns a sample trains on are planner responses in the SPINE format.

The loss covers every trained assistant turn (:func:`~prism.formats.conversations.is_trained`)
as it is written, and nothing downstream repairs one that is no SPINE response — a JSON object
with ``primary_goal``, ``relevant_graph``, ``reasoning`` and a ``plan`` that parses
(:func:`prism.world.protocol.parse_turn`): the compact prompt format passes such text through
untranslated (:func:`prism.student.prompt_format.compact_reply`), so the student learns to write
what the simulator rejects. A DAgger sample's own student turns (``weight: 0``) are context and
may be anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prism.formats.conversations import is_trained
from prism.world.protocol import RESPONSE_KEYS, InvalidTurn, parse_turn

#: What each :class:`~prism.world.protocol.InvalidTurn` kind says about a turn.
PROBLEMS = {
    "not_json": "not a JSON object",
    "missing_keys": "a JSON object without all of the SPINE keys",
    "bad_plan": "a plan that does not parse",
    "unknown_action": "a plan with an unknown action",
}
#: Samples a message lists before it only counts the rest.
LISTED = 10


@dataclass(frozen=True)
class NonPlannerTurn:
    """A trained assistant turn that is no SPINE response.

    Attributes:
        sample: the sample's index in its file.
        field: the turn, e.g. ``conversations[1]``.
        kind: the protocol's reason code (``not_json``, ``missing_keys``, ``bad_plan``,
            ``unknown_action``).
    """

    sample: int
    field: str
    kind: str

    def __str__(self) -> str:
        return f"sample {self.sample} ({self.field}: {PROBLEMS.get(self.kind, self.kind)})"


def non_planner_turns(
    samples: Sequence[Mapping[str, Any]], indices: Sequence[int] | None = None
) -> list[NonPlannerTurn]:
    """The trained assistant turns of canonical samples that are no SPINE responses, the first
    of each sample.

    Args:
        samples: canonical samples (:func:`~prism.formats.conversations.load_samples`).
        indices: each sample's index in its file (default: its position in ``samples``).

    Example:
        >>> turns = [{"role": "user", "value": "task: find the truck"},
        ...          {"role": "assistant", "value": "I think I should go {not json"}]
        >>> [str(t) for t in non_planner_turns([{"conversations": turns}], indices=[3])]
        ['sample 3 (conversations[1]: not a JSON object)']
    """
    found = []
    for position, sample in enumerate(samples):
        for turn_index, turn in enumerate(sample["conversations"]):
            if not is_trained(turn):
                continue
            try:
                parse_turn(turn["value"])
            except InvalidTurn as error:
                index = position if indices is None else indices[position]
                found.append(NonPlannerTurn(index, f"conversations[{turn_index}]", error.kind))
                break
    return found


def describe_non_planner_turns(found: Sequence[NonPlannerTurn], total: int) -> str:
    """One line for a file's non-planner turns: how many samples of ``total``, which, and why.

    >>> describe_non_planner_turns([NonPlannerTurn(3, "conversations[1]", "not_json")], 20)
    '1 of 20 samples train on an assistant turn that is no SPINE response (a JSON object with \
primary_goal, relevant_graph, reasoning, plan): sample 3 (conversations[1]: not a JSON object)'
    """
    listed = ", ".join(map(str, found[:LISTED]))
    more = f" and {len(found) - LISTED} more" if len(found) > LISTED else ""
    return (
        f"{len(found)} of {total} samples train on an assistant turn that is no SPINE response "
        f"(a JSON object with {', '.join(RESPONSE_KEYS)}): {listed}{more}"
    )
