"""How sure a task-success figure is: Wilson intervals, and paired comparisons on the same tasks.

A success rate over a few dozen tasks moves by several points from one draw of tasks to the next,
so every rate is reported with its 95 % Wilson score interval, and two models are compared on the
same tasks: only the tasks one solves and the other does not (the discordant pairs) tell them
apart, and the exact McNemar test says how likely so lopsided a split is by chance.

Example:
    >>> low, high = wilson_interval(8, 10)
    >>> round(low, 3), round(high, 3)
    (0.49, 0.943)
    >>> comparison = paired_comparison([True] * 8 + [False] * 2, [True] + [False] * 9)
    >>> comparison.only_a, comparison.only_b, round(comparison.p_value, 4)
    (7, 0, 0.0156)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

#: The confidence of every interval prism reports.
CONFIDENCE = 0.95


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a success rate ``successes / n``.

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or ``n``
    successes, which is where small evaluations often are.

    Raises:
        ValueError: ``n`` is not positive, ``successes`` is outside [0, n], or ``confidence`` is
            outside (0, 1).
    """
    if n < 1:
        raise ValueError(f"an interval needs at least one trial, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, {n}], got {successes}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    rate = successes / n
    denominator = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """The two-sided exact McNemar p-value for ``only_a`` tasks solved by A alone and ``only_b``
    by B alone: the binomial probability of a split at least this lopsided when each discordant
    task is a fair coin. 1.0 when there is no discordant task."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"counts cannot be negative, got {only_a} and {only_b}")
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, i) for i in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**discordant)


@dataclass(frozen=True)
class PairedComparison:
    """Two models on the same tasks: A (e.g. this episode) against B (the previous one).

    Attributes:
        n: tasks compared.
        both: solved by both.
        neither: solved by neither.
        only_a: solved by A and not by B.
        only_b: solved by B and not by A.
        p_value: the exact McNemar two-sided p-value of ``only_a`` against ``only_b``.
    """

    n: int
    both: int
    neither: int
    only_a: int
    only_b: int
    p_value: float

    @property
    def difference(self) -> float:
        """A's success rate minus B's."""
        return (self.only_a - self.only_b) / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data, ``difference`` included."""
        return {**asdict(self), "difference": self.difference}


def paired_comparison(a: Sequence[bool], b: Sequence[bool]) -> PairedComparison:
    """Compare two models' per-task outcomes (``True``: solved), task by task.

    Raises:
        ValueError: the outcomes are not for the same number of tasks.
    """
    if len(a) != len(b):
        raise ValueError(f"paired outcomes must cover the same tasks: {len(a)} vs {len(b)}")
    pairs = [(bool(x), bool(y)) for x, y in zip(a, b, strict=True)]
    only_a = sum(x and not y for x, y in pairs)
    only_b = sum(y and not x for x, y in pairs)
    return PairedComparison(
        n=len(pairs),
        both=sum(x and y for x, y in pairs),
        neither=sum(not x and not y for x, y in pairs),
        only_a=only_a,
        only_b=only_b,
        p_value=mcnemar_exact(only_a, only_b),
    )
