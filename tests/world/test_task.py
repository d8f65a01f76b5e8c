"""The one Task: records read and written without loss, and the one answer matcher."""

from __future__ import annotations

import json

import pytest

from prism.world.protocol import parse_turn
from prism.world.task import TASK_KINDS, Task, TaskError, unknown_kinds


def _final(plan: str):
    return parse_turn(
        json.dumps({"primary_goal": "g", "relevant_graph": [], "reasoning": "r", "plan": plan})
    )


def test_solved_by_is_a_case_insensitive_regex_on_the_final_plan() -> None:
    final = _final("[goto(field_7), answer(Yes, there is a SailBoat: sail_boat_1.)]")
    assert Task("t", "yes|boat|sailboat", "field_1").solved_by(final)
    assert Task("t", r"\bsailboat\b", "field_1").solved_by(final)
    assert Task("t", "field_7", "field_1").solved_by(final)  # the whole plan counts
    assert not Task("t", r"\bno\b", "field_1").solved_by(final)
    assert not Task("t", "truck", "field_1").solved_by(final)


def test_solved_by_is_false_without_an_answer() -> None:
    assert not Task("t", "yes", "field_1").solved_by(None)
    assert not Task("t", "field_7|yes|", "field_1").solved_by(_final("[map_region(field_7)]"))


def test_matches_searches_any_text() -> None:
    task = Task("Find me something I can drive", "truck", "field_1")
    assert task.matches("[goto(field_2), answer(The TRUCK is in field_2)]")
    assert not task.matches("[answer(nothing found)]")


def test_a_generated_record_round_trips_with_its_planning_keys() -> None:
    record = {
        "task": "Is there a boat?",
        "answer": "no",
        "init_node": "field_1",
        "kind": "existence",
        "targets": [],
        "subject": "boat",
    }
    task = Task.from_record(record)
    assert task.targets == () and task.kind == "existence"
    assert task.to_record() == record
    assert list(task.to_record()) == list(record)  # the key order of the files


def test_a_foreign_record_keeps_only_what_it_had() -> None:
    record = {"task": "Where are the keys?", "answer": "keys", "init_node": "r", "note": [1]}
    task = Task.from_record(record)
    assert task.kind is None and task.targets is None and task.subject is None
    assert task.extra == {"note": [1]}
    assert task.to_record() == record


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"task": "t", "answer": "a"}, "init_node"),
        ({"task": "t", "answer": "a", "init_node": "r", "targets": "r"}, "targets"),
        ({"task": "t", "answer": "a", "init_node": "r", "kind": 3}, "kind"),
    ],
)
def test_a_malformed_record_names_the_field(record, field) -> None:
    with pytest.raises(TaskError, match=rf"tasks\[2\]: field '{field}'"):
        Task.from_record(record, source="tasks[2]")


def test_a_bad_answer_regex_is_refused() -> None:
    with pytest.raises(TaskError, match="not a valid regular expression"):
        Task("t", "(", "r")


def test_unknown_kinds_names_the_tasks_by_position() -> None:
    tasks = [Task("a", "a", "r", kind=TASK_KINDS[0]), Task("b", "b", "r", kind="lookup")]
    assert unknown_kinds(tasks) == {1: "lookup"}
