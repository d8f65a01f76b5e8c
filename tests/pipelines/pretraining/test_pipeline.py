"""``kedro run --pipelines pretrain`` end to end on a tiny budget, in a temporary project copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from prism.pretraining.pretrain import PretrainConfigError
from prism.student.prompt_format import format_of
from tests.conftest import copy_project
from tests.pretraining.test_pretrain import TINY

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_project(tmp_path / "project")
    monkeypatch.chdir(root)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    return root


def run(root: Path, params: dict[str, Any]) -> None:
    bootstrap_project(root)
    with KedroSession.create(project_path=root, runtime_params={"pretraining": params}) as session:
        session.run(pipeline_names=["pretrain"])


def test_pretrain_writes_a_compact_base_metrics_and_plot_and_resumes(project: Path):
    run(project, TINY)
    base = project / "data/06_models/planner_base"
    assert format_of(base).name == "compact"
    assert (base / "model.safetensors").is_file() and (base / "tokenizer.json").is_file()
    metrics = json.loads((project / "data/08_reporting/pretraining_metrics.json").read_text())
    assert metrics["steps"] == 4 and 0.0 <= metrics["probe/lookup"] <= 1.0
    assert (project / "data/08_reporting/pretraining.png").stat().st_size > 1000
    probe = json.loads((project / "data/08_reporting/pretraining_probe.json").read_text())
    assert {p["kind"] for p in probe} == {"lookup", "neighbours", "path"}

    run(project, TINY)  # same parameters: resumes from the last checkpoint, trains nothing new
    again = json.loads((project / "data/08_reporting/pretraining_metrics.json").read_text())
    assert again["resumed_from"].endswith("checkpoint-4")


def test_a_bad_parameter_fails_before_anything_is_written(project: Path):
    with pytest.raises(PretrainConfigError, match="batch_size"):
        run(project, {**TINY, "batch_size": 0})
    written = sorted(str(p.relative_to(project)) for p in (project / "data").rglob("*"))
    assert written == ["data/01_raw"], written  # the project copy's empty raw folder only
