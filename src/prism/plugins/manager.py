"""Finding, loading and checking plugins; looking up samplers and evaluators by name.

Plugins come from two places, loaded in this order:

1. prism's own modules listed in :data:`BUILTIN_PLUGINS`. These are part of prism: if one cannot
   be loaded, that is a bug or a broken install and :class:`~prism.plugins.errors.PluginLoadError`
   is raised.
2. Every installed package declaring an entry point in the group :data:`ENTRY_POINT_GROUP`.
   These are loaded one at a time: a plugin that fails to import, has a bad hook signature, a
   misspelt hook name, or whose hook raises or returns the wrong type is *recorded* as a
   :class:`PluginFailure` (and logged as a warning) and left out; the other plugins still load.

The objects the hooks return are flattened into one registry per kind. A name registered twice
for the same kind is a conflict: it is recorded naming both providers, neither object is used, and
asking for that name raises :class:`~prism.plugins.errors.DuplicatePluginError`. Picking one
silently would make the result depend on installation order.

Example:
    >>> from prism.plugins import get_sampler
    >>> get_sampler("uniform").name
    'uniform'
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from prism.plugins import hookspecs
from prism.plugins.errors import DuplicatePluginError, PluginLoadError, UnknownPluginError
from prism.plugins.kinds import EVALUATOR, KINDS, SAMPLER, SCENE_GENERATOR, TEACHER, PluginKind
from prism.plugins.report import InstalledPlugin, PluginFailure, PluginReport, Provider
from prism.plugins.types import (
    EvaluatorPlugin,
    SamplerPlugin,
    SceneGeneratorPlugin,
    TeacherPlugin,
)

log = logging.getLogger(__name__)

#: The entry-point group third-party packages declare their plugin module in. Our own name:
#: ``prism.plugins`` is already used by unrelated projects.
ENTRY_POINT_GROUP = "prism_planner.plugins"

#: prism's own plugin modules, registered before any third-party plugin. Add a module here to
#: make its ``@hookimpl`` functions part of prism.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "prism.sampling.samplers",
    "prism.evaluation.evaluators",
    "prism.teachers.plugin",
    "prism.scenes.plugin",
)


@dataclass
class _Registry:
    """The objects of one kind by name, and the names claimed by more than one provider."""

    entries: dict[str, tuple[Any, Provider]] = field(default_factory=dict)
    conflicts: dict[str, list[Provider]] = field(default_factory=dict)


def _module_name(plugin: object) -> str:
    module = inspect.getmodule(plugin)
    return module.__name__ if module is not None else type(plugin).__module__


class PluginManager(pluggy.PluginManager):
    """pluggy's plugin manager, loading plugins one by one and reporting the broken ones.

    Use :func:`get_plugin_manager` for the process-wide, fully loaded instance; construct one
    directly (then :meth:`load_builtins`, :meth:`load_entry_points`) to control what is loaded.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self._providers: dict[str, Provider] = {}
        self._load_failures: list[PluginFailure] = []
        self._registries: dict[str, _Registry] | None = None
        self._registry_failures: list[PluginFailure] = []

    # -- loading ---------------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` (see pluggy); the registries are rebuilt on next use."""
        registered = super().register(plugin, name)
        self._registries = None
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        """Unregister a plugin (see pluggy); the registries are rebuilt on next use."""
        removed = super().unregister(plugin, name)
        self._registries = None
        return removed

    def load_builtins(self, modules: Iterable[str] = BUILTIN_PLUGINS) -> int:
        """Import and register prism's own plugin modules.

        Returns:
            The number of modules registered.

        Raises:
            PluginLoadError: a module cannot be imported or its hooks are invalid.
        """
        count = 0
        for path in modules:
            try:
                module = importlib.import_module(path)
            except ImportError as error:
                raise PluginLoadError(
                    f"built-in plugin module {path!r} cannot be imported ({error}); it is listed "
                    "in prism.plugins.manager.BUILTIN_PLUGINS: fix the module or the list"
                ) from error
            count += self._add(module, Provider(plugin=path, module=path, builtin=True))
        return count

    def load_entry_points(
        self,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
        group: str = ENTRY_POINT_GROUP,
    ) -> int:
        """Load third-party plugins one by one, recording those that fail.

        Args:
            entry_points: the entry points to load; by default all installed ones in ``group``.
            group: the entry-point group to search when ``entry_points`` is not given.

        Returns:
            The number of plugins registered.
        """
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=group)
        count = 0
        for entry_point in sorted(entry_points, key=lambda ep: (ep.name, ep.value)):
            dist = getattr(entry_point, "dist", None)
            provider = Provider(
                plugin=entry_point.name,
                module=entry_point.module,
                distribution=dist.name if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            if self.is_blocked(entry_point.name):
                continue
            try:
                plugin = entry_point.load()
            # A plugin's import runs arbitrary code; whatever it raises, the host goes on.
            except Exception as error:
                self._fail(provider, "import", f"{type(error).__name__}: {error}")
                continue
            count += self._add(plugin, provider)
        return count

    def _add(self, plugin: object, provider: Provider) -> bool:
        """Register one plugin and check its hooks; on failure record it and leave it out."""
        taken = self.get_plugin(provider.plugin)
        if taken is not None or self.is_registered(plugin):
            reason = (
                f"the name {provider.plugin!r} is taken by {self.provider_of(provider.plugin).describe()}"
                if taken is not None
                else f"the same object is already registered as {self.get_name(plugin)!r}"
            )
            self._fail(provider, "register", reason)
            return False
        try:
            self.register(plugin, name=provider.plugin)
        except pluggy.PluginValidationError as error:  # a hook's arguments do not match its spec
            self._fail(provider, "register", " ".join(str(error).split()))
            return False
        callers = self.get_hookcallers(plugin) or []
        if not callers:
            self.unregister(plugin)
            self._fail(
                provider,
                "hooks",
                f"{provider.module} implements none of prism's hooks; name the functions after "
                "the hooks in prism.plugins.hookspecs and decorate them with prism.plugins.hookimpl",
            )
            return False
        # pluggy's check_pending, for this plugin alone: a hook without a spec is a misspelling.
        unknown = [
            caller.name
            for caller in callers
            if not caller.has_spec()
            and any(i.plugin is plugin and not i.optionalhook for i in caller.get_hookimpls())
        ]
        if unknown:
            self.unregister(plugin)
            self._fail(provider, "hooks", "; ".join(self._unknown_hook_message(n) for n in unknown))
            return False
        self._providers[provider.plugin] = provider
        return True

    def _unknown_hook_message(self, name: str) -> str:
        known = sorted(n for n, caller in vars(self.hook).items() if caller.has_spec())
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"prism's hooks are {', '.join(known)}"
        return f"unknown hook {name!r}, {hint}"

    def _fail(
        self, provider: Provider, stage: str, reason: str, *, during_load: bool = True
    ) -> None:
        if provider.builtin:
            raise PluginLoadError(
                f"built-in plugin {provider.plugin!r} failed at {stage}: {reason}"
            )
        failure = PluginFailure(provider.plugin, str(provider), stage, reason)
        (self._load_failures if during_load else self._registry_failures).append(failure)
        log.warning("Plugin left out: %s", failure)

    # -- registries ------------------------------------------------------------------------

    def provider_of(self, plugin_name: str) -> Provider:
        """Who provides the plugin registered under ``plugin_name``."""
        provider = self._providers.get(plugin_name)
        if provider is not None:
            return provider
        # Registered directly with register() rather than loaded: describe it by its module.
        return Provider(plugin=plugin_name, module=_module_name(self.get_plugin(plugin_name)))

    def _registry(self, kind: PluginKind) -> _Registry:
        if self._registries is None:
            self._registry_failures = []
            self._registries = {k.name: self._collect(k) for k in KINDS}
        return self._registries[kind.name]

    def _collect(self, kind: PluginKind) -> _Registry:
        """Call each plugin's hook on its own, so one broken plugin does not hide the others."""
        registry = _Registry()
        for impl in getattr(self.hook, kind.hook).get_hookimpls():
            provider = self.provider_of(impl.plugin_name)
            try:
                returned = impl.function()
            # Plugin code: whatever it raises is reported, not propagated.
            except Exception as error:
                self._fail(
                    provider,
                    kind.hook,
                    f"raised {type(error).__name__}: {error}",
                    during_load=False,
                )
                continue
            items = self._check_returned(kind, returned)
            if isinstance(items, str):
                self._fail(provider, kind.hook, items, during_load=False)
                continue
            for item in items:
                if item.name in registry.conflicts:
                    registry.conflicts[item.name].append(provider)
                elif item.name in registry.entries:
                    first = registry.entries.pop(item.name)[1]
                    registry.conflicts[item.name] = [first, provider]
                else:
                    registry.entries[item.name] = (item, provider)
        for name, providers in registry.conflicts.items():
            blamed = next((p for p in reversed(providers) if not p.builtin), providers[-1])
            message = self._conflict_message(kind, name, providers)
            self._fail(blamed, "duplicate", message, during_load=False)
        return registry

    @staticmethod
    def _check_returned(kind: PluginKind, returned: object) -> list[Any] | str:
        """The hook's objects, or why its return value breaks the contract."""
        expected = f"return a list of {kind.type.__name__}"
        if returned is None:
            return f"returned None; {expected}"
        if isinstance(returned, (str, bytes, Mapping)) or not isinstance(returned, Iterable):
            return f"returned a {type(returned).__name__}; {expected}"
        items = list(returned)
        wrong = [type(item).__name__ for item in items if not isinstance(item, kind.type)]
        if wrong:
            return f"returned {', '.join(sorted(set(wrong)))} items; {expected}"
        return items

    @staticmethod
    def _conflict_message(kind: PluginKind, name: str, providers: list[Provider]) -> str:
        by = " and by ".join(provider.describe() for provider in providers)
        return (
            f"{kind.name} {name!r} is registered by {by}; neither is used. "
            "Uninstall one of them or have one renamed."
        )

    # -- public lookups --------------------------------------------------------------------

    def registered(self, kind: PluginKind) -> dict[str, Any]:
        """The usable objects of ``kind`` by name, sorted by name (conflicting names left out)."""
        entries = self._registry(kind).entries
        return {name: entries[name][0] for name in sorted(entries)}

    def get(self, kind: PluginKind, name: str) -> Any:
        """The object of ``kind`` registered as ``name``.

        Raises:
            DuplicatePluginError: more than one provider registers ``name``.
            UnknownPluginError: no plugin registers ``name``; the message lists the installed names.
        """
        registry = self._registry(kind)
        if name in registry.conflicts:
            raise DuplicatePluginError(self._conflict_message(kind, name, registry.conflicts[name]))
        if name not in registry.entries:
            installed = ", ".join(sorted(registry.entries)) or "none"
            message = f"no {kind.name} named {name!r}; installed {kind.name}s: {installed}."
            close = difflib.get_close_matches(name, list(registry.entries), n=1)
            if close:
                message += f" Did you mean {close[0]!r}?"
            if self.failures:
                message += (
                    f" {len(self.failures)} plugin problem(s) were reported; "
                    "`kedro plugins` lists them."
                )
            raise UnknownPluginError(message)
        return registry.entries[name][0]

    def samplers(self) -> dict[str, SamplerPlugin]:
        """The installed samplers by name."""
        return self.registered(SAMPLER)

    def evaluators(self) -> dict[str, EvaluatorPlugin]:
        """The installed evaluators by name."""
        return self.registered(EVALUATOR)

    def get_sampler(self, name: str) -> SamplerPlugin:
        """The sampler registered as ``name`` (see :meth:`get` for the errors)."""
        return self.get(SAMPLER, name)

    def get_evaluator(self, name: str) -> EvaluatorPlugin:
        """The evaluator registered as ``name`` (see :meth:`get` for the errors)."""
        return self.get(EVALUATOR, name)

    def teachers(self) -> dict[str, TeacherPlugin]:
        """The installed teachers by name."""
        return self.registered(TEACHER)

    def scene_generators(self) -> dict[str, SceneGeneratorPlugin]:
        """The installed scene generators by name."""
        return self.registered(SCENE_GENERATOR)

    def get_teacher(self, name: str) -> TeacherPlugin:
        """The teacher registered as ``name`` (see :meth:`get` for the errors)."""
        return self.get(TEACHER, name)

    def get_scene_generator(self, name: str) -> SceneGeneratorPlugin:
        """The scene generator registered as ``name`` (see :meth:`get` for the errors)."""
        return self.get(SCENE_GENERATOR, name)

    @property
    def failures(self) -> list[PluginFailure]:
        """Plugins left out, and why: load failures, then hook failures and conflicts."""
        for kind in KINDS:
            self._registry(kind)
        return [*self._load_failures, *self._registry_failures]

    def describe(self, group: str = ENTRY_POINT_GROUP) -> PluginReport:
        """What is installed (name, kind, provider, module, description) and what failed."""
        installed = []
        for kind in KINDS:
            entries = self._registry(kind).entries
            for name in sorted(entries):
                item, provider = entries[name]
                installed.append(
                    InstalledPlugin(
                        name=name,
                        kind=kind.name,
                        provider=str(provider),
                        module=provider.module,
                        plugin=provider.plugin,
                        description=item.description,
                    )
                )
        return PluginReport(group, tuple(installed), tuple(self.failures))


def build_plugin_manager(
    builtins: Iterable[str] = BUILTIN_PLUGINS,
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> PluginManager:
    """A new manager with the built-ins and the installed (or the given) entry points loaded."""
    manager = PluginManager()
    manager.load_builtins(builtins)
    manager.load_entry_points(entry_points)
    return manager


@functools.cache
def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, loaded once (``get_plugin_manager.cache_clear()`` reloads)."""
    return build_plugin_manager()


def samplers() -> dict[str, SamplerPlugin]:
    """The installed samplers by name."""
    return get_plugin_manager().samplers()


def evaluators() -> dict[str, EvaluatorPlugin]:
    """The installed evaluators by name."""
    return get_plugin_manager().evaluators()


def get_sampler(name: str) -> SamplerPlugin:
    """The installed sampler called ``name``.

    Raises:
        UnknownPluginError: no installed plugin provides it; the message lists those that do.
        DuplicatePluginError: two plugins provide it; the message names both.
    """
    return get_plugin_manager().get_sampler(name)


def get_evaluator(name: str) -> EvaluatorPlugin:
    """The installed evaluator called ``name`` (errors as :func:`get_sampler`)."""
    return get_plugin_manager().get_evaluator(name)


def get_teacher(name: str) -> TeacherPlugin:
    """The installed teacher called ``name`` (errors as :func:`get_sampler`)."""
    return get_plugin_manager().get_teacher(name)


def get_scene_generator(name: str) -> SceneGeneratorPlugin:
    """The installed scene generator called ``name`` (errors as :func:`get_sampler`)."""
    return get_plugin_manager().get_scene_generator(name)


def describe_plugins() -> PluginReport:
    """What is installed and what failed to load, for ``kedro plugins``."""
    return get_plugin_manager().describe()
