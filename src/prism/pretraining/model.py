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

from transformers import LlamaForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from prism.pretraining.corpus import ProbeItem
from prism.student.generation import generate_replies
from prism.training.base_models import init_llama, train_bpe_tokenizer
from prism.training.chat_template import SPECIAL_TOKENS

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
    """The planner base's byte-level BPE over :data:`PIECES`, with the built-in chat template."""
    return train_bpe_tokenizer(texts, vocab_size, context, PIECES)


def init_model(spec: ModelSpec, tokenizer: PreTrainedTokenizerFast, seed: int) -> LlamaForCausalLM:
    """A randomly initialised base of ``spec`` for ``tokenizer`` (deterministic in ``seed``)."""
    fields = {k: v for k, v in vars(spec).items() if k != "vocab_size"}
    return init_llama(tokenizer, **fields, seed=seed)


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
