"""Train the student in this process: tokenize the rollouts, fine-tune the base, report metrics.

:func:`fit` is one training run, or one rank of a data-parallel job when
:mod:`prism.training.distributed` launched it under ``torchrun``; callers go through
:func:`prism.training.train.train_student`. The loss is computed on assistant turns only
(:mod:`prism.training.masking`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from transformers import PreTrainedTokenizerBase, ProgressCallback, Trainer

from prism.formats.conversations import to_chat_messages
from prism.student.bundle import ModelBundle
from prism.student.generation import context_length
from prism.student.prompt_format import PromptFormat, format_of
from prism.training.arguments import DEBUG_SAMPLES, configure_reporting, training_arguments
from prism.training.base_models import StudentBase, load_base_model, load_base_tokenizer
from prism.training.callbacks import ProgressBarCallback, StepLogCallback
from prism.training.chat_template import require_chat_template
from prism.training.checkpoints import last_complete_checkpoint
from prism.training.collate import ConversationDataset, PaddingCollator, expected_padding_share
from prism.training.config import TrainConfig
from prism.training.errors import EmptyTrainingDataError
from prism.training.finetune import (
    apply_finetune,
    count_parameters,
    learning_rate,
    resolve_finetune,
)
from prism.training.masking import EncodedConversation, encode_conversation
from prism.training.split import Split
from prism.training.trainer import ResumableTrainer
from prism.training.warm_start import continue_from

logger = logging.getLogger(__name__)


def encode_samples(
    samples: Sequence[dict[str, Any]],
    tokenizer: PreTrainedTokenizerBase,
    max_len: int,
    prompt_format: PromptFormat | None = None,
) -> tuple[list[EncodedConversation], dict[str, int]]:
    """Tokenize samples with assistant-only labels, dropping those with nothing to learn.

    Each conversation is first put in the base's prompt format (verbatim SPINE unless the base
    says otherwise, see :mod:`prism.student.prompt_format`).

    Returns:
        The kept examples and counts: ``truncated`` (cut to ``max_len``, kept) and
        ``skipped`` (no assistant token within ``max_len``).
    """
    examples, truncated, skipped = [], 0, 0
    for sample in samples:
        messages = (prompt_format or PromptFormat()).encode(to_chat_messages(sample))
        encoded = encode_conversation(tokenizer, messages, max_len)
        if encoded.n_supervised == 0:
            skipped += 1
            continue
        truncated += encoded.truncated
        examples.append(encoded)
    return examples, {"truncated": truncated, "skipped": skipped}


def training_encoding(
    model: Any, base: StudentBase, config: TrainConfig
) -> tuple[int, PromptFormat]:
    """How :func:`fit` encodes samples for ``model``: to ``max_seq_len`` tokens (the model's own
    context when that is shorter), in ``base``'s prompt format."""
    max_len = min(config.max_seq_len, context_length(model) or config.max_seq_len)
    return max_len, format_of(None if base.is_builtin else base.name_or_path)


def _select(samples: Sequence[dict[str, Any]], ids: Sequence[str]) -> list[dict[str, Any]]:
    wanted = set(ids)
    return [s for s in samples if s["id"] in wanted]


