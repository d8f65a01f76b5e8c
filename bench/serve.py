"""The served student: requests per second and latency, and the server's overhead.

Starts ``prism serve`` as a subprocess on a free local port, sends the first-turn (and later
turn) prompts of a conversations file through the official ``openai`` client with 1 and with N
concurrent clients, and compares with in-process ``StudentPlanner.respond`` on the same
requests (same greedy replies, checked). The server serializes generation, so more clients
raise throughput only by overlapping HTTP/JSON/tokenization with generation. The server runs
with ``--max-new-tokens`` = ``--max-tokens`` (the in-process planner's cap, 256 by default) and
these requests send ``temperature: 0`` and that ``max_tokens``.

With ``--eval-tasks FILE`` it then runs the closed loop on every task of an eval task file
twice, in process and through the server exactly as a SPINE user would: the LLM teacher backend
with the project's teacher endpoint config (``generation.teacher.endpoint`` in
``conf/base/parameters_generation.yml``: ``temperature: 0.2``, ``max_tokens: 2048``) changed
only in ``base_url``, ``model`` and the API key. Same worlds (``--seed``, ``--graph-unknown``);
it prints both task successes, their times and whether every task's result is identical.

Run from the repository root::

    .venv/bin/python bench/serve.py [--model data/06_models/student] [--requests 24]
        [--clients 1 4] [--max-tokens 256] [--eval-tasks data/01_raw/eval_tasks_1.json]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import yaml

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "conf" / "base" / "parameters_generation.yml"
sys.path.insert(0, str(ROOT / "src"))

from prism.endpoint import ChatClient, EndpointConfig  # noqa: E402
from prism.evaluation.task_success import evaluate_planner  # noqa: E402
from prism.formats.conversations import read_samples  # noqa: E402
from prism.formats.eval_tasks import read_eval_suite  # noqa: E402
from prism.student.planner import MAX_NEW_TOKENS, StudentPlanner  # noqa: E402
from prism.teachers.llm import LLMTeacher  # noqa: E402
from prism.world.protocol import SYSTEM_PROMPT  # noqa: E402


def _requests(path: Path, n: int) -> list[list[dict[str, str]]]:
    """Up to ``n`` conversations ending in a user turn (first turns first, then deeper ones)."""
    samples = read_samples(path)
    out: list[list[dict[str, str]]] = []
    for depth in range(1, 6):
        for sample in samples:
            turns = sample["conversations"]
            users = [k for k, m in enumerate(turns) if m["role"] == "user"]
            if len(users) >= depth:
                out.append(
                    [
                        {"role": m["role"], "value": m["value"]}
                        for m in turns[: users[depth - 1] + 1]
                    ]
                )
            if len(out) == n:
                return out
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _stats(latencies: list[float], wall: float) -> str:
    ms = [1000 * x for x in latencies]
    return (
        f"{len(ms) / wall:6.2f} req/s  median {statistics.median(ms):7.1f} ms  "
        f"p95 {_percentile(ms, 0.95):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/06_models/student")
    parser.add_argument(
        "--conversations",
        default=str(ROOT / "tests" / "training" / "fixtures" / "conversations.json"),
    )
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=MAX_NEW_TOKENS,
        help="the in-process planner's max_new_tokens and the server's --max-new-tokens",
    )
    parser.add_argument("--eval-tasks", help="also compare the closed loop on this task file")
    parser.add_argument("--seed", type=int, default=42, help="hidden-node draws (generation.seed)")
    parser.add_argument("--graph-unknown", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5])
    args = parser.parse_args()

    requests = _requests(Path(args.conversations), args.requests)
    name = "bench-student"
    print(f"model {args.model}, {len(requests)} requests, max_tokens {args.max_tokens}")

    planner = StudentPlanner.from_pretrained(args.model, max_new_tokens=args.max_tokens)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-c", "from prism.cli import cli; cli()", "serve",
            "--model", args.model, "--port", str(port), "--name", name,
            "--max-new-tokens", str(args.max_tokens),
        ],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="EMPTY", max_retries=0, timeout=600
        )

        def ask(messages: list[dict[str, str]]) -> tuple[float, str]:
            chat = [{"role": "system", "content": SYSTEM_PROMPT}] + [
                {"role": m["role"], "content": m["value"]} for m in messages
            ]
            t = time.perf_counter()
            reply = client.chat.completions.create(
                model=name,
                messages=chat,
                temperature=0,
                max_tokens=args.max_tokens,
                response_format={"type": "json_object"},
            )
            return time.perf_counter() - t, reply.choices[0].message.content

        def respond(messages: list[dict[str, str]]) -> tuple[float, str]:
            t = time.perf_counter()
            text = planner.respond(messages)
            return time.perf_counter() - t, text

        # Warm-up: one full pass each. Without a KV cache every generation step is a new input
        # shape, and the first pass over a set of requests is several times slower than the next.
        for messages in requests:
            respond(messages)
            ask(messages)

        # Paired, one request at a time, alternating: the same load for both (the CPU is shared).
        local, served_one, expected = [], [], []
        for messages in requests:
            latency, text = respond(messages)
            local.append(latency)
            expected.append(text)
            served_one.append(ask(messages)[0])
        print(f"in-process (paired)       {_stats(local, sum(local))}")
        print(f"served, 1 client (paired) {_stats(served_one, sum(served_one))}")
        overhead = [s - loc for s, loc in zip(served_one, local, strict=True)]
        print(
            f"server overhead per request (served - in-process, paired): median "
            f"{1000 * statistics.median(overhead):.1f} ms, p95 "
            f"{1000 * _percentile(overhead, 0.95):.1f} ms "
            f"({100 * statistics.median(overhead) / statistics.median(local):+.1f}% of the "
            f"in-process median)"
        )
        for clients in args.clients:
            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                answers = list(pool.map(ask, requests))
            wall = time.perf_counter() - start
            same = sum(text == want for (_, text), want in zip(answers, expected, strict=True))
            print(
                f"served, {clients} client{'s' if clients > 1 else ' '}         "
                f"{_stats([latency for latency, _ in answers], wall)}  same reply as "
                f"in-process: {same}/{len(requests)}"
            )
        if args.eval_tasks:
            _compare_closed_loop(args, planner, f"http://127.0.0.1:{port}/v1", name)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _compare_closed_loop(
    args: argparse.Namespace, planner: StudentPlanner, base_url: str, name: str
) -> None:
    """Every task of ``--eval-tasks`` in process and through the server, on the same worlds."""
    suite = read_eval_suite(args.eval_tasks)
    kwargs = {"graph_unknown": args.graph_unknown, "seed": args.seed}
    start = time.perf_counter()
    local_summary, local = evaluate_planner(lambda task, sim: planner, suite, **kwargs)
    local_s = time.perf_counter() - start
    # The teacher's endpoint as the project configures it; a SPINE user changes base_url, model
    # and the key (any value for prism serve), nothing else: no temperature, no max_tokens.
    params = yaml.safe_load(PARAMS.read_text())["generation"]["teacher"]["endpoint"]
    config = EndpointConfig.from_params(
        {**params, "base_url": base_url, "model": name},
        {params["credentials"]: {"api_key": "EMPTY"}},
        environ={},
    )
    print(
        f"teacher endpoint from {PARAMS.relative_to(ROOT)} with base_url {base_url}, model "
        f"{name}: temperature {config.temperature}, max_tokens {config.max_tokens}, timeout "
        f"{config.timeout_s} s"
    )
    with ChatClient(config) as chat:
        start = time.perf_counter()
        served_summary, served = evaluate_planner(LLMTeacher(chat).planner, suite, **kwargs)
        served_s = time.perf_counter() - start
    same = sum(a == b for a, b in zip(local, served, strict=True))
    print(f"closed loop on {args.eval_tasks} ({len(suite.tasks)} tasks, seed {args.seed}):")
    for label, summary, seconds in (
        ("in-process", local_summary, local_s),
        ("served    ", served_summary, served_s),
    ):
        print(
            f"  {label}  task success {summary['task/accuracy']:.3f} of {summary['task/n']}, "
            f"well-formed {summary['task/valid_rate']:.3f}, {seconds:.1f} s"
        )
    print(f"  identical per-task results (transcripts included): {same}/{len(suite.tasks)}")


if __name__ == "__main__":
    main()
