"""Plugin objects for the manager's tests, one per way a plugin can be right or broken.

Tests load them through fake entry points (``tests.plugins.fake_plugins:<name>``), exactly as
an installed plugin's entry point would be loaded.
"""

from __future__ import annotations

from prism.plugins import (
    EvalResult,
    EvaluatorPlugin,
    SamplerPlugin,
    SceneGeneratorPlugin,
    TeacherPlugin,
    hookimpl,
)
from prism.scenes.procedural import ProceduralSceneGenerator
from prism.scenes.themes import THEMES


def _first(request):
    return [request.samples[0]["id"]] * request.n


class _Good:
    @hookimpl
    def prism_register_samplers(self):
        return [SamplerPlugin("first", _first, "always the first sample")]

    @hookimpl
    def prism_register_evaluators(self):
        return (EvaluatorPlugin("constant", lambda context: EvalResult({"constant/one": 1.0})),)


class _Components:
    @hookimpl
    def prism_register_scene_generators(self):
        def farms(request):
            farm = [theme for theme in THEMES if theme.name == "farm"]
            return ProceduralSceneGenerator(themes=farm, name="farms")

        return [SceneGeneratorPlugin("farms", farms, "procedural farms only")]

    @hookimpl
    def prism_register_teachers(self):
        return [TeacherPlugin("no_planner", lambda request: object(), "builds no teacher")]


class _DuplicateUniform:
    @hookimpl
    def prism_register_samplers(self):
        return [SamplerPlugin("uniform", _first, "a second 'uniform'")]


class _RaisingHook:
    @hookimpl
    def prism_register_samplers(self):
        raise RuntimeError("the plugin's own bug")


class _ReturnsStrings:
    @hookimpl
    def prism_register_samplers(self):
        return ["uniform"]


class _ReturnsNone:
    @hookimpl
    def prism_register_evaluators(self):
        return None


class _ReturnsOneObject:
    @hookimpl
    def prism_register_samplers(self):
        return SamplerPlugin("single", _first)


class _MisspeltHook:
    @hookimpl
    def prism_register_sampler(self):
        return [SamplerPlugin("misspelt", _first)]


class _BadSignature:
    @hookimpl
    def prism_register_samplers(self, config):
        return [SamplerPlugin("bad_signature", _first)]


class _NoHooks:
    def prism_register_samplers(self):  # not decorated with @hookimpl: pluggy never sees it
        return [SamplerPlugin("undecorated", _first)]


good = _Good()
components = _Components()
duplicate_uniform = _DuplicateUniform()
raising_hook = _RaisingHook()
returns_strings = _ReturnsStrings()
returns_none = _ReturnsNone()
returns_one_object = _ReturnsOneObject()
misspelt_hook = _MisspeltHook()
bad_signature = _BadSignature()
no_hooks = _NoHooks()
