"""A temporary copy of the project in which the seed's interfaces run the loop on tiny data.

The same copy as ``tests/pipelines/iterative/conftest.py`` makes for ``kedro run --pipelines
iterative``: the project's configuration, the fixture rollouts as the initial data and a
three-task eval file (as ``eval_small.json`` and as the default ``eval_tasks_1.json``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import copy_project
from tests.pipelines.iterative.conftest import EVAL_FILE, REPO
from tests.training.conftest import CONVERSATIONS

#: The script of the seed's command line, run by its path in the repository.
SCRIPT = REPO / "src" / "prism" / "iterative" / "run_iterative_training.py"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project copy; the working directory is its root."""
    root = copy_project(tmp_path / "project", initial_data=CONVERSATIONS, eval_file=EVAL_FILE)
    # The project's default eval file too: the seed's debugging form names none.
    shutil.copy(root / EVAL_FILE, root / "data/01_raw/eval_tasks_1.json")
    monkeypatch.chdir(root)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("PRISM_TRACEBACK", raising=False)
    return root
