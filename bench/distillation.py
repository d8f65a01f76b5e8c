"""Does the loop distil? The seed's process against on-policy data, at equal budget, with power.

Every strategy runs the real command, ``kedro run --pipeline iterative``, in the project, with
the same budget — episodes, new samples per episode (``n_batch``), epochs — and the same seeds;
all are scored on the shipped eval file (126 tasks, the same worlds for every model):

* ``uniform``: the seed's process (``collection=teacher``, ``sampling_strategy=uniform``);
* ``accuracy_weighted``: the seed's process, seeded by the samples the student gets wrong;
* ``task_failure``: the teacher replays the worlds the student failed in the closed-loop probe;
* ``dagger``: the student acts on the probe's worlds and the teacher labels every state it reaches.

It prints, per strategy and episode, the task success pooled over the seeds with its 95 % Wilson
interval, then the final episode of each strategy against the seed's process and against the
untuned base, paired task by task over all seeds (discordant pairs, exact McNemar p-value),
writes a plot, and says how long it took::

    python bench/distillation.py                       # 3 seeds, 3 episodes, n_batch 40
    python bench/distillation.py --seeds 1 --episodes 2 --n-batch 10 --strategies uniform,dagger

Runs are kept under ``--out`` (default ``output/bench_distillation``): a rerun reuses finished
runs (the loop itself resumes), so an interrupted bench goes on where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from prism.evaluation.statistics import paired_comparison, wilson_interval  # noqa: E402

#: Each strategy's parameters on top of the common budget.
STRATEGIES: dict[str, dict[str, str]] = {
    "uniform": {"collection": "teacher", "sampling_strategy": "uniform"},
    "accuracy_weighted": {"collection": "teacher", "sampling_strategy": "accuracy_weighted"},
    "task_failure": {"collection": "teacher", "sampling_strategy": "task_failure"},
    "dagger": {"collection": "dagger", "sampling_strategy": "uniform"},
}
BASELINE = "uniform"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per strategy (42, 43, ...)")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--n-batch", type=int, default=40, help="new samples per episode")
    parser.add_argument("--epochs", type=float, default=None, help="default: the project's")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "bench_distillation")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "img" / "distillation.png")
    parser.add_argument(
        "--params", default="", help="further --params for every run, e.g. 'warm_start=true'"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: print the table and draw the plot from the runs already in --out",
    )
    return parser.parse_args(argv)


def run_loop(strategy: str, seed: int, args: argparse.Namespace) -> tuple[Path, float]:
    """One loop, the real command, in the project; its output folder and wall time."""
    out = args.out / f"{strategy}_seed{seed}"
    params = {
        **STRATEGIES[strategy],
        "n_episodes": str(args.episodes),
        "n_batch": str(args.n_batch),
        "seed": str(seed),
        "output_dir": str(out),
        "name": f"bench_{strategy}_{seed}",
    }
    if args.epochs is not None:
        params["epochs"] = str(args.epochs)
    overrides = ",".join(f"{k}={v}" for k, v in params.items())
    if args.params:
        overrides += "," + args.params
    command = [shutil.which("kedro") or "kedro", "run", "--pipeline", "iterative"]
    command += ["--params", overrides]
    env = {**os.environ, "WANDB_MODE": "disabled", "KEDRO_DISABLE_TELEMETRY": "1"}
    log = args.out / f"{strategy}_seed{seed}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as handle:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{strategy} seed {seed} failed (rc {done.returncode}); see {log}")
    return out, seconds


def finished_run(strategy: str, seed: int, args: argparse.Namespace) -> Path:
    """The output folder of a finished run (``--report-only``)."""
    out = args.out / f"{strategy}_seed{seed}"
    if not (out / f"episode_{args.episodes}" / "evaluation_tables.json").is_file():
        raise SystemExit(f"{out}: no finished run of {args.episodes} episodes to report")
    return out


def teacher_success(outs: list[Path]) -> float:
    """The teacher's success on the eval tasks, pooled over the runs' own worlds."""
    rows = [
        r for out in outs for r in json.loads((out / "teacher_task_eval.json").read_text())["tasks"]
    ]
    return sum(bool(r["correct"]) for r in rows) / len(rows)


def task_outcomes(out: Path, episode: int) -> list[bool]:
    """The per-task correctness of one episode's student, in the eval file's order."""
    tables = json.loads((out / f"episode_{episode}" / "evaluation_tables.json").read_text())
    rows = sorted((r for r in tables.get("tasks", [])), key=lambda r: r["index"])
    return [bool(r["correct"]) for r in rows]


def base_outcomes(out: Path) -> list[bool]:
    """The untuned base's per-task correctness on the same tasks (the loop evaluates it once)."""
    tables = json.loads((out / "base" / "evaluation_tables.json").read_text())
    return [bool(r["correct"]) for r in sorted(tables["tasks"], key=lambda r: r["index"])]


