"""Pretrain the offline planner base: configuration, tokenization and the training run.

The run is a ``transformers.Trainer`` run, so checkpoints, resume, progress bars and wandb come
from there: a checkpoint is written every ``checkpoint_every`` steps into the checkpoint
directory of this configuration, and a run started again with the same configuration resumes
from the last one (optimizer, schedule, data order and random state included). Every
``probe_every`` steps the held-out probe is scored and logged (``probe/lookup`` ...).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from transformers import (
    PreTrainedTokenizerBase,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainerState,
    TrainingArguments,
)

from prism.config import fingerprint
from prism.pretraining.corpus import CorpusSpec, ProbeItem, corpus, probe_items
from prism.pretraining.model import ModelSpec, init_model, probe, train_tokenizer
from prism.student.bundle import ModelBundle
from prism.student.prompt_format import CompactFormat
from prism.training.arguments import configure_reporting
from prism.training.callbacks import ProgressBarCallback
from prism.training.checkpoints import last_complete_checkpoint
from prism.training.collate import ConversationDataset, PaddingCollator
from prism.training.masking import IGNORE_INDEX, EncodedConversation
from prism.training.trainer import ResumableTrainer

logger = logging.getLogger(__name__)

#: Documents the tokenizer is trained on (the vocabulary settles long before that).
TOKENIZER_DOCS = 3000


class PretrainConfigError(ValueError):
    """A pretraining parameter is wrong; the message names it."""


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines the pretrained base (``conf/base/parameters_pretraining.yml``).

    Attributes:
        corpus: what the corpus holds (:class:`~prism.pretraining.corpus.CorpusSpec`).
        model: the architecture (:class:`~prism.pretraining.model.ModelSpec`).
        steps: optimizer steps.
        batch_size: documents per step on the CPU.
        cuda_batch_size: documents per step when a CUDA GPU trains (in bf16 where it has it):
            a GPU is idle at the CPU's batch. The batch in use is part of the fingerprint.
        learning_rate: peak learning rate (linear warm-up, cosine decay to 10 %).
        warmup_steps: warm-up steps.
        weight_decay: AdamW weight decay.
        loss_on: ``all`` tokens (language modelling of the graphs too) or ``assistant`` turns.
        max_len: documents are cut to this many tokens.
        probe_items: held-out probe questions per kind.
        probe_every: score the probe every this many steps (0: only at the end).
        checkpoint_every: write a resumable checkpoint every this many steps.
        seed: initialisation, data order and corpus seed.
        report_to: ``wandb`` (offline unless ``WANDB_MODE`` says otherwise), ``tensorboard`` or
            ``none``.
    """

    corpus: CorpusSpec = field(default_factory=CorpusSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    steps: int = 3000
    batch_size: int = 16
    cuda_batch_size: int = 64
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    loss_on: str = "all"
    max_len: int = 1024
    probe_items: int = 30
    probe_every: int = 500
    checkpoint_every: int = 250
    seed: int = 0
    report_to: str = "wandb"

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "batch_size",
            "cuda_batch_size",
            "max_len",
            "probe_items",
            "checkpoint_every",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise PretrainConfigError(
                    f"pretraining.{name} must be a positive integer, got {value!r}"
                )
        if self.probe_every < 0 or self.warmup_steps < 0:
            raise PretrainConfigError("pretraining.probe_every and warmup_steps must be >= 0")
        if not (isinstance(self.learning_rate, float | int) and self.learning_rate > 0):
            raise PretrainConfigError(
                f"pretraining.learning_rate must be a positive number, got {self.learning_rate!r}"
            )
        if self.loss_on not in ("all", "assistant"):
            raise PretrainConfigError(
                f"pretraining.loss_on must be 'all' or 'assistant', got {self.loss_on!r}"
            )
        if self.report_to not in ("wandb", "tensorboard", "none"):
            raise PretrainConfigError(
                f"pretraining.report_to must be wandb, tensorboard or none, got {self.report_to!r}"
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PretrainConfig:
        """Build from the ``pretraining`` parameters, naming any unknown or malformed key."""
        params = dict(params)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise PretrainConfigError(
                f"pretraining: unknown parameter(s) {unknown}; known: {sorted(known)}"
            )
        try:
            corpus_params = dict(params.pop("corpus", {}) or {})
            if "graph_unknown" in corpus_params:
                corpus_params["graph_unknown"] = tuple(corpus_params["graph_unknown"])
            if "drill_kinds" in corpus_params:
                corpus_params["drill_kinds"] = tuple(corpus_params["drill_kinds"])
            spec = CorpusSpec(**corpus_params)
            model = ModelSpec(**dict(params.pop("model", {}) or {}))
        except TypeError as error:
            raise PretrainConfigError(f"pretraining.corpus / pretraining.model: {error}") from None
        except ValueError as error:
            raise PretrainConfigError(f"pretraining: {error}") from None
        return cls(corpus=spec, model=model, **params)

    def step_batch(self, cuda: bool) -> int:
        """Documents per optimizer step on this device (``cuda``: a CUDA GPU trains)."""
        return self.cuda_batch_size if cuda else self.batch_size

    def fingerprint(self, cuda: bool = False) -> str:
        """Hash of everything that changes the result (not reporting or probing).

        The batch is the one the device uses, so a CPU and a GPU run of one configuration keep
        their checkpoints apart (and a CPU run's fingerprint is what it was before GPUs had
        their own batch).
        """
        data = asdict(self)
        for key in ("report_to", "probe_every", "probe_items", "checkpoint_every"):
            data.pop(key)
        data["batch_size"] = self.step_batch(cuda)
        data.pop("cuda_batch_size")
        return fingerprint(data, length=12)


# ---------------------------------------------------------------------- tokenization
def encode_document(
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[Mapping[str, str]],
    max_len: int,
    loss_on: str,
) -> EncodedConversation:
    """Tokenize one document in the built-in chat template, turn by turn.

    Same tokens as rendering the template and tokenizing the text (the role markers and
    ``<|end|>`` are special tokens, so pre-tokenization splits there anyway), without rendering
    the conversation once per turn as the general-purpose encoder must.
    """
    input_ids: list[int] = []
    labels: list[int] = []
    bodies = tokenizer([m["content"] for m in messages], add_special_tokens=False)["input_ids"]
    for message, body in zip(messages, bodies, strict=True):
        marker = tokenizer.convert_tokens_to_ids(f"<|{message['role']}|>")
        turn = [*body, tokenizer.eos_token_id]
        supervised = loss_on == "all" or message["role"] == "assistant"
        input_ids += [marker, *turn]
        labels += [IGNORE_INDEX, *(turn if supervised else [IGNORE_INDEX] * len(turn))]
    truncated = len(input_ids) > max_len
    return EncodedConversation(input_ids[:max_len], labels[:max_len], truncated)


# ---------------------------------------------------------------------- the run
class _ProbeCallback(TrainerCallback):
    """Score the probe every ``every`` steps; results go to the trainer's log (and wandb)."""

    def __init__(self, items: Sequence[ProbeItem], every: int) -> None:
        self.items = items
        self.every = every
        self.trainer: Trainer | None = None
        self.history: list[dict[str, float]] = []

    def on_step_end(self, args, state, control, **kwargs):
        if self.every and state.global_step % self.every == 0 and self.trainer is not None:
            self.run(state.global_step)

    def run(self, step: int) -> dict[str, float]:
        assert self.trainer is not None
        scores = probe(self.trainer.model, self.trainer.processing_class, self.items)
        self.history.append({"step": step, **scores})
        logger.info("step %d probe: %s", step, _fmt(scores))
        self.trainer.log(dict(scores))
        return scores


def _fmt(scores: Mapping[str, float]) -> str:
    return ", ".join(f"{k.split('/')[-1]} {v:.0%}" for k, v in scores.items())


def _tokens_seen(checkpoint: str | None) -> int:
    """Tokens trained on before ``checkpoint`` (0 without one, or from before tokens were counted)."""
    if checkpoint is None:
        return 0
    return TrainerState.load_from_json(
        str(Path(checkpoint) / "trainer_state.json")
    ).num_input_tokens_seen


def pretrain(
    config: PretrainConfig, checkpoint_root: str | Path
) -> tuple[ModelBundle, dict[str, Any]]:
    """Build the tokenizer, pretrain the base and score it on the probe.

    Args:
        config: the pretraining configuration.
        checkpoint_root: checkpoints go to ``checkpoint_root/<config fingerprint>``; a run with
            the same configuration resumes from the latest one there.

    Returns:
        The base (model + tokenizer, saved by the caller with ``prompt_format: compact``) and
        its metrics: final probe scores, the probe and loss history, sizes and times.
    """
    started = time.perf_counter()
    documents = list(corpus(config.corpus))
    tokenizer = train_tokenizer(
        (m["content"] for doc in documents[:TOKENIZER_DOCS] for m in doc),
        config.model.vocab_size,
        config.model.max_position_embeddings,
    )
    encoded = [encode_document(tokenizer, doc, config.max_len, config.loss_on) for doc in documents]
    items = probe_items(config.corpus, config.probe_items)
    model = init_model(config.model, tokenizer, config.seed)
    n_params = sum(p.numel() for p in model.parameters())
    n_tokens = sum(len(e.input_ids) for e in encoded)
    logger.info(
        "Pretraining a %.2fM-parameter base on %d documents (%.1fM tokens), %d steps",
        n_params / 1e6,
        len(encoded),
        n_tokens / 1e6,
        config.steps,
    )
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    batch = config.step_batch(cuda)
    logger.info(
        "Pretraining on %s: %d documents per step%s",
        torch.cuda.get_device_name() if cuda else "the CPU",
        batch,
        ", bf16" if bf16 else "",
    )
    output_dir = Path(checkpoint_root) / config.fingerprint(cuda)
    output_dir.mkdir(parents=True, exist_ok=True)
    args = TrainingArguments(
        output_dir=str(output_dir),
        run_name="planner-base",
        max_steps=config.steps,
        per_device_train_batch_size=batch,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": 0.1},
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        adam_beta2=0.98,
        max_grad_norm=1.0,
        logging_steps=max(1, min(50, config.steps // 20)),
        save_strategy="steps",
        save_steps=config.checkpoint_every,
        save_total_limit=1,
        report_to=configure_reporting(config.report_to),
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        use_cpu=not cuda,
        bf16=bf16,
        dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",  # for tokens/s
    )
    callback = _ProbeCallback(items, config.probe_every)
    trainer = ResumableTrainer(
        model=model,
        args=args,
        data_collator=PaddingCollator(tokenizer.pad_token_id),
        train_dataset=ConversationDataset(encoded),
        processing_class=tokenizer,
        callbacks=[callback],
    )
    callback.trainer = trainer
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(ProgressBarCallback("pretraining"))
    last = last_complete_checkpoint(output_dir)
    if last:
        logger.info("Resuming pretraining from %s", last)
    train_started = time.perf_counter()
    tokens_before = _tokens_seen(last)
    trainer.train(resume_from_checkpoint=last)
    train_seconds = time.perf_counter() - train_started
    tokens_trained = trainer.state.num_input_tokens_seen - tokens_before
    tokens_per_second = tokens_trained / max(train_seconds, 1e-9)
    logger.info(
        "Pretrained on %.1fM tokens in %.0f s: %.0f tokens/s on %s",
        tokens_trained / 1e6,
        train_seconds,
        tokens_per_second,
        "the GPU" if cuda else "the CPU",
    )
    final = (
        callback.history[-1]
        if callback.history and callback.history[-1]["step"] == config.steps
        else None
    )
    scores = {k: v for k, v in (final or callback.run(config.steps)).items() if k != "step"}
    # The trainer's log is saved in every checkpoint, so after a resume it still holds the
    # losses and probe scores of the steps before it.
    history = trainer.state.log_history
    losses = [{"step": e["step"], "loss": e["loss"]} for e in history if "loss" in e]
    probes = [
        {"step": e["step"], **{k: v for k, v in e.items() if k.startswith("probe/")}}
        for e in history
        if "probe/all" in e
    ]
    metrics = {
        **scores,
        "parameters": n_params,
        "vocab_size": len(tokenizer),
        "documents": len(encoded),
        "tokens": n_tokens,
        "epochs": trainer.state.epoch,
        "steps": config.steps,
        "resumed_from": last,
        "train_seconds": round(train_seconds, 1),
        "tokens_per_second": round(tokens_per_second),
        "device": "cuda" if cuda else "cpu",
        "step_batch": batch,
        "total_seconds": round(time.perf_counter() - started, 1),
        "final_loss": losses[-1]["loss"] if losses else math.nan,
        "probe_history": probes,
        "loss_history": losses,
        "fingerprint": config.fingerprint(cuda),
        "config": asdict(config),
    }
    model = trainer.model
    model.eval()
    model.config.use_cache = True  # generation wants its KV cache; training had it off
    metadata = {"name": "planner-base", "prompt_format": CompactFormat.name, "pretrained": True}
    return ModelBundle(model=model, tokenizer=tokenizer, metadata=metadata), metrics
