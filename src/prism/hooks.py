"""Kedro hooks of the project."""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol

#: Catalog name under which nodes receive the credentials (``conf/local/credentials.yml``).
CREDENTIALS_DATASET = "endpoint_credentials"


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
