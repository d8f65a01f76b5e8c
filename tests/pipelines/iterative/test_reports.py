"""Reporting of the iterative loop: wandb (``WandbEpisodeHook``), the best episode and the report
node's table and plots. The hook's logic runs against a fake wandb; one slow test runs the tiny
loop with a real offline wandb run."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from matplotlib.figure import Figure

from prism.hooks import REDACTED, WandbEpisodeHook, scrub_secrets
from prism.pipelines.iterative import IterativeConfig, IterativeConfigError
from prism.pipelines.iterative.reports import report_episodes, select_best_episode
from tests.pipelines.iterative.conftest import OUTPUT, TINY_RUN

SECRET = "sk-test-0123456789abcdefSECRETVALUE"


# ---------------------------------------------------------------------------------- secrets
def test_scrub_secrets_redacts_secret_keys_and_values_and_keeps_the_rest():
    config = {
        "api_key": "x",
        "training": {"hub_token": "hf_abc", "max_new_tokens": 8, "report_to": "wandb"},
        "evaluation": {"token_metrics": {"batch_size": 8}},
        "endpoint": {
            "base_url": "https://user:pw@example.com/v1",
            "api_key_env": "OPENAI_API_KEY",
            "credentials": "openai",
            "headers": [{"Authorization": "Bearer x"}, {"password": "p"}],
        },
        "note": SECRET,
        "client_secret": {"nested": "y"},
        "iterative": IterativeConfig(name="run"),
    }
    scrubbed = scrub_secrets(config)
    assert scrubbed["api_key"] == REDACTED
    assert scrubbed["training"] == {
        "hub_token": REDACTED,
        "max_new_tokens": 8,
        "report_to": "wandb",
    }
    assert scrubbed["evaluation"] == {"token_metrics": {"batch_size": 8}}
    endpoint = scrubbed["endpoint"]
    assert endpoint["base_url"] == f"https://{REDACTED}@example.com/v1"
    assert endpoint["api_key_env"] == "OPENAI_API_KEY"  # the variable's name, not its value
    assert endpoint["credentials"] == REDACTED
    assert endpoint["headers"] == [{"Authorization": REDACTED}, {"password": REDACTED}]
    assert scrubbed["note"] == REDACTED and scrubbed["client_secret"] == REDACTED
    assert scrubbed["iterative"]["name"] == "run"
    assert scrubbed["iterative"]["graph_unknown"] == [0.2, 0.3, 0.4, 0.5]
    json.dumps(scrubbed)  # plain data


# ---------------------------------------------------------------------------------- the hook
class _FakeRun:
    def __init__(self, **init: Any) -> None:
        self.init = init
        self.logs: list[tuple[int, dict[str, Any]]] = []
        self.summary: dict[str, Any] = {}
        self.exit_code: int | None = -1

    def log(self, values: dict[str, Any], step: int) -> None:
        assert not self.logs or step >= self.logs[-1][0], "wandb steps must not go back"
        self.logs.append((step, values))

    def finish(self, exit_code: int | None = None) -> None:
        self.exit_code = exit_code


class _FakeWandb(SimpleNamespace):
    """The few parts of the wandb module the hook uses; ``wandb.init`` records its runs."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(runs=[], fail=fail)
        self.Histogram = lambda values, num_bins: ("histogram", list(values))
        self.Table = lambda columns, data: ("table", list(columns), [list(r) for r in data])
        self.plot = SimpleNamespace(line=lambda table, x, y, title: ("line", table, x, y, title))

    def init(self, **kwargs: Any) -> _FakeRun:
        if self.fail:
            raise RuntimeError("wandb service did not start")
        self.runs.append(_FakeRun(**kwargs))
        return self.runs[-1]


class _Catalog:
    """Saved outputs by name, and the parameters."""

    def __init__(self, saved: dict[str, Any] | None = None) -> None:
        self.saved = {
            "params:generation": {"teacher": {"endpoint": {"credentials": "openai"}}},
            "params:evaluation": {"evaluators": ["token_metrics"]},
            **(saved or {}),
        }

    def exists(self, name: str) -> bool:
        return name in self.saved

    def load(self, name: str) -> Any:
        return self.saved[name]


