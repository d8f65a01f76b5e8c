"""The teacher and the scene generator of a generation run, built by the plugin their ``kind``
names (prism's own are plugins too: :mod:`prism.teachers.plugin`, :mod:`prism.scenes.plugin`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prism.endpoint import ChatClient
from prism.formats.json_store import JsonStore
from prism.generation.config import ComponentConfig, GenerationConfig
from prism.plugins import ComponentRequest, get_scene_generator, get_teacher
from prism.scenes.base import SceneGenerator
from prism.teachers.base import Teacher

#: The teacher that redoes a failed rollout when ``teacher.fallback_to_oracle`` is on.
FALLBACK_TEACHER = "oracle"


def build_scene_generator(
    config: GenerationConfig, cache: JsonStore | None, credentials: Mapping[str, Any]
) -> SceneGenerator:
    """The configured scene generator (``config.scene_generator.kind``).

    Raises:
        EndpointError: an endpoint parameter is bad or its key is missing (before any work).
    """
    request = _request(config.scene_generator, config, cache, credentials)
    return get_scene_generator(config.scene_generator.kind).create(request)


def build_teacher(
    config: GenerationConfig, cache: JsonStore | None, credentials: Mapping[str, Any]
) -> Teacher:
    """The configured teacher (``config.teacher.kind``).

    Raises:
        EndpointError: an endpoint parameter is bad or its key is missing (before any work).
    """
    request = _request(config.teacher, config, cache, credentials)
    return get_teacher(config.teacher.kind).create(request)


def build_fallback(config: GenerationConfig) -> Teacher | None:
    """The teacher that redoes a failed rollout (the oracle), or ``None`` when the teacher is the
    oracle itself or ``fallback_to_oracle`` is off."""
    if config.teacher.kind == FALLBACK_TEACHER or not config.teacher.fallback_to_oracle:
        return None
    fallback = ComponentConfig(FALLBACK_TEACHER)
    return get_teacher(FALLBACK_TEACHER).create(_request(fallback, config, None, {}))


def check_endpoints(config: GenerationConfig, credentials: Mapping[str, Any]) -> None:
    """Fail now, with the endpoint's own message, if the scene generator or the teacher cannot
    be used (missing key, unreachable server, unknown model); local ones have nothing to check."""
    build_scene_generator(config, None, credentials).check()
    build_teacher(config, None, credentials).check()


def _request(
    component: ComponentConfig,
    config: GenerationConfig,
    cache: JsonStore | None,
    credentials: Mapping[str, Any],
) -> ComponentRequest:
    def chat_client() -> ChatClient:
        return ChatClient.from_params(
            component.endpoint, credentials, cache.root if cache else None
        )

    return ComponentRequest(
        kind=component.kind,
        options={"endpoint": dict(component.endpoint), **component.options},
        credentials=credentials,
        chat_client=chat_client,
        max_iterations=config.max_iterations,
        max_attempts=config.max_attempts,
    )
