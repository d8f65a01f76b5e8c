"""Training samples: read every conversation format found in the wild, write one canonical form.

A canonical sample (see ``docs/CONTRACTS.md``)::

    {"id": "3f9a0c1d2e4b5a69",
     "conversations": [{"role": "user", "value": "task: ...\\nScene graph:{...}"},
                       {"role": "assistant", "value": "{\\"primary_goal\\": ...}"}],
     "source": "oracle"}                      # any other keys are kept as they are

What :func:`load_samples` reads:

* the records: a JSON list of samples, or an object holding exactly one list
  (``{"data": [...]}``, ``{"train": [...]}``, ...);
* the turns of a sample under ``conversations`` or ``messages``;
* a turn's role under ``role`` or ``from``; its text under ``value`` or ``content``;
* the roles ``system``, ``user``, ``assistant``, ShareGPT's ``human`` (user) and ``gpt``
  (assistant), and ``model`` (assistant; Gemini/Gemma chat data). Role names are matched without
  regard to case or surrounding spaces. Anything else (``bot``, ``tool``, ``function``, ...) is
  rejected rather than guessed.
* an assistant turn's ``weight`` (OpenAI's fine-tuning convention): 0 = context the loss ignores
  (a DAgger sample's own student turns), 1 = trained on (the default); 0.0 and 1.0 too. Any other
  value (``true``, ``"0"``, ``0.5``), a weight on another role, or a sample whose assistant turns
  all have weight 0 is rejected.

What it writes: turns ``{"role", "value"}`` with only the three canonical roles and, on an
untrained assistant turn, ``"weight": 0`` (1 is not written: samples without weights keep their
bytes and ids); other turn keys are dropped (they are not part of the contract and would not
survive the tokenizer anyway). Turn text is kept as found (not stripped), and ``id`` =
:func:`sample_id` of the turns, always recomputed. A different ``id`` found on the input is kept
under ``source_id`` (unless the sample already has a ``source_id``, which then wins: it is the
older origin, and the superseded id, e.g. a stale hash of an edited sample, is dropped).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from prism.formats.errors import DataFormatError
from prism.formats.json_io import json_type, read_json, write_json_atomic

CANONICAL_ROLES: tuple[str, ...] = ("system", "user", "assistant")

#: Accepted role names (lower case) and the canonical role each one means.
ROLE_ALIASES: Mapping[str, str] = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "human": "user",
    "gpt": "assistant",
    "model": "assistant",
}

TURNS_KEYS: tuple[str, ...] = ("conversations", "messages")
ROLE_KEYS: tuple[str, ...] = ("role", "from")
TEXT_KEYS: tuple[str, ...] = ("value", "content")

#: An assistant turn's training weight: 0 = context only, 1 = trained on (the default).
WEIGHT_KEY = "weight"

_Sample = TypeVar("_Sample", bound=Mapping[str, Any])


# ---------------------------------------------------------------------------------- public API
def load_samples(records: Any, source: str = "<data>") -> list[dict[str, Any]]:
    """Validate training records and return them as canonical samples.

    Args:
        records: parsed JSON: a list of samples, or an object holding exactly one list of them.
        source: the file the records came from (or a label), used in error messages.

    Returns:
        New canonical sample dicts (the input is not modified), in the input's order.

    Raises:
        DataFormatError: naming ``source``, the sample index and the field at fault.

    Example:
        >>> samples = load_samples([{"conversations": [
        ...     {"from": "human", "value": "task: find the truck"},
        ...     {"from": "gpt", "value": "{...}"}]}])
        >>> samples[0]["conversations"][0]
        {'role': 'user', 'value': 'task: find the truck'}
        >>> samples[0]["id"]
        '4f075c087f9e8d02'
    """
    return [
        _canonical_sample(record, source=source, index=index)
        for index, record in enumerate(_unwrap_records(records, source))
    ]


def read_samples(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON file of training samples and return canonical samples.

    Example:
        >>> read_samples("data/01_raw/initial_dataset.json")  # doctest: +SKIP
        [{'id': '...', 'conversations': [...]}, ...]

    Raises:
        DataFormatError: the file is not JSON, or a sample is malformed (see :func:`load_samples`).
        FileNotFoundError: there is no such file.
    """
    return load_samples(read_json(path), source=str(path))


