"""The seed's interfaces (``IterativeTrainingPipeline``, ``run_iterative_training.py``) as thin
facades over ``kedro run --pipelines iterative``: the same parameters, the same outputs."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from prism.iterative import IterativeTrainingPipeline
from prism.iterative.run_iterative_training import build_parser, main, pipeline_from_args
from prism.pipelines.iterative import IterativeConfig, IterativeConfigError
from prism.training.train import TrainConfig
from tests.conftest import write_not_spine
from tests.iterative.conftest import SCRIPT
from tests.pipelines.iterative.conftest import EVAL_FILE, FAST_EVALUATION, TINY_RUN
from tests.training.conftest import TINY_SPEC

#: Further runtime parameters of a tiny run (short closed-loop turns, 2 generation workers).
TINY_EXTRA = {"evaluation": FAST_EVALUATION, "generation": {"workers": 2}}
#: The seed's outputs of a one-episode run.
SEED_FILES = ("dataset_episode_1.json", "new_samples_episode_1.json", "dataset_episode_2.json")
SEED_DIRS = ("iterative_model_episode_1", "data_gen_episode_1")


def _tiny_train_config(**overrides) -> TrainConfig:
    values = {
        "name": "iterative_model",
        "data": "data/01_raw/initial_dataset.json",
        "base_model": "builtin",
        "epochs": 1,
        "report_to": "none",
        "warmup_steps": 0,
        "per_device_train_batch_size": 8,
        "builtin_model": TINY_SPEC,
    }
    return TrainConfig(**{**values, **overrides})


def _assert_seed_outputs(out: Path) -> None:
    for name in SEED_FILES:
        assert (out / name).is_file(), name
    for name in SEED_DIRS:
        assert (out / name).is_dir(), name
    assert (out / "iterative_model_episode_1" / "prism_model.json").is_file()
    assert os.readlink(out / "best_model") == "iterative_model_episode_1"
    grown = json.loads((out / "dataset_episode_2.json").read_text())
    new = json.loads((out / "new_samples_episode_1.json").read_text())
    assert 1 <= len(new) <= 2 and grown[-len(new) :] == new


# ------------------------------------------------------------------------------ the mapping
def test_defaults_are_the_pipelines():
    """The constructor's and the command line's defaults are parameters_iterative.yml's."""
    loop = {f.name: f.default for f in dataclasses.fields(IterativeConfig)}
    signature = inspect.signature(IterativeTrainingPipeline).parameters
    renamed = {"initial_data_path": "initial_data", "held_out_data_path": "held_out_data"}
    for arg, parameter in signature.items():
        name = renamed.get(arg, arg)
        if name in loop and parameter.default is not inspect.Parameter.empty:
            # None: the project's value (eval_task_file, held_out_data, initial_dataset_size).
            assert parameter.default in (loop[name], None), arg
    assert tuple(signature)[:11] == (
        "initial_data_path",
        "output_dir",
        "n_episodes",
        "n_batch",
        "train_config",
        "held_out_data_path",
        "seed",
        "eval_task_file",
        "graph_unknown",
        "min_regions",
        "max_regions",
    )
    # The command line has no values of its own: a flag left out is None, and not passed.
    args = build_parser().parse_args([])
    flags = [name for name in (*loop, *TrainConfig.__dataclass_fields__) if hasattr(args, name)]
    assert {"n_episodes", "n_batch", "skip_eval_tasks", "graph_unknown", "epochs"} <= set(flags)
    assert all(getattr(args, name) is None for name in flags), vars(args)


