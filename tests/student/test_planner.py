"""The student as a planner: turns never run past the model's context, and a conversation that
no longer fits is a ``ContextLengthExceeded`` for that conversation alone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from prism.student.batching import BatchingPlanner
from prism.student.generation import context_length, generate_replies, prompt_ids
from prism.student.planner import StudentPlanner
from prism.world.rollout import ContextLengthExceeded

BASE = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "planner_base"

#: Two first turns of different lengths, in SPINE form (the planner speaks SPINE).
GRAPH = (
    '{"regions": [{"name": "%s", "coords": [0, 0]}, {"name": "parking_lot_1", "coords": [5, 0]}],'
    ' "objects": [{"name": "truck_1", "coords": [5, 1]}], "region_connections":'
    ' [["%s", "parking_lot_1"]], "object_connections": [["truck_1", "parking_lot_1"]],'
    ' "robot_location": "%s"}'
)
SHORT = [{"role": "user", "value": "task: find the truck\ngraph: " + GRAPH % (("road_1",) * 3)}]
LONG = [
    {
        "role": "user",
        "value": "task: I need something I can drive. Is there one around?\ngraph: "
        + GRAPH % (("entrance_of_the_big_construction_site_1",) * 3),
    }
]


@pytest.fixture
def planner() -> StudentPlanner:
    """The shipped planner base: it writes real plans, so cut turns are visible."""
    return StudentPlanner.from_pretrained(BASE, max_new_tokens=16)


def _lengths(planner: StudentPlanner, *conversations) -> list[int]:
    chats = [[{"role": m["role"], "content": m["value"]} for m in c] for c in conversations]
    return [len(prompt_ids(planner.tokenizer, planner.prompt_format.encode(c))) for c in chats]


def test_per_conversation_caps_in_one_batch_are_each_conversations_own(planner):
    chats = [
        planner.prompt_format.encode([{"role": "user", "content": c[0]["value"]}])
        for c in (SHORT, LONG)
    ]
    together = generate_replies(planner.model, planner.tokenizer, chats, max_new_tokens=[3, 16])
    alone = [
        generate_replies(planner.model, planner.tokenizer, [chat], max_new_tokens=cap)[0]
        for chat, cap in zip(chats, (3, 16), strict=True)
    ]
    assert together == alone and len(together[0]) < len(together[1])


def test_a_turn_is_cut_at_the_room_its_prompt_leaves(planner):
    (short,) = _lengths(planner, SHORT)
    full = planner.respond(SHORT)
    planner.model.config.max_position_embeddings = short + 4  # room for 4 of 16 tokens
    assert context_length(planner.model) == short + 4
    cut = planner.respond(SHORT)
    planner.max_new_tokens = 4
    assert cut == planner.respond(SHORT) != full


def test_a_conversation_past_the_context_is_context_length_exceeded_for_it_alone(planner):
    short, long = _lengths(planner, SHORT, LONG)
    assert short < long
    expected = planner.respond(SHORT)
    planner.model.config.max_position_embeddings = long  # no room for one new token
    with pytest.raises(ContextLengthExceeded, match=f"{long} tokens .* context is {long}"):
        planner.respond(LONG)
    both = planner.respond_each([LONG, SHORT])
    assert isinstance(both[0], ContextLengthExceeded) and both[1] == expected
    with pytest.raises(ContextLengthExceeded):
        planner.respond_many([SHORT, LONG])

    # Gathered from threads into one batch: only the rollout that outgrew its context fails.
    results: dict[str, object] = {}

    def ask(name, messages):
        try:
            results[name] = batched.respond(messages)
        except ContextLengthExceeded as error:
            results[name] = error

    with BatchingPlanner(planner, max_batch=2, window_s=0.5) as batched:
        threads = [threading.Thread(target=ask, args=a) for a in (("long", LONG), ("short", SHORT))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert batched.batches == [2]
    assert isinstance(results["long"], ContextLengthExceeded) and results["short"] == expected
