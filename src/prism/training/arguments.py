"""transformers' ``TrainingArguments`` for a :class:`~prism.training.config.TrainConfig`, and
where a run reports to."""

from __future__ import annotations

import os

import torch
from transformers import TrainingArguments

from prism.training.config import TrainConfig

#: ``debug: true`` trains on this many samples for this many optimizer steps.
DEBUG_SAMPLES = 16
DEBUG_STEPS = 4


def configure_reporting(report_to: str) -> list[str]:
    """The ``report_to`` list for transformers; wandb logs offline unless the user said otherwise.

    ``WANDB_MODE`` set by the user (e.g. ``online``) wins; we only fill in the default.
    """
    if report_to != "wandb":
        return [] if report_to == "none" else [report_to]
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_PROJECT", "prism")
    return ["wandb"]


def training_arguments(
    config: TrainConfig,
    work_dir: str,
    has_val: bool,
    report_to: list[str],
    lr: float,
    checkpoints: bool = False,
    resuming: bool = False,
) -> TrainingArguments:
    """transformers ``TrainingArguments`` for a config.

    Args:
        checkpoints: write a resumable checkpoint into ``work_dir`` every
            ``config.checkpoint_every`` steps, keeping the last one only (the trained model itself
            is saved by the catalog).
        resuming: the run goes on from a checkpoint, whose log already holds the validation
            loss before training.
    """
    cuda = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=work_dir,
        run_name=config.name,
        num_train_epochs=config.epochs,
        max_steps=DEBUG_STEPS if config.debug else config.max_steps,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=lr,
        lr_scheduler_type="linear",
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        logging_steps=config.logging_steps,
        eval_strategy="epoch" if has_val else "no",
        eval_on_start=has_val and not resuming,
        save_strategy="steps" if checkpoints else "no",
        save_steps=config.checkpoint_every if checkpoints else None,
        save_total_limit=1,
        report_to=report_to,
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        remove_unused_columns=False,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        ddp_backend=("nccl" if cuda else "gloo") if config.nproc > 1 else None,
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