def test_train_config_and_paths_become_the_pipelines_runtime_params(project, monkeypatch):
    pipeline = IterativeTrainingPipeline(
        initial_data_path=None,  # train_config.data
        output_dir=project.parent / "elsewhere",
        n_episodes=2,
        n_batch=3,
        train_config=_tiny_train_config(r=32, lora_alpha=8, seed=7),
        eval_task_file="eval_small.json",  # a bare name, found in data/01_raw
        graph_unknown=[0.2, 0.5],
        skip_eval_tasks=True,
        params={"generation.workers": 2},
    )
    params = pipeline.runtime_params()
    assert params["initial_data"] == "data/01_raw/initial_dataset.json"
    assert params["output_dir"] == str(project.parent / "elsewhere")
    assert params["eval_task_file"] == EVAL_FILE
    assert "held_out_data" not in params and "initial_dataset_size" not in params
    assert (params["n_episodes"], params["n_batch"], params["graph_unknown"]) == (2, 3, [0.2, 0.5])
    assert params["skip_eval_tasks"] is True and params["seed"] == 42
    # The seed's training flags by their flat names, the other fields under `training`.
    assert (params["name"], params["r"], params["epochs"], params["base_model"]) == (
        "iterative_model",
        32,
        1,
        "builtin",
    )
    assert params["training"]["lora_alpha"] == 8
    assert params["training"]["builtin_model"] == dataclasses.asdict(TINY_SPEC)
    assert not {"name", "data", "val_frac", "seed", "epochs", "r"} & set(params["training"])
    assert params["iterative"] == {"training": {"seed": 7}}  # train_config.seed kept
    assert params["generation"] == {"workers": 2}

    # From a sub-folder, paths are the caller's, written relative to the project root.
    (project / "data/sub").mkdir()
    monkeypatch.chdir(project / "data/sub")
    params = IterativeTrainingPipeline("../01_raw/initial_dataset.json", "out").runtime_params()
    assert params["initial_data"] == "data/01_raw/initial_dataset.json"
    assert params["output_dir"] == "data/sub/out"
    assert params["graph_unknown"] == [0.2, 0.3, 0.4, 0.5] and "eval_task_file" not in params
    assert "training" not in params and "name" not in params  # the project's training


def test_command_line_passes_only_the_flags_given(project):
    """A run of the seed's command line names only what the user gave: the rest is the project's."""
    paths = ["--initial_data", "data/01_raw/initial_dataset.json", "--output_dir", "output/cli"]
    args = build_parser().parse_args(paths)
    assert pipeline_from_args(args).runtime_params() == {
        "initial_data": "data/01_raw/initial_dataset.json",
        "output_dir": "output/cli",
    }
    given = [*paths, "--n_batch", "7", "--skip_eval_tasks", "--epochs", "1", "--lora_alpha", "8"]
    params = pipeline_from_args(build_parser().parse_args(given)).runtime_params()
    assert params == {
        "initial_data": "data/01_raw/initial_dataset.json",
        "output_dir": "output/cli",
        "n_batch": 7,
        "skip_eval_tasks": True,
        "epochs": 1,
        "training": {"lora_alpha": 8},
    }
    onpolicy = ["--collection", "dagger", "--dagger_beta", "0.3", "--probe_tasks", "6"]
    params = pipeline_from_args(build_parser().parse_args([*onpolicy, "--warm_start"]))
    assert params.runtime_params() == {
        "collection": "dagger",
        "dagger_beta": 0.3,
        "probe_tasks": 6,
        "warm_start": True,
    }
    with pytest.raises(SystemExit):  # argparse names the choices
        build_parser().parse_args(["--collection", "student"])


def test_python_api_passes_the_on_policy_settings(project):
    params = IterativeTrainingPipeline(
        None, "out", collection="mixed", dagger_beta_decay=1.0, warm_start=True
    ).runtime_params()
    assert (params["collection"], params["dagger_beta_decay"], params["warm_start"]) == (
        "mixed",
        1.0,
        True,
    )
    assert (params["dagger_beta"], params["probe_tasks"]) == (0.5, 24)  # the defaults