def pooled(outcomes: list[list[bool]]) -> tuple[int, int, float, float]:
    """Successes, tasks, and the Wilson interval of the outcomes of several seeds together."""
    flat = [o for seed in outcomes for o in seed]
    low, high = wilson_interval(sum(flat), len(flat))
    return sum(flat), len(flat), low, high


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise SystemExit(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
    seeds = [42 + i for i in range(args.seeds)]
    started = time.perf_counter()
    runs: dict[str, dict[int, Path]] = {s: {} for s in strategies}
    for strategy in strategies:
        for seed in seeds:
            if args.report_only:
                runs[strategy][seed] = finished_run(strategy, seed, args)
                continue
            out, seconds = run_loop(strategy, seed, args)
            runs[strategy][seed] = out
            print(f"{strategy:>18} seed {seed}: {seconds / 60:.1f} min", flush=True)

    episodes = range(1, args.episodes + 1)
    results: dict[str, dict[int, list[list[bool]]]] = {
        s: {e: [task_outcomes(runs[s][seed], e) for seed in seeds] for e in episodes}
        for s in strategies
    }
    base = [base_outcomes(runs[strategies[0]][seed]) for seed in seeds]
    print(
        f"\nTask success on the eval file, {len(base[0])} tasks x {len(seeds)} seeds "
        f"({args.episodes} episodes, n_batch {args.n_batch}); 95 % Wilson intervals"
    )
    k, n, low, high = pooled(base)
    print(f"{'untuned base':>18}: {k / n:.3f} [{low:.3f}, {high:.3f}]")
    for strategy in strategies:
        cells = []
        for episode in episodes:
            k, n, low, high = pooled(results[strategy][episode])
            cells.append(f"ep{episode} {k / n:.3f} [{low:.3f}, {high:.3f}]")
        print(f"{strategy:>18}: " + "   ".join(cells))

    last = args.episodes
    flat = {s: [o for seed in results[s][last] for o in seed] for s in strategies}
    flat_base = [o for seed in base for o in seed]
    print(f"\nFinal episode, paired task by task over {len(flat_base)} task-seed pairs:")
    for strategy in strategies:
        against = [(BASELINE, flat.get(BASELINE))] if strategy != BASELINE else []
        for name, other in [*against, ("untuned base", flat_base)]:
            if other is None:
                continue
            c = paired_comparison(flat[strategy], other)
            print(
                f"{strategy:>18} vs {name:<14} {c.difference:+.3f}  "
                f"(+{c.only_a} / -{c.only_b} discordant, p = {c.p_value:.3g})"
            )
    teacher = teacher_success([runs[strategies[0]][seed] for seed in seeds])
    print(f"\nthe teacher on the same tasks and worlds: {teacher:.3f}")
    plot(results, base, teacher, args)
    print(f"\nplot: {args.plot}; total {(time.perf_counter() - started) / 60:.1f} min")
    return 0


def plot(
    results: dict[str, dict[int, list[list[bool]]]],
    base: list[list[bool]],
    teacher: float,
    args: argparse.Namespace,
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a script: no screen
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for offset, (strategy, by_episode) in enumerate(results.items()):
        xs, ys, errs = [], [], [[], []]
        for episode, outcomes in by_episode.items():
            k, n, low, high = pooled(outcomes)
            xs.append(episode + 0.06 * (offset - len(results) / 2))
            ys.append(k / n)
            errs[0].append(k / n - low)
            errs[1].append(high - k / n)
        ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=strategy)
    k, n, _, _ = pooled(base)
    ax.axhline(k / n, color="grey", ls=":", label="untuned base")
    ax.axhline(teacher, color="black", ls="--", label="teacher (oracle)")
    ax.set(xlabel="episode", ylabel="task success (eval file)", ylim=(0, 1))
    ax.set_xticks(list(range(1, args.episodes + 1)))
    ax.set_title(f"Task success per episode, {len(base)} seeds, 95 % Wilson intervals", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
