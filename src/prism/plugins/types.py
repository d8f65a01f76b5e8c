"""What plugins register: small named objects, and what their callables take and return.

A plugin's hook returns :class:`SamplerPlugin` or :class:`EvaluatorPlugin` objects. Each has a
``name`` (how configuration refers to it), the callable doing the work and a one-line
``description`` shown by ``kedro plugins``. The callables take one request object
(:class:`SampleRequest`, :class:`EvalContext`), so new fields can be added later without breaking
existing plugins.

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
    """What a sampler is asked: pick ``n`` sample ids from ``samples``.

    Attributes:
        samples: canonical samples, each ``{"id": str, "conversations": [...], ...}``.
        metrics: per-sample metrics keyed by sample id, e.g. ``{"3f9a": {"loss": 1.2,
            "accuracy": 0.4}}``; may be empty for samplers that need none.
        n: how many ids to return; at least 1. When ``n > len(samples)`` ids are repeated.
        rng: the only source of randomness a sampler may use, so a seed reproduces the choice.

    Raises:
        ValueError: ``samples`` is empty or ``n`` is not a positive integer.
    """

    samples: Sequence[Mapping[str, Any]]
    metrics: Mapping[str, Mapping[str, float]]
    n: int
    rng: random.Random

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
        description: one line for ``kedro plugins``.
    """

    name: str
    sample: Callable[[SampleRequest], list[str]]
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("sampler", self.name)
        _check_callable("sampler", self.name, "sample", self.sample)

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
        unknown = sorted(set(chosen) - known)
        if unknown:
            raise PluginResultError(
                f"sampler {self.name!r} returned {len(unknown)} ids that are not among the "
                f"samples, e.g. {unknown[:3]}"
            )
        return chosen


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
    """

    model: Any
    tokenizer: Any
    prompt_format: Any
    splits: Mapping[str, Sequence[Mapping[str, Any]]]
    eval_suite: Any | None
    params: Mapping[str, Any]
    seed: int = 0


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
        description: one line for ``kedro plugins``.
    """

    name: str
    evaluate: Callable[[EvalContext], EvalResult]
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("evaluator", self.name)
        _check_callable("evaluator", self.name, "evaluate", self.evaluate)

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
