"""The FastAPI app: a saved student behind ``/v1/chat/completions``, ``/v1/models``, ``/health``.

By default the server decodes as the in-process :class:`~prism.student.planner.StudentPlanner`
does, whatever a request asks: greedily, and at most ``ServeConfig.max_new_tokens`` (the
planner's 256) new tokens, cut at the room the prompt leaves in the context. So a SPINE client
(the LLM teacher backend, the ``task_success`` evaluator through it) set up for a large teacher
changes its ``base_url``, its ``model`` and its API key (any non-empty value) and nothing else,
and gets the in-process student's turns. Sampling is opt-in: ``ServeConfig.sampling``
(``prism serve --sample``).

API (what an OpenAI client, :class:`prism.endpoint.ChatClient` and the LLM teacher send):

``POST /v1/chat/completions``
    ``model`` (must be the served name, else 404 ``model_not_found``), ``messages``
    (non-empty list of ``{"role": "system"|"user"|"assistant", "content": str}``; content may
    also be a list of ``{"type": "text", "text": ...}`` parts), optional:

    * ``temperature``, ``top_p``, ``seed``: validated (``temperature`` in 0..2, ``top_p`` in
      (0, 1], ``seed`` an integer; else a 400) and, by default, **ignored: decoding is
      greedy**, exactly what the in-process :class:`~prism.student.planner.StudentPlanner`
      does. The project's teacher endpoint config sends ``temperature: 0.2``; a SPINE client
      that changes only ``base_url`` and ``model`` (and its API key) must get the in-process
      student's turns. ``ServeConfig.sampling`` (``prism serve --sample``) honours them
      instead: > 0 samples with that temperature (and ``top_p``), reproducibly when the
      request carries a ``seed``; 0 (also when absent) is greedy.
    * ``max_tokens`` / ``max_completion_tokens``: cap on new tokens. The server's own cap,
      ``ServeConfig.max_new_tokens`` (``--max-new-tokens``, default the planner's
      :data:`~prism.student.planner.MAX_NEW_TOKENS`, 256), is the default and the most a
      reply ever gets: a smaller ``max_tokens`` is honoured, a larger one is **lowered** to
      the cap, never refused. The teacher's endpoint config asks for 2048
      (``EndpointConfig``'s default) and must work unchanged; and since the in-process planner
      never writes more than its 256 tokens, a larger cap would be one more way for the served
      turns to differ. Not a positive integer: a 400. ``finish_reason`` is ``length`` when the
      cap (or the room left in the context, below) was hit, else ``stop``.
    * ``response_format``: ``{"type": "json_object"}`` or ``{"type": "text"}`` are accepted and
      change nothing: the reply is always SPINE JSON text (a compact-format student's plan is
      turned into a SPINE response by its prompt format), as valid as the student makes it.
      Other types (``json_schema``) are a 400.
    * ``stream: true`` and ``n`` > 1 are a 400 (unsupported). Other OpenAI fields are ignored.

    System messages are **dropped** by default: the student was trained without the teacher's
    system prompt (the LLM teacher always sends it), so the served student sees what the
    in-process one sees. ``ServeConfig.keep_system`` passes them on instead.

    **Context length** (the model's ``config.max_position_embeddings``): a prompt
    (chat-templated, in the student's prompt format: what ``usage.prompt_tokens`` counts) that
    leaves no room for one new token is a 400 with code ``context_length_exceeded`` and a
    message giving the numbers, as OpenAI's. When the prompt plus the cap (``max_tokens``
    once lowered to ``max_new_tokens``) exceeds the context, the cap is lowered to the room
    left, as the in-process planner cuts a turn at the room its prompt leaves
    (``finish_reason`` is then ``length`` if the reply fills it).
    ``ServeConfig.strict_context`` (``prism serve --strict-context``) refuses such a request
    with the same 400 instead, as OpenAI does for an explicit ``max_tokens``; a request
    naming no ``max_tokens`` is still lowered to fit, and lowering a ``max_tokens`` to
    ``max_new_tokens`` is never a refusal, strict or not.

    The answer has OpenAI's shape; ``usage`` counts, with the student's tokenizer, the tokens
    the model actually read (its chat-templated prompt in its own prompt format) and wrote
    (new tokens, the end-of-sequence token included). ``finish_reason`` is ``length`` when the
    cap was hit, else ``stop``.

``GET /v1/models``, ``GET /v1/models/{id}``, ``GET /health``.

Errors are OpenAI error objects ``{"error": {"message", "type", "param", "code"}}``: 400 for
malformed JSON and invalid fields (where FastAPI would say 422), 404 for an unknown model or
path, 405 for a wrong method, 500 (server still up) if generation itself fails.

Generation is serialized: one model, one lock; the handlers wait for it in worker threads so
``/health`` and ``/v1/models`` answer while a reply is being generated.

:func:`serve` (``prism serve``) checks before loading anything that the directory is a saved
student and, for a LoRA adapter, that the base model its ``adapter_config.json`` names is
there (:func:`check_model_dir`), then binds the port (in use: :class:`ServeError`), then loads
the model. SIGINT or SIGTERM shut the server down gracefully and :func:`serve` returns
normally (``prism serve`` exits 0).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from prism.datasets.hf_model import MODEL_MARKER, adapter_problem
from prism.student.generation import context_length, prompt_ids
from prism.student.planner import MAX_NEW_TOKENS, StudentPlanner
from prism.values import is_finite_number, is_int

logger = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ServeConfig:
    """Settings of one server.

    The defaults make the server a drop-in for the in-process
    :class:`~prism.student.planner.StudentPlanner` with its defaults: greedy decoding and at
    most :data:`~prism.student.planner.MAX_NEW_TOKENS` new tokens per reply, whatever the
    request asks (see the module docstring).

    Attributes:
        model_name: The id clients must send as ``model`` (default: the directory's name).
        max_new_tokens: Most new tokens in one reply, the planner's ``max_new_tokens``: the cap
            when a request names none, and what a larger ``max_tokens`` is lowered to (never a
            400). Serve with the value the in-process planner uses to get its turns.
        sampling: Honour the request's ``temperature``, ``top_p`` and ``seed`` (``prism serve
            --sample``). Off by default: decoding is greedy whatever they say, as in process.
        keep_system: Pass system messages to the student instead of dropping them.
        strict_context: Refuse (400 ``context_length_exceeded``, as OpenAI does) a request whose
            prompt plus explicit ``max_tokens`` (once lowered to ``max_new_tokens``) exceeds
            the model's context. Off by default: the cap is then lowered to the room left, as
            the in-process planner does.
    """

    model_name: str | None = None
    max_new_tokens: int = MAX_NEW_TOKENS
    sampling: bool = False
    keep_system: bool = False
    strict_context: bool = False

    def __post_init__(self) -> None:
        if not is_int(self.max_new_tokens) or self.max_new_tokens < 1:
            raise ValueError(
                f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}"
            )


class ServeError(Exception):
    """A student that cannot be served, or a port that cannot be used: the message says why."""


def check_model_dir(model_dir: str | Path) -> Path:
    """Check, without loading anything, that ``model_dir`` is a student that can be loaded here.

    A LoRA adapter must find its base: a local ``base_model_name_or_path`` (in
    ``adapter_config.json``) that does not exist, typically because the run directory was
    copied to another machine, is refused with what to do. A hub id is not checked here.

    Raises:
        ServeError: naming the directory (and the missing base) and the fix.
    """
    path = Path(model_dir)
    if not path.exists():
        raise ServeError(f"{path}: no such directory; --model must be a saved student directory")
    if not path.is_dir():
        raise ServeError(f"{path}: not a directory; --model must be a saved student directory")
    marker = path / MODEL_MARKER
    if not marker.is_file():
        raise ServeError(
            f"{path}: not a saved student (no {MODEL_MARKER} in it); point --model at a model "
            "directory written by training, e.g. data/06_models/student or "
            "output/iterative_training/best_model"
        )
    try:
        metadata = json.loads(marker.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ServeError(
            f"{marker}: not valid JSON ({exc}); the model was not saved completely"
        ) from None
    problem = adapter_problem(path, metadata)
    if problem:
        raise ServeError(problem)
    return path


class RequestError(Exception):
    """A request the server refuses; becomes an OpenAI error object."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.param, self.code, self.type = (
            message,
            status,
            param,
            code,
            type_,
        )

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True)
class Completion:
    """One generated reply with what it cost."""

    content: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class ContextLengthError(RequestError):
    """The prompt and the completion asked for do not fit in the model's context (OpenAI's 400)."""

    def __init__(self, context: int, prompt_tokens: int, max_tokens: int | None) -> None:
        if max_tokens is None:
            message = (
                f"This model's maximum context length is {context} tokens. However, your "
                f"messages resulted in {prompt_tokens} tokens, which leaves no room for a "
                "completion. Please reduce the length of the messages."
            )
        else:
            message = (
                f"This model's maximum context length is {context} tokens. However, you "
                f"requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the "
                f"messages, {max_tokens} in the completion). Please reduce the length of the "
                "messages or completion."
            )
        super().__init__(message, param="messages", code="context_length_exceeded")


