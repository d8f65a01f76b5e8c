"""Typed configuration of generation (``conf/base/parameters_generation.yml``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prism.config import ParameterError, fingerprint, fractions, parameter_mapping
from prism.plugins import UnknownPluginError, get_scene_generator, get_teacher
from prism.scenes.base import Prior

#: The keys every component (teacher, scene generator) takes besides its plugin's own options.
COMPONENT_KEYS = ("kind", "endpoint")
#: The teacher's further key: a failed rollout is redone by the oracle.
FALLBACK_KEY = "fallback_to_oracle"


class ConfigError(ParameterError):
    """A parameter is wrong; the message names it (``generation.min_regions``) and the fix."""


@dataclass(frozen=True)
class ComponentConfig:
    """Which implementation (an installed plugin, by ``kind``) to use and its options.

    Attributes:
        kind: the plugin's name, e.g. ``oracle``, ``llm``, ``procedural``.
        endpoint: the OpenAI-compatible endpoint settings, for components on an endpoint
            (see :class:`prism.endpoint.config.EndpointConfig`).
        fallback_to_oracle: (teacher) a failed rollout is redone by the oracle on the same scene,
            task and hidden nodes.
        options: further keys the plugin declares (``TeacherPlugin.options``).
    """

    kind: str
    endpoint: dict[str, Any] = field(default_factory=dict)
    fallback_to_oracle: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data. ``options`` appears only when there are some, so that the records (and
        fingerprints) of components without options stay what they were before it existed."""
        data = dataclasses.asdict(self)
        if not self.options:
            del data["options"]
        return data


