"""``prism plugins`` / ``kedro plugins``: what is installed, who provides it, what failed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from prism.cli import cli
from prism.plugins import build_plugin_manager, manager
from tests.plugins.conftest import fake_plugin


@pytest.fixture
def with_plugins(monkeypatch):
    """Make the process-wide manager the built-ins plus the given fake plugins."""

    def install(*names: str) -> None:
        pm = build_plugin_manager(entry_points=[fake_plugin(name) for name in names])
        monkeypatch.setattr(manager, "get_plugin_manager", lambda: pm)

    return install


def test_lists_every_kind_of_plugin_with_its_providers(with_plugins):
    with_plugins("good")
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "'prism_planner.plugins'" in lines[0]
    uniform = next(line for line in lines if line.split()[:1] == ["uniform"])
    assert "prism (built-in)" in uniform and "prism.sampling.samplers" in uniform
    first = next(line for line in lines if line.split()[:1] == ["first"])
    assert "no distribution" in first and "tests.plugins.fake_plugins" in first
    assert "Samplers (5):" in result.output and "Evaluators (3):" in result.output
    assert "Teachers (2):" in result.output and "Scene generators (2):" in result.output
    oracle = next(line for line in lines if line.split()[:1] == ["oracle"])
    assert "prism (built-in)" in oracle and "prism.teachers.plugin" in oracle
    assert "Failures (0):" in result.output


def test_lists_failures_and_still_exits_zero(with_plugins):
    with_plugins("raising_hook", "misspelt_hook", "good")
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "Failures (2):" in result.output
    assert "plugin 'raising_hook'" in result.output and "prism_register_samplers" in result.output
    assert "unknown hook 'prism_register_sampler'" in result.output


def test_json_output(with_plugins):
    with_plugins("misspelt_hook")
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["entry_point_group"] == "prism_planner.plugins"
    assert {(row["kind"], row["name"]) for row in report["installed"]} == {
        ("sampler", "uniform"),
        ("sampler", "accuracy_weighted"),
        ("sampler", "loss_weighted"),
        ("sampler", "task_failure"),
        ("evaluator", "token_metrics"),
        ("evaluator", "task_success"),
        ("teacher", "oracle"),
        ("teacher", "llm"),
        ("scene generator", "procedural"),
        ("scene generator", "llm"),
    }
    assert report["failures"][0]["plugin"] == "misspelt_hook"
    assert report["failures"][0]["stage"] == "hooks"


def test_with_the_installed_example_plugin(example_plugin_installed, fresh_plugin_manager):
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "longest_first" in line)
    assert "prism-example-plugin 0.1.0" in line and "prism_example_plugin" in line
    assert "turn_count" in result.output
