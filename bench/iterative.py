"""Benchmark of the iterative loop (``kedro run --pipelines iterative``): where the time goes.

Runs the loop on the project's defaults (5 episodes of 10 new samples, the shipped planner base,
the oracle teacher; about 10+ minutes on 2 cores) in a temporary copy of the project, and prints
per episode

* the wall time of its nodes by stage: **train** (its configuration, load, split, fine-tune),
  **evaluate** (token metrics, closed-loop tasks, tables, plot, the paired comparison with the
  previous episode and the base, the episode's summary) and
  **generate** (sample priors, teacher rollouts, select and combine);
* **I/O**: loading and saving its catalog datasets (models, datasets, reports), which Kedro does
  outside the nodes;
* **other**: the rest of the episode's wall time, outside nodes and I/O: hooks (wandb logging
  included), Kedro's scheduling;
* the dataset size it trained on and the new samples it added, the student's closed-loop task
  success against the teacher's on the same tasks, and the process's peak memory so far
  (``resource.getrusage``: the process itself, and its finished child processes).

Setup (input and endpoint checks, the run record, initial dataset, student base, the teacher's
score, the untuned base's closed-loop evaluation, timed apart) and the end (best model, report)
get rows of their own; their ``other`` includes the
session start before the first node and the hooks after the last. Timing is by a Kedro hook registered for the run
(``before_node_run`` / ``after_node_run`` and the dataset load/save hooks); the run total is
the wall time of ``session.run``.

Run from the project root::

    python bench/iterative.py                                  # the default loop
    python bench/iterative.py --n_episodes 1 --n_batch 2 --epochs 1
    python bench/iterative.py --output_dir /tmp/loop --no-wandb

wandb logs offline into the temporary copy unless ``WANDB_MODE`` / ``WANDB_DIR`` say otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from kedro.framework.hooks import hook_impl  # noqa: E402

#: Nodes of an episode (``iterative.episode_N.<name>``) by stage; others count as ``other``.
STAGES = {
    "train": (
        "episode_training_config",
        "load_training_samples",
        "split_train_val",
        "train_student",
    ),
    "evaluate": (
        "evaluate_student",
        "summarize_evaluation",
        "sample_table",
        "plot_samples",
        "compare_episode",
        "summarize_episode",
    ),
    "generate": (
        "sample_generation_priors",
        "episode_generation_config",
        "generate_rollouts",
        "select_new_samples",
        "combine_datasets",
    ),
}
_STAGE_OF = {name: stage for stage, names in STAGES.items() for name in names}
_EPISODE_NODE = re.compile(r"^iterative\.episode_(\d+)\.(\w+)$")
#: Nodes of the setup's evaluation of the untuned student base (timed apart in its row).
BASE_NODES = "iterative.base."
#: Nodes of the loop's end (after the last episode).
FINAL_NODES = (
    "iterative.select_best_model",
    "iterative.report_episodes",
    "iterative.log_episode_report",
)


def _peak_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of its finished children, MiB (Linux: KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


class TimingHook:
    """Times every node and every dataset load and save of a run; notes the peak memory at the
    end of each episode."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []  # name, start, end
        self.io: list[tuple[float, float]] = []  # start, end of each load or save
        self.peak: dict[int, tuple[float, float]] = {}
        self._starts: dict[str, float] = {}
        self._io_start: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self.started = self.ended = 0.0  # the run's start and end (perf_counter)

    @hook_impl(trylast=True)  # the last before_node_run: the node starts right after
    def before_node_run(self, node: Any) -> None:
        self._starts[node.name] = time.perf_counter()

    @hook_impl(tryfirst=True)  # the first after_node_run: the node just ended
    def after_node_run(self, node: Any) -> None:
        end = time.perf_counter()
        with self._lock:
            self.nodes.append({"name": node.name, "start": self._starts.pop(node.name), "end": end})
        match = _EPISODE_NODE.match(node.name)
        if match and match.group(2) == "combine_datasets":
            self.peak[int(match.group(1))] = _peak_mib()

    @hook_impl(tryfirst=True)
    def before_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        self._io_start[(node.name, dataset_name)] = time.perf_counter()

    @hook_impl(trylast=True)
    def after_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        self._io_end(node, dataset_name)

    @hook_impl(tryfirst=True)
    def before_dataset_saved(self, dataset_name: str, node: Any) -> None:
        self._io_start[(node.name, dataset_name)] = time.perf_counter()

    @hook_impl(trylast=True)
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        self._io_end(node, dataset_name)

    def _io_end(self, node: Any, dataset_name: str) -> None:
        start = self._io_start.pop((node.name, dataset_name), None)
        if start is not None:
            with self._lock:
                self.io.append((start, time.perf_counter()))