def write_samples(samples: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write samples to ``path`` as a JSON list in the canonical form (parent folders created).

    Example:
        >>> write_samples(samples, "data/03_primary/dataset_episode_1.json")  # doctest: +SKIP
    """
    target = Path(path)
    canonical = load_samples(list(samples), source=str(target))
    write_json_atomic(target, canonical, ensure_ascii=False, indent=1)


def sample_id(conversations: Sequence[Mapping[str, Any]]) -> str:
    """The stable content id of a conversation: 16 hex chars of sha256 over its canonical JSON.

    Only roles, texts and ``"weight": 0`` count, after canonicalisation, so the same
    conversation written in the seed format, with ``content`` or as ShareGPT gets the same id,
    and two conversations that differ in which turns are trained on do not.

    Raises:
        DataFormatError: a turn is malformed.

    Example:
        >>> sample_id([{"role": "user", "value": "hi"}, {"role": "assistant", "value": "hello"}])
        'bd22c334e359fe6d'
        >>> sample_id([{"from": "human", "value": "hi"}, {"from": "gpt", "content": "hello"}])
        'bd22c334e359fe6d'
    """
    turns = _canonical_turns(conversations, source="<conversations>", sample=None, key="")
    return _hash_turns(turns)


def to_chat_messages(sample: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sample's turns as ``{"role", "content"}`` messages for tokenizer chat templates.

    An assistant turn that is not trained on keeps its ``"weight": 0`` (see :func:`is_trained`).
    Unlike :func:`load_samples` this does not require an assistant turn, so it also serves a
    conversation that waits for the model's next turn.

    Example:
        >>> to_chat_messages({"conversations": [{"role": "user", "value": "hi"},
        ...                                     {"role": "assistant", "value": "a", "weight": 0}]})
        [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'a', 'weight': 0}]
    """
    turns = _turns_of(sample, source="<sample>")
    # A canonical turn holds a weight only when it is 0 (1, the default, is never written).
    return [
        {"role": t["role"], "content": t["value"], **({WEIGHT_KEY: 0} if WEIGHT_KEY in t else {})}
        for t in turns
    ]


def is_trained(turn: Mapping[str, Any]) -> bool:
    """Whether the loss covers this turn (canonical or chat): assistant, not ``"weight": 0``.

    Example:
        >>> [is_trained({"role": "assistant"}), is_trained({"role": "assistant", "weight": 0})]
        [True, False]
    """
    return turn["role"] == "assistant" and turn.get(WEIGHT_KEY, 1) != 0


def dedupe(samples: Iterable[_Sample]) -> list[_Sample]:
    """Drop samples whose id was seen before; the first one wins and the order is kept.

    Samples without an ``id`` get theirs from :func:`sample_id`. The surviving samples are the
    same objects that were passed in (not copies).

    Example:
        >>> a = {"id": "x1", "conversations": []}
        >>> b = {"id": "x2", "conversations": []}
        >>> [s["id"] for s in dedupe([a, b, {"id": "x1", "conversations": [], "n": 2}])]
        ['x1', 'x2']
    """
    seen: set[str] = set()
    unique: list[_Sample] = []
    for sample in samples:
        key = sample.get("id")
        if not isinstance(key, str):
            key = _hash_turns(_turns_of(sample, source="<samples>"))
        if key not in seen:
            seen.add(key)
            unique.append(sample)
    return unique


# ---------------------------------------------------------------------------------- internals


def _label(sample: Any) -> int | str | None:
    """The sample's own id for messages, where it has a usable one."""
    found = sample.get("id") if isinstance(sample, Mapping) else None
    return found if isinstance(found, int | str) and not isinstance(found, bool) else None


def _unwrap_records(records: Any, source: str) -> list[Any]:
    if isinstance(records, list | tuple):
        return list(records)
    if isinstance(records, Mapping):
        if any(key in records for key in TURNS_KEYS):
            raise DataFormatError(
                "this is a single sample, but a list of samples is expected: wrap it in [ ]",
                source=source,
            )
        lists = [key for key, value in records.items() if isinstance(value, list)]
        if len(lists) == 1:
            return list(records[lists[0]])
        if not lists:
            raise DataFormatError(
                "expected a JSON list of samples, or an object holding one such list "
                f'(e.g. {{"data": [...]}}); got an object with keys {sorted(map(str, records))}',
                source=source,
            )
        raise DataFormatError(
            f"the object holds several lists ({', '.join(map(str, lists))}); "
            "expected exactly one list of samples",
            source=source,
        )
    raise DataFormatError(
        f"expected a JSON list of samples, got {json_type(records)}", source=source
    )


def _turns_key(sample: Mapping[str, Any]) -> str | None:
    present = [key for key in TURNS_KEYS if key in sample]
    return present[0] if len(present) == 1 else None


def _turns_of(sample: Any, source: str) -> list[dict[str, Any]]:
    """The canonical turns of a sample, validated, without the sample-level checks."""
    label = _label(sample)
    if not isinstance(sample, Mapping):
        raise DataFormatError(
            f"a sample must be a JSON object with 'conversations', got {json_type(sample)}",
            source=source,
        )
    key = _require_turns_key(sample, source=source, label=label)
    return _canonical_turns(sample[key], source=source, sample=label, key=key)


def _require_turns_key(sample: Mapping[str, Any], source: str, label: int | str | None) -> str:
    present = [key for key in TURNS_KEYS if key in sample]
    if not present:
        raise DataFormatError(
            "missing 'conversations' (or ShareGPT 'messages'): the list of turns",
            source=source,
            sample=label,
        )
    if len(present) > 1:
        raise DataFormatError(
            "has both 'conversations' and 'messages'; keep one list of turns",
            source=source,
            sample=label,
        )
    return present[0]


def _canonical_sample(record: Any, source: str, index: int) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise DataFormatError(
            f"a sample must be a JSON object with 'conversations', got {json_type(record)}",
            source=source,
            sample=index,
        )
    key = _require_turns_key(record, source=source, label=index)
    turns_value = record[key]
    if isinstance(turns_value, list | tuple) and not turns_value:
        raise DataFormatError(
            "is empty; a sample needs at least a user turn and an assistant turn",
            source=source,
            sample=index,
            field=key,
        )
    turns = _canonical_turns(turns_value, source=source, sample=index, key=key)
    if not any(turn["role"] == "assistant" for turn in turns):
        roles = ", ".join(turn["role"] for turn in turns)
        raise DataFormatError(
            f"has no assistant turn (roles: {roles}), so there is nothing to learn from",
            source=source,
            sample=index,
            field=key,
        )
    if not any(is_trained(turn) for turn in turns):
        reason = "every assistant turn has weight 0, so nothing is learnt; give one weight 1"
        raise DataFormatError(reason, source=source, sample=index, field=key)
    new_id = _hash_turns(turns)
    canonical: dict[str, Any] = {"id": new_id, "conversations": turns}
    for name, value in record.items():
        if name not in (key, "id"):
            canonical[name] = copy.deepcopy(value)
    if "id" in record and record["id"] != new_id and "source_id" not in record:
        canonical["source_id"] = copy.deepcopy(record["id"])
    return canonical


def _canonical_turns(turns: Any, source: str, sample: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(turns, list | tuple):
        raise DataFormatError(
            f"must be a list of turns, got {json_type(turns)}",
            source=source,
            sample=sample,
            field=key or None,
        )
    return [
        _canonical_turn(turn, source=source, sample=sample, path=f"{key}[{position}]")
        for position, turn in enumerate(turns)
    ]


def _pick(
    turn: Mapping[str, Any], keys: tuple[str, ...], what: str, error: dict[str, Any]
) -> tuple[str, Any]:
    """The key and value of the one key of ``keys`` present in ``turn`` (two equal values are fine)."""
    present = [key for key in keys if key in turn]
    if not present:
        alternatives = " or ".join(repr(key) for key in keys)
        raise DataFormatError(f"the turn has no {what}: expected {alternatives}", **error)
    values = [turn[key] for key in present]
    if any(value != values[0] for value in values[1:]):
        raise DataFormatError(
            f"the turn has both {' and '.join(map(repr, present))} with different {what}s; "
            "keep one",
            **error,
        )
    return present[0], values[0]


def _canonical_turn(turn: Any, source: str, sample: Any, path: str) -> dict[str, Any]:
    error: dict[str, Any] = {"source": source, "sample": sample, "field": path}
    if not isinstance(turn, Mapping):
        raise DataFormatError(
            f"a turn must be an object with 'role' and 'value', got {json_type(turn)}", **error
        )
    role_key, raw_role = _pick(turn, ROLE_KEYS, "role", error)
    error["field"] = f"{path}.{role_key}"
    if not isinstance(raw_role, str):
        raise DataFormatError(f"the role must be a string, got {json_type(raw_role)}", **error)
    role = ROLE_ALIASES.get(raw_role.strip().lower())
    if role is None:
        raise DataFormatError(
            f"unknown role {raw_role!r} (expected one of: {', '.join(ROLE_ALIASES)})", **error
        )
    error["field"] = path
    text_key, text = _pick(turn, TEXT_KEYS, "text", error)
    error["field"] = f"{path}.{text_key}"
    if not isinstance(text, str):
        hint = (
            "; multi-part content lists are not supported, join the text parts into one string"
            if isinstance(text, list | tuple)
            else ""
        )
        raise DataFormatError(f"the text must be a string, got {json_type(text)}{hint}", **error)
    if WEIGHT_KEY not in turn:
        if not text.strip():
            raise DataFormatError("the turn's text is empty", **error)
        return {"role": role, "value": text}
    error["field"] = f"{path}.{WEIGHT_KEY}"
    weight = turn[WEIGHT_KEY]
    if role != "assistant":
        raise DataFormatError(f"only assistant turns carry a weight, not {role} turns", **error)
    # bool is an int in Python, but JSON's true/false is no weight: refuse rather than guess.
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight not in (0, 1):
        shown = repr(weight) if json_type(weight) == "a number" else json_type(weight)
        raise DataFormatError(
            f"the weight must be 0 (not trained) or 1 (trained, the default), got {shown}", **error
        )
    if not text.strip() and weight == 1:  # a student's empty turn is context, never a target
        error["field"] = f"{path}.{text_key}"
        raise DataFormatError("the turn's text is empty", **error)
    return {"role": role, "value": text, **({WEIGHT_KEY: 0} if weight == 0 else {})}


def _hash_turns(turns: Sequence[Mapping[str, Any]]) -> str:
    # Canonical turns: role, value and "weight": 0 only where a turn is not trained, so a sample
    # without weights hashes exactly as it did before weights were read.
    blob = json.dumps(list(turns), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    # "surrogatepass": JSON may legally carry lone surrogate escapes; their id must still exist.
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:16]