@dataclass(frozen=True)
class GenerationConfig:
    """How many scenes and tasks to generate, and with which generator and teacher.

    Attributes:
        seed: everything generated is a function of this seed and the sample's index.
        n_samples: number of scenes to generate (0: none, e.g. an iterative episode whose new
            samples all come from the DAgger collection).
        n_tasks: tasks per scene; each task is one rollout.
        graph_unknown: fractions in [0, 1] of nodes hidden from the planner, used in turn.
        min_regions, max_regions: range the number of regions of a scene is drawn from.
        min_objects, max_objects: range the number of objects of a scene is drawn from.
        max_iterations: planner turns per rollout before it counts as failed.
        max_attempts: tries the planner gets to produce a valid turn, with feedback.
        workers: rollouts in flight at once (bounds concurrent endpoint calls).
        priors: examples to generate like (:class:`~prism.scenes.base.Prior`); scene ``i`` is
            generated like prior ``i % len(priors)``. Empty: no prior.
        scene_generator: an installed scene generator: ``procedural`` (offline), ``llm``
            (TaskGraphGen), or a plugin's.
        teacher: an installed teacher: ``oracle`` (offline), ``llm``, or a plugin's;
            ``fallback_to_oracle`` reruns a failed rollout with the oracle on the same scene
            and task.
    """

    seed: int = 42
    n_samples: int = 20
    n_tasks: int = 3
    graph_unknown: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5)
    min_regions: int = 8
    max_regions: int = 15
    min_objects: int = 5
    max_objects: int = 12
    max_iterations: int = 10
    max_attempts: int = 3
    workers: int = 8
    priors: tuple[Prior, ...] = ()
    scene_generator: ComponentConfig = ComponentConfig("procedural")
    teacher: ComponentConfig = ComponentConfig("oracle")

    def __post_init__(self) -> None:
        if (
            isinstance(self.n_samples, bool)
            or not isinstance(self.n_samples, int)
            or (self.n_samples < 0)
        ):
            raise ConfigError(
                f"generation.n_samples must be an integer >= 0 (0: generate nothing), got "
                f"{self.n_samples!r}"
            )
        for name in (
            "n_tasks",
            "min_regions",
            "max_regions",
            "min_objects",
            "max_objects",
            "max_iterations",
            "max_attempts",
            "workers",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"generation.{name} must be a positive integer, got {value!r}")
        for low, high in (("min_regions", "max_regions"), ("min_objects", "max_objects")):
            if getattr(self, low) > getattr(self, high):
                raise ConfigError(
                    f"generation.{low} ({getattr(self, low)}) is greater than generation.{high} "
                    f"({getattr(self, high)})"
                )
        if not self.graph_unknown:
            raise ConfigError("generation.graph_unknown must list at least one fraction")
        for value in self.graph_unknown:
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(
                    f"generation.graph_unknown values are fractions in [0, 1] (0.3 hides 30 % of "
                    f"the nodes), got {value!r}"
                )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GenerationConfig:
        """Build from the ``generation`` parameters, rejecting unknown keys by name, and a
        teacher or scene generator that no installed plugin provides.

        Raises:
            ConfigError: naming the parameter and what is wrong with it.
        """
        known = sorted(f.name for f in dataclasses.fields(cls))
        values = parameter_mapping(params, "generation", known, ConfigError)
        if "graph_unknown" in values:
            values["graph_unknown"] = fractions(
                values["graph_unknown"], "generation.graph_unknown", ConfigError
            )
        if "priors" in values:
            values["priors"] = _priors(values["priors"])
        for name in ("scene_generator", "teacher"):
            if name in values:
                values[name] = _component(name, values[name])
        return cls(**values)

    def _data(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["graph_unknown"] = list(self.graph_unknown)
        data["priors"] = [prior.to_dict() for prior in self.priors]
        data["scene_generator"] = self.scene_generator.to_dict()
        data["teacher"] = self.teacher.to_dict()
        return data

    def fingerprint(self) -> str:
        """Hash of what determines each sample. ``n_samples`` and ``workers`` are left out: a
        larger ``n_samples`` extends a run, it does not change the samples already made."""
        data = self._data()
        for volatile in ("n_samples", "workers"):
            data.pop(volatile)
        return fingerprint(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for manifests and logs (endpoint keys are never stored)."""
        data = self._data()
        for component in ("scene_generator", "teacher"):
            data[component]["endpoint"].pop("api_key", None)
        return data


def _priors(value: Any) -> tuple[Prior, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str | Mapping | Prior) else value
    try:
        if not isinstance(items, list | tuple):
            raise ValueError(f"got {value!r}")
        return tuple(Prior.from_value(item) for item in items)
    except ValueError as error:
        raise ConfigError(
            'generation.priors must be a list of example tasks such as "example task: Is the '
            'bridge damaged?" (quote them in YAML: a colon makes a mapping) or of mappings with '
            f"a 'task' (and 'kind'): {error}"
        ) from None


def _component(name: str, value: Any) -> ComponentConfig:
    if isinstance(value, ComponentConfig):
        return value
    if isinstance(value, str):
        value = {"kind": value}
    if not isinstance(value, Mapping) or not isinstance(value.get("kind"), str):
        raise ConfigError(f"generation.{name} must be a mapping with a 'kind', got {value!r}")
    lookup = get_teacher if name == "teacher" else get_scene_generator
    try:
        plugin = lookup(value["kind"])
    except UnknownPluginError as error:
        raise ConfigError(f"generation.{name}.kind: {error}") from None
    allowed = [*COMPONENT_KEYS, *([FALLBACK_KEY] if name == "teacher" else []), *plugin.options]
    unknown = sorted(set(value) - set(allowed) - {"options"})
    if unknown:
        raise ConfigError(
            f"unknown key(s) in generation.{name}: {', '.join(unknown)} ({value['kind']!r} takes "
            f"{', '.join(allowed)})"
        )
    options = {k: v for k, v in value.items() if k in plugin.options}
    options.update(value.get("options") or {})
    return ComponentConfig(
        kind=value["kind"],
        endpoint=dict(value.get("endpoint") or {}),
        fallback_to_oracle=bool(value.get(FALLBACK_KEY, True)),
        options=options,
    )
