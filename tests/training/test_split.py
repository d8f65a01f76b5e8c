"""Train/val split by sample id: deterministic, position-independent, stable as data grows."""

from __future__ import annotations

import random

import pytest

from prism.training.split import split_ids

IDS = [f"{i:016x}" for i in range(1000)]


def test_deterministic_under_the_seed_and_different_across_seeds() -> None:
    assert split_ids(IDS, 0.1, seed=1) == split_ids(IDS, 0.1, seed=1)
    assert split_ids(IDS, 0.1, seed=1)["val"] != split_ids(IDS, 0.1, seed=2)["val"]


def test_split_depends_on_ids_not_positions() -> None:
    shuffled = IDS[:]
    random.Random(0).shuffle(shuffled)
    assert split_ids(shuffled, 0.2, seed=3) == split_ids(IDS, 0.2, seed=3)


def test_samples_keep_their_side_when_the_dataset_grows() -> None:
    small = split_ids(IDS[:500], 0.1, seed=0)
    large = split_ids(IDS, 0.1, seed=0)
    assert set(small["val"]) <= set(large["val"])
    assert set(small["train"]) <= set(large["train"])


def test_fraction_is_respected_and_sides_are_disjoint() -> None:
    split = split_ids(IDS, 0.1, seed=0)
    assert 70 <= len(split["val"]) <= 130
    assert not set(split["val"]) & set(split["train"])
    assert len(split["val"]) + len(split["train"]) == len(IDS)


def test_duplicates_share_a_side() -> None:
    split = split_ids(["a", "a", "b", "c"], 0.5, seed=0)
    assert sorted(split["train"] + split["val"]) == ["a", "b", "c"]


def test_tiny_dataset_still_gets_one_sample_per_side() -> None:
    split = split_ids(["a", "b"], 0.01, seed=0)
    assert len(split["val"]) == 1 and len(split["train"]) == 1
    split = split_ids(["a", "b", "c"], 0.99, seed=0)
    assert len(split["train"]) >= 1


def test_val_frac_zero_trains_on_everything() -> None:
    assert split_ids(IDS[:10], 0.0, seed=0)["val"] == []


@pytest.mark.parametrize("val_frac", [1.0, -0.5, 2])
def test_val_frac_out_of_range(val_frac: float) -> None:
    with pytest.raises(ValueError, match=r"val_frac must be in \[0, 1\)"):
        split_ids(IDS, val_frac, seed=0)


def test_empty_or_single_sample_is_refused() -> None:
    with pytest.raises(ValueError, match=r"empty dataset"):
        split_ids([], 0.1, seed=0)
    with pytest.raises(ValueError, match=r"at least 2 distinct samples"):
        split_ids(["a"], 0.1, seed=0)
