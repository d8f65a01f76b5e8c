"""Shared fixtures: a tiny hand-written scene graph and the reference eval graph.

The tiny scene (10 nodes) is small enough to reason about by hand::

    yard_1 (0,0) -- road_1 (10,0) -- road_2 (20,0) -- bridge_1 (30,0) -- island_1 (40,0)
                      |                 |      \\
                    shed_1      pickup_truck_1  field_1 (20,10)
                                                  |
                                            internet_tower_1

``cabin_1`` hangs off ``island_1``; hiding ``bridge_1`` cuts the island off, which is how tests
get a partial graph with two components.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prism.plugins import manager
from prism.world.scene_graph import SceneGraph

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: 48 multi-turn rollouts (regenerate with training/fixtures/make_conversations.py).
CONVERSATIONS = Path(__file__).resolve().parent / "training" / "fixtures" / "conversations.json"
REFERENCE_EVAL_NAME = "prism_eval_1_multi_step.json"

TINY_SPINE: dict[str, Any] = {
    "objects": [
        {"name": "shed_1", "coords": [9, 2], "description": "full of tools"},
        {"name": "pickup_truck_1", "coords": [21, 1], "description": "has keys"},
        {"name": "internet_tower_1", "coords": [19, 11], "description": "damaged"},
        {"name": "cabin_1", "coords": [41, 1], "description": ""},
    ],
    "regions": [
        {"name": "yard_1", "coords": [0, 0], "description": "gravel"},
        {"name": "road_1", "coords": [10, 0], "description": "paved"},
        {"name": "road_2", "coords": [20, 0], "description": "potholes"},
        {"name": "field_1", "coords": [20, 10], "description": "tall grass"},
        {"name": "bridge_1", "coords": [30, 0], "description": "damaged, not safe to cross"},
        {"name": "island_1", "coords": [40, 0], "description": "sandy"},
    ],
    "object_connections": [
        ["shed_1", "road_1"],
        ["pickup_truck_1", "road_2"],
        ["internet_tower_1", "field_1"],
        ["cabin_1", "island_1"],
    ],
    "region_connections": [
        ["yard_1", "road_1"],
        ["road_1", "road_2"],
        ["road_2", "field_1"],
        ["road_2", "bridge_1"],
        ["bridge_1", "island_1"],
    ],
    "robot_location": "yard_1",
}


@pytest.fixture
def tiny_spine() -> dict[str, Any]:
    """The tiny scene as SPINE JSON (a fresh copy: tests may mutate it)."""
    return copy.deepcopy(TINY_SPINE)


@pytest.fixture
def tiny_graph(tiny_spine: dict[str, Any]) -> SceneGraph:
    """The tiny scene as a :class:`SceneGraph`."""
    return SceneGraph.from_spine(tiny_spine, source="tiny scene")


@pytest.fixture(scope="session")
def shared_tiny_graph() -> SceneGraph:
    """The tiny scene, shared by hypothesis tests (which may not use function-scoped fixtures).
    Read it, never mutate it."""
    return SceneGraph.from_spine(copy.deepcopy(TINY_SPINE), source="tiny scene")


def _reference_eval_path() -> Path | None:
    # The repository carries its own copy; the shared checkout next to it is the fallback.
    candidates = (
        FIXTURES / REFERENCE_EVAL_NAME,
        Path(__file__).resolve().parents[1] / ".." / "shared" / "external" / REFERENCE_EVAL_NAME,
    )
    return next((path for path in candidates if path.is_file()), None)


@pytest.fixture(scope="session")
def reference_eval() -> dict[str, Any]:
    """The reference's ``eval_1_multi_step.json``: one graph and ten tasks."""
    path = _reference_eval_path()
    if path is None:
        pytest.skip(f"{REFERENCE_EVAL_NAME} is neither in tests/fixtures nor in ../shared/external")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def reference_graph(reference_eval: dict[str, Any]) -> SceneGraph:
    """The reference eval scene graph (19 regions, 7 objects)."""
    return SceneGraph.from_spine(copy.deepcopy(reference_eval["graph"]), source=REFERENCE_EVAL_NAME)


