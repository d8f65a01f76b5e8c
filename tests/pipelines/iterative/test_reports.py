"""Reporting of the iterative loop: each episode's summary, the report node's table and plots,
and one slow test running the tiny loop with a real offline wandb run (the hook's logic against
a fake wandb is in ``tests/test_hooks.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from prism.hooks.wandb_run import WandbEpisodeHook
from prism.pipelines.iterative import IterativeConfig, IterativeConfigError
from prism.pipelines.iterative.reports import (
    format_episode_line,
    report_episodes,
    select_best_episode,
    summarize_episode,
)
from tests.pipelines.iterative.conftest import OUTPUT, TINY_RUN

SECRET = "sk-test-0123456789abcdefSECRETVALUE"


def _report(accuracy: float) -> dict:
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


#: Episode 2 against episode 1 and the base, as compare_episode records it.
PAIRED = {
    "episode": 2,
    "previous": {"reference": "episode 1", "n": 20, "both": 4, "neither": 10, "gained": 5}
    | {"lost": 1, "difference": 0.2, "p_value": 0.21875},
    "base": {"reference": "base", "n": 20, "both": 2, "neither": 11, "gained": 7, "lost": 0}
    | {"difference": 0.35, "p_value": 0.015625},
}
BASE_EVALUATION = {
    "metrics": {
        "task/accuracy": 0.1,
        "task/accuracy_low": 0.05,
        "task/accuracy_high": 0.2,
        "task/n": 20,
        "teacher/task_accuracy": 1.0,
    }
}


# ---------------------------------------------------------------------------------- summary
def test_an_episode_summary_keeps_what_wandb_logs_as_finite_numbers():
    training = {
        "train_loss_first": 3.0,
        "train_loss_last": 2.0,
        "train_losses": [3.0, float("nan"), 2.0],
        "steps": 6,
        "val_loss_before": None,
        "train_seconds": 1.5,
        "tokens_per_second": float("nan"),
    }
    tables = {
        "samples": [
            {"split": "train", "id": "a", "loss": 1.0, "accuracy": 0.5},
            {"split": "eval", "id": "c", "loss": 3.0, "accuracy": float("nan")},
            {"split": "held_out", "id": "d", "loss": None, "accuracy": None},
        ]
    }
    summary = summarize_episode(
        training, _report(0.6), tables, [{}] * 10, [{}] * 3, PAIRED, BASE_EVALUATION, episode=2
    )
    assert summary == {
        "episode": 2,
        "metrics": {
            **{k: v for k, v in _report(0.6)["metrics"].items() if k != "eval/broken"},
            "base/task_accuracy": 0.1,
            "base/task_accuracy_low": 0.05,
            "base/task_accuracy_high": 0.2,
            **{
                f"paired/previous/{k}": v for k, v in PAIRED["previous"].items() if k != "reference"
            },
            **{f"paired/base/{k}": v for k, v in PAIRED["base"].items() if k != "reference"},
        },
        "dataset": {"size": 10, "new_samples": 3, "next_size": 13},
        "training": {"loss_first": 3.0, "loss_last": 2.0, "steps": 6, "seconds": 1.5},
        "loss_curve": [[3, 3.0], [6, 2.0]],  # the finite losses, spread over the steps
        "samples": {"train": {"accuracy": [0.5], "loss": [1.0]}, "eval": {"loss": [3.0]}},
    }
    assert json.loads(json.dumps(summary)) == summary  # plain JSON


# ---------------------------------------------------------------------------------- report
def test_best_episode_by_objective_and_objective_type():
    reports = [
        {"metrics": {"eval/mean_accuracy": 0.2}},
        {"metrics": {"eval/mean_accuracy": 0.6}},
        {"metrics": {}, "errors": {"token_metrics": "boom"}},
    ]
    best, summary = select_best_episode(
        IterativeConfig(objective="eval/mean_accuracy", objective_type="max"), *reports
    )
    assert best["episode"] == 2 and summary["best_episode"] == 2
    assert [e["objective"] for e in summary["episodes"]] == [0.2, 0.6, None]
    best, _ = select_best_episode(
        IterativeConfig(objective="eval/mean_accuracy", objective_type="min"), *reports
    )
    assert best["episode"] == 1
    with pytest.raises(IterativeConfigError, match=r"reported by no episode.*boom"):
        select_best_episode(IterativeConfig(), reports[2])


def test_report_episodes_tabulates_one_row_per_episode_and_plots():
    summary = {"best_episode": 2, "objective": "eval/mean_accuracy", "objective_type": "max"}
    reports = [_report(0.2), _report(0.5), {"metrics": {"custom/score": 3}, "errors": {"x": "y"}}]
    datasets = [[{}] * 10, [{}] * 12, [{}] * 13]
    new = [[{}] * 2, [{}], []]
    episodes = [
        summarize_episode({}, report, {}, samples, added, {}, {}, episode=n)
        for n, (report, samples, added) in enumerate(
            zip(reports, datasets, new, strict=True), start=1
        )
    ]
    table, metrics_plot, growth_plot, text = report_episodes(summary, *episodes)
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
    assert lines[0] == "episodes (* the best; the teacher solves 1.00 of the tasks)"
    assert " ".join(lines[1].split()) == "episode samples new token acc success [95% CI]"
    assert lines[3].split()[:2] == ["*", "2"] and lines[4].split()[-1] == "-"
    with pytest.raises(
        ValueError, match=r"expected the summaries of episodes 1 to 2, got \[1, 3\]"
    ):
        report_episodes(summary, episodes[0], episodes[2])


def _episodes_with_intervals() -> list[dict]:
    """Two episodes' summaries with their intervals, the base's and the paired comparisons."""
    episodes = []
    for n, (rate, low, high) in enumerate([(0.3, 0.2, 0.42), (0.5, 0.38, 0.62)], start=1):
        report = {"metrics": {"task/accuracy": rate, "task/accuracy_low": low}}
        report["metrics"] |= {"task/accuracy_high": high, "teacher/task_accuracy": 0.98}
        paired = {**PAIRED, "episode": n}
        if n == 1:
            paired["previous"] = {**PAIRED["base"]}
        episodes.append(
            summarize_episode({}, report, {}, [{}] * 10, [{}], paired, BASE_EVALUATION, episode=n)
        )
    return episodes


def test_the_report_shows_the_intervals_the_base_and_the_paired_comparisons():
    summary = {"best_episode": 2, "objective": "task/accuracy", "objective_type": "max"}
    _, _, _, text = report_episodes(summary, *_episodes_with_intervals())
    lines = text.splitlines()
    assert lines[0] == "episodes (* the best; the teacher solves 0.98 of the tasks)"
    assert " ".join(lines[1].split()) == "episode samples new success [95% CI] vs previous vs base"
    assert lines[2].split() == ["base", "-", "-", "0.10", "[0.05,", "0.20]", "-", "-"]
    assert (
        lines[3].split() == ["1", "10", "1", "0.30", "[0.20,", "0.42]"] + ["+7/-0", "p=0.016"] * 2
    )
    assert lines[4].split()[:7] == ["*", "2", "10", "1", "0.50", "[0.38,", "0.62]"]
    assert lines[4].split()[7:9] == ["+5/-1", "p=0.22"]
    assert max(len(line) for line in lines) <= 80  # an 80-column terminal does not wrap it


def test_a_teacher_that_differs_between_episodes_gets_a_column():
    summary = {"best_episode": 2, "objective": "task/accuracy", "objective_type": "max"}
    episodes = _episodes_with_intervals()
    episodes[1]["metrics"]["teacher/task_accuracy"] = 0.9
    _, _, _, text = report_episodes(summary, *episodes)
    lines = text.splitlines()
    assert lines[0] == "episodes (* the best)"
    assert lines[1].split()[6] == "teacher"
    assert lines[3].split()[6] == "0.98" and lines[4].split()[:8:7] == ["*", "0.9"]


def test_the_task_success_plot_has_wilson_error_bars_and_the_teacher_and_base_lines():
    from matplotlib.container import ErrorbarContainer

    summary = {"best_episode": 2, "objective": "task/accuracy", "objective_type": "max"}
    _, figure, _, _ = report_episodes(summary, *_episodes_with_intervals())
    task_ax = figure.axes[2]
    (bars,) = [c for c in task_ax.containers if isinstance(c, ErrorbarContainer)]
    assert bars.has_yerr
    segments = bars.lines[2][0].get_segments()
    assert [[tuple(point) for point in segment] for segment in segments] == [
        [(1, pytest.approx(0.2)), (1, pytest.approx(0.42))],
        [(2, pytest.approx(0.38)), (2, pytest.approx(0.62))],
    ]
    labels = {line.get_label(): line for line in task_ax.get_lines()}
    assert list(labels["teacher"].get_ydata()) == [0.98, 0.98]
    assert list(labels["untuned base"].get_ydata()) == [0.1, 0.1]
    assert [t.get_text() for t in task_ax.texts] == ["p=0.016", "p=0.22"]


def test_the_episode_line_says_the_success_with_its_interval_the_dataset_and_the_time():
    summary = summarize_episode(
        {}, _report(0.8), {}, [{}] * 30, [{}] * 3, PAIRED, BASE_EVALUATION, episode=2
    )
    summary["metrics"].update({"task/accuracy_low": 0.1, "task/accuracy_high": 0.45})
    line = format_episode_line(summary, 5, seconds=192.4, left=576)
    assert line == (
        "episode 2/5 done in 3 min 12 s: task success 0.25 [0.10, 0.45] (base 0.10, teacher "
        "1.00); trained on 30 samples, +3 -> 33; about 9 min 36 s left"
    )
    assert format_episode_line(summary, 2, 5, left=0).endswith("; the report follows")
    assert format_episode_line(summary, 2, 5).endswith("+3 -> 33")  # no estimate
    # the eval tasks skipped: the token accuracy instead
    summary["metrics"] = {"eval/mean_accuracy": 0.8}
    assert "eval/mean_accuracy 0.8 (no eval tasks)" in format_episode_line(summary, 2, 5)


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

    # One offline run (the episode's training opened none), holding the keys and no secret,
    # named in <output_dir>/wandb_run.json with the episode it holds.
    (run_dir,) = (wandb_dir / "wandb").glob("offline-run-*")
    named = json.loads((out / "wandb_run.json").read_text())
    run_hash = json.loads((out / "iterative_run.json").read_text())["hash"]
    assert named["id"].startswith(f"{run_hash}-") and named["episodes"] == [1]
    assert run_dir.name.endswith(f"-{named['id']}")
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

    # Continued with a second episode: the same run, resumed, which logs episode 2 only (wandb
    # keeps its steps increasing); offline, wandb writes this part in a second folder with the
    # run's id, which `wandb sync` uploads into the one run. The report has both episodes.
    first = _wandb_hook().logged[1]
    run_iterative(n_episodes=2, training=training)

    run_dirs = sorted((wandb_dir / "wandb").glob("offline-run-*"))
    assert len(run_dirs) == 2 and all(d.name.endswith(f"-{named['id']}") for d in run_dirs)
    assert json.loads((out / "wandb_run.json").read_text()) == {**named, "episodes": [1, 2]}
    hook = _wandb_hook()
    assert hook.run is None  # finished
    assert set(hook.logged) == {2}
    (records,) = run_dirs[1].glob("run-*.wandb")
    assert b"training/loss_curve_episode_2" in records.read_bytes()
    assert b"training/loss_curve_episode_1" not in records.read_bytes()  # in the first part
    logged = {1: first, 2: hook.logged[2]}  # each part's, together as the run holds them
    for episode, values in logged.items():
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
    assert logged[2]["dataset/size"] == logged[1]["dataset/next_size"]
    for episode in (1, 2):  # what was logged is the episode's summary on disk
        saved = json.loads((out / f"episode_{episode}/episode_summary.json").read_text())
        assert saved["episode"] == episode
        assert saved["dataset"]["size"] == logged[episode]["dataset/size"]
        for name, value in saved["metrics"].items():
            assert logged[episode][name] == value, name
    summary = json.loads((out / "iterative_summary.json").read_text())
    assert logged[2]["best/episode"] == summary["best_episode"]
    assert hook.config["iterative"]["name"] == "iterative_model"
    assert SECRET not in json.dumps(hook.config)

    table = pd.read_csv(out / "iterative_metrics.csv")
    assert list(table["episode"]) == [1, 2]
    assert list(table["dataset_size"]) == [logged[n]["dataset/size"] for n in (1, 2)]
    assert list(table["best"]) == [n == summary["best_episode"] for n in (1, 2)]
    for plot in ("iterative_metrics.png", "dataset_growth.png"):
        assert (out / plot).read_bytes()[:4] == b"\x89PNG", plot
