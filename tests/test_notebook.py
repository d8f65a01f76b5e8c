"""``notebooks/iterative_run.ipynb`` opens a finished iterative run through the Kedro catalog.

The notebook runs as Jupyter runs it: nbclient executes it in an IPython kernel (ipykernel)
whose working directory is the ``notebooks/`` folder of a temporary project copy holding a tiny
finished 2-episode run, once in a plain kernel and once in the kernel ``kedro jupyter notebook``
makes (``--ext kedro.ipython``: the extension is loaded before the first cell). No matplotlib
backend is forced, so a figure is in the executed notebook (``image/png``) only when the
notebook's plots reach the inline backend, as they do on a screen. nbclient and ipykernel come
with the ``dev`` extra, Jupyter itself with the ``notebook`` extra (pyproject.toml).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
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
#: The kernels the notebook is opened with: a plain one (``jupyter notebook``) and Kedro's
#: (``kedro jupyter notebook``: ipykernel with ``--ext kedro.ipython``).
KERNELS = {"plain": [], "kedro": ["--ext", "kedro.ipython"]}
#: Terminal colour codes (Kedro's rich pretty-printer colours the text/plain outputs).
ANSI = re.compile(r"\x1b\[[0-9;]*m")


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


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project copy with a finished 2-episode tiny run in the default output_dir (made once
    for the module: the notebook only reads it). Skips, before making it, without Jupyter's
    kernel and client."""
    for package in ("nbclient", "ipykernel"):
        pytest.importorskip(package, reason=f"{package} not installed: pip install -e '.[dev]'")
    root = copy_project(
        tmp_path_factory.mktemp("notebook") / "project",
        initial_data=CONVERSATIONS,
        eval_file=EVAL_FILE,
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
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
        yield root


def _execute(notebooks: Path, extra_arguments: list[str]) -> list[dict[str, Any]]:
    """The notebook's code cells after nbclient ran them in a kernel started in ``notebooks``
    with ``extra_arguments``; raises on the first failing cell, naming it."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(notebooks / NOTEBOOK.name, as_version=4)
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        # the notebook only reads the run; "offline" would make transformers print a notice
        "WANDB_MODE": "disabled",
    }
    env.pop("MPLBACKEND", None)  # the kernel's own choice: the inline backend
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        extra_arguments=extra_arguments,
        resources={"metadata": {"path": str(notebooks)}},
    )
    client.execute(env=env)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _text(output: dict[str, Any]) -> str:
    """What an output shows as text: a stream's text, a result's or display's text/plain."""
    text = output.get("text") or output.get("data", {}).get("text/plain", "")
    return ANSI.sub("", "".join(text) if isinstance(text, list) else text)


@pytest.mark.slow
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_notebook_runs_on_a_finished_run(finished_run: Path, kernel: str) -> None:
    notebooks = finished_run / "notebooks"
    notebooks.mkdir(exist_ok=True)
    shutil.copy(NOTEBOOK, notebooks)
    cells = _execute(notebooks, KERNELS[kernel])

    # the first cell, which loads the project, shows nothing: no INFO lines, no TqdmWarning
    assert cells[0].outputs == [], [_text(o) for o in cells[0].outputs]
    # every cell that draws shows its figure inline
    drawing = [cell for cell in cells if ".plot(" in cell.source]
    assert drawing
    for cell in drawing:
        kinds = [set(o.get("data", {})) for o in cell.outputs]
        assert any("image/png" in k for k in kinds), (cell.source, kinds)

    out = "\n".join(_text(o) for cell in cells for o in cell.outputs)
    assert "Warning" not in out, out[-6000:]
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
