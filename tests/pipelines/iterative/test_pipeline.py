"""``kedro run --pipelines iterative`` end to end on tiny data: outputs, resume, bad inputs."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from kedro.io import DatasetError

from prism.endpoint import EndpointError
from prism.formats.errors import DataFormatError
from prism.pipelines.iterative import IterativeConfigError
from prism.plugins import SamplerPlugin, UnknownPluginError, hookimpl
from prism.sampling.samplers import sample_loss_weighted
from tests.conftest import write_not_spine
from tests.generation.conftest import Garbage
from tests.pipelines.iterative.conftest import EVAL_FILE as EVAL
from tests.pipelines.iterative.conftest import OUTPUT, sample_ids


class _KilledOnce:
    """A sampler plugin that dies on its second draw (episode 2), like a killed run."""

    def __init__(self) -> None:
        self.draws = 0

    @hookimpl
    def prism_register_samplers(self):
        def sample(request):
            self.draws += 1
            if self.draws == 2:
                raise KeyboardInterrupt("killed in episode 2")
            return sample_loss_weighted(request)

        return [SamplerPlugin("killed_once", sample, "loss_weighted, killed on its 2nd draw")]


def _stamp(model: Path) -> int:
    return (model / "prism_model.json").stat().st_mtime_ns


@pytest.mark.slow
def test_two_episodes_resume_after_a_kill_and_link_the_best_model(
    project, run_iterative, fresh_plugin_manager
):
    from prism.plugins import get_plugin_manager

    get_plugin_manager().register(_KilledOnce(), name="killed-once-test-plugin")
    params = {"n_episodes": 2, "sampling_strategy": "killed_once", "objective_type": "min"}
    with pytest.raises(KeyboardInterrupt):
        run_iterative(**params)
    out = project / OUTPUT
    assert (out / "iterative_model_episode_2").is_dir()
    assert not (out / "new_samples_episode_2.json").exists()
    stamps = {n: _stamp(out / f"iterative_model_episode_{n}") for n in (1, 2)}
    new_1 = sample_ids(out / "new_samples_episode_1.json")

    run_iterative(**params)  # the same command again

    # Finished episodes are not retrained, generated samples not regenerated.
    assert {n: _stamp(out / f"iterative_model_episode_{n}") for n in (1, 2)} == stamps
    assert sample_ids(out / "new_samples_episode_1.json") == new_1
    # The seed's outputs, every episode.
    for name in (
        "dataset_episode_0.json",
        "dataset_episode_1.json",
        "dataset_episode_2.json",
        "dataset_episode_3.json",
        "new_samples_episode_1.json",
        "new_samples_episode_2.json",
    ):
        assert (out / name).is_file(), name
    for n in (1, 2):
        assert (out / f"iterative_model_episode_{n}" / "prism_model.json").is_file()
        assert any((out / f"data_gen_episode_{n}").rglob("rollouts/*.json"))
        priors = json.loads((out / f"episode_{n}/generation_priors.json").read_text())
        assert priors["sampler"] == "killed_once"
        assert [p["sample_id"] for p in priors["priors"]] == priors["ids"]
        assert all(p["task"] for p in priors["priors"])
        assert set(priors["ids"]) <= set(sample_ids(out / f"dataset_episode_{n}.json"))
    # Datasets grow by the new samples, each sample once.
    initial = sample_ids(out / "dataset_episode_0.json")
    assert sample_ids(out / "dataset_episode_1.json") == initial
    for n in (1, 2):
        new = sample_ids(out / f"new_samples_episode_{n}.json")
        assert 1 <= len(new) <= 2
        grown = sample_ids(out / f"dataset_episode_{n + 1}.json")
        assert grown == sample_ids(out / f"dataset_episode_{n}.json") + new
        assert len(set(grown)) == len(grown)
    # best_model: a relative link to the episode with the lowest eval/mean_accuracy.
    summary = json.loads((out / "iterative_summary.json").read_text())
    values = {e["episode"]: e["objective"] for e in summary["episodes"]}
    assert summary["best_episode"] == min(values, key=lambda n: (values[n], n))
    link = out / "best_model"
    assert link.is_symlink()
    assert os.readlink(link) == f"iterative_model_episode_{summary['best_episode']}"
    metrics = json.loads((out / "episode_1/evaluation_metrics.json").read_text())["metrics"]
    assert {"eval/mean_accuracy", "task/accuracy", "teacher/task_accuracy"} <= set(metrics)
    # The untuned base on the same tasks, once; each episode against the previous and the base.
    base = json.loads((out / "base/evaluation_metrics.json").read_text())["metrics"]
    assert base["task/n"] == 3 and "task/accuracy_low" in base and "train/mean_loss" not in base
    for n, previous in ((1, "base"), (2, "episode 1")):
        paired = json.loads((out / f"episode_{n}/paired_comparison.json").read_text())
        assert paired["previous"]["reference"] == previous and paired["base"]["n"] == 3
        row = json.loads((out / f"episode_{n}/episode_summary.json").read_text())["metrics"]
        assert row["paired/previous/gained"] == paired["previous"]["gained"]
        assert row["base/task_accuracy"] == base["task/accuracy"]

    # A third run does nothing new and duplicates nothing; max picks the other way round.
    run_iterative(**{**params, "objective_type": "max"})
    assert {n: _stamp(out / f"iterative_model_episode_{n}") for n in (1, 2)} == stamps
    assert sample_ids(out / "dataset_episode_3.json") == sample_ids(
        out / "dataset_episode_2.json"
    ) + sample_ids(out / "new_samples_episode_2.json")
    summary = json.loads((out / "iterative_summary.json").read_text())
    assert summary["best_episode"] == max(values, key=lambda n: (values[n], -n))
    assert os.readlink(link) == f"iterative_model_episode_{summary['best_episode']}"

    # A run made before the base evaluation and the paired comparisons existed continues: they
    # are made for it, nothing is retrained.
    shutil.rmtree(out / "base")
    for n in (1, 2):
        (out / f"episode_{n}/paired_comparison.json").unlink()
    run_iterative(**{**params, "objective_type": "max"})
    assert {n: _stamp(out / f"iterative_model_episode_{n}") for n in (1, 2)} == stamps
    assert (out / "base/evaluation_tables.json").is_file()
    assert (out / "episode_2/paired_comparison.json").is_file()

    # Other parameters never overwrite the run.
    with pytest.raises(IterativeConfigError, match=r"other parameters .*n_batch: 2 -> 3"):
        run_iterative(**{**params, "n_batch": 3})
    assert {n: _stamp(out / f"iterative_model_episode_{n}") for n in (1, 2)} == stamps


# ---------------------------------------------------------------------------------- bad inputs
def _earlier_run(project: Path) -> dict[str, str]:
    """An output folder holding an earlier run's file, which a failed run must not touch."""
    out = project / OUTPUT
    out.mkdir(parents=True)
    (out / "dataset_episode_0.json").write_text("[]")
    return {p.name: p.read_text() for p in out.iterdir()}