def _node(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name)


def _pipeline() -> SimpleNamespace:
    return SimpleNamespace(nodes=[_node("iterative.check_iterative_inputs")])


SETTINGS = IterativeConfig(name="loop", n_episodes=2, objective="eval/mean_accuracy")
TRAINING = {"report_to": "wandb", "hub_token": "hf_secret", "epochs": 1}


def _report(accuracy: float) -> dict[str, Any]:
    return {
        "metrics": {
            "train/mean_loss": 2.0,
            "train/mean_accuracy": 0.5,
            "eval/mean_loss": 2.5,
            "eval/mean_accuracy": accuracy,
            "task/accuracy": 0.25,
            "teacher/task_accuracy": 1.0,
            "task/of_teacher": 0.25,
            "eval/broken": float("nan"),
        },
        "errors": {},
    }


TABLES = {
    "samples": [
        {"split": "train", "id": "a", "loss": 1.0, "accuracy": 0.5},
        {"split": "train", "id": "b", "loss": 2.0, "accuracy": 0.75},
        {"split": "eval", "id": "c", "loss": 3.0, "accuracy": float("nan")},
    ]
}


def _episode(hook: WandbEpisodeHook, catalog: _Catalog, n: int, accuracy: float) -> None:
    """The hook's view of one episode: train, evaluate, summarize, combine."""
    ns = f"iterative.episode_{n}"
    metrics = {
        "train_loss_first": 3.0,
        "train_loss_last": 2.0,
        "train_losses": [3.0, 2.0],  # logged every other step
        "steps": 4,
        "val_loss_after": None,
    }
    hook.after_node_run(
        _node(f"{ns}.train_student"), catalog, {}, {f"{ns}.training_metrics": metrics}
    )
    hook.after_node_run(
        _node(f"{ns}.evaluate_student"),
        catalog,
        {f"{ns}.training_data": [{}] * (10 + n)},
        {f"{ns}.evaluation_tables": TABLES},
    )
    hook.after_node_run(
        _node(f"{ns}.summarize_evaluation"),
        catalog,
        {},
        {f"{ns}.evaluation_metrics": _report(accuracy)},
    )
    hook.after_node_run(
        _node(f"{ns}.combine_datasets"),
        catalog,
        {f"{ns}.new_samples": [{}]},
        {f"iterative.episode_{n + 1}.training_data": [{}] * (11 + n)},
    )


def _start(hook: WandbEpisodeHook, catalog: _Catalog, training: dict = TRAINING) -> None:
    hook.before_pipeline_run({}, _pipeline())
    hook.after_node_run(
        _node("iterative.check_iterative_inputs"),
        catalog,
        {},
        {"iterative.config": SETTINGS, "iterative.training_params": training},
    )


@pytest.fixture
def fake_wandb(monkeypatch: pytest.MonkeyPatch) -> _FakeWandb:
    fake = _FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    return fake


