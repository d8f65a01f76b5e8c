"""The FastAPI app's routes: the model listing and health, unknown paths and methods as OpenAI
errors, and a failing generation answered with a 500 while the server stays up."""

from __future__ import annotations

import httpx

from prism.serving import ServeConfig, StudentEngine, create_app
from tests.serving.conftest import GOOD, NAME


def test_models_and_health(client, server):
    assert [m.id for m in client.models.list().data] == [NAME]
    assert client.models.retrieve(NAME).id == NAME
    root = server.removesuffix("/v1")
    assert httpx.get(f"{root}/health").json() == {"status": "ok", "model": NAME}


def test_unknown_paths_and_methods_are_openai_errors(server):
    root = server.removesuffix("/v1")
    for answer, status in [
        (httpx.get(f"{root}/chat/completions"), 404),  # a base_url without /v1
        (httpx.get(f"{server}/chat/completions"), 405),
        (httpx.get(f"{server}/models/gpt-4o"), 404),
    ]:
        assert answer.status_code == status
        assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_a_failing_generation_is_a_500_and_not_a_crash():
    from fastapi.testclient import TestClient

    class Broken(StudentEngine):
        def __init__(self):
            pass

        def complete(self, messages, **kwargs):
            raise RuntimeError("out of memory")

    app = create_app(engine=Broken(), config=ServeConfig(model_name=NAME))
    with TestClient(app, raise_server_exceptions=False) as http:
        answer = http.post("/v1/chat/completions", json=GOOD)
        assert answer.status_code == 500
        assert answer.json()["error"]["type"] == "server_error"
        assert http.get("/health").status_code == 200