def _untouched(project: Path, before: dict[str, str]) -> bool:
    out = project / OUTPUT
    return {p.name: p.read_text() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"n_episodes": 0}, IterativeConfigError, r"n_episodes must be an integer >= 1, got 0"),
        ({"n_batch": 0}, IterativeConfigError, r"n_batch must be an integer >= 1, got 0"),
        (
            {"initial_dataset_size": 1000},
            IterativeConfigError,
            r"initial_dataset_size is 1000 but initial_data .* holds only 48 samples",
        ),
        (
            {"sampling_strategy": "hardest_first"},
            UnknownPluginError,
            r"hardest_first.*accuracy_weighted, loss_weighted, task_failure, uniform",
        ),
        (
            {"objective": "task/accuracy", "skip_eval_tasks": True},
            IterativeConfigError,
            r"objective 'task/accuracy' is reported by no configured evaluator; available: "
            r"train/mean_loss, train/mean_accuracy, train/n, eval/mean_loss, eval/mean_accuracy",
        ),
        (
            {"objective": "eval/mean_accuracy", "val_frac": 0.0},
            IterativeConfigError,
            r"objective 'eval/mean_accuracy' is reported by no configured evaluator",
        ),
        (
            {"objective_type": "best"},
            IterativeConfigError,
            r"objective_type must be 'max' or 'min'",
        ),
        (
            {"collection": "student"},
            IterativeConfigError,
            r"collection must be 'teacher' or 'dagger' or 'mixed', got 'student'",
        ),
        (
            {"collection": "dagger", "dagger_beta": 1.5},
            IterativeConfigError,
            r"dagger_beta must be a probability in \[0, 1\], got 1.5",
        ),
        (
            {"dagger_beta_decay": -0.5},
            IterativeConfigError,
            r"dagger_beta_decay must be a probability in \[0, 1\], got -0.5",
        ),
        (
            {"probe_tasks": -1},
            IterativeConfigError,
            r"probe_tasks must be an integer >= 0 \(0: no probe\), got -1",
        ),
        (
            {"collection": "mixed", "probe_tasks": 0},
            IterativeConfigError,
            r"collection 'mixed' collects on the probe's tasks, but probe_tasks is 0",
        ),
        (
            {"sampling_strategy": "task_failure", "probe_tasks": 0},
            IterativeConfigError,
            r"sampling_strategy 'task_failure' picks from the closed-loop probe's outcomes, "
            r"but probe_tasks is 0",
        ),
        ({"warm_start": "yes"}, IterativeConfigError, r"warm_start must be true or false"),
        ({"strict_data": "yes"}, IterativeConfigError, r"strict_data must be true or false"),
        (
            {"sampling_strategy": ""},
            IterativeConfigError,
            r"^sampling_strategy is empty: pass one of the installed samplers: "
            r"accuracy_weighted, loss_weighted, task_failure, uniform",
        ),
        (
            {"n_batch": 10**9},
            IterativeConfigError,
            r"^n_batch 1000000000 cannot be done: episode 1 would train on 48 \+ 1 x "
            r"1000000000 samples held in memory, .* more than this machine's .*B of memory: "
            r"pass n_batch \d+ or less$",
        ),
        (
            {"collection": "dagger", "probe_tasks": 2, "n_batch": 61},
            IterativeConfigError,
            r"^n_batch 61 cannot be reached with collection 'dagger': .* 60 in all: pass "
            r"probe_tasks 3 or more",
        ),
        ({"initial_data": "data/01_raw/missing.json"}, DatasetError, r"missing\.json"),
        ({"eval_task_file": "data/01_raw/no_tasks.json"}, DatasetError, r"no_tasks\.json"),
    ],
    ids=[
        "n_episodes<1",
        "n_batch<1",
        "initial_dataset_size>data",
        "unknown-sampler",
        "objective-not-produced",
        "objective-without-val",
        "objective_type",
        "unknown-collection",
        "dagger_beta>1",
        "dagger_beta_decay<0",
        "probe_tasks<0",
        "collection-without-probe",
        "task_failure-without-probe",
        "warm_start-not-bool",
        "strict_data-not-bool",
        "empty-sampler",
        "n_batch-beyond-memory",
        "dagger-beyond-the-probe",
        "missing-initial_data",
        "missing-eval_task_file",
    ],
)
def test_bad_input_stops_before_anything_is_written(
    project, run_iterative, overrides, error, message
):
    before = _earlier_run(project)
    with pytest.raises(error, match=message):
        run_iterative(**overrides)
    assert _untouched(project, before)
    assert not (project / "data/02_intermediate").exists()


