"""A planning task: what the user asks, the answer a correct plan gives, and where the robot starts.

One type for every task in prism: those read from an eval task file, those a scene generator makes
and those a teacher works on. ``answer`` is a case-insensitive regular expression searched in the
plan of the planner's final turn (the reference's eval files grade this way): :meth:`Task.solved_by`
is the one answer matcher.

Example:
    >>> task = Task("Is there a boat?", "yes|boat", "field_1", kind="existence")
    >>> task.matches("[goto(field_7), answer(Yes, a sail boat)]")
    True
    >>> task.to_record()["kind"]
    'existence'
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prism.world.protocol import PlannerTurn
    from prism.world.scene_graph import SceneGraph

#: The task families of prism's scene generator, which the oracle teacher knows how to solve.
TASK_KINDS = ("existence", "affordance", "attribute", "likely_location", "diagnosis")

#: The keys every task record has (``init_node`` may be left out of a file: the robot's location).
REQUIRED_KEYS = ("task", "answer", "init_node")
#: The keys of what a task asks for: privileged knowledge a generator writes and the oracle reads.
PLANNING_KEYS = ("kind", "targets", "subject")


class TaskError(ValueError):
    """A task record is malformed; the message names the source and the field."""


@dataclass(frozen=True)
class Task:
    """A task for the planner.

    Attributes:
        task: what the user says, e.g. ``"Is the bridge damaged?"``.
        answer: case-insensitive regular expression that a correct final plan matches.
        init_node: the region the robot starts in.
        kind: the task family (one of :data:`TASK_KINDS` for generated tasks), or ``None`` when
            the record does not say (tasks of foreign eval files).
        targets: the nodes the task is about — privileged knowledge for the oracle teacher,
            never shown to a planner; empty for "is there a ..." when there is none; ``None``
            when the record does not say.
        subject: the words the task uses for its target (``"boat"``), or ``None``.
        extra: any further keys of the task's record, kept so that a file reads and writes
            back without loss (treat as read-only).
    """

    task: str
    answer: str
    init_node: str
    kind: str | None = None
    targets: tuple[str, ...] | None = None
    subject: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.task.strip():
            raise TaskError("task: the task text is empty")
        try:
            re.compile(self.answer, re.IGNORECASE)
        except re.error as err:
            raise TaskError(
                f"answer: {self.answer!r} is not a valid regular expression ({err})"
            ) from None

    # -------------------------------------------------------------------------------- grading
    def matches(self, text: str) -> bool:
        """Whether the answer regex is found in ``text`` (case-insensitive ``re.search``)."""
        return re.search(self.answer, text, re.IGNORECASE) is not None

    def solved_by(self, turn: PlannerTurn | None) -> bool:
        """The evaluation criterion: ``turn`` is a well-formed final turn that answers, and its
        whole plan (``[goto(field_7), answer(...)]``, as in the reference) matches ``answer``."""
        return turn is not None and turn.answer is not None and self.matches(turn.plan_text)

    # -------------------------------------------------------------------------------- records
    @classmethod
    def from_record(cls, record: Mapping[str, Any], source: str = "<task>") -> Task:
        """Read a task from its record (``task``, ``answer``, ``init_node``; ``kind``,
        ``targets``, ``subject`` and any other keys optional).

        Raises:
            TaskError: naming ``source`` and the field.
        """
        if not isinstance(record, Mapping):
            raise TaskError(f"{source}: a task must be a JSON object, got {type(record).__name__}")
        for key in REQUIRED_KEYS:
            if not isinstance(record.get(key), str):
                raise TaskError(f"{source}: field '{key}' must be a string")
        targets = record.get("targets")
        if targets is not None and (
            not isinstance(targets, list | tuple) or not all(isinstance(t, str) for t in targets)
        ):
            raise TaskError(f"{source}: field 'targets' must be a list of node names")
        for key in ("kind", "subject"):
            if record.get(key) is not None and not isinstance(record[key], str):
                raise TaskError(f"{source}: field '{key}' must be a string")
        known = (*REQUIRED_KEYS, *PLANNING_KEYS)
        try:
            return cls(
                task=record["task"],
                answer=record["answer"],
                init_node=record["init_node"],
                kind=record.get("kind"),
                targets=None if targets is None else tuple(targets),
                subject=record.get("subject"),
                extra={k: copy.deepcopy(v) for k, v in record.items() if k not in known},
            )
        except TaskError as err:
            raise TaskError(f"{source}: {err}") from None

    def to_record(self) -> dict[str, Any]:
        """The task's record: the required keys, the planning keys the task has, its extras
        (an eval-file reader ignores the keys it does not know)."""
        record: dict[str, Any] = {
            "task": self.task,
            "answer": self.answer,
            "init_node": self.init_node,
        }
        for key, value in (
            ("kind", self.kind),
            ("targets", self.targets),
            ("subject", self.subject),
        ):
            if value is not None:
                record[key] = list(value) if key == "targets" else value
        record.update(copy.deepcopy(dict(self.extra)))
        return record

    def check_against(self, scene: SceneGraph, source: str = "<task>") -> None:
        """Raise :class:`TaskError` if ``init_node`` or a target is not in ``scene``."""
        if not scene.is_region(self.init_node):
            raise TaskError(f"{source}: init_node '{self.init_node}' is not a region of the graph")
        for target in self.targets or ():
            if target not in scene:
                raise TaskError(f"{source}: target '{target}' is not a node of the graph")


def unknown_kinds(tasks: Iterable[Task]) -> dict[int, str]:
    """The tasks (by position) whose ``kind`` is set but not one of :data:`TASK_KINDS`."""
    return {
        i: task.kind
        for i, task in enumerate(tasks)
        if task.kind is not None and task.kind not in TASK_KINDS
    }