def test_the_hook_logs_each_episode_at_its_step_offline_by_default(fake_wandb):
    hook, catalog = WandbEpisodeHook(), _Catalog()
    _start(hook, catalog)
    (run,) = fake_wandb.runs
    assert run.init["mode"] == "offline" and run.init["name"] == "loop"
    assert run.init["project"] == "prism"
    assert run.init["config"]["training"]["hub_token"] == REDACTED
    assert run.init["config"]["generation"]["teacher"]["endpoint"]["credentials"] == REDACTED
    assert run.init["config"]["iterative"]["objective"] == "eval/mean_accuracy"

    _episode(hook, catalog, 1, accuracy=0.6)
    _episode(hook, catalog, 2, accuracy=0.4)
    hook.after_node_run(
        _node("iterative.select_best_model"),
        catalog,
        {},
        {"iterative.summary": {"best_episode": 1, "value": 0.6, "objective": "eval/mean_accuracy"}},
    )
    hook.after_pipeline_run(catalog)

    assert {step for step, _ in run.logs} == {1, 2}
    first, second = hook.logged[1], hook.logged[2]
    assert first["eval/mean_accuracy"] == 0.6 and "eval/broken" not in first
    assert first["task/of_teacher"] == 0.25 and first["teacher/task_accuracy"] == 1.0
    assert first["training/loss_last"] == 2.0 and "training/val_loss_after" not in first
    assert first["training/loss_curve_episode_1"] == (
        "line",
        ("table", ["step", "loss"], [[2, 3.0], [4, 2.0]]),
        "step",
        "loss",
        "Training loss, episode 1",
    )
    assert (
        "training/loss_curve_episode_1" not in second and "training/loss_curve_episode_2" in second
    )
    assert first["samples/train/accuracy"] == ("histogram", [0.5, 0.75])
    assert first["samples/eval/loss"] == ("histogram", [3.0])
    assert "samples/eval/accuracy" not in first  # no finite value
    assert (first["dataset/size"], first["dataset/new_samples"], first["dataset/next_size"]) == (
        11,
        1,
        12,
    )
    assert (first["best/episode"], first["best/value"]) == (1, 0.6)
    assert (second["best/episode"], second["best/value"]) == (1, 0.6)  # 0.4 < 0.6: still 1
    assert all(values["episode"] == step for step, values in run.logs)
    assert run.summary == {
        "best/episode": 1,
        "best/value": 0.6,
        "best/objective": SETTINGS.objective,
    }
    assert run.exit_code is None and hook.run is None


def test_a_resumed_run_logs_the_episodes_it_skips_from_their_saved_outputs(fake_wandb):
    saved = {
        "iterative.episode_1.evaluation_metrics": _report(0.3),
        "iterative.episode_1.training_metrics": {"train_loss_last": 1.5},
        "iterative.episode_1.training_data": [{}] * 11,
        "iterative.episode_1.evaluation_tables": TABLES,
        "iterative.episode_1.new_samples": [{}, {}],
    }
    hook, catalog = WandbEpisodeHook(), _Catalog(saved)
    _start(hook, catalog)
    _episode(hook, catalog, 2, accuracy=0.5)
    hook.after_pipeline_run(catalog)
    (run,) = fake_wandb.runs
    assert [step for step, _ in run.logs] == [1, 2, 2, 2, 2]  # 1 backfilled, then 2 live
    assert hook.logged[1]["dataset/next_size"] == 13 and hook.logged[1]["best/episode"] == 1
    assert hook.logged[1]["training/loss_last"] == 1.5
    assert hook.logged[2]["best/episode"] == 2


def test_a_run_resumed_during_generation_logs_that_episodes_evaluation_first(fake_wandb):
    """Killed in episode 2's generation: the rerun starts at episode 2's combine step."""
    saved = {
        f"iterative.episode_{n}.{name}": value
        for n, accuracy in ((1, 0.6), (2, 0.7))
        for name, value in (
            ("evaluation_metrics", _report(accuracy)),
            ("training_metrics", {"train_loss_last": 1.5}),
            ("training_data", [{}] * (10 + n)),
            ("evaluation_tables", TABLES),
        )
    }
    saved["iterative.episode_1.new_samples"] = [{}]
    hook, catalog = WandbEpisodeHook(), _Catalog(saved)
    _start(hook, catalog)
    ns = "iterative.episode_2"
    hook.after_node_run(
        _node(f"{ns}.combine_datasets"),
        catalog,
        {f"{ns}.new_samples": [{}, {}]},
        {"iterative.episode_3.training_data": [{}] * 14},
    )
    _episode(hook, catalog, 3, accuracy=0.5)
    hook.after_pipeline_run(catalog)

    (run,) = fake_wandb.runs  # the fake refuses a step that goes back
    assert (
        hook.logged[2]["eval/mean_accuracy"] == 0.7 and hook.logged[2]["training/loss_last"] == 1.5
    )
    assert hook.logged[2]["dataset/new_samples"] == 2 and hook.logged[2]["dataset/next_size"] == 14
    assert hook.logged[2]["best/episode"] == 2 and hook.logged[3]["best/episode"] == 2
    assert sorted({step for step, _ in run.logs}) == [1, 2, 3]


