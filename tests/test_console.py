"""The console's hooks: the line after every episode of the loop (``EpisodeProgressHook``, from
the episode's summary and the times of its nodes) and the project's logging configuration when
Kedro starts outside the project folder (``ProjectLoggingHook``), and a user's error said once
(``quiet_user_errors``)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from prism.console import (
    KEDRO_FAILURE_LOGGERS,
    EpisodeProgressHook,
    ProjectLoggingHook,
    quiet_user_errors,
    user_error_message,
)
from prism.pipelines.iterative import IterativeConfigError, create_pipeline
from prism.pipelines.iterative.reports import summarize_episode

REPORT = {"metrics": {"task/accuracy": 0.25, "teacher/task_accuracy": 1.0}, "errors": {}}
BASE = {"metrics": {"task/accuracy": 0.0}}


def _summary(episode: int, size: int) -> dict:
    return summarize_episode({}, REPORT, {}, [{}] * size, [{}] * 2, {}, BASE, episode=episode)


def _nodes(episode: int) -> dict:
    pipeline = create_pipeline(3)
    namespace = f"iterative.episode_{episode}"
    return {n.name.rsplit(".", 1)[-1]: n for n in pipeline.nodes if n.namespace == namespace}


def test_each_episode_ends_with_a_line_of_its_success_dataset_and_time(monkeypatch, caplog):
    # per episode: train, evaluate, summarize
    ticks = iter([0, 40, 40, 100, 100, 101, 200, 260, 260, 261, 261, 262])
    monkeypatch.setattr("prism.console.time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    hook = EpisodeProgressHook()
    hook.before_pipeline_run(create_pipeline(3))
    with caplog.at_level(logging.INFO, logger="prism.console"):
        for episode, size in ((1, 11), (2, 13)):
            nodes = _nodes(episode)
            for name in ("train_student", "evaluate_student"):
                hook.before_node_run(nodes[name])
                hook.after_node_run(nodes[name], {})
            summarize = nodes["summarize_episode"]
            hook.before_node_run(summarize)
            hook.after_node_run(summarize, {summarize.outputs[0]: _summary(episode, size)})
    first, second = [r.getMessage() for r in caplog.records]
    # 3 episodes; episode 1 took 40 + 60 + 1 s, episode 2 60 + 1 + 1
    assert first.startswith("episode 1/3 done in 1 min 41 s: task success 0.25")
    assert "(base 0.00, teacher 1.00)" in first
    assert "trained on 11 samples, +2 -> 13" in first
    assert first.endswith("about 3 min 22 s left")  # 2 episodes at 101 s
    assert second.startswith("episode 2/3 done in 1 min 02 s") and "trained on 13" in second
    assert second.endswith("about 1 min 22 s left")  # 1 episode at the mean, 81.5 s


def test_no_line_outside_the_loop(caplog):
    from prism.pipelines import training

    pipeline = training.create_pipeline()
    hook = EpisodeProgressHook()
    hook.before_pipeline_run(pipeline)
    with caplog.at_level(logging.INFO, logger="prism.console"):
        for node in pipeline.nodes:
            hook.before_node_run(node)
            hook.after_node_run(node, {name: {"episode": 1} for name in node.outputs})
    assert not caplog.records


def test_the_project_logging_applies_outside_the_project_folder(tmp_path, monkeypatch):
    from kedro.framework.project import LOGGING

    project = tmp_path / "project"
    (project / "conf").mkdir(parents=True)
    (project / "notebooks").mkdir()
    (project / "conf" / "logging.yml").write_text(
        "version: 1\ndisable_existing_loggers: False\nloggers:\n  prism.test_console_probe:\n"
        "    level: ERROR\n"
    )
    context = SimpleNamespace(project_path=project)
    before = dict(LOGGING.data)
    probe = logging.getLogger("prism.test_console_probe")
    monkeypatch.delenv("KEDRO_LOGGING_CONFIG", raising=False)
    try:
        monkeypatch.chdir(project)  # Kedro read it already: nothing to do
        ProjectLoggingHook().after_context_created(context)
        assert probe.level == logging.NOTSET
        monkeypatch.setenv("KEDRO_LOGGING_CONFIG", "elsewhere.yml")  # the user's choice rules
        monkeypatch.chdir(project / "notebooks")
        ProjectLoggingHook().after_context_created(context)
        assert probe.level == logging.NOTSET
        monkeypatch.delenv("KEDRO_LOGGING_CONFIG")
        ProjectLoggingHook().after_context_created(context)  # a notebook in notebooks/
        assert probe.level == logging.ERROR
    finally:
        probe.setLevel(logging.NOTSET)
        if before:
            LOGGING.configure(before)


def _run_failing_node(error: Exception) -> None:
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline, node
    from kedro.runner import SequentialRunner

    def fail() -> int:
        raise error

    SequentialRunner().run(Pipeline([node(fail, None, "out", name="fail")]), DataCatalog())


def _kedro_failure_lines(caplog, error: Exception) -> list[str]:
    quiet_user_errors()
    quiet_user_errors()  # once is enough: no second filter
    assert all(len(logging.getLogger(n).filters) == 1 for n in KEDRO_FAILURE_LOGGERS)
    caplog.clear()
    with caplog.at_level(logging.WARNING), pytest.raises(type(error)):
        _run_failing_node(error)
    return [r.getMessage() for r in caplog.records if r.name.startswith("kedro.")]


def test_a_users_error_is_left_to_the_command_line_to_say_once(caplog, monkeypatch):
    monkeypatch.delenv("PRISM_TRACEBACK", raising=False)
    error = IterativeConfigError("n_batch must be at least 1")
    assert _kedro_failure_lines(caplog, error) == []
    assert user_error_message(error) == "IterativeConfigError: n_batch must be at least 1"


def test_a_bugs_error_keeps_kedros_lines(caplog, monkeypatch):
    monkeypatch.delenv("PRISM_TRACEBACK", raising=False)
    lines = _kedro_failure_lines(caplog, ValueError("a bug"))
    assert any("failed with error" in line and "a bug" in line for line in lines)
    assert any("No nodes ran" in line for line in lines)
    assert user_error_message(ValueError("a bug")) is None


def test_prism_traceback_keeps_kedros_lines_for_a_users_error_too(caplog, monkeypatch):
    monkeypatch.setenv("PRISM_TRACEBACK", "1")
    lines = _kedro_failure_lines(caplog, IterativeConfigError("n_batch must be at least 1"))
    assert any("failed with error" in line for line in lines)
