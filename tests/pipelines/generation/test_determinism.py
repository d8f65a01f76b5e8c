"""Generation is a function of the seed alone, not of the process (string hashing is salted per
process, so any reliance on set order would show up here)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import json
from prism.formats.json_store import JsonStore
from prism.generation import GenerationConfig
from prism.pipelines.generation.nodes import generate_rollouts
import sys, tempfile
with tempfile.TemporaryDirectory() as root:
    samples, failed, stats, scenes = generate_rollouts(
        GenerationConfig.from_params({"n_samples": 6, "n_tasks": 3, "workers": 3}),
        JsonStore(root + "/gen"), JsonStore(root + "/cache"), {})
sys.stdout.write(json.dumps([samples, failed, scenes], sort_keys=True))
"""


def _run(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_same_seed_same_data_in_processes_with_different_hash_seeds():
    outputs = {_run(seed) for seed in ("1", "2", "3")}
    assert len(outputs) == 1
    assert len(outputs.pop()) > 10_000
