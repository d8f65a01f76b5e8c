"""A generation that must reach a number of samples: how far it is, and how many further scenes
a round short of it adds (:func:`prism.generation.engine.generate`'s ``target``).

Rollouts fail (a wrong answer, out of turns, a replayed world the teacher cannot solve either),
so a fixed number of scenes makes fewer samples than it has tasks. A generation with a target
adds rounds of further scenes, each sized for the shortfall at the share of rollouts that made a
sample so far, for at most :data:`MAX_EXTRA_ROUNDS` rounds.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from prism.formats.conversations import sample_id

#: A generation short of its target adds further scenes at most this many times.
MAX_EXTRA_ROUNDS = 3
#: The lowest pass rate a round is sized for: at most 10 rollouts per missing sample.
MIN_PASS_RATE = 0.1


def new_sample_ids(records: Sequence[Mapping[str, Any]], known: Collection[str]) -> set[str]:
    """The distinct ids of the passed rollouts' samples that are not ``known``.

    >>> turns = [{"role": "user", "value": "hi"}, {"role": "assistant", "value": "hello"}]
    >>> records = [{"status": "passed", "conversation": turns}] * 2
    >>> new_sample_ids(records, known=()), new_sample_ids(records, known={"bd22c334e359fe6d"})
    ({'bd22c334e359fe6d'}, set())
    """
    ids = {sample_id(r["conversation"]) for r in records if r["status"] == "passed"}
    return ids - set(known)


def extra_scene_count(short: int, passed: int, rollouts: int, n_tasks: int) -> int:
    """Scenes of ``n_tasks`` tasks enough for ``short`` more samples at the share of the
    ``rollouts`` so far that made a new sample (``passed``; at least :data:`MIN_PASS_RATE`).

    >>> extra_scene_count(3, passed=0, rollouts=0, n_tasks=2)  # nothing yet: sized for 10 %
    15
    >>> extra_scene_count(3, passed=5, rollouts=10, n_tasks=2)  # half passed
    3
    """
    rate = passed / rollouts if rollouts else 0.0
    return math.ceil(short / (n_tasks * max(rate, MIN_PASS_RATE)))


def target_report(target: int, passed: int, rounds: int, extra_scenes: int) -> dict[str, Any]:
    """What a generation's statistics say of its target (``stats["target"]``)."""
    return {
        "samples": target,
        "passed": passed,
        "reached": passed >= target,
        "extra_rounds": rounds,
        "extra_scenes": extra_scenes,
        "max_extra_rounds": MAX_EXTRA_ROUNDS,
    }
