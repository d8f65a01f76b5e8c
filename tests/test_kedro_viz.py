"""kedro-viz serves the iterative loop's lineage: episodes chained through their datasets.

Starts ``kedro viz run`` on a temporary copy of the project (its configuration; the package is
installed), reads the graph of the ``iterative`` pipeline from the server's REST API
(``/api/pipelines/iterative``) and follows the edges from one episode's model to the next
episode's training data and from the episodes' metrics to ``best_model``.

``--include-hooks`` is what makes ``--params n_episodes=2`` shape the pipeline: without hooks,
kedro-viz never calls ``EpisodeCountHook`` and the loop is drawn with the configuration files'
default (5 episodes).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 90
EPISODES = 2

pytestmark = pytest.mark.slow


def _free_port() -> int:
    """A port free now, below 49152: kedro-viz refuses the ports above (its "system ports")."""
    for port in random.Random().sample(range(20000, 49000), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-49000")


def _get_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the viz CLI and the server process it spawned (one process group, ours)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    # the server that the CLI spawned can outlive it: end whatever is left of the group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def viz_project(tmp_path: Path) -> Path:
    """A copy of the project's configuration (no data needed to draw the pipelines)."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copytree(REPO / "conf" / "base", root / "conf" / "base")
    (root / "conf" / "local").mkdir()
    return root


@pytest.fixture
def viz_graph(viz_project: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The ``iterative`` pipeline's graph as ``kedro viz run`` serves it."""
    pytest.importorskip("kedro_viz", reason="kedro-viz is not installed")
    check = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "run", "--help"],
        cwd=viz_project,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
    )
    # kedro-viz is a dependency of the project: a command that does not run is a failure
    if check.returncode != 0 or "--include-hooks" not in check.stdout:
        pytest.fail(f"`kedro viz run --help` failed (rc {check.returncode}): {check.stderr[-800:]}")

    try:
        port = _free_port()
    except (OSError, RuntimeError) as error:
        pytest.skip(f"no local TCP port to serve kedro-viz on: {error}")
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "WANDB_MODE": "offline",
        "HF_HUB_OFFLINE": "1",
        # kedro-viz asks PyPI for a newer version on start (30 s timeout when offline): point
        # HTTPS at a closed local port so that check fails at once; the API is plain HTTP.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    log_path = tmp_path / "viz.log"
    command = [
        sys.executable, "-m", "kedro", "viz", "run",
        "--no-browser", "--host", "127.0.0.1", "--port", str(port),
        "--include-hooks", "--params", f"n_episodes={EPISODES}",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=viz_project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so _stop reaches the server too
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        graph = None
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            # kedro-viz moves to another port when the one asked for is taken meanwhile
            served = re.search(r"running at\s+http://127\.0\.0\.1:(\d+)/", text)
            url = f"http://127.0.0.1:{served.group(1) if served else port}"
            try:
                graph = _get_json(f"{url}/api/pipelines/iterative")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if process.poll() is not None:
                pytest.fail(f"kedro viz run exited ({process.returncode}):\n{text[-4000:]}")
            time.sleep(0.5)
        if graph is None:
            pytest.fail(
                f"kedro viz run not serving after {READY_TIMEOUT_S} s:\n"
                f"{log_path.read_text(errors='replace')[-4000:]}"
            )
        yield graph
    finally:
        _stop(process)


def _names(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Task and data nodes by full name (task nodes carry their namespace in ``full_name``)."""
    return {
        node.get("full_name") or node["name"]: node
        for node in graph["nodes"]
        if node["type"] != "modularPipeline"
    }


def _edges(graph: dict[str, Any]) -> dict[str, set[str]]:
    """Successors by full name, between task and data nodes (not the namespace boxes)."""
    by_id = {node["id"]: name for name, node in _names(graph).items()}
    successors: dict[str, set[str]] = {}
    for edge in graph["edges"]:
        if edge["source"] in by_id and edge["target"] in by_id:
            successors.setdefault(by_id[edge["source"]], set()).add(by_id[edge["target"]])
    return successors


def _path(successors: dict[str, set[str]], start: str, end: str) -> list[str]:
    """A shortest path from ``start`` to ``end`` ([] when there is none)."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if current == end:
            path: list[str] = []
            node: str | None = end
            while node is not None:
                path.append(node)
                node = previous[node]
            return path[::-1]
        for successor in successors.get(current, ()):
            if successor not in previous:
                previous[successor] = current
                queue.append(successor)
    return []


def test_kedro_viz_serves_the_episodes_lineage(viz_graph: dict[str, Any]) -> None:
    graph = viz_graph
    assert graph["selected_pipeline"] == "iterative"
    assert "iterative" in {pipeline["id"] for pipeline in graph["pipelines"]}
    # one namespace box per episode, inside the loop's
    assert {"iterative", "iterative.episode_1", "iterative.episode_2"} <= set(
        graph["modular_pipelines"]
    )
    assert "iterative.episode_3" not in graph["modular_pipelines"]  # --params n_episodes=2

    nodes = _names(graph)
    for episode in (1, 2):
        namespace = f"iterative.episode_{episode}"
        for dataset in (
            "training_data",
            "student_model",
            "evaluation_metrics",
            "evaluation_transcripts",
            "new_samples",
            "data_gen",
        ):
            assert nodes[f"{namespace}.{dataset}"]["type"] == "data"
        for task in ("train_student", "evaluate_student", "generate_rollouts", "combine_datasets"):
            assert nodes[f"{namespace}.{task}"]["type"] == "task"
    assert nodes["iterative.best_model"]["type"] == "data"
    assert nodes["iterative.episode_3.training_data"]["type"] == "data"  # episode 2's output
    assert "iterative.episode_3.student_model" not in nodes

    successors = _edges(graph)
    # initial data -> episode 1's dataset -> its model
    assert _path(successors, "iterative.initial_data", "iterative.episode_1.training_data")
    training = _path(
        successors, "iterative.episode_1.training_data", "iterative.episode_1.student_model"
    )
    assert "iterative.episode_1.train_student" in training
    # episode 1's model -> the probe (and the DAgger collection) -> episode 2's dataset, and
    # model -> evaluation -> sampled priors -> generation -> episode 2's dataset
    chain = _path(
        successors, "iterative.episode_1.student_model", "iterative.episode_2.training_data"
    )
    assert chain, "no path from episode 1's model to episode 2's training data"
    for step in (
        "iterative.episode_1.probe_student",
        "iterative.episode_1.collected_states",
        "iterative.episode_1.new_samples",
        "iterative.episode_1.combine_datasets",
    ):
        assert step in chain, (step, chain)
    assert "iterative.episode_1.evaluate_student" in successors["iterative.episode_1.student_model"]
    generation = _path(
        successors, "iterative.episode_1.evaluation_tables", "iterative.episode_2.training_data"
    )
    for step in ("iterative.episode_1.generate_rollouts", "iterative.episode_1.new_samples"):
        assert step in generation, (step, generation)
    assert "iterative.episode_2.evaluate_student" in successors["iterative.episode_2.student_model"]
    assert _path(
        successors, "iterative.episode_2.training_data", "iterative.episode_2.student_model"
    )
    # every episode's metrics -> select_best_model -> best_model
    for episode in (1, 2):
        metrics = f"iterative.episode_{episode}.evaluation_metrics"
        assert "iterative.select_best_model" in successors[metrics]
    assert "iterative.best_model" in successors["iterative.select_best_model"]
