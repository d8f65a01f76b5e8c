"""Fixtures: the example plugin package installed offline, fake entry points, a fresh manager."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from prism.plugins import ENTRY_POINT_GROUP, manager

EXAMPLE_PLUGIN_SOURCE = Path(__file__).resolve().parent / "example_plugin"
EXAMPLE_MODULE = "prism_example_plugin"


def fake_entry_point(name: str, target: str) -> importlib.metadata.EntryPoint:
    """An entry point in our group, as an installed package would declare it (no distribution)."""
    return importlib.metadata.EntryPoint(name=name, value=target, group=ENTRY_POINT_GROUP)


def fake_plugin(name: str) -> importlib.metadata.EntryPoint:
    """An entry point to one of the objects in :mod:`tests.plugins.fake_plugins`."""
    return fake_entry_point(name, f"tests.plugins.fake_plugins:{name}")


@pytest.fixture(scope="session")
def example_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``prism-example-plugin`` installed (offline, no dependencies) into a folder of its own.

    The source is copied first so the build leaves nothing behind in the repository.
    """
    base = tmp_path_factory.mktemp("example_plugin")
    source = base / "source"
    shutil.copytree(
        EXAMPLE_PLUGIN_SOURCE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    site = base / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    command += ["--no-build-isolation", "--disable-pip-version-check", "--target", str(site)]
    result = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"installing the example plugin failed:\n{result.stderr}"
    return site


@pytest.fixture
def example_plugin_installed(
    example_plugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The example plugin importable and its entry point visible, for one test only."""
    monkeypatch.syspath_prepend(str(example_plugin_site))
    yield example_plugin_site
    sys.modules.pop(EXAMPLE_MODULE, None)


@pytest.fixture
def fresh_plugin_manager() -> Iterator[None]:
    """The process-wide manager reloaded before and after the test."""
    manager.get_plugin_manager.cache_clear()
    yield
    manager.get_plugin_manager.cache_clear()
