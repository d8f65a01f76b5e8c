"""The console of a run: the project's logging configuration wherever Kedro starts, and the
iterative loop's line after every episode.

Kedro hooks (registered in ``settings.py``); what is logged and how it looks is
``conf/logging.yml``'s, the progress bars of the stages :mod:`prism.progress`'s.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from kedro.framework.hooks import hook_impl
from kedro.framework.project import configure_logging

from prism.pipelines.iterative.pipeline import NAMESPACE, SUMMARY_NODE
from prism.pipelines.iterative.reports import format_episode_line

logger = logging.getLogger(__name__)


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
