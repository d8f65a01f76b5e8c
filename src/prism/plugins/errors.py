"""Errors of the plugin system: each names the plugin, its provider and what would fix it."""

from __future__ import annotations


class PluginError(Exception):
    """Base class of the plugin system's errors."""


class UnknownPluginError(PluginError, ValueError):
    """A sampler or evaluator was asked for by a name that no installed plugin provides."""


class DuplicatePluginError(PluginError, ValueError):
    """Two providers register the same name for the same kind (e.g. two samplers ``uniform``)."""


class PluginLoadError(PluginError):
    """A built-in plugin (part of prism itself) could not be loaded: a bug or a broken install.

    Third-party plugins never raise this; their failures are recorded and reported instead.
    """


class PluginResultError(PluginError, ValueError):
    """A plugin's sampler or evaluator returned something that breaks the documented contract."""