def test_an_output_dir_that_is_a_file_stops_before_anything_is_written(project, run_iterative):
    file = project / "output" / "run.txt"
    file.parent.mkdir()
    file.write_text("a file")
    with pytest.raises(IterativeConfigError, match=r"output_dir .*run\.txt is a file, not a"):
        run_iterative(output_dir=str(file))
    assert file.read_text() == "a file" and sorted(file.parent.iterdir()) == [file]
    assert not (project / "data/02_intermediate").exists()


def test_strict_data_refuses_initial_turns_that_are_no_spine_responses(project, run_iterative):
    write_not_spine(project, "bad.json", sample=5)
    before = _earlier_run(project)
    with pytest.raises(DataFormatError, match=r"bad\.json: 1 of 48 samples .* sample 5 \("):
        run_iterative(initial_data="data/01_raw/bad.json", strict_data=True)
    assert _untouched(project, before)
    assert not (project / "data/02_intermediate").exists()


def test_an_unreachable_teacher_stops_before_anything_is_written(
    project, run_iterative, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    before = _earlier_run(project)
    endpoint = {"base_url": "http://127.0.0.1:9/v1", "max_retries": 0, "timeout_s": 5}
    with pytest.raises(EndpointError, match=r"cannot reach http://127\.0\.0\.1:9/v1"):
        run_iterative(generation={"workers": 2, "teacher": {"kind": "llm", "endpoint": endpoint}})
    assert _untouched(project, before)  # no run record: the corrected command may start afresh


def test_how_an_endpoint_is_reached_is_not_part_of_the_run():
    from prism.pipelines.iterative.nodes import _what_generation_makes

    def generation(**endpoint):
        teacher = {"kind": "llm", "endpoint": {"model": "gpt-4o", "temperature": 0.2, **endpoint}}
        return {"workers": 8, "seed": 1, "teacher": teacher}

    reached = _what_generation_makes(generation(base_url="http://a/v1", timeout_s=60))
    assert reached == _what_generation_makes(generation(base_url="http://b/v1", max_retries=9))
    assert reached != _what_generation_makes(generation(model="gpt-4o-mini"))
    assert "workers" not in reached and reached["teacher"]["endpoint"]["temperature"] == 0.2


@pytest.mark.slow
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(
    project, run_iterative, fresh_plugin_manager, tmp_path
):
    """Killed in episode 2 and resumed == never killed (same seed, same sampler behaviour)."""
    import shutil

    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from prism.plugins import get_plugin_manager
    from tests.pipelines.iterative.conftest import TINY_RUN

    clean = tmp_path / "uninterrupted"
    shutil.copytree(project, clean)
    get_plugin_manager().register(_KilledOnce(), name="killed-once-test-plugin")
    params = {"n_episodes": 2, "sampling_strategy": "killed_once"}
    with pytest.raises(KeyboardInterrupt):
        run_iterative(**params)
    run_iterative(**params)

    class _NeverKilled(_KilledOnce):
        def __init__(self) -> None:
            self.draws = 10  # past the draw that kills

    get_plugin_manager().unregister(name="killed-once-test-plugin")
    get_plugin_manager().register(_NeverKilled(), name="never-killed-test-plugin")
    os.chdir(clean)
    bootstrap_project(clean)
    with KedroSession.create(project_path=clean, runtime_params={**TINY_RUN, **params}) as session:
        session.run(pipeline_names=["iterative"], only_missing_outputs=True)
    for name in (
        "dataset_episode_3.json",
        "new_samples_episode_1.json",
        "new_samples_episode_2.json",
    ):
        assert sample_ids(project / OUTPUT / name) == sample_ids(clean / OUTPUT / name), name


def test_how_a_run_is_watched_or_checkpointed_is_not_part_of_it():
    from prism.pipelines.iterative.config import IterativeConfig

    config = IterativeConfig()
    training = {"epochs": 3, "r": 16, "report_to": "wandb", "checkpoint_every": 50}
    same = config.fingerprint({**training, "report_to": "none", "checkpoint_every": 0}, {})
    assert config.fingerprint(training, {}) == same
    assert config.fingerprint({**training, "epochs": 1}, {}) != same


@pytest.mark.slow
def test_a_sampler_installed_from_its_package_drives_a_real_run(
    project, run_iterative, example_plugin_installed, fresh_plugin_manager
):
    """The example package in tests/plugins, pip-installed, found through its entry point."""
    # Half the rollouts cut after their first turn, so "the longest" means something.
    samples = json.loads((project / "data/01_raw/initial_dataset.json").read_text())
    for sample in samples[::2]:
        turns = sample["conversations"]
        first = next(i for i, m in enumerate(turns) if m["role"] == "assistant")
        sample["conversations"] = turns[: first + 1]
    initial = project / "data/01_raw/mixed_lengths.json"
    initial.write_text(json.dumps(samples))
    run_iterative(sampling_strategy="longest_first", initial_data=str(initial))

    out = project / OUTPUT
    priors = json.loads((out / "episode_1" / "generation_priors.json").read_text())
    assert priors["sampler"] == "longest_first"
    samples = json.loads((out / "dataset_episode_1.json").read_text())
    # the plugin's turns: assistant messages; it picks the samples with the most
    turns = {s["id"]: sum(m["role"] == "assistant" for m in s["conversations"]) for s in samples}
    picked = sorted((turns[i] for i in priors["ids"]), reverse=True)
    assert picked == sorted(turns.values(), reverse=True)[: len(picked)]
    assert len(set(turns.values())) > 1  # not a tie that any sampler would pass
    assert (out / "new_samples_episode_1.json").exists() and (out / "best_model").exists()


@pytest.mark.slow
def test_on_policy_episodes_train_on_the_teachers_labels_and_resume(project, run_iterative):
    """collection=mixed with task_failure and warm_start: the probe's outcomes, the teacher's
    labels of the student's states (its own turns at weight 0), half of the new samples each;
    episode 2 continues from episode 1's weights; a collection cut short resumes."""
    params = {
        "n_episodes": 2,
        "n_batch": 4,
        "collection": "mixed",
        "sampling_strategy": "task_failure",
        "probe_tasks": 3,
        "warm_start": True,
    }
    run_iterative(**params)
    out = project / OUTPUT
    for n in (1, 2):
        outcomes = json.loads((out / f"episode_{n}/probe_outcomes.json").read_text())
        assert len(outcomes) == 3 and all(o["world"]["graph"] for o in outcomes)
        eval_tasks = {
            t["task"] for s in json.loads((project / EVAL).read_text()) for t in s["tasks"]
        }
        assert not {o["task"] for o in outcomes} & eval_tasks  # never the eval file's tasks
        states = json.loads((out / f"episode_{n}/collected_states.json").read_text())
        assert states and all(s["source"] == "dagger:oracle" for s in states)
        for state in states:
            turns = [m for m in state["conversations"] if m["role"] == "assistant"]
            assert "weight" not in turns[-1]  # the teacher's turn is trained on
            assert all(m["weight"] == 0 for m in turns[:-1])  # the student's are not
        new = json.loads((out / f"new_samples_episode_{n}.json").read_text())
        sources = [s["source"].split(":")[0] for s in new]
        assert len(new) == 4 and sources.count("dagger") == 2, sources
        report = json.loads((out / f"episode_{n}/collection_report.json").read_text())
        assert report["probe"]["probe/n"] == 3
        assert report["collection"]["beta"] == 0.5 * 0.5 ** (n - 1)
        row = json.loads((out / f"episode_{n}/episode_summary.json").read_text())["metrics"]
        assert row["probe/n"] == 3 and row["collection/states"] == report["collection"]["states"]
    # task_failure: the tiny student fails the probe, so the priors replay its failed worlds.
    priors = json.loads((out / "episode_1/generation_priors.json").read_text())
    assert priors["sampler"] == "task_failure" and all(p.get("world") for p in priors["priors"])
    training = json.loads((out / "episode_2/training_metrics.json").read_text())
    assert training["continued_from"].endswith("iterative_model_episode_1")
    assert (
        json.loads((out / "episode_1/training_metrics.json").read_text())["continued_from"] is None
    )

    # A collection cut short (one world's record lost, its outputs not written) resumes: the
    # stored worlds are read back, the missing one is collected again, the states are the same.
    records = sorted((out / "episode_2/collection").rglob("*.json"))
    stamps = {r: r.stat().st_mtime_ns for r in records[1:]}
    before = (out / "episode_2/collected_states.json").read_text()
    records[0].unlink()
    for name in ("collected_states.json", "collection_report.json", "probe_outcomes.json"):
        (out / "episode_2" / name).unlink()
    run_iterative(**params)
    assert records[0].is_file()
    assert {r: r.stat().st_mtime_ns for r in records[1:]} == stamps
    assert (out / "episode_2/collected_states.json").read_text() == before


class _FirstRolloutsFail:
    """The episode's teacher, but a planner that never writes a valid turn for its first
    ``n`` rollouts: the episode's first scenes pass nothing."""

    def __init__(self, teacher, n: int) -> None:
        self.teacher, self.name, self.left = teacher, teacher.name, n
        self.lock = threading.Lock()

    def check(self) -> None:
        self.teacher.check()

    def planner(self, task, sim):
        with self.lock:
            self.left -= 1
            fails = self.left >= 0
        return Garbage() if fails else self.teacher.planner(task, sim)


@pytest.mark.slow
def test_an_episode_makes_n_batch_new_samples_when_rollouts_fail(
    project, run_iterative, monkeypatch
):
    """n_batch means n_batch: the rollouts that failed are made up for by further scenes."""
    from prism.pipelines.generation import nodes

    build = nodes.build_teacher
    monkeypatch.setattr(nodes, "build_teacher", lambda *args: _FirstRolloutsFail(build(*args), 2))
    run_iterative(probe_tasks=2)  # n_batch 2: one scene of 2 tasks, both failed
    out = project / OUTPUT
    assert len(sample_ids(out / "new_samples_episode_1.json")) == 2
    stats = json.loads((out / "episode_1/generation_stats.json").read_text())
    assert stats["failed"] == 2 and stats["failed_by_reason"]
    # nothing passed: the round is sized for 10 % of 2 rollouts a scene passing; the 20
    # rollouts of its 10 scenes all passed, each a new sample
    assert stats["passed"] == 20
    assert stats["target"] == {
        "samples": 2,
        "passed": 20,
        "reached": True,
        "extra_rounds": 1,
        "extra_scenes": 10,
        "max_extra_rounds": 3,
    }
