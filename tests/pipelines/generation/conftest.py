"""Fixtures that run the real Kedro project in a temporary copy (so tests never write to data/)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration and shipped data in ``tmp_path``."""
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local"))
    (tmp_path / "conf" / "local").mkdir()
    shutil.copytree(REPO / "data" / "01_raw", tmp_path / "data" / "01_raw")
    (tmp_path / "src").mkdir()  # Kedro checks the source folder exists; the package is installed
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run_kedro(project: Path) -> Callable[..., dict[str, Any]]:
    """Run pipelines of the copied project like ``kedro run --pipelines ... --params ...``."""

    def run(pipeline: str = "generate", params: dict[str, Any] | None = None, **kwargs: Any):
        bootstrap_project(project)
        with KedroSession.create(project_path=project, runtime_params=params or {}) as session:
            return session.run(pipeline_names=[pipeline], **kwargs)

    return run


def run_dir(project: Path) -> Path:
    """The folder of the (single) generation run in the project's rollout store."""
    (folder,) = (project / "data/02_intermediate/data_gen").iterdir()
    return folder
