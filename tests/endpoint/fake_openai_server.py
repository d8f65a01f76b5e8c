"""A real, scriptable OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

It speaks just enough of the protocol for the ``openai`` SDK (and so for
:class:`prism.endpoint.ChatClient`, the LLM teacher and the LLM scene generator):

* ``POST /v1/chat/completions`` answers what a *script* says;
* ``GET /v1/models`` lists ``models`` (404 when ``models=None``; a :class:`Reply` is
  answered as is, e.g. an HTML page for a ``base_url`` that points at a web UI);
* any other path answers 404, as a real server would to a ``base_url`` without ``/v1``.

A script is a callable ``(request_json) -> reply`` called once per chat request (from the
server's handler threads, so keep it thread-safe). ``request_json`` is the decoded body the
client sent (``model``, ``messages``, ``temperature``, ``response_format``...). The reply can be:

* ``str``: the assistant's content, e.g. a planner turn as JSON text;
* ``dict`` or ``list``: serialised with ``json.dumps`` and used as the content;
* ``int``: an HTTP status answered with an OpenAI-style error body;
* :class:`Reply`: full control: status, headers (``Retry-After``), a delay before answering
  (latency, timeouts), a raw body (garbage), ``finish_reason``.

Use it as a context manager, or through the ``fake_openai`` fixture in
``tests/endpoint/conftest.py``::

    from tests.endpoint.fake_openai_server import FakeOpenAIServer, Reply, sequence

    def planner(request):                  # sees exactly what the client sent
        task = request["messages"][-1]["content"]
        return {"primary_goal": task, "relevant_graph": [], "reasoning": "",
                "plan": "[answer(done)]"}

    with FakeOpenAIServer(planner) as server:
        config = EndpointConfig(base_url=server.url, model="fake-model", api_key="EMPTY")
        ...                                # run the code under test
        assert len(server.chat_requests) == 3
        assert server.max_in_flight <= config.max_concurrency

    # a flaky server: rate-limited once, then an error, then fine
    script = sequence(Reply.error(429, retry_after_s=0.1), 500, "hello")

The server records every request (:attr:`requests`, :attr:`chat_requests`), the largest number
of requests it was handling at once (:attr:`max_in_flight`) and any exception a script raised
(:attr:`script_errors`, also answered as HTTP 500 so the test sees a failure).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

#: What a script may return; see the module docstring.
ScriptReply = Any  # str | dict | list | int | Reply
Script = Callable[[dict[str, Any]], ScriptReply]

_STATUS_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_denied",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer of the fake server.

    Attributes:
        text: Assistant content for a 200 chat completion.
        status: HTTP status; anything but 200 answers an OpenAI-style error body.
        message: The error message for a non-200 status.
        headers: Extra response headers, e.g. ``{"Retry-After": "1"}``.
        delay_s: Seconds to wait before answering (latency; longer than the client's timeout
            to provoke a timeout). Cut short when the server stops.
        body: Raw response body sent as is (garbage, a JSON object without ``choices``...);
            overrides ``text``/``message``.
        content_type: Content-Type of a raw ``body``.
        finish_reason: ``finish_reason`` of the completion (``length`` for a truncated reply).
    """

    text: str = ""
    status: int = 200
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes | None = None
    content_type: str = "application/json"
    finish_reason: str = "stop"

    @classmethod
    def ok(cls, text: str, *, delay_s: float = 0.0, finish_reason: str = "stop") -> Reply:
        """A successful completion whose content is ``text``."""
        return cls(text=text, delay_s=delay_s, finish_reason=finish_reason)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "",
        *,
        retry_after_s: float | None = None,
        delay_s: float = 0.0,
    ) -> Reply:
        """An HTTP error with an OpenAI-style body; ``retry_after_s`` adds the headers
        ``Retry-After`` (whole seconds, rounded up) and ``retry-after-ms`` as OpenAI does."""
        headers: dict[str, str] = {}
        if retry_after_s is not None:
            headers["Retry-After"] = str(max(math.ceil(retry_after_s), 0))
            headers["retry-after-ms"] = str(int(retry_after_s * 1000))
        return cls(status=status, message=message, headers=headers, delay_s=delay_s)

    @classmethod
    def raw(
        cls,
        body: bytes | str | Mapping[str, Any],
        *,
        status: int = 200,
        content_type: str | None = None,
    ) -> Reply:
        """A raw body: bytes/str as is (``text/html`` by default), a mapping as JSON."""
        if isinstance(body, Mapping):
            return cls(
                status=status, body=json.dumps(body).encode(), content_type="application/json"
            )
        data = body.encode() if isinstance(body, str) else body
        return cls(status=status, body=data, content_type=content_type or "text/html")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    received_at: float


def echo(request: dict[str, Any]) -> ScriptReply:
    """The default script: a JSON object echoing the last message's content."""
    messages = request.get("messages") or [{}]
    return {"echo": messages[-1].get("content", "")}


def sequence(*replies: ScriptReply, then: ScriptReply | None = None) -> Script:
    """A script answering ``replies`` in order, one per chat request, then ``then`` forever
    (the last reply when ``then`` is None). Thread-safe."""
    if not replies:
        raise ValueError("sequence() needs at least one reply")
    queue: Iterable[ScriptReply] = itertools.chain(
        replies, itertools.repeat(replies[-1] if then is None else then)
    )
    iterator = iter(queue)
    lock = threading.Lock()

    def script(_request: dict[str, Any]) -> ScriptReply:
        with lock:
            return next(iterator)

    return script


