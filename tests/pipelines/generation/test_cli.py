"""The generation pipeline from the command line, as a user runs it: ``kedro run ...``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.endpoint.fake_openai_server import FakeOpenAIServer
from tests.endpoint.planner_scripts import answer_with_every_node, slow
from tests.pipelines.generation.conftest import run_dir

KEDRO = [sys.executable, "-m", "kedro"]


def _kedro(project: Path, *args: str, env: dict[str, str] | None = None, **kwargs):
    return subprocess.run(
        [*KEDRO, *args],
        cwd=project,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        **kwargs,
    )


def test_bad_parameter_exits_non_zero_with_one_clear_message(project):
    result = _kedro(
        project, "run", "--pipelines", "generate", "--params", "generation.graph_unknown=30"
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("Error: ConfigError: generation.graph_unknown")
    assert "Traceback" not in result.stderr and "╭" not in result.stderr
    assert not (project / "data/03_primary/generated_samples.json").exists()


def test_the_seed_singular_pipeline_flag_still_works(project):
    result = _kedro(
        project,
        "run",
        "--pipeline",
        "generate",
        "--params",
        "generation.n_samples=1,generation.n_tasks=1",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        json.loads((project / "data/08_reporting/generation_stats.json").read_text())["total"] == 1
    )


def test_a_killed_run_resumes_where_it_stopped(project):
    # A slow teacher, so that the run can be killed half-way.
    slow_planner = slow(answer_with_every_node, 0.3)

    with FakeOpenAIServer(slow_planner, api_key="k", models=["m"]) as server:
        params = ",".join(
            [
                "generation.n_samples=4",
                "generation.n_tasks=3",
                "generation.workers=2",
                "generation.teacher.kind=llm",
                "generation.teacher.endpoint.model=m",
                f"generation.teacher.endpoint.base_url={server.url}",
            ]
        )
        args = [
            "run",
            "--pipelines",
            "generate",
            "--nodes",
            "check_generation_inputs,generate_rollouts",
            "--params",
            params,
        ]
        env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "OPENAI_API_KEY": "k"}
        process = subprocess.Popen(
            [*KEDRO, *args],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        store = project / "data/02_intermediate/data_gen"
        deadline = time.monotonic() + 120
        while len(list(store.glob("*/rollouts/*.json"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        rollouts = run_dir(project) / "rollouts"

        done_before = {p: p.stat().st_mtime_ns for p in rollouts.glob("*.json")}
        assert 3 <= len(done_before) < 12, "the kill should land half-way through the run"
        assert not (project / "data/03_primary/generated_samples.json").exists()

        result = _kedro(project, *args, env={"OPENAI_API_KEY": "k"})
        assert result.returncode == 0, result.stderr[-2000:]

    # Finished rollouts were not redone; the rest were; nothing is duplicated.
    assert all(p.stat().st_mtime_ns == t for p, t in done_before.items())
    assert len(list(rollouts.glob("*.json"))) == 12
    stats = json.loads((project / "data/08_reporting/generation_stats.json").read_text())
    samples = json.loads((project / "data/03_primary/generated_samples.json").read_text())
    assert stats["total"] == 12
    assert len({s["rollout"] for s in samples}) == len(samples) == stats["passed"]
