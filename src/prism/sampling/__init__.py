"""Sampling: which samples seed the next round of generation.

The built-in samplers live in :mod:`prism.sampling.samplers` and are registered as a plugin;
look one up by name with :func:`prism.plugins.get_sampler`.
"""

from __future__ import annotations

from prism.sampling.samplers import (
    ACCURACY_FLOOR,
    FAILURE_WEIGHTS,
    accuracy_weights,
    failure_weight,
    loss_weights,
    sample_accuracy_weighted,
    sample_loss_weighted,
    sample_task_failure,
    sample_uniform,
    weighted_choice,
)

__all__ = [
    "ACCURACY_FLOOR",
    "FAILURE_WEIGHTS",
    "accuracy_weights",
    "failure_weight",
    "loss_weights",
    "sample_accuracy_weighted",
    "sample_loss_weighted",
    "sample_task_failure",
    "sample_uniform",
    "weighted_choice",
]