def test_command_line_defaults_are_the_projects_configuration(project, monkeypatch, capsys):
    """A flag left out takes the project's value (conf/base, conf/local over it), a flag given
    wins, and --help shows the project's values."""
    from kedro.framework.session import KedroSession

    base = project / "conf/base/parameters_iterative.yml"
    text = base.read_text()
    assert "${runtime_params:n_batch, 10}" in text and "${runtime_params:n_episodes, 5}" in text
    base.write_text(text.replace("${runtime_params:n_batch, 10}", "${runtime_params:n_batch, 3}"))
    # conf/local replaces the whole `iterative` mapping (Kedro's destructive merge): a full copy.
    (project / "conf/local/parameters_iterative.yml").write_text(
        base.read_text()
        .replace("${runtime_params:n_episodes, 5}", "${runtime_params:n_episodes, 2}")
        .replace(
            "${runtime_params:skip_eval_tasks, false}", "${runtime_params:skip_eval_tasks, true}"
        )
    )

    seen: list[dict] = []

    def run(self, *args, **kwargs):  # the loop's parameters as the pipeline reads them, no run
        seen.append(self.load_context().config_loader["parameters"]["iterative"])
        return {}

    monkeypatch.setattr(KedroSession, "run", run)
    paths = ["--initial_data", "data/01_raw/initial_dataset.json", "--output_dir", "output/cli"]
    assert main(paths) == 0
    loop = IterativeConfig.from_params(seen[-1])
    assert (loop.n_batch, loop.n_episodes, loop.skip_eval_tasks) == (3, 2, True)
    assert loop.output_dir == "output/cli" and loop.val_frac == 0.1

    assert main([*paths, "--n_batch", "7", "--n_episodes", "4", "--skip_eval_tasks"]) == 0
    loop = IterativeConfig.from_params(seen[-1])
    assert (loop.n_batch, loop.n_episodes, loop.skip_eval_tasks) == (7, 4, True)
    capsys.readouterr()

    # --help: the values of this project's configuration, also when named by --project_path
    # from a folder outside it (where the source checkout's would otherwise be read).
    for cwd, argv in (
        (project, ["--help"]),
        (project.parent, ["--project_path", str(project), "-h"]),
    ):
        monkeypatch.chdir(cwd)
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 0
        shown = " ".join(capsys.readouterr().out.split())
        assert "new samples generated per episode (default: 3)" in shown, argv
        assert "train-evaluate-generate cycles (default: 2)" in shown, argv
        assert "no closed-loop evaluation on the eval tasks (default: true)" in shown, argv
        assert "passes over the training split (default: 3)" in shown, argv  # training.epochs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"eval_task_file": "no_such_tasks.json"},
            r"eval_task_file: eval task file 'no_such_tasks\.json' not found; looked in: "
            r".*/no_such_tasks\.json, .*/data/01_raw/no_such_tasks\.json",
        ),
        ({"training": {"epoch": 1}}, r"unknown TrainConfig field\(s\) epoch"),
        ({"params": {"n_batch": 3}}, r"params sets n_batch: pass it as the argument"),
    ],
    ids=["missing-eval-file", "unknown-training-field", "params-clash"],
)
def test_wrong_arguments_name_what_is_wrong(project, kwargs, message):
    with pytest.raises(IterativeConfigError, match=message):
        IterativeTrainingPipeline(
            "data/01_raw/initial_dataset.json", "out", **kwargs
        ).runtime_params()


# ------------------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_python_api_writes_the_seeds_outputs_as_kedro_run_does(project):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    pipeline = IterativeTrainingPipeline(
        initial_data_path="data/01_raw/initial_dataset.json",
        output_dir="output/run",
        n_episodes=1,
        n_batch=2,
        train_config=_tiny_train_config(),
        seed=42,
        eval_task_file="eval_small.json",
        graph_unknown=[0.2, 0.3, 0.4, 0.5],
        min_regions=8,
        max_regions=15,
        params=TINY_EXTRA,
    )
    result = pipeline.run_pipeline()

    out = project / "output/run"
    _assert_seed_outputs(out)
    assert result.output_dir == out and result.best_model == out / "best_model"
    # objective auto: the closed-loop task success, as the eval tasks run
    assert result.best_episode == 1 and result.summary["objective"] == "task/accuracy"
    metrics = json.loads((out / "episode_1/evaluation_metrics.json").read_text())["metrics"]
    assert "task/accuracy" in metrics  # the eval file was found by its bare name
    model = out / "iterative_model_episode_1" / "prism_model.json"
    stamp = model.stat().st_mtime_ns

    # `kedro run --pipelines iterative` with the same settings is the same run: it continues
    # it (the run record matches) and has nothing left to do.
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=TINY_RUN) as session:
        session.run(pipeline_names=["iterative"], only_missing_outputs=True)
    assert model.stat().st_mtime_ns == stamp
    _assert_seed_outputs(out)


