"""The rollout loop, driven by a scripted planner that replies with queued texts."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence

import pytest

from prism.world.rollout import (
    MAX_ATTEMPTS,
    MAX_ITERATIONS,
    ContextLengthExceeded,
    Message,
    run_rollout,
)
from prism.world.scene_graph import SceneGraph
from prism.world.simulator import PartialObservationSim

TASK = "Does the truck have keys?"


class ScriptedPlanner:
    """Replies with queued texts, in order, and records every conversation it was shown."""

    def __init__(self, *texts: str) -> None:
        self.queue = deque(texts)
        self.seen: list[list[Message]] = []

    def respond(self, messages: Sequence[Message]) -> str:
        self.seen.append([dict(m) for m in messages])
        if not self.queue:
            raise AssertionError("the rollout asked for more turns than the script has")
        return self.queue.popleft()


def turn(plan: str) -> str:
    return json.dumps(
        {
            "primary_goal": "find out whether the truck has keys",
            "relevant_graph": ["pickup_truck_1"],
            "reasoning": "The truck is the place to look.",
            "plan": plan,
        }
    )


@pytest.fixture
def sim(tiny_graph: SceneGraph) -> PartialObservationSim:
    # The truck and its road are unknown until road_1 is mapped.
    return PartialObservationSim(tiny_graph, hidden={"road_2", "pickup_truck_1"})


def test_an_answered_rollout(sim: PartialObservationSim) -> None:
    planner = ScriptedPlanner(
        turn("[map_region(road_1), goto(yard_1)]"),
        turn("[map_region(road_2)]"),
        turn("[inspect(pickup_truck_1, keys?)]"),
        turn("[answer(Yes, pickup_truck_1 has keys.)]"),
    )
    rollout = run_rollout(planner, sim, TASK)

    assert rollout.reason is None
    assert rollout.answered
    assert rollout.answer == "Yes, pickup_truck_1 has keys."
    assert rollout.iterations == 4
    assert rollout.rejected == []
    assert [m["role"] for m in rollout.conversation] == ["user", "assistant"] * 4
    first = rollout.conversation[0]["value"]
    assert first.startswith(f"task: {TASK}\n")
    assert "pickup_truck_1" not in first
    assert rollout.conversation[1]["value"] == planner.seen[1][1]["value"]
    # map_region(road_1) revealed road_2 and interrupted: goto(yard_1) never ran.
    second_user = rollout.conversation[2]["value"]
    assert second_user.startswith('add_nodes([{"name": "road_2"')
    assert second_user.endswith("update_robot_location(road_1)")
    assert '"name": "pickup_truck_1"' in rollout.conversation[4]["value"]
    assert (
        'update_node_attributes([{"name": "pickup_truck_1", "description": "has keys"}])'
        in (rollout.conversation[6]["value"])
    )
    # The planner saw the whole conversation so far each time.
    assert planner.seen[3] == rollout.conversation[:7]


def test_three_invalid_attempts_end_the_rollout(sim: PartialObservationSim) -> None:
    planner = ScriptedPlanner(
        "I think the truck is on road_2.",
        turn("[inspect(pickup_truck_1, keys?)]"),  # hidden: not in the planner's graph
        turn("[inspect(road_1, keys?)]"),
    )
    rollout = run_rollout(planner, sim, TASK)

    assert rollout.reason == "invalid_turn:inspect_region"
    assert not rollout.answered
    assert rollout.final_turn is None
    assert [r["kind"] for r in rollout.rejected] == ["not_json", "unknown_node", "inspect_region"]
    assert [r["attempt"] for r in rollout.rejected] == [1, 2, 3]
    assert all(r["iteration"] == 1 for r in rollout.rejected)
    assert "not valid JSON" in rollout.rejected[0]["feedback"]
    assert "'pickup_truck_1' is not in the scene graph" in rollout.rejected[1]["feedback"]
    assert "map_region(road_1)" in rollout.rejected[2]["feedback"]
    assert rollout.rejected[0]["response"] == "I think the truck is on road_2."
    # No invalid turn ever enters the training sample.
    assert [m["role"] for m in rollout.conversation] == ["user"]
    assert MAX_ATTEMPTS == 3


class OutgrownPlanner(ScriptedPlanner):
    """A scripted planner whose context holds ``limit`` messages."""

    def __init__(self, limit: int, *texts: str) -> None:
        super().__init__(*texts)
        self.limit = limit

    def respond(self, messages: Sequence[Message]) -> str:
        if len(messages) > self.limit:
            raise ContextLengthExceeded(f"{len(messages)} messages, room for {self.limit}")
        return super().respond(messages)


def test_a_conversation_that_outgrows_the_planner_ends_the_rollout_and_is_kept(
    sim: PartialObservationSim,
) -> None:
    planner = OutgrownPlanner(2, turn("[map_region(road_1)]"))
    rollout = run_rollout(planner, sim, TASK)

    assert rollout.reason == "context_length" and not rollout.answered
    assert rollout.iterations == 2
    assert [m["role"] for m in rollout.conversation] == ["user", "assistant", "user"]
    assert rollout.final_turn is not None and rollout.rejected == []


@pytest.mark.parametrize("n_invalid", [1, 2])
def test_a_valid_turn_after_invalid_ones_is_accepted(
    sim: PartialObservationSim, n_invalid: int
) -> None:
    bad = [turn("[fly(road_1)]"), turn("[goto(shed_1)]")][:n_invalid]
    good = turn("[answer(I do not know yet.)]")
    planner = ScriptedPlanner(*bad, good)
    rollout = run_rollout(planner, sim, TASK)

    assert rollout.reason is None
    assert rollout.answered
    assert len(rollout.rejected) == n_invalid
    assert rollout.conversation[1:] == [{"role": "assistant", "value": good}]
    assert all(m["value"] not in bad for m in rollout.conversation)
    # Each retry shows the planner its rejected answer and the feedback on it.
    retry = planner.seen[-1]
    assert retry[-2] == {"role": "assistant", "value": bad[-1]}
    assert retry[-1] == {"role": "user", "value": rollout.rejected[-1]["feedback"]}
    assert len(retry) == 3  # first prompt + the last rejected attempt + its feedback


def test_max_iterations(sim: PartialObservationSim) -> None:
    planner = ScriptedPlanner(*[turn("[goto(road_1), goto(yard_1)]")] * 4)
    rollout = run_rollout(planner, sim, TASK, max_iterations=4)

    assert rollout.reason == "max_iterations"
    assert rollout.iterations == 4
    assert not rollout.answered
    assert rollout.answer is None
    assert [m["role"] for m in rollout.conversation] == ["user", "assistant"] * 4 + ["user"]
    assert rollout.conversation[2]["value"] == "update_robot_location(yard_1)"
    assert MAX_ITERATIONS == 10


def test_plan_execution_stops_at_the_first_interrupting_step(sim: PartialObservationSim) -> None:
    planner = ScriptedPlanner(
        turn("[goto(road_1), map_region(road_1), goto(yard_1), answer(never reached)]"),
        turn("[answer(Stopped at road_1.)]"),
    )
    rollout = run_rollout(planner, sim, TASK)

    assert rollout.answer == "Stopped at road_1."
    assert sim.location == "road_1"  # goto(yard_1) after the discovery never ran
    assert [str(a) for a in sim.history] == [
        "goto(road_1)",
        "map_region(road_1)",
        "answer(Stopped at road_1.)",
    ]
    assert "add_nodes" in rollout.conversation[2]["value"]


def test_an_answer_ends_the_plan(sim: PartialObservationSim) -> None:
    planner = ScriptedPlanner(turn("[goto(road_1), answer(on my way), goto(yard_1)]"))
    rollout = run_rollout(planner, sim, TASK)
    assert rollout.answered and rollout.iterations == 1
    assert sim.location == "road_1"
    assert rollout.conversation[-1]["role"] == "assistant"


def test_a_plan_without_news_still_reports_no_updates(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    planner = ScriptedPlanner(turn("[map_region(yard_1), goto(yard_1)]"), turn("[answer(done)]"))
    rollout = run_rollout(planner, sim, TASK)
    assert rollout.conversation[2] == {
        "role": "user",
        "value": 'update_node_attributes([{"name": "yard_1", "description": "gravel"}])',
    }
    sim2 = PartialObservationSim(tiny_graph)
    rollout = run_rollout(ScriptedPlanner(turn("[goto(yard_1)]"), turn("[answer(x)]")), sim2, TASK)
    assert rollout.conversation[2]["value"] == "no_updates()"


def test_the_repeated_action_hint_reaches_the_planner(tiny_graph: SceneGraph) -> None:
    sim = PartialObservationSim(tiny_graph)
    planner = ScriptedPlanner(
        turn("[replan()]"), turn("[replan()]"), turn("[replan()]"), turn("[answer(ok)]")
    )
    rollout = run_rollout(planner, sim, TASK)
    assert rollout.conversation[2]["value"] == "no_updates()"
    assert "replan() 3 times in a row" in rollout.conversation[6]["value"]
