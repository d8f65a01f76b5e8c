"""The example requests of docs/serving.md and README.md, run as written (but for the port)
against the shipped planner base served under the name they use, ``best_model``: the curl
command with the ``curl`` program, the Python one with the ``openai`` client. Each gets a SPINE
turn whose plan parses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from prism.serving import ServeConfig, create_app
from prism.world.protocol import RESPONSE_KEYS, parse_plan
from tests.serving.conftest import running

REPO = Path(__file__).resolve().parents[2]
DOCS = (REPO / "docs" / "serving.md", REPO / "README.md")
PLANNER_BASE = REPO / "data" / "01_raw" / "planner_base"
#: Where the examples expect the server: ``prism serve --model .../best_model --port 8000``.
DOCUMENTED_URL = "http://127.0.0.1:8000/v1"


def code_blocks(path: Path, language: str, containing: str) -> list[str]:
    """The fenced ``language`` code blocks of ``path`` that contain ``containing``."""
    blocks = re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), re.MULTILINE | re.DOTALL)
    return [block for block in blocks if containing in block]


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The shipped planner base served as ``best_model``; yields its /v1 URL."""
    with running(create_app(PLANNER_BASE, ServeConfig(model_name="best_model"))) as url:
        yield url


def check_turn(content: str) -> None:
    """``content`` is a SPINE turn: a JSON object with the protocol's keys and a plan."""
    turn = json.loads(content)
    assert set(RESPONSE_KEYS) <= set(turn), turn
    assert parse_plan(turn["plan"]), turn


def test_the_docs_have_the_examples() -> None:
    assert code_blocks(DOCS[0], "bash", "/v1/chat/completions"), "no curl example"
    assert code_blocks(DOCS[0], "python", "OpenAI("), "no openai client example"
    assert code_blocks(DOCS[1], "bash", "/v1/chat/completions"), "no curl example in README"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_curl_example(served: str, doc: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("no curl program")
    for block in code_blocks(doc, "bash", "/v1/chat/completions"):
        assert DOCUMENTED_URL in block
        result = subprocess.run(
            ["bash", "-c", block.replace(DOCUMENTED_URL, served)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        reply = json.loads(result.stdout)
        assert reply["model"] == "best_model"
        check_turn(reply["choices"][0]["message"]["content"])


def test_openai_client_example(served: str, capsys: pytest.CaptureFixture[str]) -> None:
    (block,) = code_blocks(DOCS[0], "python", "OpenAI(")
    assert DOCUMENTED_URL in block
    exec(compile(block.replace(DOCUMENTED_URL, served), "docs/serving.md", "exec"), {})
    printed = capsys.readouterr().out.strip()
    # print(turn["plan"], finish_reason, completion_tokens)
    match = re.fullmatch(r"(\[.*\]) (stop|length) (\d+)", printed)
    assert match, printed
    assert parse_plan(match.group(1)) and int(match.group(3)) > 0