# ---------------------------------------------------------------------- plugins
EXAMPLE_PLUGIN_SOURCE = Path(__file__).resolve().parent / "plugins" / "example_plugin"
EXAMPLE_MODULE = "prism_example_plugin"


@pytest.fixture(scope="session")
def example_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``prism-example-plugin`` installed (offline, no dependencies) into a folder of its own.

    The source is copied first so the build leaves nothing behind in the repository.
    """
    base = tmp_path_factory.mktemp("example_plugin")
    source = base / "source"
    shutil.copytree(
        EXAMPLE_PLUGIN_SOURCE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    site = base / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    command += ["--no-build-isolation", "--disable-pip-version-check", "--target", str(site)]
    result = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"installing the example plugin failed:\n{result.stderr}"
    return site


@pytest.fixture
def example_plugin_installed(
    example_plugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The example plugin importable and its entry point visible, for one test only."""
    monkeypatch.syspath_prepend(str(example_plugin_site))
    yield example_plugin_site
    sys.modules.pop(EXAMPLE_MODULE, None)


@pytest.fixture
def fresh_plugin_manager() -> Iterator[None]:
    """The process-wide manager reloaded before and after the test."""
    manager.get_plugin_manager.cache_clear()
    yield
    manager.get_plugin_manager.cache_clear()


# ---------------------------------------------------------------------- project copies
REPO = Path(__file__).resolve().parents[1]


def copy_project(
    root: Path,
    *,
    initial_data: Path | None = None,
    eval_file: str | None = None,
    eval_graphs: int = 1,
) -> Path:
    """A runnable copy of the Kedro project at ``root`` (the package itself is installed).

    Copies ``pyproject.toml`` and ``conf/base``, makes an empty ``conf/local`` and ``src/``; with
    ``initial_data`` that file becomes ``data/01_raw/initial_dataset.json``, and with
    ``eval_file`` the first ``eval_graphs`` graphs (3 tasks each) of the shipped eval task file are
    written there.
    """
    (root / "src").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copytree(REPO / "conf" / "base", root / "conf" / "base")
    (root / "conf" / "local").mkdir()
    (root / "data" / "01_raw").mkdir(parents=True)
    if initial_data is not None:
        shutil.copy(initial_data, root / "data/01_raw/initial_dataset.json")
    if eval_file is not None:
        suite = json.loads((REPO / "data/01_raw/eval_tasks_1.json").read_text())[:eval_graphs]
        (root / eval_file).write_text(json.dumps(suite))
    return root


def write_not_spine(project: Path, name: str, sample: int) -> Path:
    """``data/01_raw/<name>`` of a project copy: its initial data, with sample ``sample``'s first
    answer no JSON (a trained turn that is no SPINE response)."""
    samples = json.loads((project / "data/01_raw/initial_dataset.json").read_text())
    turn = next(t for t in samples[sample]["conversations"] if t["role"] == "assistant")
    turn["value"] = "I think I should go {not json"
    path = project / "data/01_raw" / name
    path.write_text(json.dumps(samples))
    return path


# ---------------------------------------------------------------------- tiny students
@pytest.fixture(scope="session")
def samples() -> list[dict[str, Any]]:
    """The fixture rollouts as canonical samples (with ids)."""
    from prism.formats.conversations import read_samples

    return read_samples(CONVERSATIONS)


def tiny_compact_model(samples: list[dict[str, Any]], context: int = 1024) -> tuple[Any, Any]:
    """A tiny random-init Llama for the compact prompt format and the tokenizer it was built
    for: untrained, but a real model with a real tokenizer (deterministic)."""
    from prism.formats.conversations import to_chat_messages
    from prism.pretraining.model import ModelSpec, init_model, train_tokenizer
    from prism.student.prompt_format import CompactFormat

    fmt = CompactFormat()
    texts = [m["content"] for s in samples for m in fmt.encode(to_chat_messages(s))]
    tokenizer = train_tokenizer(texts, 400, context)
    spec = ModelSpec(
        vocab_size=400,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=context,
    )
    return init_model(spec, tokenizer, seed=0), tokenizer