class StudentEngine:
    """A loaded :class:`StudentPlanner` generating one reply at a time (thread-safe).

    Greedy replies are, token for token, what ``planner.respond(messages)`` returns: same
    prompt format, same chat template, same ``generate`` call for a batch of one.

    Attributes:
        context_length: the model's context (prompt + reply tokens), ``None`` if its config
            does not say; requests that do not fit are refused (:class:`ContextLengthError`).
    """

    def __init__(self, planner: StudentPlanner) -> None:
        self.planner = planner
        self.lock = threading.Lock()
        self.context_length = context_length(planner.model)
        planner.model.eval()

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> StudentEngine:
        return cls(StudentPlanner.from_pretrained(model_dir))

    def _prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """The model's input for ``messages``: its format, its chat template, its tokenizer."""
        return prompt_ids(self.planner.tokenizer, self.planner.prompt_format.encode(messages))

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """How many tokens the model reads for ``messages`` (``usage.prompt_tokens``)."""
        with self.lock:
            return len(self._prompt(messages))

    def fit(self, prompt_tokens: int, max_tokens: int, *, clip: bool) -> int:
        """The cap on new tokens for this prompt: ``max_tokens``, or the room left if ``clip``.

        Raises:
            ContextLengthError: prompt + ``max_tokens`` exceed the context (and not ``clip``),
                or the prompt leaves no room for even one token.
        """
        context = self.context_length
        if context is None or prompt_tokens + max_tokens <= context:
            return max_tokens
        room = context - prompt_tokens
        if room < 1:
            raise ContextLengthError(context, prompt_tokens, None if clip else max_tokens)
        if not clip:
            raise ContextLengthError(context, prompt_tokens, max_tokens)
        return room

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        clip_to_context: bool = False,
    ) -> Completion:
        """The student's reply to ``messages`` (SPINE form, ``role`` + ``content``).

        Args:
            max_tokens: cap on new tokens; a prompt + ``max_tokens`` over the context is a
                :class:`ContextLengthError`, unless ``clip_to_context`` lowers the cap to the
                room left.
        """
        import torch

        planner = self.planner
        model, tokenizer, fmt = planner.model, planner.tokenizer, planner.prompt_format
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": float(temperature), "top_p": top_p}
        # The tokenizer is in the lock too: a fast tokenizer is not safe to share across threads.
        with self.lock, torch.no_grad():
            prompt = self._prompt(messages)
            prompt_tokens = len(prompt)
            max_tokens = self.fit(prompt_tokens, max_tokens, clip=clip_to_context)
            input_ids = torch.tensor([prompt], device=model.device)
            if temperature > 0 and seed is not None:
                torch.manual_seed(seed)
            output = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=max_tokens,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                use_cache=True,  # as prism.student.generation: a Trainer may have saved it off
                **sampling,
            )
        new = output[0, prompt_tokens:].tolist()
        stopped = bool(new) and new[-1] == tokenizer.eos_token_id
        reply = tokenizer.decode(new, skip_special_tokens=True).strip()
        return Completion(
            content=fmt.decode(reply, messages),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(new),
            finish_reason="stop" if stopped or len(new) < max_tokens else "length",
        )


