"""prism's plugin system (pluggy): samplers, evaluators, teachers and scene generators by name.

A plugin is a module with ``@hookimpl`` functions named after the hooks in
:mod:`prism.plugins.hookspecs`, each returning named objects from :mod:`prism.plugins.types`.
prism's own are plugins like any other; third-party packages add theirs with an entry
point in the group :data:`ENTRY_POINT_GROUP` (``docs/plugins.md`` is the author's guide).

Example:
    >>> import random
    >>> from prism.plugins import SampleRequest, get_sampler
    >>> samples = [{"id": "a", "conversations": []}, {"id": "b", "conversations": []}]
    >>> get_sampler("uniform").draw(SampleRequest(samples, {}, 2, random.Random(0)))
    ['b', 'a']
"""

from __future__ import annotations

from prism.plugins.errors import (
    DuplicatePluginError,
    PluginError,
    PluginLoadError,
    PluginResultError,
    UnknownPluginError,
)
from prism.plugins.hookspecs import hookimpl
from prism.plugins.manager import (
    BUILTIN_PLUGINS,
    ENTRY_POINT_GROUP,
    PluginManager,
    build_plugin_manager,
    describe_plugins,
    evaluators,
    get_evaluator,
    get_plugin_manager,
    get_sampler,
    get_scene_generator,
    get_teacher,
    samplers,
)
from prism.plugins.report import (
    InstalledPlugin,
    PluginFailure,
    PluginReport,
)
from prism.plugins.types import (
    ClosedLoop,
    ComponentRequest,
    EvalContext,
    EvalResult,
    EvaluatorPlugin,
    SampleRequest,
    SamplerPlugin,
    SceneGeneratorPlugin,
    TeacherPlugin,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "ClosedLoop",
    "ComponentRequest",
    "DuplicatePluginError",
    "EvalContext",
    "EvalResult",
    "EvaluatorPlugin",
    "InstalledPlugin",
    "PluginError",
    "PluginFailure",
    "PluginLoadError",
    "PluginManager",
    "PluginReport",
    "PluginResultError",
    "SampleRequest",
    "SamplerPlugin",
    "SceneGeneratorPlugin",
    "TeacherPlugin",
    "UnknownPluginError",
    "build_plugin_manager",
    "describe_plugins",
    "evaluators",
    "get_evaluator",
    "get_plugin_manager",
    "get_sampler",
    "get_scene_generator",
    "get_teacher",
    "hookimpl",
    "samplers",
]