class FakeOpenAIServer:
    """A threaded HTTP server on 127.0.0.1 (free port) answering chat completions by script.

    Args:
        script: Called once per chat request; see the module docstring. Can be replaced
            while the server runs (``server.script = ...``).
        models: Model ids listed by ``GET /v1/models``; ``None`` answers 404 there, like
            servers without that route; a ``Reply.raw``/``Reply.error`` is answered as is.
        api_key: When set, requests whose ``Authorization`` is not ``Bearer <api_key>`` get a
            401 like OpenAI's.
    """

    def __init__(
        self,
        script: Script = echo,
        *,
        models: Iterable[str] | Reply | None = ("fake-model",),
        api_key: str | None = None,
    ) -> None:
        self.script = script
        self.models: list[str] | Reply | None = (
            models if models is None or isinstance(models, Reply) else list(models)
        )
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.script_errors: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAIServer:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        if self._httpd is not None:
            raise RuntimeError("FakeOpenAIServer is already running")
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed replies in progress are cut short."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------ inspection

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running: call start() first")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The ``base_url`` to give a client: ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Decoded bodies of the chat-completions requests received, in arrival order."""
        with self._lock:
            return [r.json for r in self.requests if r.path.endswith("/chat/completions")]

    def reset(self) -> None:
        """Forget recorded requests, errors and the in-flight maximum (keeps the script)."""
        with self._lock:
            self.requests.clear()
            self.script_errors.clear()
            self.max_in_flight = self.in_flight

    # ------------------------------------------------------------------------ handling

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a reply sleeping out a long delay
    request_queue_size = 128  # the default 5 drops SYNs under a burst and adds 1 s stalls
    fake: FakeOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    # Headers and body go out in separate writes; with Nagle's algorithm and the client's
    # delayed ACKs that costs ~40 ms per reply on a kept-alive connection.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log; tests inspect ``requests`` instead."""

    def do_GET(self) -> None:
        fake = self.server.fake
        fake._record(self._recorded(None))
        if not self._authorised():
            return
        models = fake.models
        if self.path.rstrip("/") != "/v1/models" or models is None:
            self._send_error(404, f"no route GET {self.path}")
        elif isinstance(models, Reply):
            self._send_reply(models)
        else:
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                        for m in models
                    ],
                },
            )

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            request = json.loads(raw or b"null")
        except json.JSONDecodeError as exc:
            fake._record(self._recorded(raw.decode("utf-8", "replace")))
            self._send_error(400, f"request body is not JSON: {exc}")
            return
        fake._record(self._recorded(request))
        if not self._authorised():
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_error(404, f"no route POST {self.path}")
            return
        fake._enter()
        try:
            self._answer_chat(request)
        finally:
            fake._leave()

    # ------------------------------------------------------------------------ helpers

    def _answer_chat(self, request: dict[str, Any]) -> None:
        fake = self.server.fake
        try:
            reply = _as_reply(fake.script(request))
        except Exception as exc:  # a broken script must show up in the test, not hang it
            fake.script_errors.append(f"{type(exc).__name__}: {exc}")
            self._send_error(500, f"fake server script raised {type(exc).__name__}: {exc}")
            return
        self._send_reply(reply, request)

    def _send_reply(self, reply: Reply, request: dict[str, Any] | None = None) -> None:
        """Answer ``reply`` after its delay; a 200 without a raw body is a completion of
        ``request``."""
        fake = self.server.fake
        fake._wait(reply.delay_s)
        if reply.body is not None:
            self._send(reply.status, reply.body, reply.content_type, reply.headers)
        elif reply.status != 200 or request is None:
            self._send_error(reply.status, reply.message, reply.headers)
        else:
            self._send_json(200, _completion(request, reply, fake._next_id()), reply.headers)

    def _authorised(self) -> bool:
        expected = self.server.fake.api_key
        if expected is None or self.headers.get("Authorization") == f"Bearer {expected}":
            return True
        self._send_error(
            401, "Incorrect API key provided. You can find your API key at your provider."
        )
        return False

    def _recorded(self, body: Any) -> RecordedRequest:
        return RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            json=body,
            received_at=time.monotonic(),
        )

    def _send_error(
        self, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        body = {
            "error": {
                "message": message or f"fake server error {status}",
                "type": _STATUS_ERROR_TYPES.get(status, "server_error"),
                "param": None,
                "code": None,
            }
        }
        self._send_json(status, body, headers)

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout fired): expected in timeout tests.
            self.close_connection = True


def _as_reply(value: ScriptReply) -> Reply:
    """Normalise what a script returned into a :class:`Reply`."""
    if isinstance(value, Reply):
        return value
    if isinstance(value, str):
        return Reply.ok(value)
    if isinstance(value, bool):  # bool is an int; True is surely a mistake, not HTTP 1
        raise TypeError("a script returned a bool; return text, a dict, a status or a Reply")
    if isinstance(value, int):
        return Reply.error(value)
    if isinstance(value, (dict, list)):
        return Reply.ok(json.dumps(value))
    raise TypeError(
        f"a script returned {type(value).__name__}; return text, a dict, a status or a Reply"
    )


def _completion(request: dict[str, Any], reply: Reply, number: int) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object answering ``request`` with ``reply.text``."""
    prompt_words = sum(
        len(str(m.get("content", "")).split()) for m in request.get("messages") or []
    )
    completion_words = len(reply.text.split())
    return {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": completion_words,
            "total_tokens": prompt_words + completion_words,
        },
    }
