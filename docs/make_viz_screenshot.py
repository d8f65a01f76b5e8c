"""The README's picture of the iterative loop in kedro-viz, taken where a user gets to:
``docs/img/kedro-viz-iterative.png``.

    python docs/make_viz_screenshot.py                                    # the README's picture
    python docs/make_viz_screenshot.py --open iterative.episode_1 --out /tmp/episode.png

Starts the README's command, ``kedro viz run --pipeline iterative --include-hooks --params
n_episodes=N``, on a temporary copy of the project's configuration (``conf/base`` only), opens
the README's address (:data:`VIZ_PATH`: the loop's pipeline, datasets hidden) in headless
Chromium with a fresh profile, as a first visit, and does the README's clicks: closes the
feature-hints card, dismisses the update banner (shown offline), opens the loop's box (and the
boxes ``--open`` names, in turn); then saves a screenshot of the page as it is.

kedro-viz cannot be told to open with one namespace expanded: its address takes ``pid`` (the
pipeline), ``types`` (element types shown), ``tags``, ``sid``/``sn`` (a selected node), ``fid``
(focus on a namespace, left collapsed) and ``expandAllPipelines`` (every namespace at once), and
it keeps only its settings between visits (localStorage), no namespace's state. So the loop's
box is a click, here as for a user.

Needs Chromium (Debian: ``apt-get install -y chromium``; or set ``CHROMIUM=/path/to/chrome``);
Chromium is driven over its DevTools protocol with the ``websockets`` package (a dependency of
kedro-viz's server). Everything runs on 127.0.0.1; no network is needed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "docs" / "img" / "kedro-viz-iterative.png"
#: The address the README opens: the loop's pipeline with its datasets hidden (``types``: the
#: element types shown; ``nodes`` are the tasks). With the datasets, the loop's box is ringed by
#: its ~40 dataset outputs and the opened loop is 70 elements at a quarter of their size.
VIZ_PATH = "/?pid=iterative&types=nodes"
#: The window: the zoom kedro-viz fits the graph to, and so how readable it is, depends on it.
WINDOW = (1600, 1000)
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


class VizError(RuntimeError):
    """kedro-viz or Chromium did not do what was asked; the message says what and shows logs."""


@dataclass(frozen=True)
class Drawn:
    """What the graph shows: its elements as ``(kind, label)`` (kind ``task``, ``data``,
    ``parameters`` or ``modularPipeline``, a namespace's box) and the zoom (1.0: full size)."""

    elements: tuple[tuple[str, str], ...]
    zoom: float

    def labels(self, kind: str) -> set[str]:
        return {label for k, label in self.elements if k == kind}


def free_port() -> int:
    """A port free now, below 49152: kedro-viz refuses the ports above (its "system ports")."""
    for port in random.Random().sample(range(20000, 49000), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise VizError("no free port in 20000-49000")


def get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


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


def viz_command(port: int, episodes: int) -> list[str]:
    """The README's ``kedro viz run`` on ``port``, without opening a browser."""
    return [
        sys.executable, "-m", "kedro", "viz", "run",
        "--pipeline", "iterative",
        # with hooks, EpisodeCountHook applies --params n_episodes (without, the default 5)
        "--include-hooks", "--params", f"n_episodes={episodes}",
        "--no-browser", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


def viz_environment() -> dict[str, str]:
    return {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "WANDB_MODE": "offline",
        "HF_HUB_OFFLINE": "1",
        # kedro-viz asks PyPI for its latest version on start (30 s timeout when offline): point
        # HTTPS at a closed local port so that fails at once; the viz server is plain HTTP
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def copy_configuration(project: Path) -> Path:
    """A project at ``project`` with this one's ``pyproject.toml`` and ``conf/base`` (the
    package is installed; kedro-viz draws the pipelines without data)."""
    (project / "src").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", project)
    shutil.copytree(REPO / "conf" / "base", project / "conf" / "base")
    (project / "conf" / "local").mkdir()
    return project


@contextlib.contextmanager
def viz_server(project: Path, episodes: int, timeout: float = 120) -> Iterator[str]:
    """``kedro viz run`` (the README's) in ``project``; yields its URL once it serves the loop."""
    port = free_port()
    log = project / "viz.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            viz_command(port, episodes), cwd=project, env=viz_environment(), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,  # so stop() reaches its server
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            # kedro-viz moves to another port when the one asked for was taken meanwhile
            served = re.search(r"running at\s+http://127\.0\.0\.1:(\d+)/", text)
            url = f"http://127.0.0.1:{served.group(1) if served else port}"
            with contextlib.suppress(OSError):
                get(f"{url}/api/pipelines/iterative")
                break
            if process.poll() is not None:
                raise VizError(f"kedro viz run exited ({process.returncode}):\n{text[-3000:]}")
            time.sleep(0.5)
        else:
            raise VizError(f"kedro viz run not serving after {timeout:.0f} s:\n{text[-3000:]}")
        yield url
    finally:
        stop(process)


def find_chromium() -> str | None:
    """The Chromium to drive: ``$CHROMIUM``, else the first of the usual names on the PATH."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


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
                    raise VizError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def navigate(self, url: str) -> None:
        self("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while self.evaluate("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise VizError(f"{url} did not load within 60 s")
            time.sleep(0.2)


@contextlib.contextmanager
def chromium(work: Path, window: tuple[int, int] = WINDOW) -> Iterator[DevTools]:
    """Headless Chromium with a fresh profile in ``work`` (a first visit: no kedro-viz
    settings), one page of size ``window``."""
    executable = find_chromium()
    if executable is None:
        raise VizError("Chromium not found: apt-get install -y chromium (or set CHROMIUM=...)")
    profile = work / "chromium-profile"
    profile.mkdir()
    log = work / "chromium.log"
    width, height = window
    command = [
        executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
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
                raise VizError(f"Chromium did not start:\n{log.read_text()[-3000:]}")
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


#: The graph's elements and zoom, read off the page.
DRAWN_SCRIPT = """(() => {
    const kinds = ['task', 'data', 'parameters', 'modularPipeline'];
    const elements = [...document.querySelectorAll('.pipeline-node')].map(node => [
        kinds.find(kind => node.classList.contains('pipeline-node--' + kind)) || '?',
        node.textContent.trim(),
    ]);
    const wrapper = document.querySelector('.pipeline-zoom-wrapper');
    const scale = /scale\\(([0-9.e-]+)/.exec((wrapper && wrapper.getAttribute('transform')) || '');
    const moving = document.querySelector('.pipeline-flowchart__zoom-wrapper--animating');
    return {elements, zoom: scale ? Number(scale[1]) : null, moving: Boolean(moving),
            layout: [...document.querySelectorAll('.pipeline-node')].slice(0, 50)
                .map(node => node.getAttribute('transform')).join('|')};
})()"""


def drawn(tools: DevTools, timeout: float = 60) -> Drawn:
    """The graph once it is drawn and has stopped moving (the same for 2 s)."""
    deadline = time.monotonic() + timeout
    last, same = None, 0
    while time.monotonic() < deadline:
        state = tools.evaluate(DRAWN_SCRIPT)
        settled = state["elements"] and state["zoom"] and not state["moving"]
        key = (str(state["elements"]), state["zoom"], state["layout"])
        same = same + 1 if settled and key == last else 0
        if same >= 4:
            return Drawn(tuple((k, label) for k, label in state["elements"]), state["zoom"])
        last = key
        time.sleep(0.5)
    raise VizError(f"the graph was not drawn, or kept moving, for {timeout:.0f} s")


def dismiss_notices(tools: DevTools) -> list[str]:
    """Close what a first visit shows over the graph, as the README says: the feature-hints
    card (its x; closed for good) and, offline, kedro-viz's update banner (Dismiss). Returns
    what was closed."""
    closed = tools.evaluate(
        """(() => {
        const closed = [];
        const hints = document.querySelector('.feature-hints__close');
        if (hints) { hints.click(); closed.push('feature hints'); }
        const dismiss = [...document.querySelectorAll('.update-reminder-unexpanded button')]
            .find(button => button.textContent.trim() === 'Dismiss');
        if (dismiss) { dismiss.click(); closed.push('update banner'); }
        return closed;
    })()"""
    )
    time.sleep(1)
    return closed


def open_box(tools: DevTools, namespace: str) -> None:
    """Click the collapsed namespace ``namespace``'s box, which opens it."""
    found = tools.evaluate(
        "(() => { const box = [...document.querySelectorAll('.pipeline-node--modularPipeline')]"
        f".find(n => n.textContent.trim() === {json.dumps(namespace)});"
        " if (!box) return false;"
        " box.dispatchEvent(new MouseEvent('click', {bubbles: true})); return true; })()"
    )
    if not found:
        raise VizError(f"no collapsed namespace {namespace!r} in the graph")


def take_picture(episodes: int, boxes: list[str], out: Path) -> Drawn:
    """Serve the loop, open the README's address, do its clicks, save the page as ``out``."""
    with tempfile.TemporaryDirectory(prefix="viz-shot-") as tmp:
        work = Path(tmp)
        with (
            viz_server(copy_configuration(work / "project"), episodes) as url,
            chromium(work) as tools,
        ):
            tools.navigate(url + VIZ_PATH)
            view = drawn(tools)
            dismiss_notices(tools)
            for box in boxes:
                open_box(tools, box)
                view = drawn(tools)
            time.sleep(1.5)  # the last of the notices' fade-out
            shot = tools("Page.captureScreenshot", format="png")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    return view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=2, help="n_episodes drawn (default 2)")
    parser.add_argument(
        "--open",
        action="append",
        default=[],
        metavar="NAMESPACE",
        help="also open this box after the loop's (e.g. iterative.episode_1); repeatable",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    args = parser.parse_args()
    try:
        view = take_picture(args.episodes, ["iterative", *args.open], args.out)
    except VizError as error:
        sys.exit(str(error))
    boxes = len(view.labels("modularPipeline"))
    print(
        f"{args.out}: {len(view.elements)} elements ({boxes} boxes) at {view.zoom:.0%} zoom, "
        f"{args.episodes} episodes"
    )


if __name__ == "__main__":
    main()
