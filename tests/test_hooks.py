"""The project's wandb hook (``WandbEpisodeHook``) against a fake wandb: it knows the loop only by
the catalog entries marked ``metadata: {wandb: ...}``, and logs each episode from its summary.

The end-to-end run with a real offline wandb is in ``tests/pipelines/iterative/test_reports.py``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from prism.hooks.wandb_run import (
    WANDB_EPISODE,
    WANDB_RUN,
    WANDB_RUN_SUMMARY,
    WandbEpisodeHook,
    wandb_roles,
)
from prism.pipelines.iterative import IterativeConfig
from prism.pipelines.iterative.reports import summarize_episode
from prism.pipelines.iterative.tracking import REDACTED, WANDB_RUN_FILE, loop_tracking

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------- fakes
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
        self.Settings = lambda **settings: SimpleNamespace(**settings)
        self.setup_settings: list[Any] = []
        self.setup = lambda settings: self.setup_settings.append(settings)

    def init(self, **kwargs: Any) -> _FakeRun:
        if self.fail:
            raise RuntimeError("wandb service did not start")
        self.runs.append(_FakeRun(**kwargs))
        return self.runs[-1]


def _summary_name(n: int) -> str:
    return f"iterative.episode_{n}.episode_summary"


#: The marked entries of a 3-episode loop, as conf/base/catalog_iterative.yml marks them.
MARKERS = {
    "iterative.tracking": WANDB_RUN,
    "iterative.summary": WANDB_RUN_SUMMARY,
    **{_summary_name(n): WANDB_EPISODE for n in (1, 2, 3)},
}


class _Catalog:
    """Saved outputs by name, and every dataset's metadata."""

    def __init__(self, saved: dict[str, Any] | None = None, markers: dict | None = None) -> None:
        self.saved = dict(saved or {})
        self.markers = MARKERS if markers is None else markers

    def get(self, name: str) -> Any:
        role = self.markers.get(name)
        return SimpleNamespace(metadata={"wandb": role} if role else None)

    def exists(self, name: str) -> bool:
        return name in self.saved

    def load(self, name: str) -> Any:
        return self.saved[name]


def _pipeline(*datasets: str) -> SimpleNamespace:
    names = datasets or ("params:iterative", "iterative.config", *MARKERS)
    return SimpleNamespace(datasets=lambda: set(names))


SETTINGS = IterativeConfig(
    name="loop", n_episodes=2, objective="eval/mean_accuracy", output_dir="out"
)
RECORD = {"hash": "0123456789abcdef"}  # the run record's fingerprint hash
TRAINING = {"report_to": "wandb", "hub_token": "hf_secret", "epochs": 1}
GENERATION = {"teacher": {"endpoint": {"credentials": "openai"}}}
EVALUATION = {"evaluators": ["token_metrics"]}


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
TRAINING_METRICS = {
    "train_loss_first": 3.0,
    "train_loss_last": 2.0,
    "train_losses": [3.0, 2.0],  # logged every other step
    "steps": 4,
    "val_loss_after": None,
}


#: Each episode against the previous one and the untuned base (compare_episode's record).
PAIRED = {
    "episode": 1,
    "previous": {"reference": "base", "n": 4, "both": 0, "neither": 3, "gained": 1, "lost": 0}
    | {"difference": 0.25, "p_value": 1.0},
    "base": {"reference": "base", "n": 4, "both": 0, "neither": 3, "gained": 1, "lost": 0}
    | {"difference": 0.25, "p_value": 1.0},
}
BASE_EVALUATION = {"metrics": {"task/accuracy": 0.0, "task/accuracy_low": 0.0}}


def _summary(n: int, accuracy: float, size: int, new: int, training=TRAINING_METRICS) -> dict:
    return summarize_episode(
        training,
        _report(accuracy),
        TABLES,
        [{}] * size,
        [{}] * new,
        PAIRED,
        BASE_EVALUATION,
        episode=n,
    )


