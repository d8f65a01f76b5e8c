"""The generation pipeline end to end, through a real KedroSession on a copy of the project."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from kedro.io import DatasetError

from prism.formats.conversations import load_samples
from prism.formats.errors import DataFormatError
from prism.generation import ConfigError
from tests.pipelines.generation.conftest import run_dir

SMALL = {"generation": {"n_samples": 4, "n_tasks": 2, "workers": 2}}


def _read(project: Path, relative: str):
    return json.loads((project / relative).read_text())


def test_generate_writes_samples_failures_stats_and_every_rollout(run_kedro, project):
    run_kedro(params=SMALL)

    stats = _read(project, "data/08_reporting/generation_stats.json")
    samples = _read(project, "data/03_primary/generated_samples.json")
    failed = _read(project, "data/03_primary/generated_failed.json")
    assert stats["total"] == 8
    assert stats["passed"] == len(samples) and stats["failed"] == len(failed)
    assert stats["passed"] + stats["failed"] == 8
    # Every rollout is kept in the data_gen folder, passed or failed, with its reason.
    store = run_dir(project)
    rollouts = sorted((store / "rollouts").glob("*.json"))
    assert len(rollouts) == 8
    statuses = {json.loads(p.read_text())["status"] for p in rollouts}
    assert statuses <= {"passed", "failed"}
    assert len(list((store / "scenes").glob("*.json"))) == 4

    # The training file is in the canonical conversation format, multi-turn, ids stable.
    assert load_samples(samples) == samples
    assert all(s["conversations"][0]["value"].startswith("task: ") for s in samples)
    assert any(sum(t["role"] == "assistant" for t in s["conversations"]) > 1 for s in samples)
    assert {s["source"] for s in samples} == {"oracle"}


def test_output_loads_with_hf_datasets(run_kedro, project):
    datasets = pytest.importorskip("datasets")
    run_kedro(params=SMALL)
    path = project / "data/03_primary/generated_samples.json"
    loaded = datasets.load_dataset("json", data_files=str(path), split="train")
    samples = _read(project, "data/03_primary/generated_samples.json")
    assert loaded.num_rows == len(samples) > 0
    assert loaded[0]["conversations"][0]["role"] == "user"


def test_generation_is_deterministic_under_the_seed(run_kedro, project, tmp_path_factory):
    run_kedro(params=SMALL)
    first = _read(project, "data/03_primary/generated_samples.json")
    # A fresh store, same parameters: identical samples.
    os.rename(project / "data/02_intermediate/data_gen", tmp_path_factory.mktemp("old") / "gen")
    run_kedro(params=SMALL)
    assert _read(project, "data/03_primary/generated_samples.json") == first


def test_rerun_resumes_without_redoing_or_duplicating(run_kedro, project):
    run_kedro(params=SMALL)
    store = run_dir(project) / "rollouts"
    complete = _read(project, "data/03_primary/generated_samples.json")
    # Simulate a kill: two rollouts never finished; the others keep their files untouched.
    lost = sorted(store.glob("*.json"))[:2]
    for path in lost:
        path.unlink()
    kept = {p: p.stat().st_mtime_ns for p in store.glob("*.json")}

    run_kedro(params=SMALL)

    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())
    assert all(p.exists() for p in lost)
    resumed = _read(project, "data/03_primary/generated_samples.json")
    assert resumed == complete
    assert len({s["id"] for s in resumed}) == len(resumed)


def test_larger_n_samples_extends_a_run(run_kedro, project):
    run_kedro(params=SMALL)
    small = _read(project, "data/03_primary/generated_samples.json")
    run_kedro(params={"generation": {**SMALL["generation"], "n_samples": 6}})
    large = _read(project, "data/03_primary/generated_samples.json")
    assert _read(project, "data/08_reporting/generation_stats.json")["total"] == 12
    assert [s["id"] for s in large[: len(small)]] == [s["id"] for s in small]


def test_other_parameters_get_their_own_run_folder(run_kedro, project):
    run_kedro(params=SMALL)
    first = run_dir(project)
    files = {p: p.stat().st_mtime_ns for p in first.rglob("*.json")}
    run_kedro(params={"generation": {**SMALL["generation"], "seed": 7}})
    folders = sorted((project / "data/02_intermediate/data_gen").iterdir())
    assert len(folders) == 2 and first in folders
    assert all(p.stat().st_mtime_ns == t for p, t in files.items())  # the first run is intact
    stats = _read(project, "data/08_reporting/generation_stats.json")
    assert stats["run_dir"] != str(first) and stats["config"]["seed"] == 7


def test_teacher_eval_reports_the_oracle_success_rate_on_shipped_tasks(run_kedro, project):
    run_kedro(params=SMALL)
    report = _read(project, "data/08_reporting/teacher_eval.json")
    assert report["teacher"] == "oracle"
    assert report["n_tasks"] >= 30
    assert report["success_rate"] >= 0.95


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"graph_unknown": [0.2, 30]}, "fractions in \\[0, 1\\]"),
        ({"min_regions": 9, "max_regions": 8}, "min_regions \\(9\\) is greater than"),
        ({"n_samples": -1}, "n_samples must be an integer >= 0"),
        ({"n_tasks": -1}, "n_tasks must be a positive integer"),
        ({"teacher": {"kind": "gpt5"}}, "teacher.kind: no teacher named 'gpt5'; installed"),
        ({"teacher": {"kind": "oracle", "temperature": 1}}, "unknown key\\(s\\) in generation"),
        ({"n_sample": 3}, "unknown generation parameter\\(s\\): n_sample"),
        ({"priors": 5}, "generation.priors must be a list of example tasks"),
        ({"priors": [{"example task": "Is there a boat?"}]}, "quote them in YAML"),
    ],
)
def test_bad_parameters_fail_before_any_output(run_kedro, project, override, message):
    with pytest.raises(ConfigError, match=message):
        run_kedro(params={"generation": {**SMALL["generation"], **override}})
    assert not (project / "data/03_primary/generated_samples.json").exists()
    assert not (project / "data/02_intermediate/data_gen").exists()


@pytest.mark.parametrize("text", ["0.2,0.5", "0.2 0.5", "0.2;0.5"])
def test_graph_unknown_accepts_the_seed_command_line_form(run_kedro, project, text):
    run_kedro(params={"generation": {**SMALL["generation"], "graph_unknown": text}})
    stats = _read(project, "data/08_reporting/generation_stats.json")
    assert stats["config"]["graph_unknown"] == [0.2, 0.5]
    samples = _read(project, "data/03_primary/generated_samples.json")
    assert {s["graph_unknown"] for s in samples} <= {0.2, 0.5}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"graph": {', r"eval_tasks_1\.json.*not valid JSON"),
        ('[{"tasks": []}]', r"eval_tasks_1\.json"),
        (
            json.dumps(
                {
                    "graph": {
                        "regions": [{"name": "a", "coords": [0, 0]}],
                        "objects": [],
                        "region_connections": [["a", "b"]],
                        "object_connections": [],
                        "robot_location": "a",
                    },
                    "tasks": [{"task": "t", "answer": "x", "init_node": "a"}],
                }
            ),
            r"eval_tasks_1\.json.*'b'",
        ),
        (
            json.dumps(
                {
                    "graph": {
                        "regions": [{"name": "a", "coords": [0, 0]}],
                        "objects": [],
                        "region_connections": [],
                        "object_connections": [],
                        "robot_location": "a",
                    },
                    "tasks": [{"task": "t", "answer": "x", "init_node": "nowhere"}],
                }
            ),
            r"eval_tasks_1\.json.*nowhere",
        ),
    ],
)
def test_a_malformed_eval_task_file_fails_before_any_output(run_kedro, project, content, message):
    (project / "data/01_raw/eval_tasks_1.json").write_text(content)
    # Kedro wraps a load error in DatasetError; the file's own message stays in it.
    with pytest.raises((DatasetError, DataFormatError), match=f"(?s){message}"):
        run_kedro(params=SMALL)
    assert not (project / "data/02_intermediate/data_gen").exists()
    assert not (project / "data/03_primary/generated_samples.json").exists()


def test_a_single_prior_string_steers_every_scene(run_kedro, project):
    prior = "example task: Is the truck damaged?"
    run_kedro(params={"generation": {**SMALL["generation"], "priors": prior}})
    scenes = sorted((run_dir(project) / "scenes").glob("*.json"))
    priors = [json.loads(p.read_text())["prior"] for p in scenes]
    assert {p["task"] for p in priors} == {"Is the truck damaged?"}
    assert {json.loads(p.read_text())["metadata"]["prior_kind"] for p in scenes} == {"attribute"}


def test_an_eval_task_of_unknown_kind_fails_before_any_output(run_kedro, project):
    path = project / "data/01_raw/eval_tasks_1.json"
    suite = json.loads(path.read_text())
    suite[0]["tasks"][0]["kind"] = "riddle"
    path.write_text(json.dumps(suite))
    with pytest.raises(ConfigError, match="task 0 has kind 'riddle'"):
        run_kedro(params=SMALL)
    assert not (project / "data/02_intermediate/data_gen").exists()


def test_a_teacher_from_the_example_package_drives_a_real_generation_run(
    run_kedro, project, example_plugin_installed, fresh_plugin_manager
):
    """prism_register_teachers: an installed package's teacher, chosen by kind, makes the data."""
    generation = {**SMALL["generation"], "teacher": {"kind": "look_first"}}
    run_kedro(params={"generation": generation})
    samples = json.loads((project / "data/03_primary/generated_samples.json").read_text())
    assert samples and {s["source"] for s in samples} == {"look_first"}
    for sample in samples:
        first_user, first_turn = sample["conversations"][:2]
        start = json.loads(first_user["value"].split("Scene graph:", 1)[1])["robot_location"]
        assert json.loads(first_turn["value"])["plan"].startswith(f"[map_region({start}), ")
    stats = json.loads((project / "data/08_reporting/generation_stats.json").read_text())
    assert stats["config"]["teacher"]["kind"] == "look_first"
    assert (
        json.loads((project / "data/08_reporting/teacher_eval.json").read_text())["teacher"]
        == "look_first"
    )
