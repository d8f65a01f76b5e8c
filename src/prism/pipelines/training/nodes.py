"""Nodes of the training pipeline: plain functions from data to data.

They know nothing of Kedro, files or environment variables; ``pipeline.py`` wires them to
catalog entries and ``conf/base/parameters_training.yml`` supplies ``params:training``, which
:func:`check_training_inputs` turns into the typed :class:`~prism.training.config.TrainConfig`
the other nodes take.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prism.formats.conversations import load_samples
from prism.student.bundle import ModelBundle
from prism.training.base_models import StudentBase
from prism.training.config import TrainConfig
from prism.training.errors import EmptyTrainingDataError
from prism.training.split import Split, split_ids
from prism.training.train import prepare_student_base, train_student


def check_training_inputs(params: Mapping[str, Any]) -> TrainConfig:
    """The training parameters as a :class:`TrainConfig`, checked once before any other node.

    Args:
        params: ``params:training`` (or, in the iterative loop, its training parameters).

    Raises:
        TrainConfigError: naming the unknown key or the field with a wrong value.
    """
    return TrainConfig.from_dict(dict(params))


def load_training_samples(training_data: Any) -> list[dict[str, Any]]:
    """Validate the raw conversations and return canonical samples with ids.

    Args:
        training_data: parsed JSON in any format ``prism.formats.conversations`` reads.

    Raises:
        DataFormatError: naming the sample and field of the first invalid record.
        EmptyTrainingDataError: if there is no sample at all.
    """
    samples = load_samples(training_data, source="training_data")
    if not samples:
        raise EmptyTrainingDataError(
            "training_data: the dataset holds no samples; point the training_data catalog entry "
            "at a non-empty conversations file (or run the generation pipeline first)"
        )
    return samples


def split_train_val(samples: list[dict[str, Any]], config: TrainConfig) -> Split:
    """Split the samples into train and validation ids (``val_frac``, ``seed``), by sample id."""
    return split_ids([s["id"] for s in samples], config.val_frac, config.seed)


def prepare_base(
    samples: list[dict[str, Any]], cached_base: StudentBase | None, config: TrainConfig
) -> StudentBase:
    """The student's base: the built-in one (reused from ``cached_base`` if unchanged) or a
    reference to a pretrained model, checked to be loadable before any training starts."""
    return prepare_student_base(samples, cached_base, config)


def train(
    samples: list[dict[str, Any]],
    split: Split,
    base: StudentBase,
    config: TrainConfig,
    checkpoints: Path,
    init_from: Path | None = None,
) -> tuple[ModelBundle, dict[str, Any]]:
    """Fine-tune the student on the training split, validating on the validation split.

    Args:
        checkpoints: the folder for resumable checkpoints (``checkpoint_every``); a run killed
            during training and started again goes on from its last checkpoint.
        init_from: a saved student (of the same base) to continue from instead of the base.

    Returns:
        The trained student (model or adapter with its tokenizer) and the training metrics.
    """
    return train_student(
        samples, split, base, config, checkpoint_root=checkpoints, init_from=init_from
    )
