"""Fake entry points (the example plugin and a fresh manager are fixtures of tests/conftest.py)."""

from __future__ import annotations

import importlib.metadata

from prism.plugins import ENTRY_POINT_GROUP


def fake_entry_point(name: str, target: str) -> importlib.metadata.EntryPoint:
    """An entry point in our group, as an installed package would declare it (no distribution)."""
    return importlib.metadata.EntryPoint(name=name, value=target, group=ENTRY_POINT_GROUP)


def fake_plugin(name: str) -> importlib.metadata.EntryPoint:
    """An entry point to one of the objects in :mod:`tests.plugins.fake_plugins`."""
    return fake_entry_point(name, f"tests.plugins.fake_plugins:{name}")
