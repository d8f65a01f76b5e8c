"""What is installed and what failed to load: who provides a plugin, a left-out plugin and the
report ``prism plugins`` prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from prism.plugins.kinds import KINDS

BUILTIN_PROVIDER = "prism (built-in)"


@dataclass(frozen=True)
class Provider:
    """Who provides a plugin.

    Attributes:
        plugin: the name the plugin is registered under: its entry point name, or the module
            path of a built-in.
        module: the module holding its hooks.
        distribution: the installed distribution declaring the entry point, if known.
        version: that distribution's version.
        builtin: part of prism itself.
    """

    plugin: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False

    def __str__(self) -> str:
        if self.builtin:
            return BUILTIN_PROVIDER
        if self.distribution:
            return f"{self.distribution} {self.version}" if self.version else self.distribution
        return "no distribution"

    def describe(self) -> str:
        """How error messages name it: plugin, distribution and module."""
        if self.builtin:
            return f"{BUILTIN_PROVIDER} [{self.module}]"
        of = f" of {self}" if self.distribution else ""
        return f"plugin {self.plugin!r}{of} [{self.module}]"


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was left out, and why.

    Attributes:
        plugin: the plugin's name (entry point name).
        provider: its distribution (``name version``) or description.
        stage: what failed: ``import``, ``register``, ``hooks``, a hook's name, or ``duplicate``.
        reason: the error, with what would fix it.
    """

    plugin: str
    provider: str
    stage: str
    reason: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} ({self.provider}) failed at {self.stage}: {self.reason}"


@dataclass(frozen=True)
class InstalledPlugin:
    """One installed sampler or evaluator, as ``kedro plugins`` lists it."""

    name: str
    kind: str
    provider: str
    module: str
    plugin: str
    description: str


@dataclass(frozen=True)
class PluginReport:
    """What is installed and what failed to load."""

    group: str
    installed: tuple[InstalledPlugin, ...]
    failures: tuple[PluginFailure, ...]

    def of_kind(self, kind: str) -> list[InstalledPlugin]:
        """The installed plugins of one kind (``"sampler"``, ``"evaluator"``), by name."""
        return [plugin for plugin in self.installed if plugin.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "entry_point_group": self.group,
            "installed": [asdict(plugin) for plugin in self.installed],
            "failures": [asdict(failure) for failure in self.failures],
        }

    def to_text(self) -> str:
        """The report as ``kedro plugins`` prints it: a table per kind, then the failures."""
        lines = [f"Plugins: prism's built-ins and entry points in the group {self.group!r}"]
        for kind in KINDS:
            rows = [(p.name, p.provider, p.module, p.description) for p in self.of_kind(kind.name)]
            lines += ["", f"{kind.name.capitalize()}s ({len(rows)}):"]
            if not rows:
                lines.append("  (none installed)")
                continue
            header = ("NAME", "PROVIDER", "MODULE", "DESCRIPTION")
            widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
            for row in [header, *rows]:
                cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
                lines.append("  " + "  ".join([*cells, row[3]]).rstrip())
        lines += ["", f"Failures ({len(self.failures)}):"]
        lines += [f"  {failure}" for failure in self.failures] or ["  (none)"]
        return "\n".join(lines)
