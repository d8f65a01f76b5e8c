"""Tiny students for the serving tests (a random-init compact-format model, full or LoRA), the
real server running one of them, and the messages sent to it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import uvicorn

from prism.serving import ServeConfig, StudentEngine, create_app
from prism.student.bundle import ModelBundle, save_bundle
from prism.student.planner import StudentPlanner
from prism.world.protocol import SYSTEM_PROMPT
from tests.conftest import tiny_compact_model


def free_port() -> int:
    """A local TCP port nobody listens on (for a server the test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MAX_TOKENS = 12  # the untrained student never stops by itself: keep its turns short
CONTEXT = 1024  # the tiny student's max_position_embeddings
NAME = "tiny-student"
CAP = 64  # the shared server's max_new_tokens: above MAX_TOKENS, so a smaller request shows


def save_lora_student(samples: list[dict[str, Any]], path: Path, base: Path) -> Path:
    """A LoRA student in ``path`` whose ``adapter_config.json`` names ``base``.

    The base is saved at ``base`` (as a built-in student base would be): remove it to get an
    adapter whose base has gone.
    """
    from peft import LoraConfig, get_peft_model

    model, tokenizer = tiny_compact_model(samples, CONTEXT)
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    model.name_or_path = str(base)  # as if loaded from there (peft records it on save)
    # init_lora_weights=False: random B as well as A, so the adapter changes the model (peft's
    # default B = 0 would make a student served without its adapter look the same)
    lora = LoraConfig(
        r=2,
        lora_alpha=4,
        target_modules=["q_proj", "v_proj"],
        task_type="CAUSAL_LM",
        init_lora_weights=False,
    )
    save_bundle(
        ModelBundle(
            get_peft_model(model, lora),
            tokenizer,
            {"prompt_format": "compact", "finetune": "lora"},
        ),
        path,
    )
    return path


@pytest.fixture(scope="session")
def student_dir(tmp_path_factory, samples) -> Path:
    """A tiny random-init compact-format student saved as a model directory."""
    model, tokenizer = tiny_compact_model(samples, CONTEXT)
    path = tmp_path_factory.mktemp("serving") / "student"
    save_bundle(ModelBundle(model, tokenizer, {"prompt_format": "compact"}), path)
    return path


@pytest.fixture(scope="session")
def local(student_dir) -> StudentPlanner:
    """The same student, in process."""
    return StudentPlanner.from_pretrained(student_dir, max_new_tokens=MAX_TOKENS)


# --------------------------------------------------------------------- served students
@contextlib.contextmanager
def running(app: Any) -> Iterator[str]:
    """The real server (uvicorn, HTTP on a free local port) in a thread; yields its /v1 URL."""
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(student_dir):
    """Greedy (the default), at most ``CAP`` new tokens per reply."""
    with running(create_app(student_dir, ServeConfig(model_name=NAME, max_new_tokens=CAP))) as url:
        yield url


@pytest.fixture()
def client(server):
    """The official ``openai`` client on the shared server, without the SDK's retries."""
    with openai.OpenAI(base_url=server, api_key="EMPTY", max_retries=0) as c:
        yield c


def conversation(samples, i=0, turns=1) -> list[dict[str, str]]:
    """The first ``turns`` user turns of a sample (with the assistant turns between them)."""
    messages = samples[i]["conversations"]
    users = [k for k, m in enumerate(messages) if m["role"] == "user"]
    return [{"role": m["role"], "value": m["value"]} for m in messages[: users[turns - 1] + 1]]


def openai_messages(messages) -> list[dict[str, str]]:
    """SPINE ``{role, value}`` messages as the LLM teacher sends them: its system prompt first."""
    return [{"role": "system", "content": SYSTEM_PROMPT}] + [
        {"role": m["role"], "content": m["value"]} for m in messages
    ]


GOOD = {"model": NAME, "messages": [{"role": "user", "content": "task: hi"}], "max_tokens": 4}


@pytest.fixture(scope="session")
def counter(local) -> StudentEngine:
    """Counts prompt tokens as the server does (same student, same format and template)."""
    return StudentEngine(local)


def prompt_of(counter: StudentEngine, tokens: int) -> tuple[list[dict[str, str]], int]:
    """A user message whose prompt is ``tokens`` long, or just under; and its exact length."""
    words = "task: find the cabin"
    while counter.prompt_tokens([{"role": "user", "content": words}]) <= tokens:
        words += " near the barn"
    while (n := counter.prompt_tokens([{"role": "user", "content": words}])) > tokens:
        words = words[:-1]
    return [{"role": "user", "content": words}], n
