"""Each episode against the previous one and the untuned base, task by task."""

from __future__ import annotations

import logging

import pytest

from prism.pipelines.evaluation.nodes import EvaluationConfig
from prism.pipelines.iterative.comparison import (
    PairedComparisonError,
    base_metrics,
    compare_episode,
    evaluate_base,
    paired_metrics,
)
from prism.training.base_models import StudentBase


def _tables(*correct: int) -> dict:
    """A tasks table as the evaluation writes it: one row per task, in task order."""
    rows = [
        {"evaluator": "task_success", "index": i, "graph_index": i // 3, "task": f"task {i}"}
        | {"kind": "existence", "correct": bool(c), "reason": None if c else "wrong_answer"}
        for i, c in enumerate(correct)
    ]
    return {"tasks": rows, "samples": [{"evaluator": "token_metrics", "split": "train"}]}


EPISODE = _tables(1, 1, 1, 1, 1, 0, 0, 0, 1, 1)
PREVIOUS = _tables(1, 1, 0, 0, 0, 0, 0, 1, 1, 0)
BASE = _tables(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def test_an_episode_is_compared_task_by_task_with_the_previous_one_and_the_base():
    comparison = compare_episode(EPISODE, PREVIOUS, BASE, episode=3)
    # tasks 0, 1, 8 solved by both; 5, 6 by neither; 2, 3, 4, 9 gained; 7 lost
    assert comparison["previous"] == {
        "reference": "episode 2",
        "n": 10,
        "both": 3,
        "neither": 2,
        "gained": 4,
        "lost": 1,
        "difference": pytest.approx(0.3),
        "p_value": pytest.approx(0.375),  # 2 * (C(5,0) + C(5,1)) / 2**5
    }
    assert comparison["base"] == {
        "reference": "base",
        "n": 10,
        "both": 0,
        "neither": 3,
        "gained": 7,
        "lost": 0,
        "difference": pytest.approx(0.7),
        "p_value": pytest.approx(2 / 2**7),
    }
    assert comparison["episode"] == 3


def test_episode_1_is_compared_with_the_base_both_ways(caplog):
    with caplog.at_level(logging.INFO, logger="prism.pipelines.iterative.comparison"):
        comparison = compare_episode(EPISODE, BASE, BASE, episode=1)
    assert comparison["previous"] == comparison["base"]
    assert comparison["previous"]["reference"] == "base"
    # one console line for it, not one per reference
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["episode 1 vs base"]


def test_a_later_episode_logs_both_comparisons(caplog):
    with caplog.at_level(logging.INFO, logger="prism.pipelines.iterative.comparison"):
        compare_episode(EPISODE, PREVIOUS, BASE, episode=3)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "episode 3 vs episode 2",
        "episode 3 vs base",
    ]


def test_the_comparison_becomes_the_episodes_paired_metrics():
    metrics = paired_metrics(compare_episode(EPISODE, PREVIOUS, BASE, episode=2))
    assert list(metrics)[:7] == [
        "paired/previous/n",
        "paired/previous/both",
        "paired/previous/neither",
        "paired/previous/gained",
        "paired/previous/lost",
        "paired/previous/difference",
        "paired/previous/p_value",
    ]
    assert metrics["paired/base/gained"] == 7 and metrics["paired/base/lost"] == 0
    assert metrics["paired/previous/difference"] == pytest.approx(0.3)
    assert len(metrics) == 14 and "paired/base/reference" not in metrics


def test_without_closed_loop_tasks_there_is_nothing_to_compare():
    skipped = {"samples": []}
    assert compare_episode(skipped, skipped, skipped, episode=2) == {
        "episode": 2,
        "previous": {},
        "base": {},
    }
    assert paired_metrics(compare_episode(EPISODE, skipped, BASE, episode=2)) == paired_metrics(
        {"base": compare_episode(EPISODE, PREVIOUS, BASE, episode=2)["base"]}
    )


def test_tables_of_other_tasks_are_refused():
    other = _tables(1, 1, 0)
    with pytest.raises(
        PairedComparisonError, match=r"episode 1 was evaluated on other tasks.*3 tasks against 10"
    ):
        compare_episode(EPISODE, other, BASE, episode=2)


def test_the_base_is_not_loaded_when_the_eval_tasks_are_skipped():
    config = EvaluationConfig(evaluators=("token_metrics", "task_success"), skip_eval_tasks=True)
    nowhere = StudentBase(name_or_path="/nonexistent/base")
    report, tables, transcripts = evaluate_base(config, nowhere, eval_tasks=None)
    assert report == {"evaluators": ["task_success"], "metrics": {}, "errors": {}}
    assert tables == {} and transcripts == []
    assert base_metrics(report) == {}


def test_the_episode_carries_the_base_success_and_interval():
    report = {"metrics": {"task/accuracy": 0.2, "task/accuracy_low": 0.1, "task/n": 10}}
    assert base_metrics(report) == {"base/task_accuracy": 0.2, "base/task_accuracy_low": 0.1}
