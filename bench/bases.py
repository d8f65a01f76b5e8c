"""Two planner bases against each other: what the student makes of each, paired task by task.

A base is worth what the loop makes of it. For a base and each seed this runs one episode of the
real loop, the seed's process (``kedro run --pipeline iterative --params
base_model=<base>,n_episodes=1,...``), which scores the untuned base and the student fine-tuned
from it on the shipped eval file (126 tasks, the same worlds for every model of one seed)::

    python bench/bases.py run --base data/06_models/planner_base --out output/bench_bases/new
    python bench/bases.py report output/bench_bases/old output/bench_bases/new

``report`` prints each base's task success (untuned and after episode 1) pooled over the seeds
with its 95 % Wilson interval, how the tasks failed, and the second base against the first,
pair by pair (the same task, the same seed; exact McNemar). A base that reads the compact prompt
format of another commit (a change to its hints) is run from a checkout of that commit, each with
its own ``--out``. Runs are kept: a rerun reuses finished ones.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# distillation puts src/ on the path too
from distillation import base_outcomes, pooled, run_loop, task_outcomes

from prism.evaluation.statistics import paired_comparison

SEEDS = (42, 43, 44)


def run(args: argparse.Namespace) -> None:
    """One episode of the seed's process per seed, from ``--base``."""
    loop = argparse.Namespace(
        out=args.out,
        episodes=1,
        n_batch=1,  # what episode 1 generates is never trained on: one sample is enough
        epochs=args.epochs,
        params=f"base_model={args.base.resolve()},probe_tasks=0",
    )
    for seed in SEEDS[: args.seeds]:
        if (args.out / f"uniform_seed{seed}" / "episode_1" / "evaluation_tables.json").is_file():
            continue
        _, seconds = run_loop("uniform", seed, loop)
        print(f"seed {seed}: {seconds / 60:.1f} min", flush=True)


def _runs(out: Path) -> list[Path]:
    runs = sorted(p for p in out.glob("uniform_seed*") if (p / "episode_1").is_dir())
    if not runs:
        raise SystemExit(f"{out}: no finished runs (python bench/bases.py run --out {out})")
    return runs


def _reasons(run: Path, folder: str) -> collections.Counter[str]:
    rows = json.loads((run / folder / "evaluation_tables.json").read_text())["tasks"]
    return collections.Counter(
        (r["reason"] or "?").split(":")[-1] for r in rows if not r["correct"]
    )


def report(args: argparse.Namespace) -> None:
    """Each base's success and failures, and the second against the first."""
    first, second = (_runs(out) for out in (args.first, args.second))
    names = [p.name for p in first]
    if names != [p.name for p in second]:
        raise SystemExit(
            f"the two sets of runs have other seeds: {names} vs {[p.name for p in second]}"
        )
    stages = {
        "untuned": base_outcomes,
        "episode 1": lambda run: task_outcomes(run, 1),
    }
    folders = {"untuned": "base", "episode 1": "episode_1"}
    results = {}
    for label, runs in ((str(args.first), first), (str(args.second), second)):
        print(f"\n{label} ({len(runs)} seeds)")
        for stage, outcomes in stages.items():
            per_seed = [outcomes(run) for run in runs]
            k, n, low, high = pooled(per_seed)
            reasons = sum((_reasons(run, folders[stage]) for run in runs), collections.Counter())
            print(
                f"  {stage:>9}: {k / n:.3f} [{low:.3f}, {high:.3f}]  ({k}/{n}; per seed "
                + ", ".join(f"{sum(s) / len(s):.3f}" for s in per_seed)
                + ")  failures: "
                + ", ".join(f"{r} {c}" for r, c in reasons.most_common())
            )
            results[label, stage] = [o for seed in per_seed for o in seed]
    print(f"\n{args.second} against {args.first}, paired over the task-seed pairs:")
    for stage in stages:
        c = paired_comparison(results[str(args.second), stage], results[str(args.first), stage])
        print(
            f"  {stage:>9}: {c.difference:+.3f}  (+{c.only_a} / -{c.only_b} discordant, "
            f"p = {c.p_value:.3g})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="one episode of the loop per seed from a base")
    run_parser.add_argument("--base", type=Path, required=True)
    run_parser.add_argument("--out", type=Path, required=True)
    run_parser.add_argument("--seeds", type=int, default=3, help="seeds 42, 43, ...")
    run_parser.add_argument("--epochs", type=float, default=1)
    report_parser = commands.add_parser("report", help="two finished sets of runs, paired")
    report_parser.add_argument("first", type=Path)
    report_parser.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.command == "run":
        run(args)
        print(f"total {(time.perf_counter() - started) / 60:.1f} min")
    else:
        report(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
