"""The real ``kedro run --pipeline iterative``: killed with SIGKILL while episode 2 trains, then
run again, episode 1 is kept and episode 2's training goes on from its checkpoint; bad input
stops it with one line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_not_spine
from tests.pipelines.iterative.conftest import EVAL_FILE, OUTPUT, REPO, sample_ids

TINY = {
    "n_episodes": 2,
    "n_batch": 2,
    "output_dir": OUTPUT,
    "eval_task_file": EVAL_FILE,
    "training.base_model": "builtin",
    "training.report_to": "none",
    "training.epochs": 1,
    "training.warmup_steps": 0,
    "training.per_device_train_batch_size": 8,
    "training.checkpoint_every": 1,
    "training.builtin_model.vocab_size": 600,
    "training.builtin_model.hidden_size": 64,
    "training.builtin_model.intermediate_size": 128,
    "training.builtin_model.num_hidden_layers": 2,
    "training.builtin_model.num_attention_heads": 2,
    "training.builtin_model.max_position_embeddings": 1024,
    "evaluation.task_success.max_new_tokens": 8,
    "generation.workers": 2,
}
COMMAND = [sys.executable, "-m", "kedro", "run", "--pipeline", "iterative", "--params"]
ENV = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "WANDB_MODE": "disabled"}


@pytest.mark.slow
def test_a_run_killed_in_episode_2_finishes_with_the_same_command(project: Path):
    params = ",".join(f"{k}={v}" for k, v in TINY.items())
    out = project / OUTPUT
    process = subprocess.Popen(
        [*COMMAND, params],
        cwd=project,
        env=ENV,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Episode 1 is done once its new samples are written; kill while episode 2 trains, once
    # its training has written a checkpoint.
    checkpoints = out / "episode_2" / "checkpoints"
    deadline = time.monotonic() + 240
    while not list(checkpoints.glob("*/checkpoint-*/trainer_state.json")):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "episode 2 wrote no checkpoint within 240 s"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert (out / "new_samples_episode_1.json").exists()
    assert not (out / "iterative_model_episode_2" / "prism_model.json").exists()
    model_1 = (out / "iterative_model_episode_1" / "prism_model.json").stat().st_mtime_ns
    new_1 = sample_ids(out / "new_samples_episode_1.json")

    result = subprocess.run(
        [*COMMAND, params],
        cwd=project,
        # the project's console: plain lines, one a message (Kedro's own is rich's columns)
        env={**ENV, "KEDRO_LOGGING_CONFIG": str(REPO / "conf/logging.yml")},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Resuming the training of" in result.stdout + result.stderr  # not from step 0
    # the plan is what is left: episode 2, without the base's evaluation (done)
    (plan,) = [line for line in result.stdout.splitlines() if " plan: " in line]
    assert " plan: 2 episode(s), 1 done before: episode 2 left, each training 1 epochs" in plan
    assert "untuned base" not in plan
    assert "deprecated" not in result.stdout + result.stderr  # --pipeline is ours to accept
    assert not checkpoints.exists(), "the checkpoints go once the model is saved"
    assert (out / "iterative_model_episode_1" / "prism_model.json").stat().st_mtime_ns == model_1
    assert sample_ids(out / "new_samples_episode_1.json") == new_1
    final = sample_ids(out / "dataset_episode_3.json")
    assert len(final) == len(set(final))
    assert final == sample_ids(out / "dataset_episode_2.json") + sample_ids(
        out / "new_samples_episode_2.json"
    )
    assert (out / "best_model").exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            "output_dir=output/run.txt",
            r"IterativeConfigError: output_dir output/run\.txt is a file, not a folder: pass a "
            r"folder",
        ),
        (
            "n_batch=1000000000",
            r"IterativeConfigError: n_batch 1000000000 cannot be done: episode 1 would train "
            r"on 48 \+ 1 x 1000000000 samples held in memory, .* more than this machine's .*B "
            r"of memory: pass n_batch \d+ or less",
        ),
        (
            "sampling_strategy=",
            r"IterativeConfigError: sampling_strategy is empty: pass one of the installed "
            r"samplers: accuracy_weighted, loss_weighted, task_failure, uniform",
        ),
        (
            "initial_data=data/01_raw/not_spine.json,strict_data=true",
            r"DataFormatError: data/01_raw/not_spine\.json: 1 of 48 samples train on an "
            r"assistant turn that is no SPINE response .*: sample 7 \(conversations\[\d+\]: "
            r"not a JSON object\); fix or drop them",
        ),
    ],
    ids=["output_dir-is-a-file", "n_batch-beyond-memory", "empty-sampler", "strict-data"],
)
@pytest.mark.slow
def test_bad_input_is_one_line_exit_1_and_writes_nothing(project: Path, params: str, message):
    (project / "output").mkdir()
    (project / "output/run.txt").write_text("a file")
    write_not_spine(project, "not_spine.json", sample=7)
    result = subprocess.run(
        [*COMMAND, f"{params},eval_task_file={EVAL_FILE},n_episodes=1"],
        cwd=project,
        env=ENV,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "╭" not in output  # no rich traceback either
    last = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"Error: {message}.*", last), last
    # said once: not also by Kedro's node ("failed with error") and runner ("No nodes ran")
    assert len(re.findall(message.split(":", 1)[1][:30], output)) == 1, output
    assert "No nodes ran" not in output
    assert sorted(p.name for p in (project / "output").iterdir()) == ["run.txt"]
    assert not (project / "data/02_intermediate").exists()
