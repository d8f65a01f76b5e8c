"""``kedro run --pipelines train`` end to end on tiny data, in a temporary copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from prism.training.base_models import BaseModelError
from prism.training.errors import EmptyTrainingDataError
from tests.training.conftest import CONVERSATIONS, TINY_SPEC

REPO = Path(__file__).resolve().parents[3]

#: Tiny-model overrides of ``params:training`` (nested, as KedroSession's runtime_params take them).
TINY_PARAMS: dict[str, Any] = {
    "training": {
        "base_model": "builtin",
        "report_to": "none",
        "epochs": 2,
        "warmup_steps": 0,
        "per_device_train_batch_size": 8,
        "builtin_model": TINY_SPEC.__dict__,
    }
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration with the fixture as ``training_data``; cwd = root."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)  # prism is imported from the checkout (or site-packages)
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copytree(REPO / "conf" / "base", root / "conf" / "base")
    (root / "conf" / "local").mkdir()
    (root / "data" / "01_raw").mkdir(parents=True)
    shutil.copy(CONVERSATIONS, root / "data" / "01_raw" / "initial_dataset.json")
    monkeypatch.chdir(root)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


def run_train(root: Path, params: dict[str, Any]) -> None:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(root)
    with KedroSession.create(project_path=root, runtime_params=params) as session:
        session.run(pipeline_names=["train"])


@pytest.mark.slow
def test_train_pipeline_end_to_end(project: Path) -> None:
    run_train(project, TINY_PARAMS)

    split = json.loads((project / "data/07_model_output/training_split.json").read_text())
    samples = json.loads(CONVERSATIONS.read_text())
    assert len(split["train"]) + len(split["val"]) == len(samples) and split["val"]
    metrics = json.loads((project / "data/08_reporting/training_metrics.json").read_text())
    assert metrics["train_loss_last"] < metrics["train_loss_first"]
    assert metrics["val_loss_after"] < metrics["val_loss_before"]

    from prism.student.bundle import load_bundle

    student = load_bundle(project / "data/06_models/student")
    prompt = student.tokenizer.apply_chat_template(
        [{"role": "user", "content": samples[0]["conversations"][0]["value"]}],
        add_generation_prompt=True,
        tokenize=False,
    )
    ids = student.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    out = student.model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]

    # a second run reuses the built-in base instead of rebuilding it
    base = project / "data/06_models/student_base"
    stamps = {p.name: p.stat().st_mtime_ns for p in base.iterdir()}
    run_train(project, {"training": {**TINY_PARAMS["training"], "epochs": 1}})
    assert {p.name: p.stat().st_mtime_ns for p in base.iterdir()} == stamps


def test_empty_dataset_fails_before_writing_any_model(project: Path) -> None:
    (project / "data/01_raw/initial_dataset.json").write_text("[]")
    with pytest.raises(EmptyTrainingDataError, match=r"holds no samples"):
        run_train(project, TINY_PARAMS)
    assert not (project / "data/06_models").exists()


def test_unknown_base_model_fails_with_what_to_pass(project: Path) -> None:
    params = {"training": {**TINY_PARAMS["training"], "base_model": "llama-9"}}
    with pytest.raises(BaseModelError, match=r"base_model 'llama-9' is unknown"):
        run_train(project, params)
    assert not (project / "data/06_models/student").exists()


@pytest.mark.slow
def test_cli_exits_non_zero_with_one_message(project: Path) -> None:
    src = str(REPO / "src")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "kedro",
            "run",
            "--pipelines",
            "train",
            "--params",
            "training.val_frac=1.5,training.report_to=none",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    output = out.stdout + out.stderr
    assert out.returncode != 0
    assert "TrainConfigError: TrainConfig.val_frac must be a fraction in [0, 1), got 1.5" in output
    assert "Traceback" not in output  # the project CLI prints prism's errors as one message
    assert not (project / "data/06_models/student").exists()
