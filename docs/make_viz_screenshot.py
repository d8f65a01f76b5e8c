"""Screenshot of the iterative loop in kedro-viz: ``docs/img/kedro-viz-iterative.png``.

    .venv/bin/python docs/make_viz_screenshot.py                  # 2 episodes, the default file
    .venv/bin/python docs/make_viz_screenshot.py --episodes 3 --out /tmp/viz.png

Starts ``kedro viz run --include-hooks --params n_episodes=N`` on a temporary copy of the
project's configuration (``conf/base`` only: nothing of ``conf/local`` is read), opens the
``iterative`` pipeline with every namespace expanded in headless Chromium and saves a screenshot.

Needs Chromium (Debian: ``apt-get install -y chromium``; or set ``CHROMIUM=/path/to/chrome``)
and the ``websockets`` package (installed with uvicorn, a dependency of kedro-viz).

Chromium is driven over its DevTools protocol rather than with ``--screenshot`` alone: a fresh
profile shows kedro-viz's onboarding hints over the graph, and kedro-viz offline announces a
"Kedro-Viz None is here!" update (its PyPI check fails), which only a page script can hide.
Everything runs on 127.0.0.1; no network is needed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "docs" / "img" / "kedro-viz-iterative.png"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
#: kedro-viz's saved UI state (localStorage "KedroViz"): no onboarding hints, no minimap, the
#: sidebar folded, the full dataset names instead of "pretty" ones.
VIZ_STATE = {
    "showFeatureHints": False,
    "featureHintStep": 0,
    "isPrettyName": False,
    "expandAllPipelines": True,
    "visible": {"miniMap": False, "sidebar": False, "code": False},
}
#: Hidden by a style sheet: the offline "update available" banner.
HIDE_CSS = ".update-reminder, .update-reminder-unexpanded { display: none !important; }"


def free_port() -> int:
    """A port free now, below 49152: kedro-viz refuses the ports above (its "system ports")."""
    for port in random.Random().sample(range(20000, 49000), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-49000")


def get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            get(url)
            return
        if process.poll() is not None:
            sys.exit(f"{process.args[0]} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    sys.exit(f"nothing at {url} after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a process started in its own session, and whatever it started."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextlib.contextmanager
def viz_server(work: Path, episodes: int, port: int) -> Iterator[str]:
    """``kedro viz run`` on a copy of the project's configuration; yields its URL."""
    project = work / "project"
    (project / "src").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", project)
    shutil.copytree(REPO / "conf" / "base", project / "conf" / "base")
    (project / "conf" / "local").mkdir()
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "WANDB_MODE": "offline",
        "HF_HUB_OFFLINE": "1",
        # kedro-viz asks PyPI for its latest version: fail that at once instead of after 30 s
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    command = [
        sys.executable, "-m", "kedro", "viz", "run",
        "--no-browser", "--host", "127.0.0.1", "--port", str(port),
        # with hooks, EpisodeCountHook applies --params n_episodes (without, the default 5)
        "--include-hooks", "--params", f"n_episodes={episodes}",
    ]  # fmt: skip
    log = work / "viz.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/api/pipelines/iterative", process, log, timeout=120)
        yield url
    finally:
        stop(process)


def find_chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    sys.exit("Chromium not found: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)")


class DevTools:
    """A minimal client of Chromium's DevTools protocol on one page."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0

    def __call__(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def navigate(self, url: str, settle: float = 0.5) -> None:
        self("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.evaluate("document.readyState") == "complete":
                break
            time.sleep(0.2)
        time.sleep(settle)


@contextlib.contextmanager
def chromium(work: Path, width: int, height: int) -> Iterator[DevTools]:
    profile = work / "chromium-profile"
    profile.mkdir()
    log = work / "chromium.log"
    command = [
        find_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
        f"--window-size={width},{height}", "--remote-debugging-port=0", "about:blank",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active.exists() and active.read_text().count("\n") >= 1):
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"Chromium did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        port = active.read_text().splitlines()[0]
        targets = json.loads(get(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        from websockets.sync.client import connect

        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as socket:
            tools = DevTools(socket)
            tools("Page.enable")
            tools(
                "Emulation.setDeviceMetricsOverride",
                width=width, height=height, deviceScaleFactor=1, mobile=False,
            )  # fmt: skip
            yield tools
    finally:
        stop(process)


def wait_for_graph(tools: DevTools, timeout: float) -> int:
    """Wait until the graph's nodes are drawn and stop moving; returns how many there are."""
    script = """(() => {
        const nodes = document.querySelectorAll('.pipeline-node');
        const zoom = document.querySelector('.pipeline-flowchart__zoom-wrapper');
        const animating = document.querySelector('.pipeline-flowchart__zoom-wrapper--animating');
        const moved = [...nodes].slice(0, 50).map(n => n.getAttribute('transform')).join('|');
        return [animating ? 0 : nodes.length, moved + (zoom ? zoom.getAttribute('transform') : '')];
    })()"""
    deadline = time.monotonic() + timeout
    last, stable = None, 0
    while time.monotonic() < deadline:
        count, state = tools.evaluate(script)
        if count and (count, state) == last:
            stable += 1
            if stable >= 4:
                return count
        else:
            stable = 0
        last = (count, state)
        time.sleep(0.5)
    sys.exit(f"the graph was not drawn within {timeout:.0f} s")


def expand(tools: DevTools, namespace: str) -> None:
    """Expand the collapsed namespace ``namespace`` in the graph (a click on its box)."""
    found = tools.evaluate(
        "(() => { const box = [...document.querySelectorAll('.pipeline-node--modularPipeline')]"
        f".find(n => n.textContent.trim() === {json.dumps(namespace)});"
        " if (!box) return false;"
        " box.dispatchEvent(new MouseEvent('click', {bubbles: true})); return true; })()"
    )
    if not found:
        sys.exit(f"no collapsed namespace {namespace!r} in the graph")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=2, help="n_episodes drawn (default 2)")
    parser.add_argument(
        "--expand-all",
        action="store_true",
        help="every node of every episode (default: the loop with one box per episode)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0, help="the viz server's (default: free)")
    args = parser.parse_args()
    state = {**VIZ_STATE, "expandAllPipelines": args.expand_all}

    with tempfile.TemporaryDirectory(prefix="viz-shot-") as tmp:
        work = Path(tmp)
        with (
            viz_server(work, args.episodes, args.port or free_port()) as url,
            chromium(work, args.width, args.height) as tools,
        ):
            # the UI state lives in the origin's localStorage: set it on a page of the server
            tools.navigate(f"{url}/api/version")
            tools.evaluate(f"localStorage.setItem('KedroViz', {json.dumps(json.dumps(state))})")
            query = "pid=iterative" + ("&expandAllPipelines=true" if args.expand_all else "")
            tools.navigate(f"{url}/?{query}", settle=1)
            tools.evaluate(
                "document.head.appendChild(Object.assign(document.createElement('style'),"
                f" {{textContent: {json.dumps(HIDE_CSS)}}}))"
            )
            nodes = wait_for_graph(tools, timeout=60)
            if not args.expand_all:  # open the loop's box: the episodes stay boxes in it
                expand(tools, "iterative")
                time.sleep(1)
                nodes = wait_for_graph(tools, timeout=60)
            time.sleep(1)  # the zoom-to-fit transition
            shot = tools("Page.captureScreenshot", format="png")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(base64.b64decode(shot["data"]))
    print(f"{args.out}: the iterative pipeline, {args.episodes} episodes, {nodes} nodes drawn")


if __name__ == "__main__":
    main()
