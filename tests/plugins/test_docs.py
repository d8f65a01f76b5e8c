"""Every hook and every type field is documented for plugin authors, and every hook is tested."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from prism.plugins import ENTRY_POINT_GROUP, hookspecs, types
from prism.plugins.kinds import KINDS

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
TEST_FILES = [
    path for path in (ROOT / "tests").rglob("test_*.py") if path != Path(__file__).resolve()
]
HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if callable(value) and hasattr(value, f"{hookspecs.PROJECT_NAME}_spec")
)
#: Every dataclass of prism.plugins.types: what plugins register and what their callables get.
TYPES = [
    value
    for value in vars(types).values()
    if dataclasses.is_dataclass(value) and value.__module__ == types.__name__
]


def section(heading: str) -> str:
    """The text under a ``### `heading` `` line, up to the next heading."""
    match = re.search(rf"^### `{re.escape(heading)}`\n(.*?)(?=^#)", DOCS + "\n#", re.S | re.M)
    assert match, f"docs/plugins.md has no section '### `{heading}`'"
    return match.group(1)


def test_every_kind_of_plugin_has_its_hook_and_every_hook_a_kind():
    assert sorted(kind.hook for kind in KINDS) == HOOKS
    assert {kind.type for kind in KINDS} <= set(TYPES)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_with_its_signature_and_an_example(hook):
    text = section(hook)
    assert f"def {hook}(" in text
    assert "@hookimpl" in text


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_reference_docstring(hook):
    doc = getattr(hookspecs, hook).__doc__ or ""
    assert "Example::" in doc and "@hookimpl" in doc


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_mentioned_by_a_test(hook):
    mentioned = [p for p in TEST_FILES if hook in p.read_text(encoding="utf-8")]
    assert mentioned, f"no test under tests/ mentions {hook}; add one"


@pytest.mark.parametrize("cls", TYPES, ids=lambda cls: cls.__name__)
def test_every_field_of_every_type_is_documented(cls):
    text = section(cls.__name__)
    missing = [f.name for f in dataclasses.fields(cls) if f"`{f.name}`" not in text]
    assert not missing, f"docs/plugins.md, section {cls.__name__}, lacks fields {missing}"


def test_the_entry_point_group_is_the_documented_one_and_the_example_uses_it():
    declaration = f'[project.entry-points."{ENTRY_POINT_GROUP}"]'
    assert declaration in DOCS
    example = ROOT / "tests" / "plugins" / "example_plugin" / "pyproject.toml"
    assert declaration in example.read_text(encoding="utf-8")


def test_the_python_examples_parse():
    blocks = re.findall(r"```python\n(.*?)```", DOCS, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        ast.parse(block)
