"""The kinds of named objects plugins register: one hook and one type each."""

from __future__ import annotations

from dataclasses import dataclass

from prism.plugins.types import (
    EvaluatorPlugin,
    SamplerPlugin,
    SceneGeneratorPlugin,
    TeacherPlugin,
)


@dataclass(frozen=True)
class PluginKind:
    """A kind of named object plugins register: its name, hook and type."""

    name: str
    hook: str
    type: type


SAMPLER = PluginKind("sampler", "prism_register_samplers", SamplerPlugin)
EVALUATOR = PluginKind("evaluator", "prism_register_evaluators", EvaluatorPlugin)
TEACHER = PluginKind("teacher", "prism_register_teachers", TeacherPlugin)
SCENE_GENERATOR = PluginKind(
    "scene generator", "prism_register_scene_generators", SceneGeneratorPlugin
)
#: Every kind of plugin, in the order ``prism plugins`` lists them.
KINDS: tuple[PluginKind, ...] = (SAMPLER, EVALUATOR, TEACHER, SCENE_GENERATOR)
