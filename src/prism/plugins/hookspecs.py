"""The hooks a prism plugin can implement: the plugin author's reference.

There is one hook per kind of plugin: samplers, evaluators, teachers and scene generators. Every
hook *registers named objects*: it takes no arguments and returns an iterable of small frozen
objects from :mod:`prism.plugins.types`. prism collects them from its built-in plugins and from
every installed package that declares an entry point in the group
``prism_planner.plugins`` (see ``docs/plugins.md``).

Implement a hook by decorating a function of the same name with :data:`hookimpl`::

    from prism.plugins import SamplerPlugin, hookimpl

    @hookimpl
    def prism_register_samplers():
        return [SamplerPlugin("first_n", lambda request: ..., "the first n samples")]
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from prism.plugins.types import (
    EvaluatorPlugin,
    SamplerPlugin,
    SceneGeneratorPlugin,
    TeacherPlugin,
)

PROJECT_NAME = "prism"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def prism_register_samplers() -> Iterable[SamplerPlugin]:
    """Register samplers: strategies that pick which samples seed the next generation round.

    Return an iterable (a list is fine) of :class:`~prism.plugins.types.SamplerPlugin`. Each
    ``sample(request)`` receives a :class:`~prism.plugins.types.SampleRequest` and returns
    ``request.n`` sample ids taken from ``request.samples`` (repeating ids when ``n`` exceeds the
    number of samples). Use only ``request.rng`` for randomness, so a seed reproduces the choice.
    Per-sample metrics (``request.metrics[sample_id]``, e.g. ``{"loss": 1.2, "accuracy": 0.4}``)
    cover the same samples; raise a ``ValueError`` naming the samples when one you need is missing.

    Names must be unique across all installed plugins: a second ``uniform`` is reported as a
    conflict naming both providers and neither is used.

    Example::

        @hookimpl
        def prism_register_samplers():
            def first_n(request):
                ids = [sample["id"] for sample in request.samples]
                return [ids[i % len(ids)] for i in range(request.n)]

            return [SamplerPlugin("first_n", first_n, "the first n samples, in order")]
    """


@hookspec
def prism_register_evaluators() -> Iterable[EvaluatorPlugin]:
    """Register evaluators: measurements of the student after each training episode.

    Return an iterable (a list is fine) of :class:`~prism.plugins.types.EvaluatorPlugin`. Each
    ``evaluate(context)`` receives an :class:`~prism.plugins.types.EvalContext` (the model, its
    tokenizer and prompt format, the data splits, the eval suite or ``None``, the evaluator's own
    ``params`` and a ``seed``) and returns an :class:`~prism.plugins.types.EvalResult`: flat
    metrics namespaced by a prefix of your own (``"turns/mean"``), optional tables of rows and
    artifacts. Do not change the model's weights or mode.

    Names must be unique across all installed plugins: a second ``token_metrics`` is reported as
    a conflict naming both providers and neither is used.

    Example::

        @hookimpl
        def prism_register_evaluators():
            def eval_size(context):
                return EvalResult(metrics={"size/eval": float(len(context.splits.get("eval", [])))})

            return [EvaluatorPlugin("eval_size", eval_size, "number of validation samples")]
    """


@hookspec
def prism_register_teachers() -> Iterable[TeacherPlugin]:
    """Register teachers: planners that produce the rollouts the student is trained on.

    Return an iterable of :class:`~prism.plugins.types.TeacherPlugin`. ``generation.teacher.kind``
    picks one by name; its ``build(request)`` receives a
    :class:`~prism.plugins.types.ComponentRequest` (the configured options, the credentials, a
    ``chat_client()`` factory for an OpenAI-compatible endpoint, the rollout limits) and returns a
    teacher: an object with a ``name``, ``check()`` (raise now if it cannot work, e.g. a server
    that is down) and ``planner(task, sim)``, which returns a fresh planner for one rollout: an
    object whose ``respond(messages)`` returns the next SPINE turn as text. A planner reads only
    ``sim.partial`` (the planner's own view), never the full scene. prism's ``oracle`` and ``llm``
    teachers are registered this way.

    Example::

        @hookimpl
        def prism_register_teachers():
            class Answerer:
                name = "answer_no"

                def check(self):
                    pass

                def planner(self, task, sim):
                    return NoPlanner()

            return [TeacherPlugin("answer_no", lambda request: Answerer(), "always answers no")]
    """


@hookspec
def prism_register_scene_generators() -> Iterable[SceneGeneratorPlugin]:
    """Register scene generators: makers of scene graphs and the tasks to plan for in them.

    Return an iterable of :class:`~prism.plugins.types.SceneGeneratorPlugin`.
    ``generation.scene_generator.kind`` picks one by name; its ``build(request)`` receives a
    :class:`~prism.plugins.types.ComponentRequest` and returns a generator: an object with a
    ``name``, ``check()`` and ``generate(scene_request)``, which returns a
    ``prism.scenes.base.GeneratedScene`` (a scene graph and ``scene_request.n_tasks`` tasks),
    deterministic in ``scene_request.seed``; ``scene_request.prior``, when set, is an example
    (task, kind, the sample it came from) to generate like. prism's ``procedural`` and ``llm``
    generators are registered this way.

    Example::

        @hookimpl
        def prism_register_scene_generators():
            from prism.scenes.procedural import ProceduralSceneGenerator
            from prism.scenes.themes import THEMES

            def farms_only(request):
                farm = [theme for theme in THEMES if theme.name == "farm"]
                return ProceduralSceneGenerator(themes=farm, name="farms")

            return [SceneGeneratorPlugin("farms", farms_only, "procedural farms only")]
    """
