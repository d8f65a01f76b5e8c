"""The scene-generator interface: a scene graph plus the tasks to plan for in it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from prism.world.scene_graph import SceneGraph


class TaskError(ValueError):
    """A task record is malformed; the message names the source and the field."""


@dataclass(frozen=True)
class Task:
    """A task for the planner, in the eval-file format plus what the oracle needs to know.

    Attributes:
        task: what the user says, e.g. ``"Is the bridge damaged?"``.
        answer: case-insensitive regular expression a correct final plan matches.
        init_node: the region the robot starts in.
        kind: the task family (``existence``, ``affordance``, ``attribute``, ``likely_location``,
            ``diagnosis``) or None when unknown (tasks from foreign files).
        targets: the nodes the task is about — privileged knowledge for the oracle teacher,
            never shown to a planner. Empty for "is there a ..." when there is none.
        subject: the words the task uses for its target (``"boat"``), for answers and priors.
    """

    task: str
    answer: str
    init_node: str
    kind: str | None = None
    targets: tuple[str, ...] = ()
    subject: str = ""

    def __post_init__(self) -> None:
        if not self.task.strip():
            raise TaskError("task: the task text is empty")
        try:
            re.compile(self.answer)
        except re.error as err:
            raise TaskError(
                f"answer: {self.answer!r} is not a valid regular expression ({err})"
            ) from None

    @classmethod
    def from_record(cls, record: Mapping[str, Any], source: str = "<task>") -> Task:
        """Read a task from an eval-file record (``task``, ``answer``, ``init_node``, ...)."""
        if not isinstance(record, Mapping):
            raise TaskError(f"{source}: a task must be a JSON object, got {type(record).__name__}")
        for key in ("task", "answer", "init_node"):
            if not isinstance(record.get(key), str):
                raise TaskError(f"{source}: field '{key}' must be a string")
        targets = record.get("targets") or ()
        if not isinstance(targets, list | tuple) or not all(isinstance(t, str) for t in targets):
            raise TaskError(f"{source}: field 'targets' must be a list of node names")
        try:
            return cls(
                task=record["task"],
                answer=record["answer"],
                init_node=record["init_node"],
                kind=record.get("kind"),
                targets=tuple(targets),
                subject=str(record.get("subject", "")),
            )
        except TaskError as err:
            raise TaskError(f"{source}: {err}") from None

    def to_record(self) -> dict[str, Any]:
        """The eval-file record (foreign readers ignore the extra keys)."""
        record = asdict(self)
        record["targets"] = list(self.targets)
        return record

    def check_against(self, scene: SceneGraph, source: str = "<task>") -> None:
        """Raise :class:`TaskError` if ``init_node`` or a target is not in ``scene``."""
        if not scene.is_region(self.init_node):
            raise TaskError(f"{source}: init_node '{self.init_node}' is not a region of the graph")
        for target in self.targets:
            if target not in scene:
                raise TaskError(f"{source}: target '{target}' is not a node of the graph")


@dataclass
class GeneratedScene:
    """What a scene generator returns: the full scene graph and its tasks."""

    scene: SceneGraph
    tasks: list[Task]
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SceneRequest:
    """What to generate. ``prior`` is an ``"example task: ..."`` prompt built from an existing
    sample: the generated tasks should be of the same kind."""

    n_regions: int
    n_objects: int
    n_tasks: int
    seed: int
    prior: str | None = None

    def __post_init__(self) -> None:
        for name in ("n_regions", "n_objects", "n_tasks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive count, got {getattr(self, name)}")


class SceneGenerator(Protocol):
    """Makes scene graphs and tasks. Implementations: procedural (offline), LLM (TaskGraphGen)."""

    name: str

    def check(self) -> None:
        """Fail fast, before a long run, if the generator cannot work (endpoint unreachable...)."""
        ...

    def generate(self, request: SceneRequest) -> GeneratedScene:
        """Generate one scene and ``request.n_tasks`` tasks for it (deterministic in the seed)."""
        ...
