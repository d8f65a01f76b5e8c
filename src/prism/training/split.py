"""Train/validation split by sample id: deterministic under a seed, stable as the data grows.

A sample goes to validation when the hash of ``"{seed}:{id}"`` falls below ``val_frac``. Unlike a
shuffle of positions, this keeps every sample on the same side when samples are added or
reordered (the iterative loop grows the dataset each episode, and its validation loss stays
comparable), and identical rollouts (same id) can never leak across the split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TypedDict


class SplitError(ValueError):
    """The samples cannot be split as asked (bad ``val_frac``, too few samples)."""


class Split(TypedDict):
    """The split as saved to the catalog (JSON)."""

    seed: int
    val_frac: float
    train: list[str]
    val: list[str]


def _unit_hash(sample_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_ids(ids: Iterable[str], val_frac: float, seed: int) -> Split:
    """Split sample ids into train and validation.

    On tiny datasets the hash threshold can leave a side empty by chance; then the sample with
    the lowest (resp. highest) hash is moved over, so ``val_frac > 0`` always yields at least one
    validation sample and training always keeps at least one.

    Args:
        ids: sample ids (duplicates allowed: they share a side).
        val_frac: fraction of samples for validation, in [0, 1).
        seed: split seed.

    Returns:
        Sorted unique ids per side.

    Raises:
        SplitError: for ``val_frac`` outside [0, 1), no ids, or a non-empty validation split
            requested from a single distinct sample.
    """
    if not 0 <= val_frac < 1:
        raise SplitError(f"val_frac must be in [0, 1), got {val_frac!r}")
    unique = sorted(set(ids), key=lambda i: (_unit_hash(i, seed), i))
    if not unique:
        raise SplitError("cannot split an empty dataset: no sample ids")
    if val_frac > 0 and len(unique) < 2:
        raise SplitError(
            f"val_frac={val_frac} needs at least 2 distinct samples, got {len(unique)}; "
            "add data or set val_frac: 0"
        )
    val = [i for i in unique if _unit_hash(i, seed) < val_frac]
    if val_frac > 0 and not val:
        val = unique[:1]
    if len(val) == len(unique):
        val = val[:-1]
    val_set = set(val)
    train = [i for i in unique if i not in val_set]
    return Split(seed=seed, val_frac=val_frac, train=sorted(train), val=sorted(val))