def fit(
    samples: Sequence[dict[str, Any]],
    split: Split,
    base: StudentBase,
    config: TrainConfig,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    *,
    init_from: str | os.PathLike[str] | None = None,
) -> tuple[ModelBundle, dict[str, Any]]:
    """Train in this process (one rank of a data-parallel job when launched by torchrun).

    Args:
        checkpoint_dir: this run's checkpoint folder (see
            :func:`~prism.training.train.train_student`); ``None`` trains without checkpoints.
        init_from: a saved student of the same base and mode to continue from
            (:func:`~prism.training.warm_start.continue_from`); ``None``: the fresh base.

    Returns:
        The trained model with its tokenizer, and the run's metrics (losses, counts, speed).

    Raises:
        EmptyTrainingDataError: when no training sample has an assistant token within context.
    """
    tokenizer = load_base_tokenizer(base)
    require_chat_template(tokenizer, config.base_model)
    train_samples = _select(samples, split["train"])
    val_samples = _select(samples, split["val"])
    if config.debug:
        train_samples, val_samples = train_samples[:DEBUG_SAMPLES], val_samples[:DEBUG_SAMPLES]

    model = load_base_model(base, bit4=config.bit4)
    max_len, prompt_format = training_encoding(model, base, config)
    train_examples, train_counts = encode_samples(train_samples, tokenizer, max_len, prompt_format)
    val_examples, val_counts = encode_samples(val_samples, tokenizer, max_len, prompt_format)
    for side, counts in (("train", train_counts), ("val", val_counts)):
        if counts["truncated"] or counts["skipped"]:
            logger.warning(
                "%s: %d rollouts truncated to %d tokens, %d skipped (no assistant token within "
                "the context); raise max_seq_len to keep more",
                side,
                counts["truncated"],
                max_len,
                counts["skipped"],
            )
    if not train_examples:
        raise EmptyTrainingDataError(
            f"no trainable sample among {len(train_samples)} training samples: each needs an "
            f"assistant turn starting within max_seq_len={max_len} tokens"
        )

    mode = resolve_finetune(config, base)
    model = apply_finetune(model, mode, config)
    if init_from is not None:
        model = continue_from(model, mode, init_from, base)
        logger.info("Continuing from the weights of %s", init_from)
    trainable, total = count_parameters(model)
    lr = learning_rate(config, mode, base)
    logger.info(
        "Training %s (%s, lr %.1e): %d/%d parameters trainable, %d train / %d val rollouts, "
        "context %d",
        config.name,
        mode,
        lr,
        trainable,
        total,
        len(train_examples),
        len(val_examples),
        max_len,
    )
    train_data = ConversationDataset(train_examples)
    val_data = ConversationDataset(val_examples) if val_examples else None
    checkpoints = checkpoint_dir is not None and config.checkpoint_every > 0
    work = (
        contextlib.nullcontext(str(checkpoint_dir))
        if checkpoints
        else tempfile.TemporaryDirectory(prefix="prism-trainer-")
    )
    with work as work_dir:
        last = last_complete_checkpoint(work_dir) if checkpoints else None
        if last:
            logger.info("Resuming the training of %s from %s", config.name, last)
        trainer = ResumableTrainer(
            model=model,
            args=training_arguments(
                config,
                work_dir,
                val_data is not None,
                configure_reporting(config.report_to),
                lr,
                checkpoints=checkpoints,
                resuming=last is not None,
            ),
            data_collator=PaddingCollator(tokenizer.pad_token_id),
            train_dataset=train_data,
            eval_dataset=val_data,
            processing_class=tokenizer,
            callbacks=[StepLogCallback()],
        )
        if trainer.pop_callback(ProgressCallback) is not None:
            trainer.add_callback(ProgressBarCallback())
        started = time.perf_counter()
        output = trainer.train(resume_from_checkpoint=last)
        seconds = time.perf_counter() - started
    metrics = _metrics(trainer, train_data, val_data, seconds, output.global_step)
    metrics.update(
        finetune=mode,
        learning_rate=lr,
        trainable_parameters=trainable,
        total_parameters=total,
        max_seq_len=max_len,
        n_train=len(train_examples),
        n_val=len(val_examples),
        truncated=train_counts["truncated"] + val_counts["truncated"],
        skipped=train_counts["skipped"] + val_counts["skipped"],
        base_model=base.name_or_path,
        world_size=trainer.args.world_size,
        resumed_from_step=_checkpoint_step(last),
        continued_from=None if init_from is None else str(init_from),
    )
    trained = trainer.model
    trained.eval()
    metadata = {
        "finetune": mode,
        "base_model": base.name_or_path,
        "name": config.name,
        "prompt_format": prompt_format.name,
    }
    return ModelBundle(model=trained, tokenizer=tokenizer, metadata=metadata), metrics


def _metrics(
    trainer: Trainer,
    train_data: ConversationDataset,
    val_data: ConversationDataset | None,
    seconds: float,
    steps: int,
) -> dict[str, Any]:
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    val_losses = [h["eval_loss"] for h in history if "eval_loss" in h]
    epochs = trainer.state.epoch or 0.0
    # Every rank holds the whole dataset and the Trainer shards it, so one epoch is one pass
    # over train_data whatever the number of processes. The wall time includes validation.
    tokens = train_data.n_tokens * epochs
    return {
        "train_loss_first": losses[0] if losses else math.nan,
        "train_loss_last": losses[-1] if losses else math.nan,
        "train_losses": losses,
        "val_loss_before": val_losses[0] if val_losses else None,
        "val_loss_after": val_losses[-1] if val_losses else None,
        "val_losses": val_losses,
        "steps": steps,
        "epochs": epochs,
        "train_seconds": seconds,
        "tokens_per_second": tokens / seconds if seconds else math.nan,
        "padding_share": expected_padding_share(
            train_data.lengths,
            trainer.args.per_device_train_batch_size,
            trainer.args.train_sampling_strategy == "group_by_length",
        ),
    }


def _checkpoint_step(path: str | None) -> int | None:
    return int(path.rsplit("-", 1)[1]) if path else None