def _episode(hook: WandbEpisodeHook, n: int, accuracy: float) -> None:
    """Episode N's summary saved: trained on 10 + N samples, one new sample."""
    hook.after_dataset_saved(_summary_name(n), _summary(n, accuracy, size=10 + n, new=1))


def _start(hook: WandbEpisodeHook, catalog: _Catalog, training: dict = TRAINING) -> None:
    """A run of the loop in the project ``.`` (the test's folder) up to its tracking."""
    hook.before_pipeline_run({"project_path": "."}, _pipeline(), catalog)
    tracking = loop_tracking(SETTINGS, RECORD, training, GENERATION, EVALUATION)
    hook.after_dataset_saved("iterative.tracking", tracking)


def _run_file() -> dict[str, Any]:
    """``<output_dir>/wandb_run.json``: the loop's wandb run and the episodes it holds."""
    return json.loads((Path(SETTINGS.output_dir) / WANDB_RUN_FILE).read_text())


@pytest.fixture
def fake_wandb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> _FakeWandb:
    fake = _FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)  # the project: wandb_run.json goes to <tmp_path>/out
    return fake


# ---------------------------------------------------------------------------------- tests
def test_the_hook_logs_each_episode_at_its_step_offline_by_default(fake_wandb):
    hook, catalog = WandbEpisodeHook(), _Catalog()
    _start(hook, catalog)
    (run,) = fake_wandb.runs
    assert run.init["mode"] == "offline" and run.init["name"] == "loop"
    assert run.init["project"] == "prism"
    assert run.init["settings"].silent  # the hook's line says where the run is
    assert [settings.silent for settings in fake_wandb.setup_settings] == [True]
    assert run.init["config"]["training"]["hub_token"] == REDACTED
    assert run.init["config"]["generation"]["teacher"]["endpoint"]["credentials"] == REDACTED
    assert run.init["config"]["iterative"]["objective"] == "eval/mean_accuracy"
    assert run.init["resume"] == "allow" and run.init["id"].startswith(RECORD["hash"] + "-")
    assert _run_file() == {"id": run.init["id"], "project": "prism", "episodes": []}

    _episode(hook, 1, accuracy=0.6)
    _episode(hook, 2, accuracy=0.4)
    hook.after_dataset_saved(
        "iterative.summary",
        {"best_episode": 1, "value": 0.6, "objective": "eval/mean_accuracy"},
    )
    hook.after_pipeline_run()

    assert {step for step, _ in run.logs} == {1, 2}
    first, second = hook.logged[1], hook.logged[2]
    assert first["eval/mean_accuracy"] == 0.6 and "eval/broken" not in first
    assert first["task/of_teacher"] == 0.25 and first["teacher/task_accuracy"] == 1.0
    # the paired comparisons and the untuned base's success, from the summary
    assert first["paired/previous/gained"] == 1 and first["paired/base/p_value"] == 1.0
    assert first["base/task_accuracy"] == 0.0 and "paired/base/reference" not in first
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
    assert _run_file() == {"id": run.init["id"], "project": "prism", "episodes": [1, 2]}


def test_a_continued_loop_resumes_its_run_and_logs_only_the_new_episodes(fake_wandb):
    """Killed after episode 1 and run again: the same run (id), episode 2 only, the best
    still counting episode 1."""
    hook, catalog = WandbEpisodeHook(), _Catalog()
    _start(hook, catalog)
    hook.after_dataset_saved(_summary_name(1), first := _summary(1, 0.6, size=11, new=1))
    hook.on_pipeline_error()  # killed: the run is left, wandb_run.json names it
    assert _run_file()["episodes"] == [1]

    hook, catalog = WandbEpisodeHook(), _Catalog({_summary_name(1): first})
    _start(hook, catalog)
    _episode(hook, 2, accuracy=0.4)
    hook.after_pipeline_run()

    killed, resumed = fake_wandb.runs
    assert resumed.init["id"] == killed.init["id"] and resumed.init["resume"] == "allow"
    assert [step for step, _ in killed.logs] == [1] and [step for step, _ in resumed.logs] == [2]
    assert (hook.logged[2]["best/episode"], hook.logged[2]["best/value"]) == (1, 0.6)
    assert _run_file() == {"id": killed.init["id"], "project": "prism", "episodes": [1, 2]}


