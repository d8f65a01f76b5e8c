"""The offline planner base: its tokenizer, its architecture, and the probe that scores it.

The tokenizer splits node names the same way wherever they appear: a space is a token of its own
and ``lookout_tower_1`` is ``lookout`` ``_tower`` ``_1`` both in ``region x: lookout_tower_1`` and
in ``goto(lookout_tower_1)``. A byte-level BPE that glues the leading space to a word (GPT-2
style) gives a name two unrelated spellings, one in the graph and one in the plan; copying it
then has to be learnt name by name, which a tiny model never does (``DESIGN.md`` §4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from prism.pretraining.corpus import ProbeItem
from prism.student.generation import generate_replies
from prism.training.chat_template import BUILTIN_CHAT_TEMPLATE, END_OF_TURN, PAD, SPECIAL_TOKENS

#: Words, ``_word`` and ``_12`` name parts, single spaces, newlines and single punctuation marks.
PIECES = r"_?[A-Za-z]+|_?[0-9]+| |\n|[^\sA-Za-z0-9_]|\s+"


@dataclass(frozen=True)
class ModelSpec:
    """Size of the planner base (a Llama with tied embeddings and no grouped-query attention)."""

    vocab_size: int = 1024
    hidden_size: int = 192
    intermediate_size: int = 512
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    max_position_embeddings: int = 2048

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"model.{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"model.hidden_size ({self.hidden_size}) must be divisible by "
                f"model.num_attention_heads ({self.num_attention_heads})"
            )
        if self.vocab_size <= len(SPECIAL_TOKENS) + 256:
            raise ValueError(f"model.vocab_size must exceed {len(SPECIAL_TOKENS) + 256}")


def train_tokenizer(texts: Iterable[str], vocab_size: int, context: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE over :data:`PIECES` with the built-in chat template and special tokens."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PIECES), behavior="isolated"),
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


def init_model(spec: ModelSpec, tokenizer: PreTrainedTokenizerFast, seed: int) -> LlamaForCausalLM:
    """A randomly initialised base of ``spec`` for ``tokenizer`` (deterministic in ``seed``)."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
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


def probe(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, items: Sequence[ProbeItem]
) -> dict[str, float]:
    """Exact-match accuracy per probe kind (``probe/lookup`` ...) and overall (``probe/all``)."""
    replies = generate_replies(model, tokenizer, [item.messages for item in items])
    scores: dict[str, list[bool]] = {}
    for item, reply in zip(items, replies, strict=True):
        scores.setdefault(item.kind, []).append(reply in item.accepted)
    result = {f"probe/{kind}": sum(v) / len(v) for kind, v in scores.items()}
    everything = [ok for v in scores.values() for ok in v]
    result["probe/all"] = sum(everything) / len(everything) if everything else 0.0
    return result
