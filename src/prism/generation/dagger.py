"""The DAgger collector: the student acts, the teacher labels every state the student reaches.

Training on the teacher's own rollouts teaches the student the states the teacher visits; its
failures are on the states it reaches itself (a repeated step, the turn after a rejected plan, a
long task gone astray). Here the student plans in a world while, at every turn, the teacher is
asked what *it* would do in the student's situation — the conversation so far, rejected attempts
and their feedback included. Each such state becomes a training sample: the context is what the
student saw, with the student's own assistant turns at ``weight: 0`` (never trained on, the
OpenAI fine-tuning convention), and the supervised turn is the teacher's. With probability
``beta`` the teacher's turn is executed instead of the student's (the DAgger mixture), so that
early episodes still reach the later states of a task.

Both teachers label without any change of interface: the oracle reads only the simulator's
partial graph and the turn count, an LLM teacher answers the conversation it is given. A label
that fails (the endpoint errs, or its turn is not valid in that state) is recorded with its reason
and does not stop the world; the fallback teacher, when there is one, labels instead. One record
per world is written as it finishes, so a killed collection resumes where it stopped.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prism.endpoint import EndpointError
from prism.evaluation.task_success import PlannerFactory
from prism.formats.conversations import sample_id
from prism.formats.json_store import JsonStore
from prism.generation.config import GenerationConfig
from prism.generation.engine import run_parallel
from prism.seeding import derive_seed
from prism.teachers.base import Teacher
from prism.world.protocol import InvalidTurn, check_turn
from prism.world.rollout import Message, Planner, run_rollout
from prism.world.simulator import PartialObservationSim
from prism.world.worlds import World

logger = logging.getLogger(__name__)

#: ``source`` of a labelled state: ``dagger:<the teacher that labelled it>``.
SOURCE_PREFIX = "dagger"


@dataclass(frozen=True)
class CollectionResult:
    """What a collection produced.

    Attributes:
        samples: the labelled states as training samples, failed worlds first and the worlds
            taken in turn (so that the first ``n`` samples spread over many worlds), each state
            once.
        failed: the labels that could not be made, with their reasons.
        stats: counts of worlds, states, labels by teacher, failures by reason, and how often
            the teacher's turn was executed.
    """

    samples: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    stats: dict[str, Any]


class MixturePlanner:
    """One world's planner: the student's turns (the teacher's with probability ``beta``), and
    the teacher's label for every state on the way.

    The student is asked in every state, also where the teacher's turn is executed, so that each
    state records whether the student would have done what the teacher does (``agrees``), and
    whether it comes right after one of the student's turns was rejected (``after_rejection``).

    Attributes:
        states: ``{"messages", "label", "labeller", "executed", "agrees", "after_rejection"}``
            per labelled state.
        failures: ``{"turn", "teacher", "reason"}`` per label that could not be made.
    """

    def __init__(
        self,
        student: Planner,
        labellers: Sequence[tuple[str, Planner]],
        sim: PartialObservationSim,
        beta: float,
        rng: random.Random,
    ) -> None:
        self.student, self.labellers, self.sim = student, list(labellers), sim
        self.beta, self.rng = beta, rng
        self.states: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.transient = False
        self._rejected = False  # the turn returned last was not valid: this call is a retry

    def respond(self, messages: Sequence[Message]) -> str:
        """The executed turn; the teacher's label of this state is recorded first."""
        label, labeller = self._label(messages)
        teacher_acts = self.rng.random() < self.beta and label is not None
        own = self.student.respond(messages)
        if label is not None:
            self.states.append(
                {
                    "messages": [dict(m) for m in messages],
                    "label": label,
                    "labeller": labeller,
                    "executed": "teacher" if teacher_acts else "student",
                    "agrees": _same_plan(own, label, self.sim),
                    "after_rejection": self._rejected,
                }
            )
        executed = label if teacher_acts else own
        self._rejected = not _valid(executed, self.sim)
        return executed

    def _label(self, messages: Sequence[Message]) -> tuple[str | None, str | None]:
        turn = sum(m["role"] == "assistant" for m in messages) + 1
        for name, planner in self.labellers:
            try:
                text = planner.respond(messages)
                check_turn(text, self.sim.partial)
            except InvalidTurn as error:
                reason = f"invalid_label:{error.kind}"
            except (RuntimeError, ValueError, OSError) as error:
                reason = f"teacher_error: {error}"
                self.transient = self.transient or isinstance(error, EndpointError)
            else:
                return text, name
            self.failures.append({"turn": turn, "teacher": name, "reason": reason})
        return None, None


def collect_states(
    worlds: Sequence[World],
    student_for: PlannerFactory,
    teacher: Teacher,
    fallback: Teacher | None,
    config: GenerationConfig,
    store: JsonStore,
    *,
    beta: float,
    seed: int,
    workers: int = 1,
) -> CollectionResult:
    """Play every world with the student, the teacher labelling each state it reaches.

    Args:
        worlds: the worlds to act in (the episode's probe worlds).
        student_for: a planner for the student in one world (``(task, sim) -> planner``).
        teacher: labels every state; ``fallback`` labels where it fails (or ``None``).
        config: the rollout limits (``max_iterations``, ``max_attempts``).
        store: where each world's record is written as it finishes; a rerun reads them back.
        beta: probability that the teacher's turn is executed instead of the student's.
        seed: seed of the mixture's draws (with the world's id).
        workers: worlds in flight at once (the student batches their turns).

    Raises:
        ValueError: ``beta`` is not a probability.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta is a probability in [0, 1], got {beta!r}")

    def one(index: str) -> dict[str, Any]:
        world = worlds[int(index)]
        key = f"states/{int(index):03d}_{world.id}"
        if (done := store.get(key)) is not None:
            return done
        record = _collect(world, student_for, teacher, fallback, config, beta, seed)
        if record.pop("transient"):
            logger.warning("%s: a label failed for a reason that may pass; not stored", key)
        else:
            store.put(key, record)
        return record

    keys = [str(i) for i in range(len(worlds))]
    records = list(
        run_parallel("labelled worlds", keys, one, workers=workers, unit="world").values()
    )
    samples = _interleave(records)
    failed = [
        {"world": r["world_id"], "task": r["task"], **failure}
        for r in records
        for failure in r["label_failures"]
    ]
    return CollectionResult(samples, failed, _stats(records, samples))


def _collect(
    world: World,
    student_for: PlannerFactory,
    teacher: Teacher,
    fallback: Teacher | None,
    config: GenerationConfig,
    beta: float,
    seed: int,
) -> dict[str, Any]:
    sim = world.sim()
    labellers = [(teacher.name, teacher.planner(world.task, sim))]
    if fallback is not None:
        labellers.append((fallback.name, fallback.planner(world.task, sim)))
    rng = random.Random(derive_seed(seed, "dagger", world.id))
    mixture = MixturePlanner(student_for(world.task, sim), labellers, sim, beta, rng)
    try:
        rollout = run_rollout(
            mixture,
            sim,
            world.task.task,
            max_iterations=config.max_iterations,
            max_attempts=config.max_attempts,
        )
        reason = rollout.reason
        if reason is None and not world.task.solved_by(rollout.final_turn):
            reason = "wrong_answer"
        turns = rollout.iterations
    except (RuntimeError, ValueError, OSError) as error:  # the student failed to answer at all
        logger.warning("student failed in world %s: %s", world.id, error)
        reason, turns = f"planner_error: {error}", 0
    samples = [_state_sample(state, i, world) for i, state in enumerate(mixture.states)]
    return {
        "world_id": world.id,
        "task": world.task.task,
        "outcome": {"correct": reason is None, "reason": reason, "turns": turns},
        "states": samples,
        "label_failures": mixture.failures,
        "transient": mixture.transient,
    }


def _valid(text: str, sim: PartialObservationSim) -> bool:
    try:
        check_turn(text, sim.partial)
    except InvalidTurn:
        return False
    return True


def _same_plan(own: str, label: str, sim: PartialObservationSim) -> bool:
    """Whether the student's turn plans what the teacher's does (both valid, the same actions)."""
    try:
        return check_turn(own, sim.partial).plan == check_turn(label, sim.partial).plan
    except InvalidTurn:
        return False


def _state_sample(state: dict[str, Any], index: int, world: World) -> dict[str, Any]:
    """A labelled state as a training sample: the student's context, the teacher's turn."""
    context = [
        {**m, "weight": 0} if m["role"] == "assistant" else dict(m) for m in state["messages"]
    ]
    conversation = [*context, {"role": "assistant", "value": state["label"]}]
    return {
        "id": sample_id(conversation),
        "conversations": conversation,
        "source": f"{SOURCE_PREFIX}:{state['labeller']}",
        "task": world.task.task,
        "answer": world.task.answer,
        "kind": world.task.kind,
        "scene_id": world.scene_id,
        "world": world.id,
        "state": index,
        "executed": state["executed"],
        "agrees": state["agrees"],
        "after_rejection": state["after_rejection"],
        "graph_unknown": world.graph_unknown,
    }


def state_priority(sample: dict[str, Any]) -> int:
    """Which states teach most, first: 0, right after one of the student's turns was rejected
    (the teacher's own rollouts never are); 1, other states after the student's own turns where
    it would not do what the teacher does; 2, those where it would; 3, the task's first turn,
    which the teacher's own rollouts already teach."""
    if sample.get("after_rejection"):
        return 0
    if not any(m["role"] == "assistant" for m in sample["conversations"][:-1]):
        return 3
    return 2 if sample.get("agrees") else 1


def _interleave(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The states by :func:`state_priority`; within one priority failed worlds first and one
    state of each world in turn, so that the first ``n`` samples spread over many worlds and
    teach what the student gets wrong."""
    ordered = sorted(records, key=lambda r: r["outcome"]["correct"])  # stable: False first
    samples: list[dict[str, Any]] = []
    seen: set[str] = set()
    for priority in range(4):
        queues = [[s for s in r["states"] if state_priority(s) == priority] for r in ordered]
        while any(queues):
            for queue in queues:
                if queue:
                    sample = queue.pop(0)
                    if sample["id"] not in seen:
                        seen.add(sample["id"])
                        samples.append(sample)
    return samples


def _stats(records: Sequence[dict[str, Any]], samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    states = [s for r in records for s in r["states"]]
    failures = [f for r in records for f in r["label_failures"]]
    return {
        "worlds": len(records),
        "student_success_rate": (
            sum(r["outcome"]["correct"] for r in records) / len(records) if records else 0.0
        ),
        "states": len(states),
        "distinct_states": len(samples),
        "labels_by_teacher": dict(Counter(s["source"] for s in states)),
        "teacher_executed": sum(s["executed"] == "teacher" for s in states),
        "student_agrees": sum(bool(s.get("agrees")) for s in states),
        "label_failures_by_reason": dict(
            sorted(Counter(f["reason"].split(":", 1)[0] for f in failures).items())
        ),
    }