def test_a_loop_started_over_gets_a_run_of_its_own(fake_wandb):
    """Its outputs deleted, wandb_run.json with them: a new id, not the old run's steps written
    over (wandb would drop them)."""
    hook = WandbEpisodeHook()
    _start(hook, _Catalog())
    _episode(hook, 1, accuracy=0.6)
    hook.after_pipeline_run()
    (Path(SETTINGS.output_dir) / WANDB_RUN_FILE).unlink()
    _start(hook, _Catalog())
    _episode(hook, 1, accuracy=0.5)
    hook.after_pipeline_run()
    old, new = fake_wandb.runs
    assert new.init["id"] != old.init["id"] and [step for step, _ in new.logs] == [1]


def test_a_run_holding_episodes_output_dir_lacks_is_not_resumed(fake_wandb, caplog):
    """Episode 1's outputs deleted to do it again: its step is taken in the old run."""
    caplog.set_level(logging.WARNING, logger="prism.hooks")
    hook = WandbEpisodeHook()
    _start(hook, _Catalog())
    _episode(hook, 1, accuracy=0.6)
    hook.after_pipeline_run()
    _start(hook, _Catalog())  # wandb_run.json names episode 1, the catalog has none
    _episode(hook, 1, accuracy=0.5)
    hook.after_pipeline_run()
    old, new = fake_wandb.runs
    assert new.init["id"] != old.init["id"] and [step for step, _ in new.logs] == [1]
    assert "holding episode(s) [1], which output_dir no longer has; a new run" in caplog.text
    assert _run_file() == {"id": new.init["id"], "project": "prism", "episodes": [1]}


def test_a_loop_whose_run_lacks_finished_episodes_logs_them_from_disk_first(fake_wandb):
    """Episode 1 finished while wandb was off (no wandb_run.json): the run gets it first."""
    saved = {
        _summary_name(1): _summary(1, 0.3, size=11, new=2, training={"train_loss_last": 1.5}),
    }
    hook, catalog = WandbEpisodeHook(), _Catalog(saved)
    _start(hook, catalog)
    _episode(hook, 2, accuracy=0.5)
    hook.after_pipeline_run()
    (run,) = fake_wandb.runs
    assert [step for step, _ in run.logs] == [1, 2]  # 1 from disk, then 2 as it ends
    assert hook.logged[1]["dataset/next_size"] == 13 and hook.logged[1]["best/episode"] == 1
    assert hook.logged[1]["training/loss_last"] == 1.5
    assert hook.logged[2]["best/episode"] == 2


def test_a_run_resumed_during_generation_logs_that_episode_when_it_ends(fake_wandb):
    """Killed in episode 2's generation, with wandb off: episode 1's summary is on disk, 2's is
    made now."""
    saved = {
        _summary_name(1): _summary(1, 0.6, size=11, new=1, training={"train_loss_last": 1.5}),
    }
    hook, catalog = WandbEpisodeHook(), _Catalog(saved)
    _start(hook, catalog)
    hook.after_dataset_saved(
        _summary_name(2), _summary(2, 0.7, size=12, new=2, training={"train_loss_last": 1.5})
    )
    _episode(hook, 3, accuracy=0.5)
    hook.after_pipeline_run()

    (run,) = fake_wandb.runs  # the fake refuses a step that goes back
    assert (
        hook.logged[2]["eval/mean_accuracy"] == 0.7 and hook.logged[2]["training/loss_last"] == 1.5
    )
    assert hook.logged[2]["dataset/new_samples"] == 2 and hook.logged[2]["dataset/next_size"] == 14
    assert hook.logged[2]["best/episode"] == 2 and hook.logged[3]["best/episode"] == 2
    assert sorted({step for step, _ in run.logs}) == [1, 2, 3]


