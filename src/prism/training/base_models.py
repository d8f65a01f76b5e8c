"""Where the student starts from: a hub model, a local checkpoint, or the built-in tiny Llama.

``base_model`` in the training parameters is one of

* ``planner-base`` (the default) – the small planner base shipped in ``data/01_raw/planner_base``,
  pretrained offline on procedural worlds (:mod:`prism.pretraining`); it speaks the compact
  prompt format (:mod:`prism.student.prompt_format`).
* ``builtin`` – a tiny Llama-architecture model initialised locally from a ``LlamaConfig``, with
  a byte-level BPE tokenizer trained on the training conversations (so node names such as
  ``pickup_truck_1`` are one or a few tokens). Nothing is downloaded; it is built once, saved as
  the ``student_base`` catalog dataset and reused by later runs while its spec is unchanged.
* an alias from :data:`BASE_MODEL_ALIASES` (``llama-3.2-3b`` -> ``meta-llama/Llama-3.2-3B-Instruct``),
* a hub id (``org/name``) – must already be in the local Hugging Face cache when offline,
* a local directory holding ``config.json`` (a ``save_pretrained`` output).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from prism.training.chat_template import (
    BUILTIN_CHAT_TEMPLATE,
    END_OF_TURN,
    PAD,
    SPECIAL_TOKENS,
)
from prism.training.errors import HardwareError, TrainConfigError

logger = logging.getLogger(__name__)

BUILTIN = "builtin"

#: The offline default: the small planner base shipped in ``data/01_raw/planner_base``
#: (pretrained on procedural worlds by ``kedro run --pipelines pretrain``; see its README.md).
PLANNER_BASE = "planner-base"
PLANNER_BASE_DIR = Path("data") / "01_raw" / "planner_base"

#: Short names users type, mapped to the instruction-tuned hub checkpoints they mean.
BASE_MODEL_ALIASES: dict[str, str] = {
    "llama-3.2-1b": "meta-llama/Llama-3.2-1B-Instruct",
    "llama-3.2-3b": "meta-llama/Llama-3.2-3B-Instruct",
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B-Instruct",
    "qwen2.5-1.5b": "Qwen/Qwen2.5-1.5B-Instruct",
    "smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "smollm2-360m": "HuggingFaceTB/SmolLM2-360M-Instruct",
}

#: Pre-tokenization for the built-in tokenizer: identifiers with underscores and digits
#: (``pickup_truck_1``, ``field_12``) stay one piece so BPE can learn them as whole tokens;
#: numbers, punctuation runs and whitespace are pieces of their own. Byte-level encoding after
#: this split makes every string encodable (no unknown token).
_PIECES = r" ?[A-Za-z_][A-Za-z0-9_]*| ?[0-9]+| ?[^\sA-Za-z0-9_]+|\s+(?!\S)|\s+"


class BaseModelError(ValueError):
    """``base_model`` names nothing that can be loaded here; the message says what to pass."""


@dataclass(frozen=True)
class BuiltinModelSpec:
    """Size of the built-in student. Changing any field rebuilds the built-in base.

    Attributes:
        vocab_size: BPE vocabulary size, special tokens included.
        hidden_size: width of the residual stream.
        intermediate_size: width of the SwiGLU MLP.
        num_hidden_layers: transformer blocks.
        num_attention_heads: attention heads (key/value heads too: no grouped-query attention).
        max_position_embeddings: context length in tokens.
        seed: initialisation seed of the weights.
    """

    vocab_size: int = 2048
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    max_position_embeddings: int = 2048
    seed: int = 0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name != "seed" and (not isinstance(value, int) or value <= 0):
                raise TrainConfigError(
                    f"builtin_model.{name} must be a positive integer, got {value!r}"
                )
        if self.vocab_size <= len(SPECIAL_TOKENS) + 256:
            raise TrainConfigError(
                f"builtin_model.vocab_size must exceed {len(SPECIAL_TOKENS) + 256} (special tokens "
                f"plus the 256 byte symbols), got {self.vocab_size}"
            )
        if self.hidden_size % self.num_attention_heads:
            raise TrainConfigError(
                f"builtin_model.hidden_size ({self.hidden_size}) must be divisible by "
                f"builtin_model.num_attention_heads ({self.num_attention_heads})"
            )


@dataclass
class StudentBase:
    """The model a student is fine-tuned from: a reference, plus weights when built in memory.

    Attributes:
        name_or_path: hub id or directory to load the base from. For a built-in base that has
            not been saved yet it is ``"builtin"``; the catalog dataset replaces it with the
            directory it saved the base to.
        builtin_spec: the spec a built-in base was built with; ``None`` for pretrained bases.
        model: in-memory weights of a freshly built base (``None`` when loaded lazily).
        tokenizer: in-memory tokenizer of a freshly built base.
    """

    name_or_path: str
    builtin_spec: dict[str, Any] | None = None
    model: PreTrainedModel | None = field(default=None, repr=False)
    tokenizer: PreTrainedTokenizerBase | None = field(default=None, repr=False)

    @property
    def is_builtin(self) -> bool:
        """Whether this base was built locally (randomly initialised) rather than pretrained."""
        return self.builtin_spec is not None


def resolve_base_model(base_model: str) -> str:
    """Turn ``base_model`` into ``"builtin"``, a local directory, or a hub id.

    Raises:
        BaseModelError: for a name that is no alias, no existing directory and no ``org/name``.
    """
    name = base_model.strip()
    if name.lower() == BUILTIN:
        return BUILTIN
    if name.lower() == PLANNER_BASE:
        return str(shipped_planner_base())
    if name.lower() in BASE_MODEL_ALIASES:
        return BASE_MODEL_ALIASES[name.lower()]
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BaseModelError(
                f"base_model {base_model!r}: directory has no config.json; pass a directory "
                "written by save_pretrained, a hub id, or base_model: builtin."
            )
        return str(path.resolve())
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        return name
    raise BaseModelError(
        f"base_model {base_model!r} is unknown: use 'planner-base' (the shipped offline base), "
        f"'builtin' (a random-init tiny model), one of "
        f"{sorted(BASE_MODEL_ALIASES)}, a hub id like 'org/name', or an existing local directory."
    )


def shipped_planner_base() -> Path:
    """The shipped planner base: ``data/01_raw/planner_base`` of the project being run (the
    working directory), else of the source checkout this package is installed from.

    Raises:
        BaseModelError: when neither has it.
    """
    checkout = Path(__file__).resolve().parents[3]
    for root in (Path.cwd(), checkout):
        if (root / PLANNER_BASE_DIR / "config.json").is_file():
            return (root / PLANNER_BASE_DIR).resolve()
    raise BaseModelError(
        f"base_model {PLANNER_BASE!r}: no {PLANNER_BASE_DIR} in {Path.cwd()} or {checkout}; run "
        "from the project root, rebuild it with `kedro run --pipelines pretrain` (then point "
        "base_model at data/06_models/planner_base), or use base_model: builtin."
    )


def pretrained_base(base_model: str) -> StudentBase:
    """Reference a pretrained base, checking now (not mid-pipeline) that it can be loaded.

    Raises:
        BaseModelError: when the checkpoint is neither local nor in the Hugging Face cache and
            the hub cannot be reached.
    """
    name_or_path = resolve_base_model(base_model)
    if name_or_path == BUILTIN:
        raise ValueError("pretrained_base() takes a pretrained model; use build_builtin_base()")
    try:
        AutoConfig.from_pretrained(name_or_path)
    except OSError as error:
        raise BaseModelError(
            f"base_model {base_model!r} ({name_or_path}) cannot be loaded: it is not in the local "
            "Hugging Face cache and the hub is unreachable or the id is wrong. Download it once "
            "with network, or pass a local path (a save_pretrained directory) or base_model: "
            f"builtin. Cause: {error}"
        ) from error
    return StudentBase(name_or_path=name_or_path)


def train_builtin_tokenizer(
    texts: Iterable[str], spec: BuiltinModelSpec
) -> PreTrainedTokenizerFast:
    """Train the built-in byte-level BPE tokenizer on the training texts.

    Args:
        texts: every message text of the training conversations.
        spec: the built-in model's spec (``vocab_size``, ``max_position_embeddings``).

    Returns:
        A fast tokenizer with the built-in chat template and special tokens.
    """
    return train_bpe_tokenizer(texts, spec.vocab_size, spec.max_position_embeddings, _PIECES)


def train_bpe_tokenizer(
    texts: Iterable[str], vocab_size: int, context: int, pieces: str
) -> PreTrainedTokenizerFast:
    """A byte-level BPE over the pre-tokenization regex ``pieces``, with the built-in chat
    template and special tokens (shared by the built-in base and the planner base)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pieces), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        eos_token=END_OF_TURN,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in (PAD, END_OF_TURN)],
        chat_template=BUILTIN_CHAT_TEMPLATE,
        model_max_length=context,
        clean_up_tokenization_spaces=False,
    )


