"""What plugins register: small named objects, and what their callables take and return.

A plugin's hook returns :class:`SamplerPlugin`, :class:`EvaluatorPlugin`, :class:`TeacherPlugin`
or :class:`SceneGeneratorPlugin` objects. Each has a ``name`` (how configuration refers to it),
the callable doing the work, a one-line ``description`` shown by ``prism plugins``, and declares
what it reads and writes (the metrics an evaluator reports, the per-sample metrics a sampler
needs, the options a teacher takes), so the host treats every plugin alike, its own included.
The callables take one request object (:class:`SampleRequest`, :class:`EvalContext`,
:class:`ComponentRequest`), so new fields can be added later without breaking existing plugins.

Example:
    >>> import random
    >>> first = SamplerPlugin("first", lambda request: [request.samples[0]["id"]] * request.n)
    >>> first.draw(SampleRequest([{"id": "a", "conversations": []}], {}, 2, random.Random(0)))
    ['a', 'a']
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from prism.plugins.errors import PluginResultError

#: In an evaluator's declared metric names, ``{split}`` stands for each split it scores.
SPLIT_FIELD = "{split}"


def _check_name(kind: str, name: object) -> None:
    """Names are used in configuration files and metric keys: an ASCII identifier."""
    if not isinstance(name, str) or not name.isascii() or not name.isidentifier():
        raise ValueError(
            f"{kind} name {name!r} is not a valid name: use letters, digits and underscores, "
            "not starting with a digit (e.g. 'loss_weighted')"
        )


def _check_callable(kind: str, name: str, attribute: str, value: object) -> None:
    if not callable(value):
        raise TypeError(
            f"{kind} {name!r}: {attribute} must be callable, got {type(value).__name__}"
        )


@dataclass(frozen=True)
class SampleRequest:
    """What a sampler is asked: pick ``n`` ids from ``samples`` (or from ``outcomes``).

    Attributes:
        samples: canonical samples, each ``{"id": str, "conversations": [...], ...}``.
        metrics: per-sample metrics keyed by sample id, e.g. ``{"3f9a": {"loss": 1.2,
            "accuracy": 0.4}}``; may be empty for samplers that need none.
        n: how many ids to return; at least 1. When ``n > len(samples)`` ids are repeated.
        rng: the only source of randomness a sampler may use, so a seed reproduces the choice.
        outcomes: the student's closed-loop outcomes on the episode's probe tasks (fresh tasks of
            the training distribution), each with ``id``, ``task``, ``kind``, ``correct``,
            ``reason``, ``turns``, ``rejected`` and the ``world`` it played in; empty when the
            loop runs no probe. A sampler may return outcome ids: generation then plays that
            outcome's world again (and generates similar new ones).

    Raises:
        ValueError: ``samples`` is empty or ``n`` is not a positive integer.
    """

    samples: Sequence[Mapping[str, Any]]
    metrics: Mapping[str, Mapping[str, float]]
    n: int
    rng: random.Random
    outcomes: Sequence[Mapping[str, Any]] = ()

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ValueError(
                f"n must be a positive integer (how many samples to pick), got {self.n!r}"
            )
        if len(self.samples) == 0:
            raise ValueError("cannot sample from an empty list of samples")
        if not isinstance(self.rng, random.Random):
            raise TypeError(f"rng must be a random.Random, got {type(self.rng).__name__}")


@dataclass(frozen=True)
class SamplerPlugin:
    """A named strategy that picks which samples seed the next round of generation.

    Attributes:
        name: how configuration refers to it, e.g. ``"loss_weighted"``.
        sample: ``sample(request) -> list[str]``: ``request.n`` ids taken from
            ``request.samples``; deterministic given ``request.rng``.
        description: one line for ``prism plugins``.
        needs: the per-sample metrics it weights by (``"loss"``, ``"accuracy"``): a run is
            refused before it starts unless a configured evaluator declares them in its
            ``sample_metrics``.
        reads_outcomes: it picks from ``request.outcomes`` (the closed-loop probe): a run is
            refused unless the loop runs a probe.
    """

    name: str
    sample: Callable[[SampleRequest], list[str]]
    description: str = ""
    needs: tuple[str, ...] = ()
    reads_outcomes: bool = False

    def __post_init__(self) -> None:
        _check_name("sampler", self.name)
        _check_callable("sampler", self.name, "sample", self.sample)
        object.__setattr__(self, "needs", _names("sampler", self.name, "needs", self.needs))

    def draw(self, request: SampleRequest) -> list[str]:
        """Call :attr:`sample` and check its answer: ``request.n`` ids, all from the request.

        Raises:
            PluginResultError: the sampler broke the contract; the message names it.
        """
        chosen = self.sample(request)
        if not isinstance(chosen, list) or not all(isinstance(i, str) for i in chosen):
            raise PluginResultError(
                f"sampler {self.name!r} must return a list of sample ids (str), "
                f"got {type(chosen).__name__}"
            )
        if len(chosen) != request.n:
            raise PluginResultError(
                f"sampler {self.name!r} returned {len(chosen)} ids, {request.n} were asked for"
            )
        known = {sample["id"] for sample in request.samples}
        known |= {outcome["id"] for outcome in request.outcomes}
        unknown = sorted(set(chosen) - known)
        if unknown:
            raise PluginResultError(
                f"sampler {self.name!r} returned {len(unknown)} ids that are not among the "
                f"samples or outcomes, e.g. {unknown[:3]}"
            )
        return chosen


@dataclass(frozen=True)
class ClosedLoop:
    """How closed-loop rollouts run: the generation configuration's, so that the student is
    scored on worlds hidden the way its training data was made.

    Attributes:
        graph_unknown: fractions of nodes hidden from the planner, used in turn over the tasks.
        max_iterations: planner turns per rollout.
        max_attempts: tries per turn, with validation feedback.
    """

    graph_unknown: tuple[float, ...]
    max_iterations: int
    max_attempts: int


@dataclass
class EvalContext:
    """Everything an evaluator may look at.

    Attributes:
        model: the student model (e.g. a transformers ``PreTrainedModel``), in eval mode.
        tokenizer: its tokenizer.
        prompt_format: a :class:`prism.student.prompt_format.PromptFormat`, how the student reads
            and writes the planning protocol.
        splits: canonical samples by split: ``"train"``, ``"eval"`` (validation) and
            ``"held_out"``; any may be missing or empty.
        eval_suite: a :class:`prism.formats.eval_tasks.EvalSuite` (scene graphs and tasks for
            closed-loop runs), or ``None`` when task evaluation is skipped.
        params: this evaluator's own parameters from configuration.
        seed: seed for any randomness, so evaluation is reproducible.
        closed_loop: how the loop's rollouts run (hidden fractions, turn and attempt limits), for
            evaluators that plan in the simulator; ``None`` outside a configured run.
    """

    model: Any
    tokenizer: Any
    prompt_format: Any
    splits: Mapping[str, Sequence[Mapping[str, Any]]]
    eval_suite: Any | None
    params: Mapping[str, Any]
    seed: int = 0
    closed_loop: ClosedLoop | None = None


@dataclass
class EvalResult:
    """What an evaluator reports.

    Attributes:
        metrics: flat, namespaced numbers, e.g. ``{"train/mean_loss": 1.2, "task/accuracy": 0.5}``;
            logged to wandb and used to pick the best episode.
        tables: named lists of rows (dicts), e.g. one row per sample or per task.
        artifacts: anything else worth keeping, e.g. transcripts of closed-loop runs.

    Raises:
        TypeError: a metric key is not a string or a value is not a real number.
    """

    metrics: dict[str, float]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in self.metrics.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"metric names must be non-empty strings, got {key!r}")
            if isinstance(value, bool) or not isinstance(value, Real):
                raise TypeError(
                    f"metric {key!r} must be a real number, got {type(value).__name__} {value!r}"
                )


@dataclass(frozen=True)
class EvaluatorPlugin:
    """A named evaluation of the student, e.g. token metrics or closed-loop task success.

    Attributes:
        name: how configuration refers to it, e.g. ``"token_metrics"``.
        evaluate: ``evaluate(context) -> EvalResult``.
        description: one line for ``prism plugins``.
        metrics: the metric names it reports, ``{split}`` standing for each scored split
            (``"{split}/mean_loss"``), so that ``objective`` can be checked before a run;
            ``None``: not declared, any name is accepted with a warning.
        sample_metrics: the per-sample metrics in the rows of its ``samples`` table (with
            ``id`` and ``split``), which samplers may weight by.
        needs_eval_tasks: it runs the eval task file (left out by ``skip_eval_tasks``).
        task_metric: its closed-loop success rate, if it has one: the teacher is scored on the
            same tasks and ``task/of_teacher`` is this metric over the teacher's success.
    """

    name: str
    evaluate: Callable[[EvalContext], EvalResult]
    description: str = ""
    metrics: tuple[str, ...] | None = None
    sample_metrics: tuple[str, ...] = ()
    needs_eval_tasks: bool = False
    task_metric: str | None = None

    def __post_init__(self) -> None:
        _check_name("evaluator", self.name)
        _check_callable("evaluator", self.name, "evaluate", self.evaluate)
        if self.metrics is not None:
            object.__setattr__(
                self, "metrics", _names("evaluator", self.name, "metrics", self.metrics)
            )
        object.__setattr__(
            self,
            "sample_metrics",
            _names("evaluator", self.name, "sample_metrics", self.sample_metrics),
        )
        if self.task_metric is not None and self.task_metric not in (self.metrics or ()):
            raise ValueError(
                f"evaluator {self.name!r}: task_metric {self.task_metric!r} must be one of its "
                "declared metrics"
            )

    def metric_names(self, splits: Sequence[str]) -> list[str] | None:
        """Its declared metrics for these splits (``None`` when it declares none)."""
        if self.metrics is None:
            return None
        per_split = [m for m in self.metrics if SPLIT_FIELD in m]
        names = [m.replace(SPLIT_FIELD, split) for split in splits for m in per_split]
        return names + [m for m in self.metrics if SPLIT_FIELD not in m]

    def run(self, context: EvalContext) -> EvalResult:
        """Call :attr:`evaluate` and check that it returned an :class:`EvalResult`.

        Raises:
            PluginResultError: the evaluator broke the contract; the message names it.
        """
        result = self.evaluate(context)
        if not isinstance(result, EvalResult):
            raise PluginResultError(
                f"evaluator {self.name!r} must return an EvalResult, got {type(result).__name__}"
            )
        return result


@dataclass(frozen=True)
class ComponentRequest:
    """What a teacher or a scene generator is built from.

    Attributes:
        kind: the name it was asked for by (``generation.teacher.kind``).
        options: its parameters from configuration (``generation.teacher`` without ``kind``):
            ``endpoint`` (the OpenAI-compatible endpoint settings, possibly unused) and the
            options the plugin declares.
        credentials: the project's credentials (``conf/local/credentials.yml``).
        chat_client: ``chat_client()`` builds a ``prism.endpoint.ChatClient`` on
            ``options["endpoint"]`` with the credentials and the run's call cache (retries,
            bounded concurrency, one payment per request); call it only if you use an endpoint.
        max_iterations: planner turns per rollout.
        max_attempts: tries per turn, with validation feedback.
    """

    kind: str
    options: Mapping[str, Any]
    credentials: Mapping[str, Any]
    chat_client: Callable[[], Any]
    max_iterations: int
    max_attempts: int


@dataclass(frozen=True)
class TeacherPlugin:
    """A named teacher: hands out a planner per rollout (``prism.teachers.base.Teacher``).

    Attributes:
        name: how ``generation.teacher.kind`` refers to it, e.g. ``"oracle"``.
        build: ``build(request) -> Teacher``, from a :class:`ComponentRequest`; the teacher has
            a ``name``, ``check()`` (fail fast, e.g. an unreachable endpoint) and
            ``planner(task, sim)``.
        description: one line for ``prism plugins``.
        options: the keys it reads under ``generation.teacher`` besides ``kind``, ``endpoint``
            and ``fallback_to_oracle``; any other key is refused by name.
    """

    name: str
    build: Callable[[ComponentRequest], Any]
    description: str = ""
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("teacher", self.name)
        _check_callable("teacher", self.name, "build", self.build)
        object.__setattr__(self, "options", _names("teacher", self.name, "options", self.options))

    def create(self, request: ComponentRequest) -> Any:
        """Call :attr:`build` and check that a teacher came back.

        Raises:
            PluginResultError: the result lacks ``name``, ``check`` or ``planner``.
        """
        return _component("teacher", self.name, self.build(request), ("check", "planner"))


@dataclass(frozen=True)
class SceneGeneratorPlugin:
    """A named scene generator (``prism.scenes.base.SceneGenerator``).

    Attributes:
        name: how ``generation.scene_generator.kind`` refers to it, e.g. ``"procedural"``.
        build: ``build(request) -> SceneGenerator``, from a :class:`ComponentRequest`; the
            generator has a ``name``, ``check()`` and ``generate(scene_request)``.
        description: one line for ``prism plugins``.
        options: the keys it reads under ``generation.scene_generator`` besides ``kind`` and
            ``endpoint``.
    """

    name: str
    build: Callable[[ComponentRequest], Any]
    description: str = ""
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("scene generator", self.name)
        _check_callable("scene generator", self.name, "build", self.build)
        object.__setattr__(
            self, "options", _names("scene generator", self.name, "options", self.options)
        )

    def create(self, request: ComponentRequest) -> Any:
        """Call :attr:`build` and check that a scene generator came back.

        Raises:
            PluginResultError: the result lacks ``name``, ``check`` or ``generate``.
        """
        return _component("scene generator", self.name, self.build(request), ("check", "generate"))


def _names(kind: str, name: str, attribute: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
        raise TypeError(f"{kind} {name!r}: {attribute} must be a tuple of names, got {values!r}")
    return tuple(values)


def _component(kind: str, name: str, built: Any, methods: tuple[str, ...]) -> Any:
    missing = [m for m in methods if not callable(getattr(built, m, None))]
    if not isinstance(getattr(built, "name", None), str):
        missing.insert(0, "name")
    if missing:
        raise PluginResultError(
            f"{kind} {name!r}: build() returned a {type(built).__name__} without "
            f"{', '.join(missing)}"
        )
    return built
