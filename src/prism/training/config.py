"""The student's training configuration: the seed's ``TrainConfig`` and its validation.

The fields and their meaning follow the seed's README (``name``, ``data``, ``r``, ``base_model``,
``epochs`` ...); the rest have defaults that train the built-in student on a laptop CPU. The same
fields live under ``training:`` in ``conf/base/parameters_training.yml``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from prism.training.base_models import BuiltinModelSpec
from prism.training.errors import TrainConfigError
from prism.values import is_finite_number, is_int

#: Every linear projection of a Llama/Qwen/Mistral block. Adapting all of them (not just q/v)
#: is what QLoRA found necessary to match full fine-tuning.
LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
REPORTERS = ("wandb", "none", "tensorboard")
FineTune = Literal["auto", "lora", "full"]


@dataclass
class TrainConfig:
    """How to fine-tune the student.

    Attributes:
        name: run name; names the wandb run and, through the Python API, the output folder.
        data: path to a conversations JSON file (Python API only; the Kedro pipeline reads the
            ``training_data`` catalog entry instead).
        r: LoRA rank.
        base_model: ``planner-base`` (the shipped offline base, default), ``builtin`` (a random-init
            tiny model), an alias such as ``llama-3.2-3b``, a hub id or a local path
            (see :mod:`prism.training.base_models`).
        epochs: passes over the training split.
        val_frac: fraction of samples held out for validation, in [0, 1); split by sample id.
        lora_alpha: LoRA scaling numerator (the update is scaled by ``lora_alpha / r``).
        lora_dropout: dropout on the LoRA input.
        target_modules: module names LoRA adapts; the default is every Llama projection.
        per_device_train_batch_size: samples per step per process.
        gradient_accumulation_steps: steps accumulated before an optimizer update.
        learning_rate: peak learning rate (linear warm-up, then linear decay); ``None`` picks
            one for the fine-tuning mode: 2e-4 for LoRA on a pretrained base, 2e-5 for full
            fine-tuning of one, 1e-3 for the randomly initialised built-in base.
        warmup_steps: optimizer steps of linear warm-up.
        weight_decay: AdamW weight decay.
        bit4: load the base in 4-bit (QLoRA); needs a CUDA GPU and bitsandbytes.
        report_to: ``wandb`` (offline unless ``WANDB_MODE`` says otherwise), ``tensorboard`` or
            ``none``.
        debug: train on at most 16 samples for a few steps, to check a setup quickly.
        finetune: ``lora`` (adapters on a frozen base), ``full`` (every weight trains) or
            ``auto``: full for the randomly initialised built-in base, LoRA for pretrained ones
            (see docs/training.md for the measurement behind this).
        max_seq_len: context length used for training; longer rollouts are truncated (their
            beginning kept) and skipped if no assistant token survives. Capped at the base
            model's own context length.
        max_steps: stop after this many optimizer steps (-1: run all epochs).
        seed: seed of the train/val split, the data order and the LoRA initialisation.
        nproc: data-parallel processes (``torchrun``: NCCL on GPUs, gloo on CPU); 1 trains in
            the calling process.
        logging_steps: log loss every this many optimizer steps.
        checkpoint_every: write a resumable checkpoint every this many optimizer steps (0: none).
            A training run killed and started again with the same samples and settings goes on
            from its last checkpoint; the checkpoints are deleted once the model is trained.
        group_by_length: batch samples of similar length together to cut padding.
        builtin_model: size of the built-in base (``base_model: builtin`` only).
    """

    name: str = "student"
    data: str | None = None
    r: int = 16
    base_model: str = "planner-base"
    epochs: float = 3
    val_frac: float = 0.1
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(LLAMA_PROJECTIONS))
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    learning_rate: float | None = None
    warmup_steps: int = 10
    weight_decay: float = 0.0
    bit4: bool = False
    report_to: str = "wandb"
    debug: bool = False
    finetune: FineTune = "auto"
    max_seq_len: int = 2048
    max_steps: int = -1
    seed: int = 42
    nproc: int = 1
    logging_steps: int = 1
    checkpoint_every: int = 50
    group_by_length: bool = True
    builtin_model: BuiltinModelSpec = field(default_factory=BuiltinModelSpec)

    def __post_init__(self) -> None:
        if isinstance(self.builtin_model, dict):
            self.builtin_model = BuiltinModelSpec(**self.builtin_model)
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]
        self.target_modules = list(self.target_modules)
        _check(bool(str(self.name).strip()), "name", self.name, "a non-empty run name")
        _check(
            isinstance(self.base_model, str) and bool(self.base_model.strip()),
            "base_model",
            self.base_model,
            "'builtin', an alias, a hub id or a local path",
        )
        for name in (
            "r",
            "lora_alpha",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "max_seq_len",
            "nproc",
            "logging_steps",
        ):
            value = getattr(self, name)
            _check(is_int(value) and value > 0, name, value, "a positive integer")
        for name in ("bit4", "debug", "group_by_length"):
            value = getattr(self, name)
            _check(isinstance(value, bool), name, value, "true or false")
        _check(
            is_finite_number(self.epochs) and self.epochs > 0, "epochs", self.epochs, "a number > 0"
        )
        _check(
            is_finite_number(self.val_frac) and 0 <= self.val_frac < 1,
            "val_frac",
            self.val_frac,
            "a fraction in [0, 1)",
        )
        _check(
            is_finite_number(self.lora_dropout) and 0 <= self.lora_dropout < 1,
            "lora_dropout",
            self.lora_dropout,
            "a probability in [0, 1)",
        )
        _check(
            self.learning_rate is None
            or (is_finite_number(self.learning_rate) and self.learning_rate > 0),
            "learning_rate",
            self.learning_rate,
            "a number > 0, or null for the mode's default",
        )
        for name in ("warmup_steps", "checkpoint_every"):
            value = getattr(self, name)
            _check(is_int(value) and value >= 0, name, value, "an integer >= 0")
        _check(
            is_finite_number(self.weight_decay) and self.weight_decay >= 0,
            "weight_decay",
            self.weight_decay,
            "a number >= 0",
        )
        _check(
            is_int(self.max_steps) and (self.max_steps == -1 or self.max_steps > 0),
            "max_steps",
            self.max_steps,
            "-1 (all epochs) or a positive integer",
        )
        _check(
            bool(self.target_modules)
            and all(isinstance(m, str) and m for m in self.target_modules),
            "target_modules",
            self.target_modules,
            "a non-empty list of module names",
        )
        _check(self.report_to in REPORTERS, "report_to", self.report_to, f"one of {REPORTERS}")
        _check(
            self.finetune in ("auto", "lora", "full"),
            "finetune",
            self.finetune,
            "'auto', 'lora' or 'full'",
        )
        _check(is_int(self.seed), "seed", self.seed, "an integer")

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> TrainConfig:
        """Build a config from a parameters mapping (e.g. Kedro's ``params:training``).

        Raises:
            TrainConfigError: naming any key that is not a field, so a typo does not pass
                silently, or any invalid value.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise TrainConfigError(
                f"training parameters: unknown key(s) {unknown}; valid keys are {sorted(known)}"
            )
        return cls(**params)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON/YAML-serialisable), inverse of :meth:`from_dict`."""
        return asdict(self)


def _check(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise TrainConfigError(f"TrainConfig.{name} must be {expected}, got {value!r}")
