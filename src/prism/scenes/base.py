"""The scene-generator interface: what to generate (a request, optionally like an example) and what
comes back (a scene graph plus the tasks to plan for in it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from prism.formats.prompt_task import PRIOR_PREFIX, first_user_task
from prism.world.scene_graph import SceneGraph
from prism.world.task import Task
from prism.world.worlds import World


@dataclass(frozen=True)
class Prior:
    """An example the next scene should be like: an existing sample's task, its family and the
    world it came from.

    A generator reads the fields it can use: the procedural one generates tasks of ``kind`` (read
    off the text when unknown) in a theme that fits the task's words; an LLM generator gets
    :meth:`prompt`, the reference's ``"example task: ..."`` text. A prior with a ``world`` (a task
    the student failed, in the exact situation it failed in) is played again as it is: the
    generation's scene *is* that world.

    Attributes:
        task: the example's task text, e.g. ``"Is the bridge damaged?"``.
        kind: its task family, or ``None`` when the sample does not say.
        sample_id: the id of the sample (or closed-loop outcome) it was taken from.
        scene_id: the scene the sample was generated in, if it records one.
        world: the world to play again, or ``None``.
    """

    task: str
    kind: str | None = None
    sample_id: str | None = None
    scene_id: str | None = None
    world: World | None = None

    @classmethod
    def of_world(cls, world: World, sample_id: str | None = None) -> Prior:
        """The prior that plays ``world`` again: its task, kind and scene."""
        return cls(
            task=world.task.task,
            kind=world.task.kind,
            sample_id=sample_id,
            scene_id=world.scene_id,
            world=world,
        )

    @classmethod
    def of_sample(cls, sample: Mapping[str, Any], source: str = "<data>") -> Prior:
        """The prior an existing sample gives: its first user turn's task, its ``kind``, ``id``
        and ``scene_id`` where it has them.

        Raises:
            DataFormatError: the sample has no ``task: ...`` first user turn.
        """
        kind, scene_id = sample.get("kind"), sample.get("scene_id")
        return cls(
            task=first_user_task(sample, source=source),
            kind=kind if isinstance(kind, str) else None,
            sample_id=str(sample["id"]) if sample.get("id") is not None else None,
            scene_id=scene_id if isinstance(scene_id, str) else None,
        )

    @classmethod
    def from_value(cls, value: Any) -> Prior:
        """A prior from configuration: an ``"example task: ..."`` string (or a bare task text),
        or a mapping of the fields.

        Raises:
            ValueError: anything else, or a mapping with unknown keys or no ``task``.
        """
        if isinstance(value, Prior):
            return value
        if isinstance(value, str):
            text = value.strip()
            return cls(task=text.removeprefix(PRIOR_PREFIX.strip()).strip())
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"task", "kind", "sample_id", "scene_id", "world"})
            if unknown or not isinstance(value.get("task"), str):
                raise ValueError(
                    "a prior mapping needs a string 'task' and may have kind, sample_id, "
                    f"scene_id and world; got {dict(value)!r:.200}"
                )
            values = dict(value)
            if values.get("world") is not None:
                values["world"] = World.from_record(values["world"], source="prior world")
            return cls(**values)
        raise ValueError(f"a prior is a task text or a mapping, got {type(value).__name__}")

    def prompt(self) -> str:
        """The reference's text prior, ``"example task: <task>"``, for prompts that take text."""
        return PRIOR_PREFIX + self.task

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for configuration records and manifests (``world`` only when set, so the
        records of priors without one read as they always did)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "world"}
        if self.world is not None:
            data["world"] = self.world.to_record()
        return data


@dataclass
class GeneratedScene:
    """What a scene generator returns: the full scene graph and its tasks."""

    scene: SceneGraph
    tasks: list[Task]
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SceneRequest:
    """What to generate. With a ``prior`` the generated tasks should be of the same kind as the
    example's and the scene like its world."""

    n_regions: int
    n_objects: int
    n_tasks: int
    seed: int
    prior: Prior | None = None

    def __post_init__(self) -> None:
        for name in ("n_regions", "n_objects", "n_tasks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive count, got {getattr(self, name)}")


class SceneGenerator(Protocol):
    """Makes scene graphs and tasks. Built-ins: procedural (offline), LLM (TaskGraphGen); others
    come from plugins (``prism_register_scene_generators``)."""

    name: str

    def check(self) -> None:
        """Fail fast, before a long run, if the generator cannot work (endpoint unreachable...)."""
        ...

    def generate(self, request: SceneRequest) -> GeneratedScene:
        """Generate one scene and ``request.n_tasks`` tasks for it (deterministic in the seed)."""
        ...
