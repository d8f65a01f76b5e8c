"""The rollout loop: a planner acting in the partial-observation simulator until it answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prism.world.protocol import InvalidTurn, PlannerTurn, check_turn, first_turn
from prism.world.simulator import PartialObservationSim

MAX_ITERATIONS = 10
MAX_ATTEMPTS = 3

Message = dict[str, str]
"""A chat message in the canonical training format: ``{"role": ..., "value": ...}``."""


class ContextLengthExceeded(RuntimeError):
    """The planner cannot read the conversation: it no longer fits the model's context.

    A planner raises it instead of answering (the student in process, or an OpenAI-compatible
    endpoint's ``context_length_exceeded`` error); the rollout then ends with the reason
    ``context_length`` and keeps its conversation so far.
    """


class Planner(Protocol):
    """Anything that answers a conversation with a planner turn (a teacher, the student...)."""

    def respond(self, messages: Sequence[Message]) -> str:
        """Return the next assistant message (raw text, validated by the caller)."""
        ...


@dataclass
class Rollout:
    """One planner episode on one task.

    ``conversation`` is the training sample: user turns (task + graph, then updates) and the
    planner's valid turns. Invalid attempts are kept apart in ``rejected`` with their feedback,
    so a training sample never teaches a malformed turn.
    """

    task: str
    conversation: list[Message] = field(default_factory=list)
    final_turn: PlannerTurn | None = None
    reason: str | None = None
    iterations: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        """The planner's ``answer(...)`` step ran (a plan interrupted before it does not count)."""
        return self.reason is None and self.final_turn is not None

    @property
    def answer(self) -> str | None:
        """The planner's answer text, if it answered."""
        return self.final_turn.answer if self.answered and self.final_turn else None


def run_rollout(
    planner: Planner,
    sim: PartialObservationSim,
    task: str,
    *,
    max_iterations: int = MAX_ITERATIONS,
    max_attempts: int = MAX_ATTEMPTS,
) -> Rollout:
    """Let ``planner`` work on ``task`` in ``sim`` until it answers or runs out of iterations.

    Each iteration the planner gets the conversation so far and returns a turn. An invalid turn
    goes back with its feedback, up to ``max_attempts`` tries. A valid plan runs step by step
    until a step reveals something new (then the planner re-plans on the updates) or it answers.

    ``reason`` is None for an answered rollout, else ``"invalid_turn:<kind>"``,
    ``"max_iterations"`` or ``"context_length"`` (the planner raised
    :class:`ContextLengthExceeded`: the conversation outgrew its context).
    """
    rollout = Rollout(task=task)
    rollout.conversation.append({"role": "user", "value": first_turn(task, sim.partial)})
    for iteration in range(1, max_iterations + 1):
        rollout.iterations = iteration
        turn = _valid_turn(planner, sim, rollout, iteration, max_attempts)
        if turn is None:
            return rollout
        rollout.conversation.append({"role": "assistant", "value": turn.text})
        rollout.final_turn = turn
        for action in turn.plan:
            result = sim.execute(action)
            if result.done:
                return rollout
            if result.interrupts:
                break
        rollout.conversation.append({"role": "user", "value": sim.take_updates().render()})
    rollout.reason = "max_iterations"
    return rollout


def _valid_turn(
    planner: Planner,
    sim: PartialObservationSim,
    rollout: Rollout,
    iteration: int,
    max_attempts: int,
) -> PlannerTurn | None:
    retry: list[Message] = []
    for attempt in range(1, max_attempts + 1):
        try:
            text = planner.respond([*rollout.conversation, *retry])
        except ContextLengthExceeded:
            rollout.reason = "context_length"
            return None
        try:
            return check_turn(text, sim.partial)
        except InvalidTurn as err:
            rollout.rejected.append(
                {
                    "iteration": iteration,
                    "attempt": attempt,
                    "response": text,
                    "kind": err.kind,
                    "feedback": err.feedback,
                }
            )
            retry = [{"role": "assistant", "value": text}, {"role": "user", "value": err.feedback}]
            last = err
    rollout.reason = f"invalid_turn:{last.kind}"
    return None
