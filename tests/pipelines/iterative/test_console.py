"""What ``kedro run --pipeline iterative`` prints, run as a user runs it (in a subprocess, its
output a pipe, 80 columns): the plan, a line per stage and per episode, the table whole; no
line per dataset or node unless ``KEDRO_LOGGING_CONFIG=conf/logging_verbose.yml`` asks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pipelines.iterative.conftest import REPO
from tests.pipelines.iterative.test_cli import COMMAND, ENV, TINY


def _run(project: Path, **env: str) -> str:
    params = ",".join(f"{k}={v}" for k, v in {**TINY, "n_episodes": 1}.items())
    result = subprocess.run(
        [*COMMAND, params],
        cwd=project,
        env={**ENV, "COLUMNS": "80", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,  # bytes: text mode would turn a bar's carriage returns into \n
        timeout=600,
    )
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    assert result.returncode == 0, output[-4000:]
    return output


@pytest.mark.slow
def test_the_loop_prints_its_plan_its_stages_and_a_line_per_episode(project: Path):
    for name in ("logging.yml", "logging_verbose.yml"):
        shutil.copy(REPO / "conf" / name, project / "conf" / name)

    quiet = _run(project)

    lines = quiet.splitlines()
    assert "Loading data from" not in quiet and "Saving data to" not in quiet
    assert "Running node" not in quiet and "Completed 1 out of" not in quiet  # none per node
    assert "\r" not in quiet  # no bar redrawn in a pipe: lines
    (plan,) = [line for line in lines if " plan: 1 episode(s), each training 1 epochs" in line]
    assert "Expected about" in plan and "measured just now" in plan
    (named,) = [line for line in lines if " Training iterative_model_episode_1 (" in line]
    assert any(" training: " in line and "step" in line for line in lines[lines.index(named) :])
    assert any(" student on eval tasks: 3/3 (100 %)" in line for line in lines)
    (episode,) = [line for line in lines if " episode 1/1 done in " in line]
    assert "task success" in episode and "trained on" in episode and "the report follows" in episode
    # the table is printed whole, one row a line, however narrow the terminal
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("episode samples"))
    assert "success [95% CI]" in lines[header] and "vs previous" in lines[header]
    assert " iterative: episodes (* the best; the teacher solves " in lines[header - 1]
    assert lines[header + 1].split()[:1] == ["base"] and lines[header + 2].split()[:2] == ["*", "1"]
    assert lines.index(plan) < lines.index(episode) < header

    verbose = _run(project, KEDRO_LOGGING_CONFIG="conf/logging_verbose.yml")

    assert "Loading data from" in verbose and "kedro.io.data_catalog" in verbose
    assert " plan: the 1 episode(s) are done; the report follows" in verbose  # the same run
    assert len(verbose.splitlines()) > len(lines)  # though this run has only the report to do
