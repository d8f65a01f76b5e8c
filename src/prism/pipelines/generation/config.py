"""Typed configuration of the generation pipeline (``conf/base/parameters_generation.yml``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCENE_GENERATORS = ("procedural", "llm")
TEACHERS = ("oracle", "llm")


class ConfigError(ValueError):
    """A parameter is wrong; the message names it (``generation.min_regions``) and the fix."""


@dataclass(frozen=True)
class ComponentConfig:
    """Which implementation to use and its options.

    ``endpoint`` holds the OpenAI-compatible endpoint settings for ``kind: llm``
    (see :class:`prism.endpoint.config.EndpointConfig`).
    """

    kind: str
    endpoint: dict[str, Any] = field(default_factory=dict)
    fallback_to_oracle: bool = True


@dataclass(frozen=True)
class GenerationConfig:
    """How many scenes and tasks to generate, and with which generator and teacher.

    Attributes:
        seed: everything generated is a function of this seed and the sample's index.
        n_samples: number of scenes to generate.
        n_tasks: tasks per scene; each task is one rollout.
        graph_unknown: fractions in [0, 1] of nodes hidden from the planner, used in turn.
        min_regions, max_regions: range the number of regions of a scene is drawn from.
        min_objects, max_objects: range the number of objects of a scene is drawn from.
        max_iterations: planner turns per rollout before it counts as failed.
        max_attempts: tries the planner gets to produce a valid turn, with feedback.
        workers: rollouts in flight at once (bounds concurrent endpoint calls).
        priors: ``"example task: ..."`` prompts; scene ``i`` is generated like prior
            ``i % len(priors)``. Empty: no prior.
        scene_generator: ``kind: procedural`` (offline) or ``kind: llm`` (TaskGraphGen).
        teacher: ``kind: oracle`` (offline) or ``kind: llm``; ``fallback_to_oracle`` reruns a
            failed LLM rollout with the oracle on the same scene and task.
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
    priors: tuple[str, ...] = ()
    scene_generator: ComponentConfig = ComponentConfig("procedural")
    teacher: ComponentConfig = ComponentConfig("oracle")

    def __post_init__(self) -> None:
        for name in (
            "n_samples",
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
        if self.scene_generator.kind not in SCENE_GENERATORS:
            raise ConfigError(
                f"generation.scene_generator.kind must be one of {', '.join(SCENE_GENERATORS)}, "
                f"got {self.scene_generator.kind!r}"
            )
        if self.teacher.kind not in TEACHERS:
            raise ConfigError(
                f"generation.teacher.kind must be one of {', '.join(TEACHERS)}, "
                f"got {self.teacher.kind!r}"
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GenerationConfig:
        """Build from the ``generation`` parameters, rejecting unknown keys by name."""
        if not isinstance(params, Mapping):
            raise ConfigError(
                f"generation parameters must be a mapping, got {type(params).__name__}"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(
                f"unknown generation parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = dict(params)
        if "graph_unknown" in values:
            values["graph_unknown"] = _fractions(values["graph_unknown"])
        if "priors" in values:
            values["priors"] = _priors(values["priors"])
        for name in ("scene_generator", "teacher"):
            if name in values:
                values[name] = _component(name, values[name])
        return cls(**values)

    def fingerprint(self) -> str:
        """Hash of what determines each sample. ``n_samples`` and ``workers`` are left out: a
        larger ``n_samples`` extends a run, it does not change the samples already made."""
        data = dataclasses.asdict(self)
        for volatile in ("n_samples", "workers"):
            data.pop(volatile)
        canonical = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for manifests and logs (endpoint keys are never stored)."""
        data = dataclasses.asdict(self)
        for component in ("scene_generator", "teacher"):
            data[component]["endpoint"].pop("api_key", None)
        return data


def _fractions(value: Any) -> tuple[float, ...]:
    # The seed's command line passes "0.2,0.3,0.4,0.5"; YAML passes a list or a single number;
    # `kedro run --params` splits on commas, so there "0.2 0.5" or "0.2;0.5" works too.
    if isinstance(value, str):
        try:
            return tuple(float(v) for v in re.split(r"[,;\s]+", value) if v)
        except ValueError:
            raise ConfigError(
                f"generation.graph_unknown: could not read {value!r} as comma-separated fractions"
            ) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(value)
    raise ConfigError(f"generation.graph_unknown must be a list of fractions, got {value!r}")


def _priors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(
        'generation.priors must be a list of strings such as "example task: Is the bridge '
        f'damaged?" (quote them in YAML: a colon makes a mapping), got {value!r}'
    )


def _component(name: str, value: Any) -> ComponentConfig:
    if isinstance(value, str):
        return ComponentConfig(kind=value)
    if not isinstance(value, Mapping) or "kind" not in value:
        raise ConfigError(f"generation.{name} must be a mapping with a 'kind', got {value!r}")
    unknown = sorted(set(value) - {"kind", "endpoint", "fallback_to_oracle"})
    if unknown:
        raise ConfigError(f"unknown key(s) in generation.{name}: {', '.join(unknown)}")
    return ComponentConfig(
        kind=value["kind"],
        endpoint=dict(value.get("endpoint") or {}),
        fallback_to_oracle=bool(value.get("fallback_to_oracle", True)),
    )
