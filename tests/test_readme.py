"""The README's parameter tables say what ``conf/base/parameters_*.yml`` says.

A table row names one or more parameters (``| `n_samples`, `n_tasks` | 20, 3 | ... |``) and gives
one default per name, in order, each as YAML (``null``, ``false``, ``[0.2, 0.3]``, ``{}``, a
word). A dotted name is a nested parameter (``teacher.kind``). The defaults are compared with the
configuration as Kedro resolves it without runtime parameters (``${runtime_params:n_batch, 10}``
is 10), and every top-level parameter of the file must be named in its table.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
#: The README's parameter tables: the heading that introduces each, and the parameters' key.
TABLES = {
    "### Generation parameters (`conf/base/parameters_generation.yml`)": "generation",
    "### The iterative loop (`conf/base/parameters_iterative.yml`)": "iterative",
}
MISSING = object()


def table_rows(text: str, heading: str) -> list[tuple[list[str], list[str]]]:
    """The rows of the first table after ``heading``: (parameter names, defaults)."""
    lines = text.splitlines()
    if heading not in lines:
        raise AssertionError(f"README.md has no heading {heading!r}")
    rows = []
    for line in lines[lines.index(heading) + 1 :]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] in ("parameter", "") or set(cells[0]) <= set("-: "):
            continue  # the header and the separator
        rows.append((re.findall(r"`([^`]+)`", cells[0]), split_values(cells[1])))
    return rows


def split_values(cell: str) -> list[str]:
    """``"`a`, [1, 2], 3"`` -> ``["a", "[1, 2]", "3"]``: commas inside brackets or backticks
    do not split."""
    values, current, depth, quoted = [], "", 0, False
    for char in cell:
        if char == "`":
            quoted = not quoted
            continue
        if not quoted:
            depth += char in "[{"
            depth -= char in "]}"
        if char == "," and depth == 0 and not quoted:
            values.append(current.strip())
            current = ""
        else:
            current += char
    return [*values, current.strip()]


def lookup(parameters: dict[str, Any], dotted: str) -> Any:
    value: Any = parameters
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


@pytest.fixture(scope="module")
def parameters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``conf/base``'s parameters as Kedro resolves them (an empty ``local``, no runtime
    parameters: each ``${runtime_params:name, default}`` is its default)."""
    from kedro.config import OmegaConfigLoader
    from omegaconf import OmegaConf

    conf = tmp_path_factory.mktemp("conf")
    shutil.copytree(REPO / "conf" / "base", conf / "base")
    (conf / "local").mkdir()
    loaded = OmegaConfigLoader(str(conf), base_env="base", default_run_env="local")["parameters"]
    return OmegaConf.to_container(OmegaConf.create(dict(loaded)), resolve=True)


def test_table_rows_are_parsed_as_written() -> None:
    text = "### T\n\n| parameter | default | meaning |\n|---|---|---|\n" + (
        "| `a`, `b.c` | `[0.2, 0.3]`, `null` | x, y |\n| `d` | 5 | z |\n\nafter\n| `e` | 1 | |\n"
    )
    assert table_rows(text, "### T") == [(["a", "b.c"], ["[0.2, 0.3]", "null"]), (["d"], ["5"])]


@pytest.mark.parametrize("heading", sorted(TABLES))
def test_readme_parameter_table_matches_the_yaml(parameters: dict[str, Any], heading: str) -> None:
    section = TABLES[heading]
    rows = table_rows(README.read_text(), heading)
    assert rows, f"no table under {heading!r}"
    named = []
    for names, defaults in rows:
        assert names, f"a row of {heading!r} names no parameter: {defaults}"
        assert len(names) == len(defaults), f"{names}: {len(defaults)} default(s) {defaults}"
        for name, written in zip(names, defaults, strict=True):
            actual = lookup(parameters[section], name)
            assert actual is not MISSING, f"README names {section}.{name}, not in the YAML"
            assert yaml.safe_load(written) == actual, (
                f"README: {section}.{name} defaults to {written!r}; the YAML says {actual!r}"
            )
            named.append(name)
    for key in parameters[section]:
        assert any(n == key or n.startswith(f"{key}.") for n in named), (
            f"{section}.{key} is in the YAML but not in the README's table under {heading!r}"
        )
