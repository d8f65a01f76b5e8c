"""Which trained turns of a sample are no SPINE responses, and how a file's are described."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from prism.formats.conversations import read_samples
from prism.formats.planner_turns import (
    LISTED,
    NonPlannerTurn,
    describe_non_planner_turns,
    non_planner_turns,
)

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "initial_dataset.json"
TURN = {"primary_goal": "g", "relevant_graph": [], "reasoning": "r", "plan": "[answer(no)]"}


def _sample(*assistant: str, weight0: str | None = None) -> dict:
    turns = [{"role": "user", "value": "task: find it"}]
    if weight0 is not None:
        turns += [
            {"role": "assistant", "value": weight0, "weight": 0},
            {"role": "user", "value": "f"},
        ]
    for text in assistant:
        turns += [{"role": "assistant", "value": text}, {"role": "user", "value": "next"}]
    return {"conversations": turns[:-1]}


def test_the_shipped_initial_data_is_all_planner_turns():
    assert non_planner_turns(read_samples(SHIPPED)) == []


def test_each_way_a_turn_fails_is_named_with_the_first_bad_turn_of_a_sample():
    samples = [
        _sample(json.dumps(TURN)),
        _sample(json.dumps(TURN), "I think I should go {not json", "[1, 2]"),
        _sample(json.dumps({"plan": "[answer(no)]"})),
        _sample(json.dumps({**TURN, "plan": "[goto(a"})),
        _sample(json.dumps({**TURN, "plan": "[fly(a)]"})),
        _sample(f"```json\n{json.dumps(TURN)}\n```"),  # a fenced turn reads as the protocol's
    ]
    assert non_planner_turns(samples, indices=[10, 11, 12, 13, 14, 15]) == [
        NonPlannerTurn(11, "conversations[3]", "not_json"),
        NonPlannerTurn(12, "conversations[1]", "missing_keys"),
        NonPlannerTurn(13, "conversations[1]", "bad_plan"),
        NonPlannerTurn(14, "conversations[1]", "unknown_action"),
    ]


def test_a_students_own_turn_at_weight_0_is_context():
    assert non_planner_turns([_sample(json.dumps(TURN), weight0="}{ garbage")]) == []


@given(st.text().filter(lambda t: t.strip() and not _is_json(t)))
def test_any_text_that_is_not_json_is_flagged(text):
    (found,) = non_planner_turns([_sample(text)])
    assert found.kind == "not_json" and str(found) == (
        "sample 0 (conversations[1]: not a JSON object)"
    )


def test_a_long_list_is_cut_after_the_first_ones():
    found = [NonPlannerTurn(i, "conversations[1]", "not_json") for i in range(LISTED + 3)]
    text = describe_non_planner_turns(found, total=100)
    assert text.startswith(f"{LISTED + 3} of 100 samples train on an assistant turn")
    assert f"sample {LISTED - 1} (" in text and f"sample {LISTED} (" not in text
    assert text.endswith(" and 3 more")


def _is_json(text: str) -> bool:
    try:
        json.loads(text.strip().removeprefix("```"))
    except ValueError:
        return False
    return True
