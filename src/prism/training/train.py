"""Fine-tune the student on rollouts: LoRA (or full) supervised fine-tuning with transformers.

Entry points:

* :func:`train_student` – samples + split + base + config in, trained model and metrics out;
  used by the Kedro training pipeline. It trains in this process (:func:`prism.training.fit.fit`)
  or, with ``nproc > 1``, data-parallel under ``torchrun`` (:mod:`prism.training.distributed`).
* :func:`train` – the seed's Python API: ``train(TrainConfig(name=..., data=...), output_dir)``.

The loss is computed on assistant turns only (:mod:`prism.training.masking`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from prism.config import fingerprint
from prism.formats.conversations import read_samples
from prism.student.bundle import ModelBundle, save_bundle
from prism.training.base_models import (
    BUILTIN,
    StudentBase,
    build_builtin_base,
    pretrained_base,
    resolve_base_model,
)
from prism.training.checkpoints import release_checkpoints, remove_stale_runs
from prism.training.config import TrainConfig
from prism.training.distributed import launch
from prism.training.errors import EmptyTrainingDataError, HardwareError, TrainConfigError
from prism.training.fit import fit
from prism.training.saved_base import load_student_base, save_student_base
from prism.training.split import Split, split_ids
from prism.training.warm_start import weights_digest

__all__ = ["TrainConfig", "prepare_student_base", "train", "train_student"]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------- base model
def prepare_student_base(
    samples: Sequence[dict[str, Any]], cached: StudentBase | None, config: TrainConfig
) -> StudentBase:
    """The base the student is fine-tuned from, reusing a built-in base built earlier.

    Args:
        samples: canonical training samples (the built-in tokenizer is trained on their text).
        cached: the base saved by an earlier run, if any.
        config: training configuration (``base_model``, ``builtin_model``).

    Returns:
        For ``base_model: builtin``: ``cached`` when it was built with the same spec, else a
        newly built base. Otherwise a reference to the pretrained model, checked to be loadable.
    """
    check_hardware(config)
    if resolve_base_model(config.base_model) != BUILTIN:
        return pretrained_base(config.base_model)
    spec = config.builtin_model
    if cached is not None and cached.builtin_spec == asdict(spec):
        logger.info("Reusing the built-in student base at %s", cached.name_or_path)
        return cached
    if cached is not None:
        logger.info("The built-in base spec changed (%s); building a new one", asdict(spec))
    texts = [turn["value"] for sample in samples for turn in sample["conversations"]]
    if not texts:
        raise EmptyTrainingDataError("cannot build the built-in tokenizer: no training text")
    return build_builtin_base(texts, spec)


def check_hardware(config: TrainConfig) -> None:
    """Refuse, before anything is built or written, settings this machine cannot run.

    Raises:
        HardwareError: ``bit4`` without a CUDA GPU; more processes than GPUs on a GPU machine.
    """
    cuda = torch.cuda.is_available()
    if config.bit4 and not cuda:
        raise HardwareError(
            "bit4: 4-bit (QLoRA) training needs a CUDA GPU and none is available; set "
            "bit4: false to train in full precision on this machine."
        )
    if cuda and config.nproc > torch.cuda.device_count():
        raise HardwareError(
            f"nproc: {config.nproc} processes but {torch.cuda.device_count()} GPU(s); use at most "
            "one process per GPU."
        )


# ---------------------------------------------------------------------- training
def train_student(
    samples: Sequence[dict[str, Any]],
    split: Split,
    base: StudentBase,
    config: TrainConfig,
    checkpoint_root: str | os.PathLike[str] | None = None,
    init_from: str | os.PathLike[str] | None = None,
) -> tuple[ModelBundle, dict[str, Any]]:
    """Train the student, in this process or data-parallel over ``config.nproc`` processes.

    Args:
        samples: canonical samples (``id`` + ``conversations``), both splits.
        split: which ids train and which validate.
        base: where the student starts from.
        config: the training configuration.
        checkpoint_root: where to keep resumable checkpoints (every ``config.checkpoint_every``
            steps), in a folder named by :func:`training_fingerprint`: a run killed and started
            again with the same samples, split, base and settings goes on from its last
            checkpoint. The folders of other runs, which could never be resumed, are deleted
            when training starts; this run's stay until the caller has saved the model and
            calls :func:`~prism.training.checkpoints.release_checkpoints` (in a Kedro run,
            :class:`prism.hooks.TrainingCheckpointsHook`). ``None``: no checkpoints.
        init_from: a saved student (a model directory) to continue from instead of the fresh
            base: its LoRA adapter, or its full weights, trained on the same base (the iterative
            loop's ``warm_start``). ``None``: start from the base.

    Returns:
        The trained model bundle and the training metrics.

    Raises:
        TrainConfigError: ``init_from`` was trained on another base or in another mode.
    """
    checkpoint_dir = None
    if checkpoint_root is not None and config.checkpoint_every > 0:
        key = training_fingerprint(samples, split, base, config, init_from)
        remove_stale_runs(checkpoint_root, keep=key)
        checkpoint_dir = Path(checkpoint_root) / key
    if config.nproc > 1:
        return launch(samples, split, base, config, checkpoint_dir, init_from)
    return fit(samples, split, base, config, checkpoint_dir, init_from=init_from)


#: Settings that change how a run is watched, not what it learns: a resumed run may differ.
_UNLEARNT = ("name", "data", "report_to", "logging_steps", "checkpoint_every")


def training_fingerprint(
    samples: Sequence[dict[str, Any]],
    split: Split,
    base: StudentBase,
    config: TrainConfig,
    init_from: str | os.PathLike[str] | None = None,
) -> str:
    """A hash of what decides a training run's result: its samples (content, in split order),
    its base, the saved student it continues from (if any) and every setting but the reporting
    ones."""
    by_id = {s["id"]: s["conversations"] for s in samples}
    settings = {k: v for k, v in config.to_dict().items() if k not in _UNLEARNT}
    payload = {
        "train": [[i, by_id.get(i)] for i in split["train"]],
        "val": [[i, by_id.get(i)] for i in split["val"]],
        "base": base.name_or_path,
        "builtin_spec": base.builtin_spec,
        "config": settings,
    }
    if init_from is not None:  # only then: the fingerprints of runs from the base stay as they were
        payload["init_from"] = weights_digest(init_from)
    return fingerprint(payload)


def train(config: TrainConfig, output_dir: str | os.PathLike[str]) -> Path:
    """The seed's Python API: train on ``config.data`` and save under ``output_dir/config.name``.

    The built-in base (if used) is saved to ``output_dir/student_base`` and reused next time.

    Returns:
        The directory of the saved student.
    """
    if not config.data:
        raise TrainConfigError(
            "TrainConfig.data: set the path of a conversations JSON file to train on"
        )
    samples = read_samples(config.data)
    if not samples:
        raise EmptyTrainingDataError(f"{config.data}: no training samples")
    split = split_ids([s["id"] for s in samples], config.val_frac, config.seed)
    base_dir = Path(output_dir) / "student_base"
    base = prepare_student_base(samples, load_student_base(base_dir, missing_ok=True), config)
    save_student_base(base, base_dir)
    destination = Path(output_dir) / config.name
    checkpoints = Path(f"{destination}.checkpoints")
    bundle, _ = train_student(samples, split, load_student_base(base_dir), config, checkpoints)
    save_bundle(bundle, destination)
    release_checkpoints(checkpoints)
    return destination
