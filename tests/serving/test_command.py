"""The real ``prism serve`` command in a subprocess, as README.md documents it: it serves, it binds
127.0.0.1 by default, it stops cleanly on SIGTERM and SIGINT, and a bad directory, a LoRA adapter
whose base has gone or a port in use end it at once with one clear message."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.serving.conftest import MAX_TOKENS, free_port, save_lora_student

pytestmark = pytest.mark.slow  # each command pays Python's imports of torch and transformers

STARTUP_TIMEOUT = 180  # imports torch and transformers, then loads the model: slow on a busy CI
STOP_TIMEOUT = 15
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PRISM_TRACEBACK"},
    "KEDRO_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "WANDB_MODE": "offline",
    "COLUMNS": "250",  # rich (Kedro's logging) wraps log lines at the terminal width
}


def _prism() -> list[str]:
    """The ``prism`` console script README.md documents (``python -m prism`` without it)."""
    script = Path(sys.executable).with_name("prism")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "prism"]


class Command:
    """``prism serve ARGS`` started in ``cwd`` with no stdin, its output in files."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.out, self.err = cwd / "stdout.txt", cwd / "stderr.txt"
        self.started = time.monotonic()
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [*_prism(), "serve", *args],
                cwd=cwd,
                env=ENV,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.stderr()

    def report(self) -> str:
        return f"--- stdout\n{self.out.read_text(errors='replace')}\n--- stderr\n{self.stderr()}"

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"prism serve still running after {timeout}s\n{self.report()}")

    def wait_for_health(self, root: str) -> dict:
        deadline = self.started + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(
                    f"prism serve exited with code {self.process.returncode} before answering "
                    f"{root}/health\n{self.report()}"
                )
            try:
                answer = httpx.get(f"{root}/health", timeout=2)
                if answer.status_code == 200:
                    return answer.json()
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"prism serve did not answer {root}/health within {STARTUP_TIMEOUT}s\n"
                    f"{self.report()}"
                )
            time.sleep(0.2)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_prism_serve_serves_on_localhost_and_stops_cleanly(student_dir, local, tmp_path, stop):
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    # from another directory than the project's: a run directory is served from anywhere
    command = Command(
        ["--model", str(student_dir), "--port", str(port), "--max-new-tokens", str(MAX_TOKENS)],
        tmp_path,
    )
    try:
        assert command.wait_for_health(root) == {"status": "ok", "model": "student"}
        with openai.OpenAI(base_url=f"{root}/v1", api_key="anything", max_retries=0) as client:
            assert [m.id for m in client.models.list().data] == ["student"]  # the folder name
            reply = client.chat.completions.create(
                model="student",
                messages=[{"role": "user", "content": "task: find the cabin"}],
                temperature=0.2,  # the teacher config's: ignored, greedy as in process
                max_tokens=2048,  # the teacher config's: lowered to --max-new-tokens
            )
        assert reply.choices[0].message.content == local.respond(
            [{"role": "user", "value": "task: find the cabin"}]
        )
        assert reply.usage.completion_tokens == MAX_TOKENS  # the untrained student never stops
        # bound to 127.0.0.1 by default, not to every interface
        assert f"http://127.0.0.1:{port}/v1" in command.output()
        if sys.platform.startswith("linux"):  # all of 127/8 is loopback: 0.0.0.0 would answer
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.2:{port}/health", timeout=2)

        command.process.send_signal(stop)
        code = command.wait(STOP_TIMEOUT)
        assert code == 0, f"exit code {code} after {stop.name}\n{command.report()}"
        output = command.output()
        assert "Traceback" not in output and "Aborted" not in output, command.report()
        assert "Application shutdown complete" in output and f"stopped by {stop.name}" in output
        with pytest.raises(httpx.ConnectError):  # the port is free again
            httpx.get(f"{root}/health", timeout=2)
    finally:
        command.kill()


# ----------------------------------------------------------------------- startup failures
@pytest.fixture(scope="module")
def failures(student_dir, samples, tmp_path_factory):
    """``prism serve`` on each bad input, all started at once (each pays Python's imports)."""
    tmp = tmp_path_factory.mktemp("failures")
    not_a_model = tmp / "not_a_model"
    not_a_model.mkdir()
    (not_a_model / "config.json").write_text("{}")
    base = tmp / "other_machine" / "student_base"
    lora = save_lora_student(samples, tmp / "run" / "lora_student", base)
    for file in base.iterdir():  # the base stayed on the machine it was trained on
        file.unlink()
    base.rmdir()
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    cases = {
        "missing": ([str(tmp / "no_such_dir")], [str(tmp / "no_such_dir"), "no such directory"]),
        "not_a_model": ([str(not_a_model)], [str(not_a_model), "not a saved student"]),
        "lora_base_gone": (
            [str(lora)],
            [str(lora), str(base), "adapter_config.json", "base_model_name_or_path"],
        ),
        "port_in_use": (
            [str(student_dir), "--port", str(busy)],
            [f"127.0.0.1:{busy}", "already in use", "--port"],
        ),
    }
    commands = {}
    try:
        for name, (args, _) in cases.items():
            cwd = tmp / f"cwd_{name}"
            cwd.mkdir()
            port = [] if "--port" in args else ["--port", str(free_port())]
            commands[name] = Command(["--model", *args, *port], cwd)
        results = {}
        for name, command in commands.items():
            code = command.wait(STARTUP_TIMEOUT)
            results[name] = (code, command, cases[name][1])
        yield results
    finally:
        holder.close()
        for command in commands.values():
            command.kill()


@pytest.mark.parametrize("case", ["missing", "not_a_model", "lora_base_gone", "port_in_use"])
def test_prism_serve_fails_at_once_with_one_clear_message(failures, case):
    code, command, expected = failures[case]
    assert code == 1, f"exit code {code}\n{command.report()}"
    errors = [line for line in command.stderr().splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, command.report()
    for text in expected:
        assert text in errors[0], f"{text!r} not in {errors[0]!r}"
    output = command.output()
    assert "Traceback" not in output, command.report()
    assert "Started server process" not in output and "Loading weights" not in output  # no model
