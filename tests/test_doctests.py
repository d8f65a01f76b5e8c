"""The examples in the package's docstrings run, and write nothing outside a temporary folder."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import prism

SOURCE = Path(prism.__file__).resolve().parent
MODULES = sorted(module.name for module in pkgutil.walk_packages(prism.__path__, "prism."))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def examples(name: str) -> list[doctest.DocTest]:
    """The docstring examples defined in module ``name`` itself (not those it imports)."""
    module = importlib.import_module(name)
    found = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    return [t for t in found if t.examples and Path(t.filename or "").is_relative_to(SOURCE)]


def test_the_package_has_examples_to_run():
    assert sum(len(examples(name)) for name in MODULES) >= 20


@pytest.mark.parametrize("name", [name for name in MODULES if examples(name)])
def test_the_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a relative path writes here
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in examples(name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