def init_llama(
    tokenizer: PreTrainedTokenizerBase,
    *,
    hidden_size: int,
    intermediate_size: int,
    num_hidden_layers: int,
    num_attention_heads: int,
    max_position_embeddings: int,
    seed: int,
) -> LlamaForCausalLM:
    """A randomly initialised small Llama for ``tokenizer`` (deterministic in ``seed``).

    Input and output embeddings share weights: at this size they would otherwise be most of the
    parameters. No grouped-query attention.
    """
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_attention_heads,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def build_builtin_base(texts: Iterable[str], spec: BuiltinModelSpec) -> StudentBase:
    """Build the built-in student base: train its tokenizer, initialise a tiny Llama.

    Args:
        texts: the training texts the tokenizer learns its vocabulary from.
        spec: model size and initialisation seed.

    Returns:
        A base holding the model and tokenizer in memory (``name_or_path == "builtin"``).
    """
    tokenizer = train_builtin_tokenizer(texts, spec)
    model = init_llama(
        tokenizer,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        seed=spec.seed,
    )
    n_params = sum(p.numel() for p in model.parameters())
    logger.info(
        "Built the built-in student base: %.2fM parameters, vocabulary %d",
        n_params / 1e6,
        len(tokenizer),
    )
    return StudentBase(
        name_or_path=BUILTIN, builtin_spec=asdict(spec), model=model, tokenizer=tokenizer
    )


