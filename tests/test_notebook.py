"""``notebooks/iterative_run.ipynb`` opens a finished iterative run through the Kedro catalog.

The notebook's code cells run, in order, in an IPython shell (the ``%load_ext kedro.ipython``
magic included) in a subprocess whose working directory is the ``notebooks/`` folder of a
temporary project copy holding a tiny finished 2-episode run, as Jupyter would run them.
Jupyter itself (nbclient, ipykernel) is not a dependency of the project; IPython is, through
Kedro's IPython extension.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import copy_project
from tests.pipelines.iterative.conftest import EVAL_FILE, TINY_RUN
from tests.training.conftest import CONVERSATIONS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "iterative_run.ipynb"
#: The default output_dir, which the notebook opens without ``%reload_kedro --params``.
OUTPUT_DIR = "output/iterative_training"

#: Runs a notebook's code cells in an IPython shell; stops at the first failing cell.
RUNNER = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
cells = [c for c in json.load(open(sys.argv[1]))["cells"] if c["cell_type"] == "code"]
for number, cell in enumerate(cells, 1):
    result = shell.run_cell("".join(cell["source"]))
    if not result.success:
        sys.exit(f"code cell {number} failed")
print("NOTEBOOK DONE")
"""


def _code_cells(notebook: dict[str, Any]) -> list[str]:
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


def test_notebook_is_stored_clean_and_names_catalog_entries() -> None:
    notebook = json.loads(NOTEBOOK.read_text())
    assert notebook["nbformat"] == 4
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "outputs stored"
    code = "\n".join(_code_cells(notebook))
    assert "%load_ext kedro.ipython" in code
    # every per-episode dataset the notebook loads is a pattern of catalog_iterative.yml
    catalog = (REPO / "conf" / "base" / "catalog_iterative.yml").read_text()
    used = set(re.findall(r'episode\([^,]+, "(\w+)"\)', code))
    assert {"evaluation_metrics", "training_data", "evaluation_transcripts"} <= used
    assert "paired_comparison" in used and "iterative.base.evaluation_metrics:" in catalog
    for name in used:
        assert f'"iterative.episode_{{n}}.{name}":' in catalog, name
    assert "iterative.summary:" in catalog


@pytest.fixture
def finished_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project copy with a finished 2-episode tiny run in the default output_dir."""
    root = copy_project(tmp_path / "project", initial_data=CONVERSATIONS, eval_file=EVAL_FILE)
    monkeypatch.chdir(root)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")

    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    params = {**TINY_RUN, "n_episodes": 2, "output_dir": OUTPUT_DIR}
    bootstrap_project(root)
    with KedroSession.create(project_path=root, runtime_params=params) as session:
        session.run(pipeline_names=["iterative"], only_missing_outputs=True)
    assert (root / OUTPUT_DIR / "episode_2" / "evaluation_metrics.json").exists()
    return root


@pytest.mark.slow
def test_notebook_runs_on_a_finished_run(finished_run: Path) -> None:
    pytest.importorskip("IPython", reason="IPython (Kedro's notebook extension) not installed")
    notebooks = finished_run / "notebooks"
    notebooks.mkdir()
    shutil.copy(NOTEBOOK, notebooks)
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "WANDB_MODE": "offline",
        "HF_HUB_OFFLINE": "1",
        "MPLBACKEND": "Agg",
        "COLUMNS": "200",  # wide enough for pandas to print the tables' columns
    }
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, NOTEBOOK.name],
        cwd=notebooks,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "NOTEBOOK DONE" in result.stdout, output[-6000:]
    out = result.stdout
    assert "2 evaluated episode(s): [1, 2]" in out
    assert "eval/mean_accuracy" in out and "best episode by" in out  # metrics, summary
    # the paired comparisons: each episode against the previous one and the untuned base
    assert "untuned base: task/accuracy" in out and "task/accuracy_low" in out
    assert re.search(r"^2\s+episode 1\b.*$", out, re.MULTILINE), out
    assert "gained" in out and "p_value" in out
    assert "training samples" in out and "new samples" in out  # dataset growth
    for episode in (1, 3):  # the growth table's rows: episode, training samples, ...
        dataset = finished_run / OUTPUT_DIR / f"dataset_episode_{episode}.json"
        size = len(json.loads(dataset.read_text()))
        assert re.search(rf"^{episode}\s+{size}\b", out, re.MULTILINE), (episode, size, out)
    assert "episode 2: 3 transcripts" in out and "=== task" in out  # transcripts
