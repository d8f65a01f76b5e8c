"""``kedro run --pipelines evaluate`` on a tiny trained student, in a temporary project copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from prism.plugins import UnknownPluginError, hookimpl
from prism.plugins.types import EvaluatorPlugin
from tests.conftest import copy_project
from tests.pipelines.training.test_pipeline import TINY_PARAMS
from tests.training.conftest import CONVERSATIONS

REPO = Path(__file__).resolve().parents[3]
EVAL_FILE = "data/01_raw/eval_small.json"
#: Short turns: the tiny random student writes garbage, so every turn is as long as allowed.
FAST = {"task_success": {"max_new_tokens": 12}, "token_metrics": {"batch_size": 4}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy with a tiny student trained on the fixture rollouts (once per module)."""
    root = copy_project(
        tmp_path_factory.mktemp("evaluate") / "project",
        initial_data=CONVERSATIONS,
        eval_file=EVAL_FILE,
        eval_graphs=2,  # 6 tasks
    )
    run(root, "train", TINY_PARAMS)
    return root


def run(root: Path, pipeline: str, params: dict[str, Any]) -> None:
    bootstrap_project(root)
    with KedroSession.create(project_path=root, runtime_params=params) as session:
        session.run(pipeline_names=[pipeline])


def evaluate(root: Path, monkeypatch: pytest.MonkeyPatch, **evaluation: Any) -> dict[str, Any]:
    monkeypatch.chdir(root)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    params = {"eval_task_file": EVAL_FILE, "evaluation": {**FAST, **evaluation}}
    run(root, "evaluate", params)
    return json.loads((root / "data/08_reporting/evaluation_metrics.json").read_text())


def test_evaluate_writes_metrics_tables_plots_and_scores_the_teacher(trained, monkeypatch):
    report = evaluate(trained, monkeypatch)
    metrics = report["metrics"]
    for key in ("train/mean_loss", "train/mean_accuracy", "eval/mean_loss", "eval/mean_accuracy"):
        assert key in metrics
    assert metrics["train/mean_loss"] > 0 and 0 <= metrics["eval/mean_accuracy"] <= 1
    assert metrics["task/n"] == 6 and 0 <= metrics["task/accuracy"] <= 1
    assert metrics["teacher/task_accuracy"] == 1.0  # the oracle solves these tasks
    assert metrics["task/of_teacher"] == metrics["task/accuracy"]
    assert report["errors"] == {} and report["teacher"] == "oracle"

    reporting = trained / "data/08_reporting"
    samples = (reporting / "sample_metrics.csv").read_text().splitlines()
    assert samples[0].split(",")[:3] == ["evaluator", "split", "id"]
    assert len(samples) - 1 == len(json.loads(CONVERSATIONS.read_text()))
    tasks = (reporting / "task_results.csv").read_text().splitlines()
    assert len(tasks) == 7 and "teacher_correct" in tasks[0]
    for plot in ("sample_accuracy.png", "task_outcomes.png"):
        assert (reporting / plot).stat().st_size > 1000
    # The untrained student's garbage is counted wrong, and its transcript is kept.
    transcripts = json.loads((reporting / "evaluation_transcripts.json").read_text())
    assert len(transcripts) == 6
    assert all(t["transcript"][0]["role"] == "user" for t in transcripts)


def test_skip_eval_tasks_and_a_held_out_file(trained, monkeypatch):
    held_out = trained / "data/01_raw/held_out.json"
    held_out.write_text(json.dumps(json.loads(CONVERSATIONS.read_text())[:5]))
    monkeypatch.chdir(trained)
    params = {
        "eval_task_file": EVAL_FILE,
        "held_out_data": str(held_out),
        "evaluation": {**FAST, "skip_eval_tasks": True},
    }
    run(trained, "evaluate", params)
    report = json.loads((trained / "data/08_reporting/evaluation_metrics.json").read_text())
    assert report["metrics"]["held_out/n"] == 5
    assert not any(k.startswith(("task/", "teacher/")) for k in report["metrics"])


def test_an_unknown_evaluator_lists_the_installed_ones(trained, monkeypatch):
    with pytest.raises(UnknownPluginError, match="task_success, token_metrics"):
        evaluate(trained, monkeypatch, evaluators=["token_metrics", "perplexity"])


class _Raising:
    @hookimpl
    def prism_register_evaluators(self):
        def evaluate(context):
            raise RuntimeError("the plugin's own bug")

        return [EvaluatorPlugin("raising", evaluate)]


def test_a_raising_evaluator_is_reported_and_the_others_still_written(
    trained, monkeypatch, fresh_plugin_manager
):
    from prism.plugins import get_plugin_manager

    get_plugin_manager().register(_Raising(), name="raising-test-plugin")
    report = evaluate(
        trained, monkeypatch, evaluators=["raising", "token_metrics"], skip_eval_tasks=True
    )
    assert report["errors"] == {"raising": "RuntimeError: the plugin's own bug"}
    assert "train/mean_loss" in report["metrics"]


def test_a_third_party_evaluator_runs_by_name(
    trained, monkeypatch, example_plugin_installed, fresh_plugin_manager
):
    report = evaluate(trained, monkeypatch, evaluators=["turn_count"], skip_eval_tasks=True)
    assert report["errors"] == {}
    assert set(report["metrics"]) == {"turns/mean"} and report["metrics"]["turns/mean"] > 1
