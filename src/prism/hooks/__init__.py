"""Kedro hooks of the project: credentials for the endpoint nodes, the release of training
checkpoints once a model is saved, the iterative loop's line after every episode
(:class:`EpisodeProgressHook`) and wandb for the loop (:class:`WandbEpisodeHook`, in
:mod:`prism.hooks.wandb_run`)."""

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
from kedro.io import CatalogProtocol

from prism.hooks.wandb_run import WANDB_EPISODE, wandb_roles
from prism.pipelines import CREDENTIALS_DATASET

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
        from kedro.framework.project import configure_logging

        configure_logging(yaml.safe_load(path.read_text(encoding="utf-8")))


class EndpointCredentialsHook:
    """Give nodes that talk to an OpenAI-compatible endpoint the project's credentials.

    Kedro hands credentials only to datasets; the teacher and the scene generator are node
    parameters, so the credentials go into the catalog as an in-memory input. A missing
    ``conf/local/credentials.yml`` is fine: the endpoint code then falls back to the environment
    and fails with a clear message only when an endpoint is actually configured.
    """

    @hook_impl
    def after_catalog_created(self, catalog: CatalogProtocol, conf_creds: dict[str, Any]) -> None:
        catalog[CREDENTIALS_DATASET] = dict(conf_creds or {})


class TrainingCheckpointsHook:
    """Delete a training run's checkpoints once the catalog has saved its model.

    The train node (``train_student``, in any namespace) keeps its resumable checkpoints in its
    ``training_checkpoints`` input folder: a run killed after training but before the model
    reaches the disk must still find them. Once ``student_model`` is saved they go
    (:func:`prism.training.checkpoints.release_checkpoints`).
    """

    def __init__(self) -> None:
        self._catalog: CatalogProtocol | None = None

    @hook_impl
    def after_catalog_created(self, catalog: CatalogProtocol) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        if self._catalog is None or node is None:
            return
        if node.name.rsplit(".", 1)[-1] != "train_student":
            return
        if dataset_name.rsplit(".", 1)[-1] != "student_model":
            return
        folder = next((n for n in node.inputs if n.endswith("training_checkpoints")), None)
        if folder is None:
            return
        from prism.training.checkpoints import release_checkpoints

        release_checkpoints(self._catalog.load(folder))


class EpisodeProgressHook:
    """After every episode of the iterative loop, one line on the console: its task success
    with the 95 % interval, its dataset, its time and about how long the rest will take
    (:func:`~prism.pipelines.iterative.reports.format_episode_line`).

    An episode's time is the time of the nodes of its namespace (``iterative.episode_N``); the
    time left is the mean of the episodes done in this run times the episodes after this one.
    The episode summaries are the datasets the catalog marks ``metadata: {wandb: episode}``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._summaries: set[str] = set()
        self._started: dict[str, float] = {}
        self._seconds: dict[str, float] = defaultdict(float)
        self._done: list[float] = []

    @hook_impl
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        with self._lock:
            roles = wandb_roles(pipeline.datasets(), catalog)
            self._summaries = {name for name, role in roles.items() if role == WANDB_EPISODE}
            self._started.clear()
            self._seconds.clear()
            self._done.clear()

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        if self._summaries:
            with self._lock:
                self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        with self._lock:
            started = self._started.pop(node.name, None)
            if started is not None and node.namespace:
                self._seconds[node.namespace] += time.perf_counter() - started

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        if dataset_name not in self._summaries:
            return
        from prism.pipelines.iterative.pipeline import episode_namespace
        from prism.pipelines.iterative.reports import format_episode_line

        with self._lock:
            episode = int(data["episode"])
            seconds = self._seconds.get(episode_namespace(episode), 0.0)
            started = self._started.get(node.name) if node is not None else None
            if started is not None:  # the summarizing node itself is still running
                seconds += time.perf_counter() - started
            self._done.append(seconds)
            n_episodes = len(self._summaries)
            left = sum(self._done) / len(self._done) * (n_episodes - episode)
        logger.info("%s", format_episode_line(data, n_episodes, seconds, left))
