"""Wilson intervals and exact McNemar tests, against published values and brute force."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prism.evaluation.statistics import mcnemar_exact, paired_comparison, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),  # Newcombe (1998), table I
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (15, 148, 0.0624, 0.1605),  # Newcombe (1998), example
    ],
)
def test_wilson_interval_matches_published_values(k, n, low, high):
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=5e-5)


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_holds_the_rate_inside_zero_one(kn):
    k, n = kn
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0
    assert high - low > 0


def test_a_wider_confidence_gives_a_wider_interval():
    narrow, wide = wilson_interval(30, 60, 0.8), wilson_interval(30, 60, 0.99)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


@pytest.mark.parametrize(("k", "n"), [(1, 0), (-1, 5), (6, 5)])
def test_wilson_interval_refuses_impossible_counts(k, n):
    with pytest.raises(ValueError):
        wilson_interval(k, n)


def _brute_force_mcnemar(only_a: int, only_b: int) -> float:
    """Enumerate every assignment of the discordant tasks to A or B, each with probability 1/2."""
    m = only_a + only_b
    observed = abs(only_a - only_b)
    extreme = sum(
        1 for bits in itertools.product((0, 1), repeat=m) if abs(2 * sum(bits) - m) >= observed
    )
    return min(1.0, extreme / 2**m) if m else 1.0


@settings(deadline=None)
@given(st.integers(0, 7), st.integers(0, 7))
def test_mcnemar_exact_equals_brute_force(only_a, only_b):
    assert mcnemar_exact(only_a, only_b) == pytest.approx(_brute_force_mcnemar(only_a, only_b))


def test_mcnemar_exact_known_values():
    assert mcnemar_exact(1, 7) == pytest.approx(18 / 256)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)


def test_paired_comparison_counts_the_four_cells():
    a = [True, True, False, False, True]
    b = [True, False, True, False, False]
    comparison = paired_comparison(a, b)
    assert (comparison.both, comparison.only_a, comparison.only_b, comparison.neither) == (
        1,
        2,
        1,
        1,
    )
    assert comparison.difference == pytest.approx(0.2)
    assert comparison.p_value == pytest.approx(mcnemar_exact(2, 1))
    assert math.isclose(comparison.to_dict()["difference"], 0.2)


def test_paired_comparison_needs_the_same_tasks():
    with pytest.raises(ValueError, match="same tasks"):
        paired_comparison([True], [True, False])