# ----------------------------------------------------------------------------- validation


def _content(message: dict[str, Any], i: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content
    ):
        return "".join(p["text"] for p in content)
    raise RequestError(
        f"messages[{i}].content must be a string (or a list of text parts), got "
        f"{type(content).__name__}",
        param=f"messages.[{i}].content",
        code="invalid_type",
    )


def parse_request(body: Any, model_name: str, config: ServeConfig) -> dict[str, Any]:
    """Validate a chat-completions body; the arguments of :meth:`StudentEngine.complete`."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object", code="invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(
            "you must provide a model parameter (a string)", param="model", code="invalid_type"
        )
    if model != model_name:
        raise RequestError(
            f"the model {model!r} does not exist; this server serves {model_name!r}",
            status=404,
            param="model",
            code="model_not_found",
        )
    if body.get("stream"):
        raise RequestError(
            "stream=true is not supported by this server", param="stream", code="unsupported"
        )
    n = body.get("n")
    if n is not None and n != 1:
        raise RequestError("only n=1 is supported", param="n", code="unsupported")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise RequestError(
            "messages must be a list of {role, content} objects",
            param="messages",
            code="invalid_type",
        )
    if not messages:
        raise RequestError("messages must not be empty", param="messages", code="empty_array")
    chat = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestError(
                f"messages[{i}] must be an object", param=f"messages.[{i}]", code="invalid_type"
            )
        role = message.get("role")
        if role not in ROLES:
            raise RequestError(
                f"messages[{i}].role must be one of {', '.join(ROLES)}, got {role!r}",
                param=f"messages.[{i}].role",
                code="invalid_value",
            )
        chat.append({"role": role, "content": _content(message, i)})
    if not config.keep_system:
        chat = [m for m in chat if m["role"] != "system"]
    if not chat:
        raise RequestError(
            "messages hold only system messages; the student needs a user message",
            param="messages",
            code="invalid_value",
        )

    temperature = body.get("temperature", 0.0)
    temperature = 0.0 if temperature is None else temperature
    if not is_finite_number(temperature) or not 0 <= temperature <= 2:
        raise RequestError(
            f"temperature must be a number in [0, 2], got {temperature!r}",
            param="temperature",
            code="invalid_value",
        )
    top_p = body.get("top_p", 1.0)
    top_p = 1.0 if top_p is None else top_p
    if not is_finite_number(top_p) or not 0 < top_p <= 1:
        raise RequestError(
            f"top_p must be a number in (0, 1], got {top_p!r}",
            param="top_p",
            code="invalid_value",
        )
    seed = body.get("seed")
    if seed is not None and not is_int(seed):
        raise RequestError(
            f"seed must be an integer, got {seed!r}", param="seed", code="invalid_type"
        )
    if not config.sampling:  # the in-process planner's greedy decoding, whatever was asked
        temperature, top_p, seed = 0.0, 1.0, None
    param = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    requested = body.get(param)
    if requested is not None and (not is_int(requested) or requested < 1):
        raise RequestError(
            f"{param} must be a positive integer, got {requested!r}",
            param=param,
            code="invalid_value",
        )
    # At most the planner's cap; a larger request is lowered, not refused (a SPINE client set
    # up for a large teacher asks for 2048).
    cap = config.max_new_tokens
    max_tokens = cap if requested is None else min(requested, cap)
    # a default cap is always lowered to fit the context; an explicit one unless strict
    clip_to_context = requested is None or not config.strict_context
    response_format = body.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, dict)
        or response_format.get("type") not in ("text", "json_object")
    ):
        raise RequestError(
            "response_format must be {'type': 'json_object'} or {'type': 'text'} (the reply is "
            "always SPINE JSON)",
            param="response_format",
            code="invalid_value",
        )
    return {
        "messages": chat,
        "max_tokens": max_tokens,
        "temperature": float(temperature),
        "top_p": float(top_p),
        "seed": seed,
        "clip_to_context": clip_to_context,
    }


# ------------------------------------------------------------------------------------ app
def create_app(
    model_dir: str | Path | None = None,
    config: ServeConfig | None = None,
    *,
    engine: StudentEngine | None = None,
) -> FastAPI:
    """The FastAPI app serving the student saved in ``model_dir`` (loaded once, here).

    Args:
        model_dir: a saved student (``StudentPlanner.from_pretrained`` reads it), checked
            first by :func:`check_model_dir` (:class:`ServeError`).
        config: name, decoding, token cap, system messages, context policy
            (:class:`ServeConfig`).
        engine: an already loaded engine instead of ``model_dir`` (tests, benchmarks).
    """
    config = config or ServeConfig()
    if engine is None:
        if model_dir is None:
            raise ValueError("create_app needs a model_dir or an engine")
        engine = StudentEngine.from_pretrained(check_model_dir(model_dir))
    # abspath, not resolve: a link (output/iterative_training/best_model) keeps its own name
    name = config.model_name or (Path(os.path.abspath(model_dir)).name if model_dir else "student")
    created = int(time.time())
    app = FastAPI(title="prism student", docs_url=None, redoc_url=None)
    app.state.engine, app.state.model_name, app.state.config = engine, name, config

    def error(exc: RequestError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestError)
    async def _request_error(_request: Request, exc: RequestError) -> JSONResponse:
        return error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(RequestError(f"invalid request: {exc.errors()}", code="invalid_value"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return error(
            RequestError(
                str(exc.detail),
                status=exc.status_code,
                type_=kind,
                code="not_found" if exc.status_code == 404 else None,
            )
        )

    @app.exception_handler(Exception)
    async def _server_error(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("generation failed")
        return error(
            RequestError(
                f"internal error: {type(exc).__name__}: {exc}",
                status=500,
                type_="server_error",
                code="internal_error",
            )
        )

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": name}

    def model_card() -> dict[str, Any]:
        return {"id": name, "object": "model", "created": created, "owned_by": "prism"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str) -> dict[str, Any]:
        if model_id != name:
            raise RequestError(
                f"the model {model_id!r} does not exist",
                status=404,
                param="model",
                code="model_not_found",
            )
        return model_card()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(
                f"the request body is not valid JSON: {exc}", code="invalid_json"
            ) from None
        arguments = parse_request(body, name, config)
        completion = await run_in_threadpool(engine.complete, **arguments)
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": name,
                "system_fingerprint": None,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": completion.content},
                        "logprobs": None,
                        "finish_reason": completion.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                    "total_tokens": completion.prompt_tokens + completion.completion_tokens,
                },
            }
        )

    return app


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (as uvicorn binds it), or a :class:`ServeError` saying why not.

    Bound before the model loads, so a port in use fails at once, and handed to uvicorn, so
    nothing can take the port in between.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = (
                "the port is already in use (another server, maybe an earlier `prism serve`, "
                "listens there); stop it or choose another --port"
            )
        else:
            reason = exc.strerror or str(exc)
        raise ServeError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def serve(
    model_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: ServeConfig | None = None,
) -> None:
    """Load the student and serve it until SIGINT or SIGTERM (``prism serve``).

    Checks the directory (:func:`check_model_dir`) and binds the port before loading the
    model; either failing is a :class:`ServeError`. A signal shuts the server down gracefully
    (requests in flight are answered) and this returns normally; port 0 picks a free port (the
    log says which).
    """
    import uvicorn

    check_model_dir(model_dir)
    sock = bind(host, port)
    try:
        app = create_app(model_dir, config)
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, workers=1, log_level="info")
        )
        config = app.state.config
        logger.info(
            "serving %s as %r on http://%s:%d/v1; %s, at most %d new tokens per reply",
            model_dir,
            app.state.model_name,
            host,
            sock.getsockname()[1],
            "sampling as requested (temperature, top_p, seed)"
            if config.sampling
            else "greedy as in process (a request's temperature, top_p, seed are ignored)",
            config.max_new_tokens,
        )
        _run_until_signal(server, sock)
    finally:
        sock.close()


def _run_until_signal(server: Any, sock: socket.socket) -> None:
    """``server.run``, where the signal that stops it ends the command normally (exit code 0).

    After a graceful shutdown uvicorn re-raises the signal it caught to the handlers that were
    there before it (the defaults: KeyboardInterrupt, or death by SIGTERM); the handlers set
    here only note it.
    """
    if threading.current_thread() is not threading.main_thread():
        server.run(sockets=[sock])
        return
    caught: list[int] = []

    def note(signum: int, _frame: Any) -> None:
        caught.append(signum)

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, note) for sig in handled}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        logger.info("stopped by %s", signal.Signals(caught[0]).name)