def load_base_tokenizer(base: StudentBase) -> PreTrainedTokenizerBase:
    """The base's tokenizer, from memory or from ``name_or_path``; padding set for batching."""
    tokenizer = base.tokenizer or AutoTokenizer.from_pretrained(base.name_or_path)
    if tokenizer.pad_token is None:
        # Llama 3 ships no pad token; padding positions are masked out of attention and loss,
        # so reusing end-of-sequence is safe.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(base: StudentBase, *, bit4: bool = False) -> PreTrainedModel:
    """The base's weights, from memory or from ``name_or_path``.

    Args:
        base: the student base.
        bit4: load 4-bit quantized weights (QLoRA); needs a CUDA GPU and bitsandbytes.

    Raises:
        HardwareError: ``bit4`` without CUDA or without bitsandbytes.
    """
    if bit4:
        quantization = _four_bit_config()
        if base.model is not None:
            raise TrainConfigError("bit4: the built-in base is tiny and in memory; set bit4: false")
        return AutoModelForCausalLM.from_pretrained(
            base.name_or_path, quantization_config=quantization, dtype=torch.bfloat16
        )
    if base.model is not None:
        return base.model
    dtype = "auto" if torch.cuda.is_available() else torch.float32
    return AutoModelForCausalLM.from_pretrained(base.name_or_path, dtype=dtype)


def _four_bit_config() -> Any:
    if not torch.cuda.is_available():
        raise HardwareError(
            "bit4: 4-bit (QLoRA) training needs a CUDA GPU and none is available; set bit4: false "
            "to train in full precision on this machine."
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as error:
        raise HardwareError(
            "bit4: 4-bit training needs the bitsandbytes package; `pip install bitsandbytes` or "
            "set bit4: false."
        ) from error
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
