"""The console of a run: the project's logging configuration wherever Kedro starts, the
iterative loop's line after every episode, and a user's error said once.

Kedro hooks (registered in ``settings.py``); what is logged and how it looks is
``conf/logging.yml``'s, the progress bars of the stages :mod:`prism.progress`'s.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from kedro.framework.hooks import hook_impl
from kedro.framework.project import configure_logging
from kedro.io import DatasetError

from prism.pipelines.iterative.pipeline import NAMESPACE, SUMMARY_NODE
from prism.pipelines.iterative.reports import format_episode_line

logger = logging.getLogger(__name__)

#: Kedro's loggers that repeat a node's error: the node's, with the node's whole signature and
#: the message, and the runners', with "No nodes ran. Repeat the previous command" or the
#: ``--from-nodes`` to resume from (a prism loop resumes by running the same command again).
KEDRO_FAILURE_LOGGERS = (
    "kedro.pipeline.node",
    "kedro.runner.runner",
    "kedro.runner.sequential_runner",
    "kedro.runner.thread_runner",
    "kedro.runner.parallel_runner",
)


def is_user_error(error: BaseException | None) -> bool:
    """Errors whose message is the whole story: prism's own (a wrong parameter, a malformed
    file, an endpoint without a key: each names the file, sample or field and the fix) and
    Kedro's dataset (file) errors."""
    if error is None:
        return False
    return type(error).__module__.startswith("prism.") or isinstance(error, DatasetError)


def user_error_message(error: BaseException) -> str | None:
    """``"<Type>: <message>"`` for an error to print as one line instead of a traceback, or
    ``None`` for a bug (or when ``PRISM_TRACEBACK`` asks for tracebacks)."""
    if is_user_error(error) and not os.environ.get("PRISM_TRACEBACK"):
        return f"{type(error).__name__}: {error}"
    return None


class UserErrorEchoFilter(logging.Filter):
    """Drop Kedro's warnings and errors logged while a user's error is being handled.

    Kedro logs a node's error where it catches it, and its runner then logs how to resume; the
    command line (``prism``/``kedro run``, the seed's script) then prints the error itself, as
    one line. Kedro logs both from within its ``except`` block, so the error being handled
    (:func:`sys.exc_info`) says which they are. A bug's records stay, and so does its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or os.environ.get("PRISM_TRACEBACK"):
            return True
        return not is_user_error(sys.exc_info()[1])


def quiet_user_errors() -> None:
    """Put :class:`UserErrorEchoFilter` on :data:`KEDRO_FAILURE_LOGGERS`, once.

    A logger's filters, unlike its handlers, survive a logging configuration applied later
    (Kedro's, or :class:`ProjectLoggingHook`'s).
    """
    for name in KEDRO_FAILURE_LOGGERS:
        kedro_logger = logging.getLogger(name)
        if not any(isinstance(f, UserErrorEchoFilter) for f in kedro_logger.filters):
            kedro_logger.addFilter(UserErrorEchoFilter())


class ProjectLoggingHook:
    """Configure logging from the project's ``conf/logging.yml`` when Kedro started elsewhere.

    Kedro reads ``conf/logging.yml`` from the working directory: a notebook in ``notebooks/``
    (``%load_ext kedro.ipython``) or a ``kedro run`` from a subfolder got Kedro's own logging,
    every INFO message. Once the context knows the project folder this hook applies the
    project's file instead; ``KEDRO_LOGGING_CONFIG``, when set, is left to rule.
    """

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        if os.environ.get("KEDRO_LOGGING_CONFIG"):
            return
        project = Path(context.project_path).resolve()
        path = project / "conf" / "logging.yml"
        if Path.cwd().resolve() == project or not path.is_file():
            return  # Kedro has read it already, or there is none
        configure_logging(yaml.safe_load(path.read_text(encoding="utf-8")))


class EpisodeProgressHook:
    """After every episode of the iterative loop, one line on the console: its task success
    with the 95 % interval, its dataset, its time and about how long the rest will take
    (:func:`~prism.pipelines.iterative.reports.format_episode_line`).

    An episode's time is the time of the nodes of its namespace (``iterative.episode_N``); the
    time left is the mean of the episodes done in this run times the episodes after this one.
    Other pipelines have no episode: the hook says nothing there.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._summarizers: set[str] = set()
        self._started: dict[str, float] = {}
        self._seconds: dict[str, float] = defaultdict(float)
        self._done: list[float] = []

    @hook_impl
    def before_pipeline_run(self, pipeline: Any) -> None:
        with self._lock:
            self._summarizers = {
                node.name
                for node in pipeline.nodes
                if node.name.startswith(f"{NAMESPACE}.episode_")
                and node.name.endswith(f".{SUMMARY_NODE}")
            }
            self._started.clear()
            self._seconds.clear()
            self._done.clear()

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        if self._summarizers:
            with self._lock:
                self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Any, outputs: dict[str, Any]) -> None:
        with self._lock:
            started = self._started.pop(node.name, None)
            if started is None:
                return
            if node.namespace:
                self._seconds[node.namespace] += time.perf_counter() - started
            if node.name not in self._summarizers:
                return
            (summary,) = outputs.values()
            seconds = self._seconds[node.namespace]
            self._done.append(seconds)
            n_episodes = len(self._summarizers)
            left = sum(self._done) / len(self._done) * (n_episodes - int(summary["episode"]))
        logger.info("%s", format_episode_line(summary, n_episodes, seconds, left))
