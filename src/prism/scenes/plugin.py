"""prism's own scene generators, registered through the ``prism_register_scene_generators`` hook
like any third-party one:

- ``procedural``: themed scene graphs and tasks, offline (the default),
  :mod:`prism.scenes.procedural`;
- ``llm``: TaskGraphGen, a chat model on an OpenAI-compatible endpoint writes the scene graph and
  its tasks, :mod:`prism.scenes.llm`.
"""

from __future__ import annotations

from prism.plugins.hookspecs import hookimpl
from prism.plugins.types import ComponentRequest, SceneGeneratorPlugin
from prism.scenes.llm import LLMSceneGenerator
from prism.scenes.procedural import ProceduralSceneGenerator


def build_procedural(request: ComponentRequest) -> ProceduralSceneGenerator:
    """The procedural generator over every built-in theme and task family."""
    return ProceduralSceneGenerator()


def build_llm_scene_generator(request: ComponentRequest) -> LLMSceneGenerator:
    """TaskGraphGen on the configured endpoint (``options["endpoint"]``)."""
    return LLMSceneGenerator(request.chat_client())


@hookimpl
def prism_register_scene_generators() -> list[SceneGeneratorPlugin]:
    """prism's own scene generators."""
    return [
        SceneGeneratorPlugin(
            "procedural",
            build_procedural,
            "themed scene graphs and five task families, generated offline",
        ),
        SceneGeneratorPlugin(
            "llm",
            build_llm_scene_generator,
            "TaskGraphGen: a chat model on an OpenAI-compatible endpoint writes scene and tasks",
        ),
    ]
