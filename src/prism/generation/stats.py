"""Counts of a generation run's rollouts: passed and failed, by reason, task kind and source."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any


def rollout_stats(records: list[Mapping[str, Any]], n_scene_failures: int = 0) -> dict[str, Any]:
    """Counts of passed and failed rollouts, by reason, task kind and source.

    Example:
        >>> stats = rollout_stats([
        ...     {"status": "passed", "reason": None, "task": {"kind": "existence"},
        ...      "source": "oracle", "iterations": 2},
        ...     {"status": "failed", "reason": "teacher_error: timed out",
        ...      "task": {"kind": "existence"}, "source": "llm", "iterations": 0}])
        >>> stats["success_rate"], stats["failed_by_reason"]
        (0.5, {'teacher_error': 1})
    """
    passed = [r for r in records if r["status"] == "passed"]
    reasons = Counter(_reason_class(r["reason"]) for r in records if r["status"] != "passed")
    if n_scene_failures:
        reasons["scene_generation_failed"] += n_scene_failures
    by_kind: dict[str, dict[str, int]] = {}
    for r in records:
        entry = by_kind.setdefault(str(r["task"].get("kind")), {"passed": 0, "failed": 0})
        entry["passed" if r["status"] == "passed" else "failed"] += 1
    total = len(records)
    return {
        "total": total,
        "passed": len(passed),
        "failed": total - len(passed),
        "success_rate": len(passed) / total if total else 0.0,
        "failed_by_reason": dict(sorted(reasons.items())),
        "by_kind": dict(sorted(by_kind.items())),
        "passed_by_source": dict(Counter(r["source"] for r in passed)),
        "retried_next_run": sum(bool(r.get("transient")) for r in records),
        "mean_turns_passed": (
            sum(r["iterations"] for r in passed) / len(passed) if passed else 0.0
        ),
    }


def _reason_class(reason: str | None) -> str:
    # "teacher_error: <details>" → "teacher_error"; details stay in the failed records.
    return (reason or "unknown").split(":", 1)[0]
