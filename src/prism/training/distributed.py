"""Data-parallel training over several processes with torch's own launcher (``torchrun``).

``nproc: N`` in the training parameters makes :func:`launch` write the job (samples, split, base
reference, config) to a temporary folder and start ``python -m torch.distributed.run
--standalone --nproc_per_node N -m prism.training.distributed JOB``. Each rank runs the same
:func:`prism.training.fit.fit`; transformers' Trainer wraps the model in DDP (NCCL on GPUs,
gloo on CPU) and shards the data by rank. Rank 0 saves the model and metrics into the job folder,
which the launching process loads and returns, so callers cannot tell a 1- from an N-process run.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import prism
from prism.student.bundle import ModelBundle, load_bundle, save_bundle
from prism.training.base_models import StudentBase
from prism.training.config import TrainConfig
from prism.training.fit import fit
from prism.training.split import Split

logger = logging.getLogger(__name__)


class DistributedTrainingError(RuntimeError):
    """A worker of a data-parallel run failed; its traceback is in the log above."""


def launch(
    samples: Sequence[dict[str, Any]],
    split: Split,
    base: StudentBase,
    config: TrainConfig,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    init_from: str | os.PathLike[str] | None = None,
) -> tuple[ModelBundle, dict[str, Any]]:
    """Train with ``config.nproc`` processes and return rank 0's model and metrics.

    ``checkpoint_dir``: the run's checkpoint folder, shared by the ranks (rank 0 writes it);
    ``init_from``: a saved student to start from (see :func:`~prism.training.fit.fit`).
    """
    with tempfile.TemporaryDirectory(prefix="prism-ddp-") as job_dir:
        job = Path(job_dir)
        name_or_path = base.name_or_path
        if base.model is not None:  # a freshly built base: the workers need it on disk
            base.model.save_pretrained(job / "base")
            base.tokenizer.save_pretrained(job / "base")
            name_or_path = str(job / "base")
        (job / "job.json").write_text(
            json.dumps(
                {
                    "samples": list(samples),
                    "split": split,
                    "base": {"name_or_path": name_or_path, "builtin_spec": base.builtin_spec},
                    "config": config.to_dict(),
                    "checkpoint_dir": None if checkpoint_dir is None else str(checkpoint_dir),
                    "init_from": None if init_from is None else str(init_from),
                }
            )
        )
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={config.nproc}",
            "-m",
            "prism.training.distributed",
            str(job),
        ]
        logger.info("Starting %d data-parallel training processes", config.nproc)
        completed = subprocess.run(command, env=_worker_env(), check=False)
        if completed.returncode != 0:
            raise DistributedTrainingError(
                f"data-parallel training (nproc={config.nproc}) failed with exit code "
                f"{completed.returncode}; see the workers' output above. Set nproc: 1 to train "
                "in one process."
            )
        bundle = load_bundle(job / "out")
        metrics = json.loads((job / "metrics.json").read_text())
    return bundle, metrics


def _worker_env() -> dict[str, str]:
    # Workers import prism by module name; make the package importable even when it is not
    # installed (a source checkout run by kedro, which only puts src/ on sys.path).
    env = dict(os.environ)
    source_root = str(Path(prism.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    return env


def run_worker(job: Path) -> None:
    """One rank of a data-parallel job written by :func:`launch`."""
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"[rank {rank}] %(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    spec = json.loads((job / "job.json").read_text())
    config = TrainConfig.from_dict(spec["config"])
    base = StudentBase(**spec["base"])
    bundle, metrics = fit(
        spec["samples"],
        spec["split"],
        base,
        config,
        spec["checkpoint_dir"],
        init_from=spec.get("init_from"),
    )
    if rank == 0:
        save_bundle(bundle, job / "out")
        (job / "metrics.json").write_text(json.dumps(metrics))


if __name__ == "__main__":
    run_worker(Path(sys.argv[1]))
