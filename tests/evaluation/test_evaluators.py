"""The built-in evaluators' reports: task success with its Wilson interval and per family."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from prism.evaluation import evaluators
from prism.evaluation.evaluators import task_family, task_success, task_success_metrics
from prism.evaluation.statistics import wilson_interval
from prism.evaluation.task_success import evaluate_planner
from prism.formats.eval_tasks import EvalSuite, read_eval_suite
from prism.plugins import EvalContext, get_evaluator
from prism.student.prompt_format import CompactFormat
from prism.teachers.oracle import OracleTeacher
from prism.world.task import Task

EVAL = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "eval_tasks_1.json"


def test_success_has_its_wilson_interval_and_a_rate_per_family():
    correct = [True] * 8 + [False] * 2
    families = ["existence"] * 4 + ["diagnosis"] * 3 + ["attribute"] * 2 + ["unknown"]
    # the two failures: the second attribute task and the unknown one
    metrics = task_success_metrics(correct, families)
    assert round(metrics["task/accuracy_low"], 3) == 0.49  # 8 of 10 (published value)
    assert round(metrics["task/accuracy_high"], 3) == 0.943
    assert metrics == {
        "task/accuracy_low": pytest.approx(0.4901625),
        "task/accuracy_high": pytest.approx(0.9433178),
        "task/family/existence/accuracy": 1.0,
        "task/family/existence/n": 4,
        "task/family/attribute/accuracy": 0.5,
        "task/family/attribute/n": 2,
        "task/family/diagnosis/accuracy": 1.0,
        "task/family/diagnosis/n": 3,
        "task/family/unknown/accuracy": 0.0,
        "task/family/unknown/n": 1,
    }
    # families in the order of prism's task kinds, "unknown" last
    assert [k.split("/")[2] for k in metrics if k.endswith("/n")] == [
        "existence",
        "attribute",
        "diagnosis",
        "unknown",
    ]


def test_no_task_has_no_interval_and_outcomes_must_match_families():
    assert task_success_metrics([], []) == {}
    assert task_success_metrics([False], ["existence"])["task/accuracy_low"] == 0.0
    with pytest.raises(ValueError, match="2 outcomes but 1 task families"):
        task_success_metrics([True, False], ["existence"])


def test_a_task_counts_under_its_kind_else_its_text_read_as_the_oracle_does():
    assert task_family(Task("Is there a boat?", "yes", "a", kind="diagnosis")) == "diagnosis"
    assert task_family(Task("Communications are down. Why?", "x", "a")) == "diagnosis"
    assert task_family(Task("Where are tools likely to be?", "x", "a")) == "likely_location"
    assert task_family(Task("Bring me coffee.", "x", "a")) == "unknown"


@pytest.fixture
def suite_without_one_kind() -> EvalSuite:
    """The shipped file's first four scenes (12 tasks); task 0 without its kind."""
    suite = read_eval_suite(EVAL)
    tasks = list(suite.tasks[:12])
    tasks[0] = dataclasses.replace(tasks[0], kind=None)
    assert set(suite.task_graphs[:12]) == {0, 1, 2, 3}
    return EvalSuite(graphs=suite.graphs[:4], tasks=tasks, task_graphs=suite.task_graphs[:12])


def test_task_success_reports_the_interval_the_families_and_a_kind_column(
    suite_without_one_kind, monkeypatch
):
    """The oracle plays the student (the evaluator's closed loop is the real one): every
    reported name is declared, the rows say each task's family."""
    suite = suite_without_one_kind

    def oracle_plays(_planner_for, *args, **kwargs):
        return evaluate_planner(OracleTeacher().planner, *args, **kwargs)

    monkeypatch.setattr(evaluators, "evaluate_planner", oracle_plays)
    context = EvalContext(
        model=None,
        tokenizer=None,
        prompt_format=CompactFormat(),
        splits={},
        eval_suite=suite,
        params={"graph_unknown": [0.2, 0.3, 0.4, 0.5], "max_iterations": 10, "max_attempts": 3},
        seed=42,
    )
    result = task_success(context)

    metrics = result.metrics
    solved = sum(row["correct"] for row in result.tables["tasks"])
    assert metrics["task/n"] == 12 and metrics["task/accuracy"] == solved / 12
    low, high = wilson_interval(solved, 12)
    assert (metrics["task/accuracy_low"], metrics["task/accuracy_high"]) == (low, high)
    assert low < metrics["task/accuracy"] <= high
    # task 0 lost its kind: counted under the family its text reads as
    kinds = ["affordance", *(task.kind for task in suite.tasks[1:])]
    assert [row["kind"] for row in result.tables["tasks"]] == kinds
    assert list(result.tables["tasks"][0])[:4] == ["index", "graph_index", "task", "kind"]
    for kind in set(kinds):
        assert metrics[f"task/family/{kind}/n"] == kinds.count(kind), kind
    assert sum(v for k, v in metrics.items() if k.endswith("/n") and "family" in k) == 12
    assert set(metrics) <= set(get_evaluator("task_success").metric_names([]))
