"""Typed configuration of the iterative loop (``conf/base/parameters_iterative.yml``).

The seed's flags (``--n_episodes``, ``--n_batch``, ``--epochs`` ...) are the fields of
:class:`IterativeConfig`. They are mapped onto the parameters of the pipelines the loop reuses:
the training fields onto ``training`` (``TrainConfig``), the scene and task fields onto
``generation`` (``GenerationConfig``), ``skip_eval_tasks`` onto ``evaluation``. Everything is
checked in one place, before the first episode starts.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prism.config import ParameterError, fractions, parameter_mapping
from prism.generation import GenerationConfig
from prism.plugins import samplers
from prism.scenes.base import Prior
from prism.seeding import derive_seed
from prism.training.config import TrainConfig
from prism.values import is_finite_number, is_int

OBJECTIVE_TYPES = ("min", "max")
#: The default ``objective``: the closed-loop task success when the eval tasks run (the seed's
#: "based on task evaluation accuracy"), else the validation token accuracy.
AUTO_OBJECTIVE = "auto"
#: What ``auto`` means when no closed-loop evaluator runs (``skip_eval_tasks``).
TOKEN_OBJECTIVE = "eval/mean_accuracy"

#: Training fields the seed passes as flags of its own (``--epochs 1``); ``None`` keeps the
#: ``training`` parameters' value. Any other field goes under ``training:``.
TRAINING_FLAGS = ("epochs", "r", "base_model")

#: Fields that do not change what an episode produces: a run may be continued with other values.
NOT_FINGERPRINTED = (
    "n_episodes",
    "objective",
    "objective_type",
    "eval_metric",
    "output_dir",
    "strict_data",
)
#: Training fields that only change reporting or speed, left out of the fingerprint likewise.
TRAINING_VOLATILE = ("report_to", "logging_steps", "nproc", "name", "checkpoint_every")


#: Where an episode's new samples come from (``IterativeConfig.collection``).
COLLECTIONS = ("teacher", "dagger", "mixed")
#: The on-policy settings at the values that reproduce the seed's process. At these values they
#: are left out of a run's fingerprint, so a run made before they existed can be continued.
SEED_PROCESS = {
    "collection": "teacher",
    "dagger_beta": 0.5,
    "dagger_beta_decay": 0.5,
    "probe_tasks": 24,
    "warm_start": False,
}


class IterativeConfigError(ParameterError):
    """An iterative-loop parameter is wrong; the message names it and says what would fix it."""


@dataclass(frozen=True)
class IterativeConfig:
    """The iterative loop's parameters: the seed's ``IterativePipelineConfig`` plus its training
    flags.

    Attributes:
        initial_data: the conversations file episode 1 trains on.
        output_dir: where every output goes (``dataset_episode_N.json``,
            ``iterative_model_episode_N/``, ``new_samples_episode_N.json``,
            ``data_gen_episode_N/``, ``best_model``).
        n_episodes: train-evaluate-generate cycles.
        n_batch: new samples per episode. The teacher's rollouts that fail are made up for by
            further scenes (:func:`prism.generation.generate`'s ``target``, at most
            :data:`~prism.generation.target.MAX_EXTRA_ROUNDS` rounds); an episode that still
            falls short says why.
        held_out_data: an optional conversations file, evaluated but never trained on.
        val_frac: fraction of each episode's dataset held out for validation (by sample id).
        sampling_strategy: the installed sampler that picks the examples seeding generation.
        objective: the metric that picks the best episode, e.g. ``task/accuracy``;
            ``auto`` (:data:`AUTO_OBJECTIVE`) is resolved once the evaluators are known
            (:meth:`with_objective_resolved`).
        objective_type: ``max`` or ``min``.
        eval_metric: the metric reported as the episode's headline.
        eval_task_file: the eval task file of the closed-loop evaluation.
        skip_eval_tasks: leave out the closed-loop evaluation.
        initial_dataset_size: take only the first N samples of ``initial_data`` (debugging).
        graph_unknown: fractions of nodes hidden from the planner, used in turn.
        min_regions, max_regions, min_objects, max_objects: scene sizes.
        tasks_per_sample: tasks (rollouts) per generated scene.
        graphs_per_sample: scenes generated from each sampled example.
        seed: seed of the sampling and of the generation (each episode derives its own).
        name: run name of the episodes' training (``<name>_episode_N``).
        epochs, r, base_model: the seed's training flags; ``None`` keeps ``training``'s value.
        training: further ``TrainConfig`` fields for the episodes' training.
        collection: where an episode's new samples come from: ``teacher`` (the seed's process:
            teacher rollouts on new scenes seeded by the sampled examples), ``dagger`` (the
            teacher's labels of the states the student reaches on the probe's tasks) or
            ``mixed`` (half each).
        dagger_beta: the DAgger mixture of episode 1: the probability that the teacher's turn is
            executed instead of the student's; ``dagger_beta * dagger_beta_decay ** (N - 1)`` in
            episode N.
        dagger_beta_decay: the factor ``dagger_beta`` shrinks by each episode.
        probe_tasks: fresh tasks of the training distribution the student plans on after each
            episode's training (its outcomes are offered to the sampler; the DAgger collection
            acts on them); 0: no probe.
        warm_start: each episode continues from the previous episode's weights instead of
            training from the base (LLM2LLM retrains from the base).
        strict_data: refuse an ``initial_data`` whose trained assistant turns are not SPINE
            responses (a JSON object with ``primary_goal``, ``relevant_graph``, ``reasoning``
            and a ``plan`` that parses), instead of warning with the samples' indices.
    """

    initial_data: str = "data/01_raw/initial_dataset.json"
    output_dir: str = "output/iterative_training"
    n_episodes: int = 5
    n_batch: int = 10
    held_out_data: str | None = None
    val_frac: float = 0.1
    sampling_strategy: str = "uniform"
    objective: str = AUTO_OBJECTIVE
    objective_type: str = "max"
    eval_metric: str = "eval/mean_accuracy"
    eval_task_file: str | None = "data/01_raw/eval_tasks_1.json"
    skip_eval_tasks: bool = False
    initial_dataset_size: int | None = None
    graph_unknown: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5)
    min_regions: int = 8
    max_regions: int = 15
    min_objects: int = 5
    max_objects: int = 15
    tasks_per_sample: int = 2
    graphs_per_sample: int = 1
    seed: int = 42
    name: str = "iterative_model"
    epochs: float | None = None
    r: int | None = None
    base_model: str | None = None
    training: Mapping[str, Any] = field(default_factory=dict)
    collection: str = "teacher"
    dagger_beta: float = 0.5
    dagger_beta_decay: float = 0.5
    probe_tasks: int = 24
    warm_start: bool = False
    strict_data: bool = False

    def __post_init__(self) -> None:
        for name in (
            "n_episodes",
            "n_batch",
            "min_regions",
            "max_regions",
            "min_objects",
            "max_objects",
            "tasks_per_sample",
            "graphs_per_sample",
        ):
            value = getattr(self, name)
            _require(is_int(value) and value >= 1, name, value, "an integer >= 1")
        _require(is_int(self.seed), "seed", self.seed, "an integer")
        _require(
            self.initial_dataset_size is None
            or (is_int(self.initial_dataset_size) and self.initial_dataset_size >= 1),
            "initial_dataset_size",
            self.initial_dataset_size,
            "an integer >= 1, or null for the whole initial_data",
        )
        _require(
            is_finite_number(self.val_frac) and 0 <= self.val_frac < 1,
            "val_frac",
            self.val_frac,
            "a fraction in [0, 1)",
        )
        _require(
            self.objective_type in OBJECTIVE_TYPES,
            "objective_type",
            self.objective_type,
            "'max' or 'min'",
        )
        _require(
            isinstance(self.skip_eval_tasks, bool),
            "skip_eval_tasks",
            self.skip_eval_tasks,
            "true or false",
        )
        for name in ("initial_data", "output_dir", "sampling_strategy", "objective", "name"):
            value = getattr(self, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise IterativeConfigError(f"{name} is empty: {_fill_in(name)}")
            _require(isinstance(value, str), name, value, "a string")
        _require(
            isinstance(self.training, Mapping),
            "training",
            self.training,
            "a mapping of TrainConfig fields",
        )
        for name in ("min_regions", "min_objects"):
            high = name.replace("min_", "max_")
            if getattr(self, name) > getattr(self, high):
                raise IterativeConfigError(
                    f"{name} ({getattr(self, name)}) is greater than {high} ({getattr(self, high)})"
                )
        for value in self.graph_unknown:
            _require(
                is_finite_number(value) and 0 <= value <= 1,
                "graph_unknown",
                value,
                "fractions in [0, 1] (0.3 hides 30 % of the nodes)",
            )
        _require(
            self.collection in COLLECTIONS,
            "collection",
            self.collection,
            " or ".join(map(repr, COLLECTIONS)),
        )
        for name in ("dagger_beta", "dagger_beta_decay"):
            value = getattr(self, name)
            _require(
                is_finite_number(value) and 0 <= value <= 1, name, value, "a probability in [0, 1]"
            )
        _require(
            is_int(self.probe_tasks) and self.probe_tasks >= 0,
            "probe_tasks",
            self.probe_tasks,
            "an integer >= 0 (0: no probe)",
        )
        if self.collection != "teacher" and self.probe_tasks == 0:
            raise IterativeConfigError(
                f"collection {self.collection!r} collects on the probe's tasks, but probe_tasks "
                "is 0: set probe_tasks to 1 or more (24 by default)"
            )
        _require(isinstance(self.warm_start, bool), "warm_start", self.warm_start, "true or false")
        _require(
            isinstance(self.strict_data, bool), "strict_data", self.strict_data, "true or false"
        )

    # ------------------------------------------------------------------------------ building
    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> IterativeConfig:
        """Build from the ``iterative`` parameters, rejecting unknown keys by name.

        Raises:
            IterativeConfigError: an unknown key (with the known ones) or a wrong value.
        """
        known = [f.name for f in dataclasses.fields(cls)]
        values = parameter_mapping(params, "iterative", known, IterativeConfigError)
        if "graph_unknown" in values:
            values["graph_unknown"] = fractions(
                values["graph_unknown"], "graph_unknown", IterativeConfigError
            )
        for name in ("held_out_data", "eval_task_file"):
            if values.get(name) in ("", "null", "None"):
                values[name] = None
        values["training"] = dict(values.get("training") or {})
        return cls(**values)

    # ------------------------------------------------------------------------------ mapping
    def with_objective_resolved(self, task_metric: str | None) -> IterativeConfig:
        """This configuration with ``objective: auto`` resolved: ``task_metric`` (the
        closed-loop success of the evaluators that run, e.g. ``task/accuracy``) when there is
        one, else :data:`TOKEN_OBJECTIVE`. Any other objective is kept as it is.

        >>> IterativeConfig().with_objective_resolved("task/accuracy").objective
        'task/accuracy'
        >>> IterativeConfig(skip_eval_tasks=True).with_objective_resolved(None).objective
        'eval/mean_accuracy'
        """
        if self.objective != AUTO_OBJECTIVE:
            return self
        return dataclasses.replace(self, objective=task_metric or TOKEN_OBJECTIVE)

    def objective_score(self, value: float) -> float:
        """``value`` of ``objective`` on a scale where larger is better (``objective_type``)."""
        return value if self.objective_type == "max" else -value

    def training_params(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """The ``training`` parameters with the loop's overrides, checked by ``TrainConfig``
        (each episode names its run ``<name>_episode_N``: ``nodes.episode_training_config``).

        Args:
            base: the project's ``training`` parameters.

        Raises:
            TrainConfigError: naming an unknown or invalid training field.
        """
        params = {**dict(base), **dict(self.training)}
        params["val_frac"] = self.val_frac
        if "seed" not in self.training:
            params["seed"] = self.seed
        for flag in TRAINING_FLAGS:
            if getattr(self, flag) is not None:
                params[flag] = getattr(self, flag)
        params["name"] = self.name
        params.pop("data", None)  # the episode's dataset is a catalog entry
        TrainConfig.from_dict(params)  # raises naming the field
        return params

    def beta(self, episode: int) -> float:
        """The DAgger mixture of an episode: ``dagger_beta * dagger_beta_decay ** (N - 1)``."""
        return self.dagger_beta * self.dagger_beta_decay ** (episode - 1)

    @property
    def teacher_share(self) -> int:
        """How many of an episode's ``n_batch`` new samples are the teacher's rollouts."""
        return {"teacher": self.n_batch, "dagger": 0, "mixed": self.n_batch - self.n_batch // 2}[
            self.collection
        ]

    def teacher_target(self, new_states: int) -> int:
        """How many new samples the teacher's rollouts must make, given ``new_states`` new
        labelled states of the DAgger collection: its share, or what the states leave of
        ``n_batch`` when they fall short (``mixed``); 0 with ``dagger``, whose samples are the
        teacher's labels only.

        >>> [IterativeConfig(n_batch=10, collection=c).teacher_target(3)
        ...  for c in ("teacher", "mixed", "dagger")]
        [10, 7, 0]
        """
        if self.collection == "dagger":
            return 0
        return max(self.teacher_share, self.n_batch - new_states)

    @property
    def n_scenes(self) -> int:
        """Scenes generated per episode: enough rollouts for the teacher's share of ``n_batch``
        (0 when the DAgger collection makes every new sample)."""
        return math.ceil(self.teacher_share / self.tasks_per_sample)

    @property
    def n_priors(self) -> int:
        """Examples sampled per episode: one for every ``graphs_per_sample`` scenes."""
        return math.ceil(self.n_scenes / self.graphs_per_sample)

    def generation_config(
        self, base: Mapping[str, Any], episode: int, priors: Sequence[Prior] = ()
    ) -> GenerationConfig:
        """The generation parameters of one episode: the project's ``generation`` (teacher, scene
        generator, turn limits) with the loop's scene sizes, an episode seed and the priors.

        Scene ``i`` is generated like prior ``i // graphs_per_sample``. A prior that plays a
        world again (``task_failure``) is that world (its one task) followed by its
        ``graphs_per_sample`` new scenes like it, and scenes are added until they hold the
        teacher's share of ``n_batch`` rollouts.
        """
        n_scenes = self.n_scenes
        expanded = [p for p in priors for _ in range(self.graphs_per_sample)][:n_scenes]
        if any(p.world is not None for p in priors):
            expanded = self._replaying(priors)
            n_scenes = len(expanded)
        params = {
            **dict(base),
            # 31 bits: a readable data_gen folder name (seed<N>_<hash>) and any RNG takes it.
            "seed": derive_seed(self.seed, "generation", episode) % 2**31,
            "n_samples": n_scenes,
            "n_tasks": self.tasks_per_sample,
            "graph_unknown": list(self.graph_unknown),
            "min_regions": self.min_regions,
            "max_regions": self.max_regions,
            "min_objects": self.min_objects,
            "max_objects": self.max_objects,
            "priors": expanded,
        }
        return GenerationConfig.from_params(params)

    def _replaying(self, priors: Sequence[Prior]) -> list[Prior]:
        """The scenes of priors some of which play a world again: each world (one rollout),
        then ``graphs_per_sample`` new scenes like it (``tasks_per_sample`` rollouts each),
        until the scenes hold the teacher's share of the episode's rollouts."""
        scenes: list[Prior] = []
        rollouts = 0
        while rollouts < self.teacher_share:
            for prior in priors:
                like = dataclasses.replace(prior, world=None)
                own = [prior] if prior.world is not None else []
                for scene in [*own, *[like] * self.graphs_per_sample]:
                    if rollouts >= self.teacher_share:
                        return scenes
                    scenes.append(scene)
                    rollouts += 1 if scene.world is not None else self.tasks_per_sample
        return scenes

    def fingerprint(self, training: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
        """What determines the episodes' outputs (not ``n_episodes``, the objective or paths):
        a run in ``output_dir`` may only be continued with the same values."""
        # The training flags and val_frac are part of the training parameters below.
        skip = {*NOT_FINGERPRINTED, *TRAINING_FLAGS, "name", "val_frac", "training"}
        data = {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}
        for name, default in SEED_PROCESS.items():  # as before these settings existed
            if data.get(name) == default:
                del data[name]
        data["training"] = {k: v for k, v in training.items() if k not in TRAINING_VOLATILE}
        data.update(extra)
        return json.loads(json.dumps(data, sort_keys=True, default=str))


def fingerprint_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    """``"key: old -> new"`` for every value that differs (nested keys dotted)."""
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            changes += fingerprint_changes(a, b, f"{prefix}{key}.")
        elif a != b:
            changes.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return changes


def _fill_in(name: str) -> str:
    """What a string parameter found empty should be (``--params sampling_strategy=`` and
    ``sampling_strategy: ""`` both end here, the first as ``None``)."""
    if name == "sampling_strategy":
        return (
            f"pass one of the installed samplers: {', '.join(sorted(samplers()))} "
            "(`prism plugins` lists them)"
        )
    return {
        "initial_data": "pass the conversations file episode 1 trains on",
        "output_dir": "pass the folder the run's outputs go to",
        "objective": f"pass a metric, or {AUTO_OBJECTIVE!r}",
        "name": "pass the run's name",
    }[name]


def _require(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise IterativeConfigError(f"{name} must be {expected}, got {value!r}")
