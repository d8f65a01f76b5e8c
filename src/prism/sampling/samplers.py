"""The built-in samplers: which samples seed the next round of generation.

Each sampler is a pure function of a :class:`~prism.plugins.types.SampleRequest` returning
``request.n`` sample ids, deterministic given ``request.rng``. They are registered through the
``prism_register_samplers`` hook like any third-party sampler:

- ``uniform``: every sample equally likely.
- ``accuracy_weighted``: samples the student gets wrong more often, weight ``1 - accuracy + 0.05``.
- ``loss_weighted``: weight proportional to the student's loss on the sample.
- ``task_failure``: the tasks the student failed in the closed-loop probe, weighted by how they
  failed (:data:`FAILURE_WEIGHTS`); generation then plays each such world again with the teacher.

All three pick *without* replacement while ``n <= len(samples)`` (no sample twice, the weights
decide which ones and in what order) and, when ``n`` is larger, take every sample once and then
the remaining ``n - len(samples)`` with replacement (by the same weights). With ``n`` close to the
number of samples the weights therefore matter little: every sample is taken anyway.

Example:
    >>> import random
    >>> from prism.plugins import SampleRequest
    >>> samples = [{"id": "easy", "conversations": []}, {"id": "hard", "conversations": []}]
    >>> metrics = {"easy": {"accuracy": 1.0}, "hard": {"accuracy": 0.0}}
    >>> sample_accuracy_weighted(SampleRequest(samples, metrics, 1, random.Random(0)))
    ['hard']
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from prism.plugins.hookspecs import hookimpl
from prism.plugins.types import SampleRequest, SamplerPlugin

#: Weight a sample keeps on top of its error rate in ``accuracy_weighted``. Without it a sample
#: at accuracy 1 could never be picked again; with it the hardest sample (accuracy 0, weight
#: 1.05) is at most 21 times as likely as a mastered one (weight 0.05).
ACCURACY_FLOOR = 0.05


def sample_ids(samples: Sequence[Mapping[str, Any]]) -> list[str]:
    """The samples' ids, in order.

    Raises:
        ValueError: a sample has no string ``id``, or two samples share one.
    """
    ids: list[str] = []
    seen: set[str] = set()
    for index, sample in enumerate(samples):
        sample_id = sample.get("id") if isinstance(sample, Mapping) else None
        if not isinstance(sample_id, str) or not sample_id:
            raise ValueError(f"sample {index} has no 'id' (a non-empty string): {sample!r:.80}")
        if sample_id in seen:
            raise ValueError(
                f"sample id {sample_id!r} occurs twice (sample {index}); ids must be unique"
            )
        seen.add(sample_id)
        ids.append(sample_id)
    return ids


def metric_values(
    ids: Sequence[str], metrics: Mapping[str, Mapping[str, float]], metric: str
) -> list[float]:
    """``metrics[id][metric]`` for each id, as floats.

    Raises:
        ValueError: some ids lack the metric (the message counts them and names a few), or a
            value is not a finite number.
    """
    missing = [i for i in ids if metric not in metrics.get(i, {})]
    if missing:
        examples = ", ".join(repr(i) for i in missing[:3])
        raise ValueError(
            f"per-sample metric {metric!r} is missing for {len(missing)} of {len(ids)} samples "
            f"(e.g. {examples}); compute the metrics on the same samples that are sampled from"
        )
    values = []
    for sample_id in ids:
        value = metrics[sample_id][metric]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError(
                f"metric {metric!r} of sample {sample_id!r} is not a finite number: {value!r}"
            )
        values.append(float(value))
    return values


def accuracy_weights(accuracies: Sequence[float], floor: float = ACCURACY_FLOOR) -> list[float]:
    """Weights ``1 - accuracy + floor``: proportional to the error rate, never zero.

    The error rate, not ``1 / accuracy``: it stays finite at accuracy 0 and keeps the ratio between
    the hardest and the easiest sample bounded (``(1 + floor) / floor``), so a few unlearnt samples
    do not crowd out all others.

    Example:
        >>> [round(w, 2) for w in accuracy_weights([0.0, 0.5, 1.0])]
        [1.05, 0.55, 0.05]

    Raises:
        ValueError: an accuracy is outside [0, 1], or ``floor`` is not positive.
    """
    if not floor > 0:
        raise ValueError(f"floor must be positive, got {floor!r}")
    for index, accuracy in enumerate(accuracies):
        if not 0.0 <= accuracy <= 1.0:
            raise ValueError(f"accuracy {index} is {accuracy!r}; accuracies lie in [0, 1]")
    return [1.0 - accuracy + floor for accuracy in accuracies]


def loss_weights(losses: Sequence[float]) -> list[float]:
    """Weights proportional to the loss; all equal when every loss is zero.

    Example:
        >>> loss_weights([0.0, 2.0])
        [0.0, 2.0]
        >>> loss_weights([0.0, 0.0])
        [1.0, 1.0]

    Raises:
        ValueError: a loss is negative.
    """
    for index, loss in enumerate(losses):
        if loss < 0:
            raise ValueError(f"loss {index} is {loss!r}; a loss is never negative")
    if not any(loss > 0 for loss in losses):
        return [1.0] * len(losses)
    return [float(loss) for loss in losses]


def weighted_choice(
    ids: Sequence[str], weights: Sequence[float], n: int, rng: random.Random
) -> list[str]:
    """``n`` ids drawn by weight: without replacement up to ``len(ids)``, then with replacement.

    Without replacement uses Efraimidis–Spirakis keys (``u ** (1 / w)``, the largest first), so
    each next pick is proportional to weight among those left. Zero-weight ids come last, in
    random order: they are only taken when ``n`` exceeds the ids with positive weight.

    Example:
        >>> weighted_choice(["a", "b", "c"], [0.0, 1.0, 0.0], 1, random.Random(0))
        ['b']
    """
    if len(ids) != len(weights):
        raise ValueError(f"{len(ids)} ids but {len(weights)} weights")
    keys = []
    for index, weight in enumerate(weights):
        u = 1.0 - rng.random()  # in (0, 1]: log is defined
        key = math.log(u) / weight if weight > 0 else -math.inf
        keys.append((key, u, index))
    order = [ids[index] for _, _, index in sorted(keys, reverse=True)]
    chosen = order[:n]
    extra = n - len(chosen)
    if extra > 0:
        positive = sum(weights) > 0
        chosen += rng.choices(list(ids), weights=list(weights) if positive else None, k=extra)
    return chosen


#: How much a probe failure counts in ``task_failure``, by the class of its reason. A turn the
#: student could not even write validly is the most basic failure and the one a few corrected
#: states fix; getting lost until the turns run out comes next; a wrong final answer, a
#: conversation outgrowing the context or a planner error count once.
FAILURE_WEIGHTS: Mapping[str, float] = {
    "invalid_turn": 3.0,
    "max_iterations": 2.0,
    "wrong_answer": 1.0,
    "context_length": 1.0,
    "planner_error": 1.0,
}


def failure_weight(reason: str | None) -> float:
    """The weight of a failure by its reason class (``invalid_turn:unknown_node`` ->
    ``invalid_turn``); 1 for a reason not in :data:`FAILURE_WEIGHTS`.

    Example:
        >>> failure_weight("invalid_turn:no_path"), failure_weight("wrong_answer")
        (3.0, 1.0)
    """
    return FAILURE_WEIGHTS.get(str(reason).split(":", 1)[0], 1.0)


def sample_task_failure(request: SampleRequest) -> list[str]:
    """``request.n`` ids of failed probe outcomes, weighted by :func:`failure_weight`; when the
    student failed no probe task, ``request.n`` samples uniformly (nothing to correct).

    Raises:
        ValueError: an outcome has no string ``id``.
    """
    failed = [o for o in request.outcomes if not o.get("correct")]
    if not failed:
        return sample_uniform(request)
    ids = sample_ids(failed)
    weights = [failure_weight(o.get("reason")) for o in failed]
    return weighted_choice(ids, weights, request.n, request.rng)


def sample_uniform(request: SampleRequest) -> list[str]:
    """``request.n`` ids, every sample equally likely (see the module for ``n > len``)."""
    ids = sample_ids(request.samples)
    return weighted_choice(ids, [1.0] * len(ids), request.n, request.rng)


def sample_accuracy_weighted(request: SampleRequest) -> list[str]:
    """``request.n`` ids weighted by error rate, ``1 - accuracy + ACCURACY_FLOOR``.

    Raises:
        ValueError: a sample has no ``accuracy`` in ``request.metrics`` (the message counts them),
            or an accuracy is outside [0, 1].
    """
    ids = sample_ids(request.samples)
    accuracies = metric_values(ids, request.metrics, "accuracy")
    return weighted_choice(ids, accuracy_weights(accuracies), request.n, request.rng)


def sample_loss_weighted(request: SampleRequest) -> list[str]:
    """``request.n`` ids weighted by loss (uniform when every loss is zero).

    Raises:
        ValueError: a sample has no ``loss`` in ``request.metrics`` (the message counts them), or
            a loss is negative.
    """
    ids = sample_ids(request.samples)
    losses = metric_values(ids, request.metrics, "loss")
    return weighted_choice(ids, loss_weights(losses), request.n, request.rng)


@hookimpl
def prism_register_samplers() -> list[SamplerPlugin]:
    """prism's own samplers."""
    return [
        SamplerPlugin("uniform", sample_uniform, "every sample equally likely"),
        SamplerPlugin(
            "accuracy_weighted",
            sample_accuracy_weighted,
            "weight 1 - accuracy + 0.05: more often the samples the student gets wrong",
            needs=("accuracy",),
        ),
        SamplerPlugin(
            "loss_weighted",
            sample_loss_weighted,
            "weight proportional to the student's loss",
            needs=("loss",),
        ),
        SamplerPlugin(
            "task_failure",
            sample_task_failure,
            "the probe tasks the student failed, by how; their worlds are played again",
            reads_outcomes=True,
        ),
    ]
