"""Benchmark of the evaluators on a saved student (CPU or whatever device torch picks).

Prints

* token metrics: seconds and samples/s of the batched evaluator against one sample at a time, on
  the same model and samples (and the largest difference in per-sample loss between the two);
* closed-loop task success: tasks/s with the student's turns generated one conversation at a
  time, and with the rollouts run together and their turns generated in batches
  (:class:`prism.student.batching.BatchingPlanner`), with the mean batch size. Each generation
  reuses its own KV cache across new tokens (``generate``'s default); a cache shared across the
  turns of a rollout is not implemented.

Run from the project root after ``kedro run --pipelines train``::

    python bench/evaluation.py [--student data/06_models/student] [--batch 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", default="data/06_models/student")
    parser.add_argument("--data", default="data/01_raw/initial_dataset.json")
    parser.add_argument("--eval-tasks", default="data/01_raw/eval_tasks_1.json")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    import torch

    from prism.evaluation.task_success import evaluate_planner
    from prism.evaluation.token_metrics import score_samples
    from prism.formats.conversations import read_samples
    from prism.formats.eval_tasks import read_eval_suite
    from prism.student.batching import BatchingPlanner
    from prism.student.bundle import load_bundle
    from prism.student.planner import StudentPlanner
    from prism.student.prompt_format import format_of

    torch.set_num_threads(os.cpu_count() or 1)
    if not Path(args.student).is_dir():
        sys.exit(f"{args.student}: no student here; run `kedro run --pipelines train` first")
    bundle = load_bundle(args.student)
    fmt = format_of(args.student)
    n_params = sum(p.numel() for p in bundle.model.parameters())
    print(f"student {args.student}: {n_params / 1e6:.2f}M parameters, prompt format {fmt.name}")

    samples = read_samples(args.data)
    # Warm-up: the first forward passes of a process are slow (allocator, kernel selection).
    score_samples(bundle.model, bundle.tokenizer, fmt, samples[:16], batch_size=args.batch)
    score_samples(bundle.model, bundle.tokenizer, fmt, samples[:4], batch_size=1)
    timings = {}
    scores = {}
    for batch in (1, args.batch):
        started = time.perf_counter()
        scores[batch] = score_samples(
            bundle.model, bundle.tokenizer, fmt, samples, batch_size=batch
        )
        timings[batch] = time.perf_counter() - started
    worst = max(abs(a.loss - b.loss) for a, b in zip(scores[1], scores[args.batch], strict=True))
    print(f"\ntoken metrics on {len(samples)} samples of {args.data}:")
    for batch, seconds in timings.items():
        print(f"  batch {batch:>2}: {seconds:6.2f} s  {len(samples) / seconds:7.1f} samples/s")
    print(
        f"  speed-up {timings[1] / timings[args.batch]:.2f}x; largest per-sample loss difference {worst:.2e}"
    )

    suite = read_eval_suite(args.eval_tasks)
    student = StudentPlanner(bundle.model, bundle.tokenizer, fmt)
    unknown = [0.2, 0.3, 0.4, 0.5]
    print(f"\nclosed loop on {len(suite.tasks)} tasks of {args.eval_tasks}:")
    started = time.perf_counter()
    alone, _ = evaluate_planner(lambda t, s: student, suite, graph_unknown=unknown, seed=args.seed)
    sequential = time.perf_counter() - started
    print(
        f"  one at a time: {sequential:6.1f} s  {len(suite.tasks) / sequential:5.2f} tasks/s  "
        f"success {alone['task/accuracy']:.0%}"
    )
    with BatchingPlanner(student, max_batch=args.batch) as batched:
        started = time.perf_counter()
        together, _ = evaluate_planner(
            lambda t, s: batched,
            suite,
            graph_unknown=unknown,
            seed=args.seed,
            workers=args.batch,
        )
        parallel = time.perf_counter() - started
    mean_batch = sum(batched.batches) / len(batched.batches)
    print(
        f"  batched ({args.batch} in flight, mean batch {mean_batch:.1f}): {parallel:6.1f} s  "
        f"{len(suite.tasks) / parallel:5.2f} tasks/s  success {together['task/accuracy']:.0%}  "
        f"speed-up {sequential / parallel:.2f}x"
    )


if __name__ == "__main__":
    main()