def test_the_summaries_on_disk_are_logged_in_episode_order_and_once(fake_wandb):
    saved = {_summary_name(n): _summary(n, 0.1 * n, size=10, new=1) for n in (3, 1, 2)}
    hook, catalog = WandbEpisodeHook(), _Catalog(saved)
    _start(hook, catalog)
    _episode(hook, 3, accuracy=0.9)  # saved again: already logged
    hook.after_pipeline_run()
    (run,) = fake_wandb.runs
    assert [step for step, _ in run.logs] == [1, 2, 3]
    assert hook.logged[3]["eval/mean_accuracy"] == pytest.approx(0.3)


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
    _episode(hook, 1, accuracy=0.5)
    hook.after_pipeline_run()
    assert not fake_wandb.runs and hook.logged == {} and hook.config is None
    assert not (Path(SETTINGS.output_dir) / WANDB_RUN_FILE).exists()  # no run to name


def test_wandb_failing_to_start_or_to_log_only_warns(fake_wandb, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="prism.hooks")
    fake_wandb.fail = True
    hook, catalog = WandbEpisodeHook(), _Catalog()
    _start(hook, catalog)
    assert hook.run is None and "could not start a run" in caplog.text
    assert not (Path(SETTINGS.output_dir) / WANDB_RUN_FILE).exists()
    _episode(hook, 1, accuracy=0.5)  # nothing to log to, nothing raised
    assert hook.logged == {}

    fake_wandb.fail = False
    monkeypatch.setenv("WANDB_MODE", "online")
    _start(hook, catalog)
    (run,) = fake_wandb.runs
    assert run.init["mode"] == "online"

    def broken_log(values: dict, step: int) -> None:
        raise ConnectionError("network down")

    run.log = broken_log
    _episode(hook, 1, accuracy=0.5)  # raises nothing
    assert "logging stopped (ConnectionError: network down)" in caplog.text
    assert run.exit_code == 1 and hook.run is None
    hook.after_pipeline_run()


def test_other_pipelines_are_not_logged(fake_wandb):
    """Datasets named like the loop's but not marked in the catalog are nothing to the hook."""
    hook, catalog = WandbEpisodeHook(), _Catalog(markers={})
    hook.before_pipeline_run({}, _pipeline("training_data", *MARKERS), catalog)
    hook.after_dataset_saved(
        "iterative.tracking", loop_tracking(SETTINGS, RECORD, TRAINING, GENERATION, EVALUATION)
    )
    assert not fake_wandb.runs


def test_a_marker_naming_no_role_is_left_out_with_a_warning(caplog):
    catalog = _Catalog(markers={"a": WANDB_EPISODE, "b": "episodes"})
    with caplog.at_level(logging.WARNING, logger="prism.hooks"):
        assert wandb_roles({"a", "b", "c"}, catalog) == {"a": WANDB_EPISODE}
    assert "catalog entry b: metadata wandb: 'episodes' is not one of" in caplog.text


def test_the_project_catalog_marks_the_loops_tracking_summaries_and_run_summary(
    tmp_path, monkeypatch
):
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from prism.pipelines.iterative import create_pipeline

    monkeypatch.chdir(tmp_path)  # the catalog's relative paths: nothing is written anyway
    loader = OmegaConfigLoader(str(REPO / "conf"), base_env="base", default_run_env="local")
    catalog = DataCatalog.from_config(loader["catalog"])
    assert wandb_roles(create_pipeline(2).datasets(), catalog) == {
        "iterative.tracking": WANDB_RUN,
        "iterative.summary": WANDB_RUN_SUMMARY,
        _summary_name(1): WANDB_EPISODE,
        _summary_name(2): WANDB_EPISODE,
    }


def test_wandb_speaks_when_its_own_variables_say_so(fake_wandb, monkeypatch):
    monkeypatch.setenv("WANDB_QUIET", "true")
    _start(WandbEpisodeHook(), _Catalog())
    (run,) = fake_wandb.runs
    assert not run.init["settings"].silent and not fake_wandb.setup_settings
