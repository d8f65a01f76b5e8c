"""Kedro hooks of the project: credentials for the endpoint nodes and the release of training
checkpoints once a model is saved; wandb for the loop is :mod:`prism.hooks.wandb_run`'s, the
console's hooks (the episode line, the project's logging) :mod:`prism.console`'s."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol

from prism.pipelines import CREDENTIALS_DATASET

logger = logging.getLogger(__name__)


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
