"""Fine-tune the student on rollouts: LoRA (or full) supervised fine-tuning with transformers.

Entry points:

* :func:`train_student` – samples + split + base + config in, trained model and metrics out;
  used by the Kedro training pipeline. With ``nproc > 1`` it runs data-parallel under
  ``torchrun`` (:mod:`prism.training.distributed`).
* :func:`train` – the seed's Python API: ``train(TrainConfig(name=..., data=...), output_dir)``.

The loss is computed on assistant turns only (:mod:`prism.training.masking`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerBase,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from prism.formats.conversations import read_samples, to_chat_messages
from prism.student.bundle import MODEL_MARKER, ModelBundle, save_bundle
from prism.student.generation import context_length
from prism.student.prompt_format import PromptFormat, format_of
from prism.training.base_models import (
    BUILTIN,
    StudentBase,
    build_builtin_base,
    load_base_model,
    load_base_tokenizer,
    pretrained_base,
    resolve_base_model,
)
from prism.training.chat_template import require_chat_template
from prism.training.checkpoints import (
    fingerprint,
    last_complete_checkpoint,
    release_checkpoints,
    remove_stale_runs,
)
from prism.training.collate import ConversationDataset, PaddingCollator, expected_padding_share
from prism.training.config import TrainConfig
from prism.training.errors import HardwareError, TrainConfigError
from prism.training.masking import EncodedConversation, encode_conversation
from prism.training.saved_base import load_student_base, save_student_base
from prism.training.split import Split, split_ids
from prism.training.trainer import ResumableTrainer

__all__ = ["TrainConfig", "prepare_student_base", "train", "train_student"]

logger = logging.getLogger(__name__)

#: ``debug: true`` trains on this many samples for this many optimizer steps.
DEBUG_SAMPLES = 16
DEBUG_STEPS = 4


class EmptyTrainingDataError(ValueError):
    """No sample is left to train on; the message says why."""


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


# ---------------------------------------------------------------------- data
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


def _select(samples: Sequence[dict[str, Any]], ids: Sequence[str]) -> list[dict[str, Any]]:
    wanted = set(ids)
    return [s for s in samples if s["id"] in wanted]


# ---------------------------------------------------------------------- model
def resolve_finetune(config: TrainConfig, base: StudentBase) -> str:
    """``lora`` or ``full``; ``auto`` means full for a random-init built-in base (see docs)."""
    if config.finetune != "auto":
        return config.finetune
    return "full" if base.is_builtin else "lora"


#: Peak learning rate when ``learning_rate`` is unset: a randomly initialised model trained in
#: full needs a large one; LoRA adapters the usual 2e-4; full fine-tuning of a pretrained model
#: a small one, not to wreck what it knows.
DEFAULT_LEARNING_RATES = {
    ("full", True): 1e-3,
    ("full", False): 2e-5,
    ("lora", True): 1e-3,
    ("lora", False): 2e-4,
}


def learning_rate(config: TrainConfig, mode: str, base: StudentBase) -> float:
    """``config.learning_rate``; else what the base recommends for this mode in its
    ``prism_model.json`` (``finetune_learning_rates``, e.g. the small planner base, which wants
    far larger steps than a 3B model); else the default for this mode and kind of base."""
    if config.learning_rate is not None:
        return config.learning_rate
    recommended = _base_card(base).get("finetune_learning_rates", {})
    if mode in recommended:
        return float(recommended[mode])
    return DEFAULT_LEARNING_RATES[(mode, base.is_builtin)]


def _base_card(base: StudentBase) -> dict[str, Any]:
    """The ``prism_model.json`` of a local base directory (empty for hub ids)."""
    path = Path(base.name_or_path) / MODEL_MARKER
    if base.is_builtin or not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return card if isinstance(card, dict) else {}


def _apply_finetune(model: PreTrainedModel, mode: str, config: TrainConfig) -> Any:
    if mode == "full":
        model.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.bit4:
        model = prepare_model_for_kbit_training(model)
    lora = LoraConfig(
        r=config.r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    # Every requested module must exist: peft only complains when *none* matches, which is how
    # the reference trained for months with a misspelt "q_pror" and q_proj never adapted.
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in config.target_modules if m not in present]
    if missing:
        raise TrainConfigError(
            f"target_modules: {', '.join(missing)} not found in {type(model).__name__}; name "
            f"modules of this architecture (Llama/Qwen use q_proj, k_proj, v_proj, o_proj, "
            f"gate_proj, up_proj, down_proj)"
        )
    set_seed(config.seed)  # the adapters' random initialisation, as documented for ``seed``
    return get_peft_model(model, lora)


def _count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------- reporting
def configure_reporting(report_to: str) -> list[str]:
    """The ``report_to`` list for transformers; wandb logs offline unless the user said otherwise.

    ``WANDB_MODE`` set by the user (e.g. ``online``) wins; we only fill in the default.
    """
    if report_to != "wandb":
        return [] if report_to == "none" else [report_to]
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_PROJECT", "prism")
    return ["wandb"]


class ProgressBarCallback(ProgressCallback):
    """transformers' tqdm progress bar, without its printing of every log dict under the bar.

    :class:`StepLogCallback` already puts each loss in the log, once and readable.
    """

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any
    ) -> None:
        return None


class StepLogCallback(TrainerCallback):
    """Write the training and validation losses to the Python log (Kedro's console and log file).

    Every validation loss, and about ten training losses per run (the first, every tenth of the
    steps, the last), are INFO; the other training losses are DEBUG. The progress bar shows the
    run going, and ``training_metrics`` keeps every loss.
    """

    #: Training losses at INFO per run, about.
    INFO_LINES = 10

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            every = max(1, state.max_steps // self.INFO_LINES)
            step = state.global_step
            shown = step <= args.logging_steps or step % every == 0 or step == state.max_steps
            logger.log(
                logging.INFO if shown else logging.DEBUG,
                "step %d/%d  epoch %.2f  loss %.4f  lr %.2e",
                state.global_step,
                state.max_steps,
                logs.get("epoch", 0.0),
                logs["loss"],
                logs.get("learning_rate", 0.0),
            )
        elif "eval_loss" in logs:
            logger.info(
                "step %d/%d  val loss %.4f", state.global_step, state.max_steps, logs["eval_loss"]
            )


# ---------------------------------------------------------------------- training
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


def fit(
    samples: Sequence[dict[str, Any]],
    split: Split,
    base: StudentBase,
    config: TrainConfig,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> tuple[ModelBundle, dict[str, Any]]:
    """Train in this process (one rank of a data-parallel job when launched by torchrun).

    Args:
        checkpoint_dir: this run's checkpoint folder (see :func:`train_student`); ``None``
            trains without checkpoints.

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
    context = context_length(model) or config.max_seq_len
    max_len = min(config.max_seq_len, context)
    prompt_format = format_of(base.name_or_path if not base.is_builtin else None)
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
    model = _apply_finetune(model, mode, config)
    trainable, total = _count_parameters(model)
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


def train_student(
    samples: Sequence[dict[str, Any]],
    split: Split,
    base: StudentBase,
    config: TrainConfig,
    checkpoint_root: str | os.PathLike[str] | None = None,
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

    Returns:
        The trained model bundle and the training metrics.
    """
    checkpoint_dir = None
    if checkpoint_root is not None and config.checkpoint_every > 0:
        key = training_fingerprint(samples, split, base, config)
        remove_stale_runs(checkpoint_root, keep=key)
        checkpoint_dir = Path(checkpoint_root) / key
    if config.nproc > 1:
        from prism.training.distributed import launch

        return launch(samples, split, base, config, checkpoint_dir)
    return fit(samples, split, base, config, checkpoint_dir)


#: Settings that change how a run is watched, not what it learns: a resumed run may differ.
_UNLEARNT = ("name", "data", "report_to", "logging_steps", "checkpoint_every")


def training_fingerprint(
    samples: Sequence[dict[str, Any]], split: Split, base: StudentBase, config: TrainConfig
) -> str:
    """A hash of what decides a training run's result: its samples (content, in split order),
    its base and every setting but the reporting ones."""
    by_id = {s["id"]: s["conversations"] for s in samples}
    settings = {k: v for k, v in config.to_dict().items() if k not in _UNLEARNT}
    return fingerprint(
        {
            "train": [[i, by_id.get(i)] for i in split["train"]],
            "val": [[i, by_id.get(i)] for i in split["val"]],
            "base": base.name_or_path,
            "builtin_spec": base.builtin_spec,
            "config": settings,
        }
    )


def _checkpoint_step(path: str | None) -> int | None:
    return int(path.rsplit("-", 1)[1]) if path else None


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
