"""Running the server: ``prism serve`` passes its options to :func:`prism.serving.server.serve`,
which checks the model directory, then the port, before loading anything (the real command in a
subprocess: ``test_command.py``)."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from prism.serving import ServeConfig, ServeError
from prism.serving.server import bind, serve
from prism.student.planner import MAX_NEW_TOKENS


def test_the_serve_command(monkeypatch, student_dir):
    from prism import cli

    calls = []
    monkeypatch.setattr(
        "prism.serving.server.serve", lambda model_dir, **kw: calls.append((model_dir, kw))
    )
    result = CliRunner().invoke(
        cli.cli, ["serve", "--model", str(student_dir), "--port", "8123", "--name", "s"]
    )
    assert result.exit_code == 0, result.output
    ((model_dir, kw),) = calls
    assert model_dir == str(student_dir) and kw["host"] == "127.0.0.1" and kw["port"] == 8123
    assert kw["config"] == ServeConfig(model_name="s")  # the defaults: greedy, 256
    result = CliRunner().invoke(
        cli.cli,
        ["serve", "--model", str(student_dir), "--sample", "--max-new-tokens", "100"],
    )
    assert result.exit_code == 0, result.output
    assert calls[1][1]["config"] == ServeConfig(max_new_tokens=100, sampling=True)
    help_text = CliRunner().invoke(cli.cli, ["serve", "--help"])
    assert help_text.exit_code == 0
    assert f"[default: {MAX_NEW_TOKENS};" in " ".join(help_text.output.split())
    assert "--max-tokens-limit" not in help_text.output


def test_a_port_in_use_is_a_serve_error_naming_the_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        with pytest.raises(ServeError, match=f"127.0.0.1:{busy}: the port is already in use"):
            bind("127.0.0.1", busy)
        bound = bind("127.0.0.1", 0)  # port 0: a free one
        with bound:
            assert bound.getsockname()[1] not in (0, busy)


def test_serve_checks_the_model_directory_before_the_port(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        with pytest.raises(ServeError, match="no such directory"):
            serve(tmp_path / "missing", port=busy)