@pytest.mark.parametrize(
    ("training", "mode"),
    [({"report_to": "none"}, None), ({"report_to": "tensorboard"}, None), (TRAINING, "disabled")],
    ids=["report_to-none", "report_to-tensorboard", "WANDB_MODE-disabled"],
)
def test_the_hook_stays_off(fake_wandb, monkeypatch, training, mode):
    if mode:
        monkeypatch.setenv("WANDB_MODE", mode)
    hook, catalog = WandbEpisodeHook(), _Catalog()
    _start(hook, catalog, training)
    _episode(hook, catalog, 1, accuracy=0.5)
    hook.after_pipeline_run(catalog)
    assert not fake_wandb.runs and hook.logged == {} and hook.config is None


def test_wandb_failing_to_start_or_to_log_only_warns(fake_wandb, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="prism.hooks")
    fake_wandb.fail = True
    hook, catalog = WandbEpisodeHook(), _Catalog()
    _start(hook, catalog)
    assert hook.run is None and "could not start a run" in caplog.text
    _episode(hook, catalog, 1, accuracy=0.5)  # nothing to log to, nothing raised
    assert hook.logged == {}

    fake_wandb.fail = False
    monkeypatch.setenv("WANDB_MODE", "online")
    _start(hook, catalog)
    (run,) = fake_wandb.runs
    assert run.init["mode"] == "online"

    def broken_log(values: dict, step: int) -> None:
        raise ConnectionError("network down")

    run.log = broken_log
    _episode(hook, catalog, 1, accuracy=0.5)  # raises nothing
    assert "logging stopped (ConnectionError: network down)" in caplog.text
    assert run.exit_code == 1 and hook.run is None
    hook.after_pipeline_run(catalog)


def test_other_pipelines_are_not_logged(fake_wandb):
    hook, catalog = WandbEpisodeHook(), _Catalog()
    hook.before_pipeline_run({}, SimpleNamespace(nodes=[_node("train_student")]))
    hook.after_node_run(
        _node("iterative.check_iterative_inputs"),
        catalog,
        {},
        {"iterative.config": SETTINGS, "iterative.training_params": TRAINING},
    )
    assert not fake_wandb.runs


# ---------------------------------------------------------------------------------- report
def test_best_episode_by_objective_and_objective_type():
    reports = [
        {"metrics": {"eval/mean_accuracy": 0.2}},
        {"metrics": {"eval/mean_accuracy": 0.6}},
        {"metrics": {}, "errors": {"token_metrics": "boom"}},
    ]
    best, summary = select_best_episode(IterativeConfig(objective_type="max"), *reports)
    assert best["episode"] == 2 and summary["best_episode"] == 2
    assert [e["objective"] for e in summary["episodes"]] == [0.2, 0.6, None]
    best, _ = select_best_episode(IterativeConfig(objective_type="min"), *reports)
    assert best["episode"] == 1
    with pytest.raises(IterativeConfigError, match=r"reported by no episode.*boom"):
        select_best_episode(IterativeConfig(), reports[2])