@pytest.mark.slow
def test_command_line_script_runs_the_seeds_debugging_form(project):
    spec = ",".join(f"training.builtin_model.{k}={v}" for k, v in TINY_SPEC.__dict__.items())
    command = [
        sys.executable,
        str(SCRIPT),
        "--initial_data", "data/01_raw/initial_dataset.json",
        "--output_dir", "output/cli",
        "--n_episodes", "1",
        "--n_batch", "2",
        "--initial_dataset_size", "20",
        "--skip_eval_tasks",
        "--epochs", "1",
        "--base_model", "builtin",
        "--report_to", "none",
        "--warmup_steps", "0",
        "--per_device_train_batch_size", "8",
        "--params", spec,
        "--params", "generation.workers=2",
    ]  # fmt: skip
    run = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = project / "output/cli"
    _assert_seed_outputs(out)
    assert len(json.loads((out / "dataset_episode_1.json").read_text())) == 20
    assert "best_model -> iterative_model_episode_1" in run.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--initial_data", "data/01_raw/missing.json"],
            r"^Error: DatasetError: .*data/01_raw/missing\.json",
        ),
        (["--n_episodes", "0"], r"^Error: IterativeConfigError: n_episodes must be .* got 0$"),
        (
            ["--dagger_beta", "1.5"],
            r"^Error: IterativeConfigError: dagger_beta must be a probability in \[0, 1\], got 1\.5$",
        ),
        (
            ["--collection", "dagger", "--probe_tasks", "0"],
            r"^Error: IterativeConfigError: collection 'dagger' collects on the probe's tasks, "
            r"but probe_tasks is 0",
        ),
        (
            ["--sampling_strategy", ""],
            r"^Error: IterativeConfigError: sampling_strategy is empty: pass one of the "
            r"installed samplers: accuracy_weighted, loss_weighted, task_failure, uniform",
        ),
        (
            ["--n_batch", "1000000000"],
            r"^Error: IterativeConfigError: n_batch 1000000000 cannot be done: .* pass n_batch "
            r"\d+ or less$",
        ),
        (
            ["--initial_data", "data/01_raw/not_spine.json", "--params", "strict_data=true"],
            r"^Error: DataFormatError: .*not_spine\.json: 1 of 48 samples train on an assistant "
            r"turn that is no SPINE response .*: sample 0 \(conversations\[\d+\]: not a JSON ",
        ),
    ],
    ids=[
        "missing-initial-data",
        "n_episodes-0",
        "dagger_beta-1.5",
        "dagger-without-probe",
        "empty-sampler",
        "n_batch-beyond-memory",
        "strict-data",
    ],
)
def test_command_line_bad_input_is_one_line_and_exit_1(project, capsys, args, message):
    write_not_spine(project, "not_spine.json", sample=0)
    code = main([*args, "--output_dir", "output/bad", "--eval_task_file", EVAL_FILE])
    assert code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert re.search(message, lines[0]), lines[0]
    assert not (project / "output/bad").exists()


def test_command_line_output_dir_that_is_a_file_is_one_line_and_exit_1(project):
    """As the user runs it: the script in a process of its own, its whole output read."""
    (project / "output").mkdir()
    (project / "output/run.txt").write_text("a file")
    command = [sys.executable, str(SCRIPT), "--output_dir", "output/run.txt", "--n_episodes", "1"]
    run = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"Error: IterativeConfigError: output_dir (.*/)?output/run\.txt is a file, not a folder: "
        r"pass a folder .*",
        last,
    ), last
    assert sorted(p.name for p in (project / "output").iterdir()) == ["run.txt"]


#: Wrong command lines: what the one line on stderr says (argparse names the flag).
USAGE_ERRORS = {
    "n_episodes-abc": (["--n_episodes", "abc"], "argument --n_episodes: invalid int value: 'abc'"),
    "misspelt-flag": (
        ["--n_episode", "3"],
        "unrecognized arguments: --n_episode 3; did you mean --n_episodes?",
    ),
    "params-not-key-value": (
        ["--params", "n_batch"],
        "argument --params: 'n_batch' is not KEY=VALUE",
    ),
    "choice": (["--collection", "student"], "argument --collection: invalid choice: 'student'"),
    "no-value": (["--n_batch"], "argument --n_batch: expected one argument"),
    "training-flag": (["--warm_start", "maybe"], "argument --warm_start: not true or false"),
}


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS.values(), ids=USAGE_ERRORS)
def test_a_wrong_command_line_is_one_line_naming_the_flag_and_exit_2(
    project, capsys, args, message
):
    with pytest.raises(SystemExit) as stop:
        main([*args, "--output_dir", "output/bad"])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines  # not argparse's usage: 40 lines of flags
    assert lines[0].startswith("run_iterative_training.py: error: "), lines[0]
    assert message in lines[0] and lines[0].endswith(" (see --help)"), lines[0]
    assert captured.out == "" and not (project / "output/bad").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", ["n_episodes-abc", "misspelt-flag", "params-not-key-value"], ids=str
)
def test_the_script_prints_a_wrong_command_line_as_one_line_and_exits_2(project, case):
    args, message = USAGE_ERRORS[case]
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}  # as a user's shell
    run = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2, run.stderr[-3000:]
    assert run.stderr.splitlines() == [
        f"run_iterative_training.py: error: {message} (see --help)"
    ], run.stderr[-3000:]
    assert run.stdout == ""


def test_command_line_help_lists_the_seeds_flags(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "initial_data",
        "output_dir",
        "n_episodes",
        "n_batch",
        "held_out_data",
        "val_frac",
        "sampling_strategy",
        "objective",
        "objective_type",
        "eval_metric",
        "eval_task_file",
        "skip_eval_tasks",
        "initial_dataset_size",
        "graph_unknown",
        "min_regions",
        "max_regions",
        "epochs",
    ):
        assert f"--{flag} " in text or f"--{flag}\n" in text, flag
