"""The ``prism`` command (``prism.cli``, ``prism.__main__``): ``--help`` lists every command, a
command line naming none is ``run``'s, and stdout holds only what a command prints, logs going to
stderr (``prism plugins --json | python -m json.tool``)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from prism.cli import cli, logs_to_stderr

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "KEDRO_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "WANDB_MODE": "offline",  # transformers prints a line on import in this mode: it must not
    "COLUMNS": "250",  # rich (Kedro's logging) wraps log lines at the terminal width
    "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
}


def _prism(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m prism ARGS`` in the project root, as the ``prism`` console script runs it,
    with the verbose logging config: every log line there is, Kedro's first, and all of them
    must reach stderr, not stdout."""
    return subprocess.run(
        [sys.executable, "-m", "prism", *args],
        cwd=REPO,
        env={**ENV, "KEDRO_LOGGING_CONFIG": str(REPO / "conf" / "logging_verbose.yml")},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_help_lists_every_command_on_one_line():
    result = CliRunner().invoke(cli, ["--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[0] for line in commands] == sorted(cli.commands)
    assert {"run", "plugins", "serve"} <= set(cli.commands)
    for line in commands:
        assert not line.rstrip().endswith("..."), line  # a whole sentence, not cut off
    assert "With no command named" in result.output


@pytest.mark.parametrize(
    "args", [["--pipeline", "iterative", "--help"], ["run", "--help"]], ids=["options", "run"]
)
def test_a_command_line_naming_no_command_is_runs(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Usage: prism run [OPTIONS]" in result.output and "--from-nodes" in result.output


def test_a_misspelt_command_is_named_not_run():
    result = CliRunner().invoke(cli, ["runn"])
    assert result.exit_code == 2
    assert "No such command 'runn'" in result.output and "Did you mean 'run'?" in result.output


def test_logs_to_stderr_moves_the_console_handlers(monkeypatch):
    from rich.logging import RichHandler

    rich_handler, stream_handler = RichHandler(), logging.StreamHandler(sys.stdout)
    monkeypatch.setattr(logging.getLogger(), "handlers", [rich_handler, stream_handler])
    logs_to_stderr()
    assert rich_handler.console.file is sys.stderr and stream_handler.stream is sys.stderr


@pytest.mark.slow
def test_prism_help_in_a_subprocess_lists_run_plugins_and_serve():
    result = _prism("--help")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("Usage: prism [OPTIONS] COMMAND"), result.stdout[:500]
    for command in ("plugins", "run", "serve"):
        assert any(line.split()[:1] == [command] for line in result.stdout.splitlines()), command
    assert "as logging configuration" in result.stderr  # Kedro's log line, off stdout
    assert "as logging configuration" not in result.stdout


@pytest.mark.slow
def test_prism_plugins_json_in_a_subprocess_is_json_alone_on_stdout():
    result = _prism("plugins", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)  # nothing before or after the JSON
    assert report["entry_point_group"] == "prism_planner.plugins"
    assert {"uniform", "token_metrics"} <= {row["name"] for row in report["installed"]}
    assert "as logging configuration" in result.stderr  # Kedro's log line, off stdout


@pytest.mark.slow
def test_kedro_plugins_json_is_json_alone_on_stdout_with_the_projects_logging():
    """Kedro's own command line too, with the project's conf/logging.yml, though transformers
    prints a line as it is imported under WANDB_MODE=offline."""
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "plugins", "--json"],
        cwd=REPO,
        env={k: v for k, v in ENV.items() if k != "KEDRO_LOGGING_CONFIG"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["entry_point_group"] == "prism_planner.plugins"
    assert "Running in WANDB offline mode" in result.stderr
