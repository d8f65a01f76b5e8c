"""A temporary copy of the project in which ``kedro run --pipelines iterative`` runs on tiny data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import copy_project
from tests.pipelines.training.test_pipeline import TINY_PARAMS
from tests.training.conftest import CONVERSATIONS, tiny_base, tiny_base_dir  # noqa: F401 (fixtures)

REPO = Path(__file__).resolve().parents[3]
EVAL_FILE = "data/01_raw/eval_small.json"
OUTPUT = "output/run"
#: Short closed-loop turns: the tiny student writes garbage, as long as it is allowed to.
FAST_EVALUATION = {"task_success": {"max_new_tokens": 8}, "token_metrics": {"batch_size": 8}}

#: A tiny loop: the tiny built-in student, 2 new samples per episode, one scene per episode.
TINY_RUN: dict[str, Any] = {
    "n_episodes": 1,
    "n_batch": 2,
    "output_dir": OUTPUT,
    "eval_task_file": EVAL_FILE,
    "training": {**TINY_PARAMS["training"], "epochs": 1},
    "evaluation": FAST_EVALUATION,
    "generation": {"workers": 2},
}


def sample_ids(path: Path) -> list[str]:
    """The ids of the samples in a conversations file, in order."""
    return [s["id"] for s in json.loads(path.read_text())]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration with the fixture rollouts as the initial data."""
    root = copy_project(tmp_path / "project", initial_data=CONVERSATIONS, eval_file=EVAL_FILE)
    monkeypatch.chdir(root)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    return root


@pytest.fixture
def run_iterative(project: Path) -> Callable[..., dict[str, Any]]:
    """Run the iterative pipeline as ``kedro run --pipelines iterative --params ...`` would."""

    def run(**overrides: Any) -> dict[str, Any]:
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        params = {**TINY_RUN, **overrides}
        bootstrap_project(project)
        with KedroSession.create(project_path=project, runtime_params=params) as session:
            return session.run(pipeline_names=["iterative"], only_missing_outputs=True)

    return run