def _phase(name: str) -> str | int:
    match = _EPISODE_NODE.match(name)
    if match:
        return int(match.group(1))
    return "end" if name in FINAL_NODES else "setup"


def _copy_project(root: Path) -> None:
    """The project's configuration and shipped raw data (no outputs, no conf/local)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copytree(REPO / "conf" / "base", root / "conf" / "base")
    (root / "conf" / "local").mkdir(parents=True, exist_ok=True)
    (root / "src").mkdir(exist_ok=True)  # prism is imported from the checkout
    shutil.copytree(REPO / "data" / "01_raw", root / "data" / "01_raw")


def run_loop(args: argparse.Namespace, project: Path, output_dir: Path) -> tuple[TimingHook, float]:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    params: dict[str, Any] = {
        "n_episodes": args.n_episodes,
        "n_batch": args.n_batch,
        "output_dir": str(output_dir),
    }
    if args.epochs is not None:
        params["epochs"] = args.epochs
    if args.base_model:
        params["base_model"] = args.base_model
    if not args.wandb:
        params["training"] = {"report_to": "none"}
    bootstrap_project(project)
    timer = TimingHook()
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        # Kedro has no public way to add a hook to one session beside settings.HOOKS.
        session._hook_manager.register(timer)
        started = time.perf_counter()
        session.run(pipeline_names=["iterative"], only_missing_outputs=True)
        total = time.perf_counter() - started
    timer.started, timer.ended = started, started + total
    return timer, total


def report(timer: TimingHook, total: float, output_dir: Path, n_episodes: int) -> None:
    nodes = sorted(timer.nodes, key=lambda n: n["start"])
    phases: list[str | int] = ["setup", *range(1, n_episodes + 1), "end"]
    # A phase's window runs from the previous phase's last node to its own last node (the
    # first from the start of the run, the last to its end).
    last_end = {
        p: max((n["end"] for n in nodes if _phase(n["name"]) == p), default=None) for p in phases
    }
    windows, start = {}, timer.started
    for phase in phases:
        end = timer.ended if phase == "end" else last_end[phase]
        if end is None:  # skipped (a continued run): an empty window
            end = start
        windows[phase] = (start, end)
        start = end

    table = _episode_table(output_dir)
    header = (
        f"{'episode':>7} {'train_s':>8} {'evaluate_s':>10} {'generate_s':>10} {'io_s':>7} "
        f"{'other_s':>7} {'wall_s':>7} {'dataset':>7} {'new':>4} {'task':>6} {'teacher':>7} "
        f"{'of_teacher':>10} {'peak_MiB':>8}"
    )
    print(
        "seconds of wall time; orchestration overhead = io_s (catalog loads and saves) + other_s "
        "(hooks, wandb, scheduling): the phase's wall time minus its node times"
    )
    print(header)
    print("-" * len(header))
    sums: dict[str, float] = defaultdict(float)
    for phase in phases:
        lo, hi = windows[phase]
        in_window = [n for n in nodes if lo <= n["end"] <= hi]
        node_s = sum(n["end"] - n["start"] for n in in_window)
        io_s = sum(e - s for s, e in timer.io if lo <= e <= hi)
        other_s = (hi - lo) - node_s - io_s
        stages = defaultdict(float)
        for n in nodes:
            if _phase(n["name"]) == phase:
                match = _EPISODE_NODE.match(n["name"])
                stage = _STAGE_OF.get(match.group(2), "other") if match else "other"
                stages[stage] += n["end"] - n["start"]
        sums["nodes"] += node_s
        sums["io"] += io_s
        sums["other"] += other_s
        if isinstance(phase, int):
            row = table.get(phase, {})
            peak = timer.peak.get(phase)
            print(
                f"{phase:>7} {stages['train']:>8.2f} {stages['evaluate']:>10.2f} "
                f"{stages['generate']:>10.2f} {io_s:>7.2f} {other_s:>7.2f} {hi - lo:>7.2f} "
                f"{_fmt(row.get('dataset_size'), 'd'):>7} {_fmt(row.get('new_samples'), 'd'):>4} "
                f"{_fmt(row.get('task/accuracy'), '.3f'):>6} "
                f"{_fmt(row.get('teacher/task_accuracy'), '.3f'):>7} "
                f"{_fmt(row.get('task/of_teacher'), '.3f'):>10} "
                f"{_fmt(peak[0] if peak else None, '.0f'):>8}"
            )
        else:
            base_s = sum(
                n["end"] - n["start"] for n in in_window if n["name"].startswith(BASE_NODES)
            )
            print(
                f"{phase:>7} {'nodes ' + format(node_s, '.2f'):>30} {io_s:>7.2f} "
                f"{other_s:>7.2f} {hi - lo:>7.2f}"
                + (f"  (the untuned base's evaluation: {base_s:.2f} s)" if base_s else "")
            )
    own, children = _peak_mib()
    print("-" * len(header))
    print(
        f"run total {total:.2f} s = nodes {sums['nodes']:.2f} s + dataset I/O {sums['io']:.2f} s"
        f" + other orchestration {sums['other']:.2f} s ({sums['other'] / total:.1%}: hooks, "
        "wandb, Kedro's scheduling, session start)"
    )
    print(f"peak memory: {own:.0f} MiB this process, {children:.0f} MiB its largest finished child")
    print(f"outputs in {output_dir}")


def _episode_table(output_dir: Path) -> dict[int, dict[str, Any]]:
    """The report node's table, by episode (empty when the loop did not get that far)."""
    path = output_dir / "iterative_metrics.csv"
    if not path.is_file():
        return {}
    import pandas as pd

    table = pd.read_csv(path)
    return {int(row["episode"]): row.to_dict() for _, row in table.iterrows()}


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return "-"
    return format(int(value) if spec == "d" else float(value), spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n_episodes", type=int, default=5)
    parser.add_argument("--n_batch", type=int, default=10)
    parser.add_argument("--epochs", type=float, default=None, help="default: training.epochs")
    parser.add_argument("--base_model", default=None, help="default: training.base_model")
    parser.add_argument(
        "--output_dir", default=None, help="keep the outputs here (default: a temporary folder)"
    )
    parser.add_argument("--no-wandb", dest="wandb", action="store_false", help="report_to none")
    args = parser.parse_args()
    if args.epochs is not None and args.epochs == int(args.epochs):
        args.epochs = int(args.epochs)

    with tempfile.TemporaryDirectory(prefix="prism-bench-iterative-") as tmp:
        project = Path(tmp) / "project"
        _copy_project(project)
        output_dir = Path(args.output_dir).resolve() if args.output_dir else project / "output"
        if output_dir.is_dir() and any(output_dir.iterdir()):
            print(f"note: {output_dir} holds an earlier run: finished episodes are not redone")
        for name, value in {
            "KEDRO_DISABLE_TELEMETRY": "1",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "WANDB_MODE": "offline",
            "WANDB_DIR": str(project),
            "WANDB_SILENT": "true",
        }.items():
            os.environ.setdefault(name, value)
        os.chdir(project)
        print(
            f"iterative loop: {args.n_episodes} episode(s) x {args.n_batch} new samples, epochs "
            f"{args.epochs if args.epochs is not None else 'training.epochs'}, wandb "
            f"{os.environ['WANDB_MODE'] if args.wandb else 'off'}, {os.cpu_count()} CPU(s); "
            f"project copy {project}"
        )
        timer, total = run_loop(args, project, output_dir)
        print()
        report(timer, total, output_dir, args.n_episodes)
        summary = output_dir / "iterative_summary.json"
        if summary.is_file():
            best = json.loads(summary.read_text())
            print(
                f"best episode {best['best_episode']} by {best['objective']} "
                f"({best['objective_type']}): {best['value']:.4g}"
            )
        if not args.output_dir:
            print("(the temporary copy and its outputs are deleted now; --output_dir keeps them)")


if __name__ == "__main__":
    main()
