"""Benchmark of the shipped planner base: its probe, and what it is worth to a fine-tuned student.

Prints

* the probe accuracy (exact match, held-out procedural worlds) of the base: look-up
  (``where is X?``), neighbours (``neighbours of R?``) and path (``path from A to B?``);
* the closed-loop task success on the shipped eval tasks of students fine-tuned on the same data
  with the same budget from (a) the shipped base with LoRA, (b) the shipped base in full, and
  (c) a random initialisation of the same architecture and tokenizer (full, at the learning rate
  of the random-init built-in base), next to the oracle teacher's success on the same tasks and
  hidden-node draws. Every student is trained for the same epochs on the same data.

Run from the project root (about 5 minutes on 2 CPU cores)::

    python bench/pretrain.py [--base data/01_raw/planner_base] [--epochs 3] [--probe-items 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "disabled")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="data/01_raw/planner_base")
    parser.add_argument("--data", default="data/01_raw/initial_dataset.json")
    parser.add_argument("--eval-tasks", default="data/01_raw/eval_tasks_1.json")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--probe-items", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--variants", default="lora,full,random", help="comma-separated: lora, full, random"
    )
    args = parser.parse_args()

    import torch
    import yaml
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from prism.evaluation.task_success import evaluate_planner
    from prism.formats.eval_tasks import read_eval_suite
    from prism.pretraining.corpus import probe_items
    from prism.pretraining.model import probe
    from prism.pretraining.pretrain import PretrainConfig
    from prism.student.bundle import ModelBundle, load_bundle, save_bundle
    from prism.student.planner import StudentPlanner
    from prism.teachers.oracle import OracleTeacher
    from prism.training.config import TrainConfig
    from prism.training.finetune import DEFAULT_LEARNING_RATES
    from prism.training.train import train

    torch.set_num_threads(os.cpu_count() or 1)
    params = yaml.safe_load(Path("conf/base/parameters_pretraining.yml").read_text())
    config = PretrainConfig.from_params(params["pretraining"])
    graph_unknown = yaml.safe_load(Path("conf/base/parameters_generation.yml").read_text())[
        "generation"
    ]["graph_unknown"]

    base = load_bundle(args.base)
    n_params = sum(p.numel() for p in base.model.parameters())
    size_mb = sum(f.stat().st_size for f in Path(args.base).iterdir()) / 1e6
    print(f"base {args.base}: {n_params / 1e6:.2f}M parameters, {size_mb:.1f} MB on disk")
    started = time.perf_counter()
    scores = probe(base.model, base.tokenizer, probe_items(config.corpus, args.probe_items))
    print(
        f"probe ({args.probe_items} held-out items per kind, {time.perf_counter() - started:.1f} s):"
        + "".join(f"  {k.split('/')[1]} {v:.0%}" for k, v in scores.items())
    )

    suite = read_eval_suite(args.eval_tasks)
    teacher = OracleTeacher()
    summary, _ = evaluate_planner(
        teacher.planner, suite, graph_unknown=graph_unknown, seed=args.seed
    )
    teacher_rate = summary["task/accuracy"]
    print(f"oracle teacher on {args.eval_tasks}: {teacher_rate:.0%} ({len(suite.tasks)} tasks)")

    with tempfile.TemporaryDirectory(prefix="prism-bench-pretrain-") as tmp:
        random_dir = Path(tmp) / "random_init"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.base))
        # A random init gets the learning rate of the random-init built-in base, not the small
        # one meant for pretrained weights.
        card = {
            "prompt_format": "compact",
            "finetune_learning_rates": {"full": DEFAULT_LEARNING_RATES[("full", True)]},
        }
        save_bundle(ModelBundle(model, AutoTokenizer.from_pretrained(args.base), card), random_dir)
        variants = {
            "lora": ("shipped base, LoRA", args.base, "lora"),
            "full": ("shipped base, full", args.base, "full"),
            "random": ("random init, full", str(random_dir), "full"),
        }
        print(f"\nfine-tuned on {args.data}, {args.epochs:g} epochs each:")
        print(
            f"{'student':<22} {'train s':>8} {'task success':>13} {'valid':>6} {'of teacher':>11}"
        )
        for key in args.variants.split(","):
            label, base_model, mode = variants[key]
            cfg = TrainConfig(
                name=key,
                data=args.data,
                base_model=base_model,
                finetune=mode,
                epochs=args.epochs,
                report_to="none",
                seed=args.seed,
            )
            started = time.perf_counter()
            student_dir = train(cfg, Path(tmp) / key)
            train_s = time.perf_counter() - started
            planner = StudentPlanner.from_pretrained(student_dir)
            summary, _ = evaluate_planner(
                lambda task, sim, p=planner: p,
                suite,
                graph_unknown=graph_unknown,
                seed=args.seed,
            )
            rate = summary["task/accuracy"]
            ratio = rate / teacher_rate if teacher_rate else 0.0
            print(
                f"{label:<22} {train_s:>8.0f} {rate:>12.0%} {summary['task/valid_rate']:>6.0%} "
                f"{ratio:>10.0%}"
            )


if __name__ == "__main__":
    main()
