"""kedro-viz shows the iterative loop's lineage, as README.md says, with the README's command.

``kedro viz run --pipeline iterative --include-hooks --params n_episodes=2`` is started on a
temporary copy of the project's configuration (the package is installed), by the functions of
``docs/make_viz_screenshot.py``, which makes the README's picture. The graph of the ``iterative``
pipeline is read from the server's REST API (``/api/pipelines/iterative``): the edges lead from
one episode's model to the next episode's training data and from the episodes' metrics to
``best_model``. Then headless Chromium, a first visit, opens the README's address and does its
clicks: the loop's box alone, then, opened, the setup, the base, one box per episode, the best
model and the report at a readable zoom, and an episode opened on its steps (skipped without
Chromium).

``--include-hooks`` is what makes ``--params n_episodes=2`` shape the pipeline: without hooks,
kedro-viz never calls ``EpisodeCountHook`` and the loop is drawn with the configuration files'
default (5 episodes).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.request
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
EPISODES = 2
README_COMMAND = (
    f"kedro viz run --pipeline iterative --include-hooks --params n_episodes={EPISODES}"
)
#: kedro-viz's own address (``--host`` and ``--port`` defaults).
VIZ_ADDRESS = "http://127.0.0.1:4141"

pytestmark = pytest.mark.slow


def _screenshot_script() -> ModuleType:
    """``docs/make_viz_screenshot.py``, imported from its file."""
    path = REPO / "docs" / "make_viz_screenshot.py"
    spec = importlib.util.spec_from_file_location("make_viz_screenshot", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


viz = _screenshot_script()


@pytest.fixture(scope="module")
def viz_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The README's ``kedro viz run`` on a copy of the project's configuration; its URL."""
    pytest.importorskip("kedro_viz", reason="kedro-viz is not installed")
    project = viz.copy_configuration(tmp_path_factory.mktemp("viz") / "project")
    check = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "run", "--help"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env=viz.viz_environment(),
    )
    # kedro-viz is a dependency of the project: a command that does not run is a failure
    if check.returncode != 0 or "--include-hooks" not in check.stdout:
        pytest.fail(f"`kedro viz run --help` failed (rc {check.returncode}): {check.stderr[-800:]}")
    try:
        with viz.viz_server(project, EPISODES, timeout=90) as url:
            yield url
    except viz.VizError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def viz_graph(viz_url: str) -> dict[str, Any]:
    """The ``iterative`` pipeline's graph as the server serves it."""
    with urllib.request.urlopen(f"{viz_url}/api/pipelines/iterative", timeout=30) as response:
        return json.loads(response.read())


def test_the_readme_command_and_address_are_the_ones_tested() -> None:
    readme = (REPO / "README.md").read_text()
    assert README_COMMAND in readme
    # the script's command is the README's, then its own options (port, no browser)
    words = README_COMMAND.split()[3:]  # after "kedro viz run"
    command = viz.viz_command(4141, EPISODES)
    assert command[command.index("run") + 1 :][: len(words)] == words
    assert f"{VIZ_ADDRESS}{viz.VIZ_PATH}" in readme
    assert "docs/make_viz_screenshot.py" in readme


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


def test_the_readme_view_in_chromium(viz_url: str, tmp_path: Path) -> None:
    if viz.find_chromium() is None:
        pytest.skip("no Chromium (apt-get install -y chromium, or set CHROMIUM)")
    pytest.importorskip("websockets", reason="websockets (kedro-viz's server has it) missing")
    with viz.chromium(tmp_path) as tools:
        tools.navigate(viz_url + viz.VIZ_PATH)
        # the first screen: the loop's box alone (with the datasets, ~40 of them ring it)
        assert viz.drawn(tools).elements == (("modularPipeline", "iterative"),)
        assert "feature hints" in viz.dismiss_notices(tools)  # a first visit's card
        # one click: the loop, its episodes as boxes, readable
        viz.open_box(tools, "iterative")
        loop = viz.drawn(tools)
        assert loop.labels("modularPipeline") == {
            "iterative.base",
            *(f"iterative.episode_{n}" for n in range(1, EPISODES + 1)),
        }
        assert {"check_iterative_inputs", "record_run", "prepare_initial_dataset"} <= loop.labels(
            "task"
        )
        assert {"select_best_model", "report_episodes"} <= loop.labels("task")
        assert not loop.labels("data"), loop.labels("data")
        assert loop.zoom >= 0.5, f"the opened loop is drawn at {loop.zoom:.0%}"
        # an episode's box opens on its steps
        viz.open_box(tools, "iterative.episode_1")
        episode = viz.drawn(tools)
        steps = {"train_student", "evaluate_student", "probe_student", "generate_rollouts"}
        assert steps | {"select_new_samples", "combine_datasets"} <= episode.labels("task")
        assert "iterative.episode_2" in episode.labels("modularPipeline")