def test_report_episodes_tabulates_one_row_per_episode_and_plots():
    summary = {"best_episode": 2, "objective": "eval/mean_accuracy", "objective_type": "max"}
    reports = [_report(0.2), _report(0.5), {"metrics": {"custom/score": 3}, "errors": {"x": "y"}}]
    datasets = [[{}] * 10, [{}] * 12, [{}] * 13]
    new = [[{}] * 2, [{}], []]
    table, metrics_plot, growth_plot, text = report_episodes(
        summary, *reports, *datasets, *new, n_episodes=3
    )
    assert list(table["episode"]) == [1, 2, 3]
    assert list(table["dataset_size"]) == [10, 12, 13]
    assert list(table["next_dataset_size"]) == [12, 13, 13]
    assert list(table["best"]) == [False, True, False]
    assert list(table.columns[:6]) == [
        "episode",
        "dataset_size",
        "new_samples",
        "next_dataset_size",
        "train/mean_loss",
        "eval/mean_loss",
    ]
    assert "eval/broken" not in table and table["custom/score"].iloc[2] == 3
    assert pd.isna(table["eval/mean_accuracy"].iloc[2])
    assert isinstance(metrics_plot, Figure) and isinstance(growth_plot, Figure)
    lines = text.splitlines()
    assert lines[0].split() == [
        "episode",
        "dataset_size",
        "new_samples",
        "eval/mean_accuracy",
        "task/accuracy",
        "teacher/task_accuracy",
    ]
    assert lines[2].split()[:2] == ["*", "2"] and lines[3].split()[-1] == "-"
    with pytest.raises(ValueError, match="expected 3 x 2 episode inputs"):
        report_episodes(summary, *reports, n_episodes=2)


# ---------------------------------------------------------------------------------- end to end
def _wandb_hook() -> WandbEpisodeHook:
    from kedro.framework.project import settings

    return next(h for h in settings.HOOKS if isinstance(h, WandbEpisodeHook))


@pytest.mark.slow
def test_the_tiny_loop_logs_to_an_offline_wandb_run_and_writes_its_report(
    project: Path, run_iterative, tmp_path, monkeypatch
):
    wandb_dir = tmp_path / "wandb_dir"
    wandb_dir.mkdir()
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    (project / "conf/local/credentials.yml").write_text(f"openai:\n  api_key: {SECRET}\n")
    training = {**TINY_RUN["training"], "report_to": "wandb"}
    out = project / OUTPUT

    run_iterative(n_episodes=1, training=training)

    # One offline run (the episode's training opened none), holding the keys and no secret.
    (run_dir,) = (wandb_dir / "wandb").glob("offline-run-*")
    (records,) = run_dir.glob("run-*.wandb")
    data = records.read_bytes()
    for key in (
        "eval/mean_accuracy",
        "task/of_teacher",
        "samples/train/accuracy",
        "best/episode",
        "training/loss_curve_episode_1",
    ):
        assert key.encode() in data, key
    assert b"iterative_model" in data and SECRET.encode() not in data
    assert len(pd.read_csv(out / "iterative_metrics.csv")) == 1

    # Continued with a second episode: a new run, which logs episode 1 from its saved outputs
    # and episode 2 as it runs; the report is rewritten with both episodes.
    run_iterative(n_episodes=2, training=training)

    assert len(list((wandb_dir / "wandb").glob("offline-run-*"))) == 2
    hook = _wandb_hook()
    assert hook.run is None  # finished
    assert set(hook.logged) == {1, 2}
    for episode, values in hook.logged.items():
        assert {
            "train/mean_loss",
            "train/mean_accuracy",
            "eval/mean_loss",
            "eval/mean_accuracy",
            "task/accuracy",
            "teacher/task_accuracy",
            "task/of_teacher",  # the oracle solves every task
            "samples/train/accuracy",
            "dataset/size",
            "dataset/new_samples",
            "training/loss_last",
            "best/episode",
            "best/value",
        } <= set(values), episode
    assert hook.logged[2]["dataset/size"] == hook.logged[1]["dataset/next_size"]
    summary = json.loads((out / "iterative_summary.json").read_text())
    assert hook.logged[2]["best/episode"] == summary["best_episode"]
    assert hook.config["iterative"]["name"] == "iterative_model"
    assert SECRET not in json.dumps(hook.config)

    table = pd.read_csv(out / "iterative_metrics.csv")
    assert list(table["episode"]) == [1, 2]
    assert list(table["dataset_size"]) == [hook.logged[n]["dataset/size"] for n in (1, 2)]
    assert list(table["best"]) == [n == summary["best_episode"] for n in (1, 2)]
    for plot in ("iterative_metrics.png", "dataset_growth.png"):
        assert (out / plot).read_bytes()[:4] == b"\x89PNG", plot
