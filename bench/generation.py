"""Generation throughput: the offline path, and the LLM teacher's concurrency speed-up.

1. Offline (procedural scenes, oracle teacher): rollouts per second of the generation node,
   with its store writes, and of the bare rollout loop.
2. LLM teacher against a local OpenAI-compatible server that answers each call after an injected
   latency: rollouts per second with 1 rollout in flight and with N, and the speed-up.

Run from the repository root::

    .venv/bin/python bench/generation.py [--scenes 50] [--latency-ms 100] [--in-flight 1 4 8 16]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds the fake server

from prism.formats.json_store import JsonStore
from prism.generation import GenerationConfig
from prism.pipelines.generation.nodes import generate_rollouts
from prism.scenes.base import SceneRequest
from prism.scenes.procedural import ProceduralSceneGenerator
from prism.teachers.oracle import OracleTeacher
from prism.world.rollout import run_rollout
from prism.world.simulator import PartialObservationSim
from tests.endpoint.fake_openai_server import FakeOpenAIServer
from tests.endpoint.planner_scripts import answer_with_every_node, slow


def _generate(
    params: dict[str, Any], credentials: dict[str, Any] | None = None
) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        _, _, stats, _ = generate_rollouts(
            GenerationConfig.from_params(params),
            JsonStore(Path(root) / "gen"),
            JsonStore(Path(root) / "cache"),
            credentials or {},
        )
        return time.perf_counter() - started, stats


def bench_offline(scenes: int) -> None:
    params = {"n_samples": scenes, "n_tasks": 3, "workers": 1}
    seconds, stats = _generate(params)
    print(
        f"offline generation node: {stats['total']} rollouts in {seconds:.2f} s = "
        f"{stats['total'] / seconds:.0f} rollouts/s (store writes included), "
        f"success {100 * stats['success_rate']:.1f} %"
    )

    generator, teacher = ProceduralSceneGenerator(), OracleTeacher()
    generated = [generator.generate(SceneRequest(12, 8, 3, seed=i)) for i in range(scenes)]
    started, count = time.perf_counter(), 0
    for i, scene in enumerate(generated):
        for task in scene.tasks:
            sim = PartialObservationSim(
                scene.scene, graph_unknown=0.3, rng=random.Random(i), init_node=task.init_node
            )
            run_rollout(teacher.planner(task, sim), sim, task.task)
            count += 1
    seconds = time.perf_counter() - started
    print(
        f"bare rollout loop (oracle): {count} rollouts in {seconds:.2f} s = {count / seconds:.0f} rollouts/s"
    )


def bench_llm(scenes: int, latency_ms: float, in_flight: list[int]) -> None:
    print(f"\nLLM teacher, local server, {latency_ms:.0f} ms per call, {scenes} scenes x 2 tasks")
    print(
        f"{'in flight':>9}  {'wall s':>7}  {'rollouts/s':>10}  {'speed-up':>8}  {'max in flight':>13}"
    )
    base = None
    for n in in_flight:
        with FakeOpenAIServer(
            slow(answer_with_every_node, latency_ms / 1000), api_key="k", models=["m"]
        ) as server:
            params = {
                "n_samples": scenes,
                "n_tasks": 2,
                "workers": n,
                "teacher": {
                    "kind": "llm",
                    "fallback_to_oracle": False,
                    "endpoint": {"model": "m", "base_url": server.url, "max_concurrency": n},
                },
            }
            seconds, stats = _generate(params, {"openai": {"api_key": "k"}})
            rate = stats["total"] / seconds
            base = base or rate
            print(
                f"{n:>9}  {seconds:>7.2f}  {rate:>10.1f}  {rate / base:>7.1f}x  {server.max_in_flight:>13}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=50)
    parser.add_argument("--llm-scenes", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 4, 8, 16])
    args = parser.parse_args()
    bench_offline(args.scenes)
    bench_llm(args.llm_scenes, args.latency_ms, args.in_flight)


if __name__ == "__main__":
    main()
