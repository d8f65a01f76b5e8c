"""How much does bounded concurrency buy against a slow endpoint?

Starts the fake OpenAI server with a fixed latency per call, then makes the same number of
calls sequentially and from a thread pool with ``max_concurrency`` = N, and prints calls/s and
the speed-up over sequential. A last row reruns with a warm on-disk cache (what a resumed job
pays). Run from the repository root::

    .venv/bin/python bench/endpoint_concurrency.py [--calls 32] [--latency-ms 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The fake server is a test helper (tests/endpoint); make the repository root importable
# however the script is launched.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prism.endpoint import CallCache, ChatClient, EndpointConfig
from tests.endpoint.fake_openai_server import FakeOpenAIServer, Reply


def _conversations(count: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"task {index}"}] for index in range(count)]


def _config(server: FakeOpenAIServer, max_concurrency: int) -> EndpointConfig:
    return EndpointConfig(
        base_url=server.url,
        model="fake-model",
        api_key="EMPTY",
        max_concurrency=max_concurrency,
    )


def run_sequential(server: FakeOpenAIServer, calls: int) -> float:
    """Seconds for ``calls`` calls made one after another."""
    with ChatClient(_config(server, 1)) as client:
        started = time.perf_counter()
        for messages in _conversations(calls):
            client.complete(messages)
        return time.perf_counter() - started


def run_pooled(
    server: FakeOpenAIServer, calls: int, in_flight: int, cache: CallCache | None = None
) -> float:
    """Seconds for ``calls`` calls from a pool larger than the client's bound ``in_flight``,
    so the bound, not the pool, limits concurrency (as in a rollout job)."""
    with (
        ChatClient(_config(server, in_flight), cache) as client,
        ThreadPoolExecutor(max_workers=calls) as pool,
    ):
        started = time.perf_counter()
        list(pool.map(client.complete, _conversations(calls)))
        return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> None:
    """Print one row per configuration: wall time, calls/s, speed-up, server's max in flight."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=32, help="calls per configuration")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="server latency per call")
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 4, 8, 16])
    args = parser.parse_args(argv)

    latency_s = args.latency_ms / 1000.0
    with FakeOpenAIServer(lambda request: Reply.ok("{}", delay_s=latency_s)) as server:
        print(f"{args.calls} calls, {args.latency_ms:.0f} ms server latency per call")
        print(f"{'mode':<22}{'wall s':>8}{'calls/s':>10}{'speed-up':>10}{'max in flight':>15}")

        def row(mode: str, seconds: float) -> None:
            speed_up = sequential_s / seconds
            print(
                f"{mode:<22}{seconds:>8.2f}{args.calls / seconds:>10.1f}"
                f"{speed_up:>9.1f}x{server.max_in_flight:>15}"
            )
            server.reset()

        sequential_s = run_sequential(server, args.calls)
        row("sequential", sequential_s)
        for in_flight in args.in_flight:
            row(f"pool, {in_flight} in flight", run_pooled(server, args.calls, in_flight))

        with tempfile.TemporaryDirectory() as directory:
            cache = CallCache(directory)
            run_pooled(server, args.calls, max(args.in_flight), cache)  # fills the cache
            server.reset()
            row("rerun, warm cache", run_pooled(server, args.calls, max(args.in_flight), cache))


if __name__ == "__main__":
    main()
