"""The FastAPI app: a saved student behind ``/v1/chat/completions``, ``/v1/models``, ``/health``.

API (what an OpenAI client, :class:`prism.endpoint.ChatClient` and the LLM teacher send):

``POST /v1/chat/completions``
    ``model`` (must be the served name, else 404 ``model_not_found``), ``messages``
    (non-empty list of ``{"role": "system"|"user"|"assistant", "content": str}``; content may
    also be a list of ``{"type": "text", "text": ...}`` parts), optional:

    * ``temperature`` (0..2, default 0): **0 is greedy decoding**, exactly what the in-process
      :class:`~prism.student.planner.StudentPlanner` does; > 0 samples with that temperature
      (and ``top_p``), reproducibly when the request carries a ``seed``. Set
      ``temperature: 0`` in the teacher's endpoint config to get the in-process student's turns.
    * ``max_tokens`` / ``max_completion_tokens``: cap on new tokens (default
      ``ServeConfig.default_max_tokens``, the planner's 256); above
      ``ServeConfig.max_tokens_limit`` is a 400.
    * ``response_format``: ``{"type": "json_object"}`` or ``{"type": "text"}`` are accepted and
      change nothing: the reply is always SPINE JSON text (a compact-format student's plan is
      turned into a SPINE response by its prompt format), as valid as the student makes it.
      Other types (``json_schema``) are a 400.
    * ``stream: true`` and ``n`` > 1 are a 400 (unsupported). Other OpenAI fields are ignored.

    System messages are **dropped** by default: the student was trained without the teacher's
    system prompt (the LLM teacher always sends it), so the served student sees what the
    in-process one sees. ``ServeConfig.keep_system`` passes them on instead.

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
"""

from __future__ import annotations

import json
import logging
import math
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

from prism.student.planner import MAX_NEW_TOKENS, StudentPlanner

logger = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ServeConfig:
    """Settings of one server.

    Attributes:
        model_name: The id clients must send as ``model`` (default: the directory's name).
        max_tokens_limit: Largest ``max_tokens`` accepted (2048 = ``EndpointConfig``'s default,
            so a teacher config pointed here works unchanged).
        default_max_tokens: Cap when a request names none (the planner's 256).
        keep_system: Pass system messages to the student instead of dropping them.
    """

    model_name: str | None = None
    max_tokens_limit: int = 2048
    default_max_tokens: int = MAX_NEW_TOKENS
    keep_system: bool = False


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


class StudentEngine:
    """A loaded :class:`StudentPlanner` generating one reply at a time (thread-safe).

    Greedy replies are, token for token, what ``planner.respond(messages)`` returns: same
    prompt format, same chat template, same ``generate`` call for a batch of one.
    """

    def __init__(self, planner: StudentPlanner) -> None:
        self.planner = planner
        self.lock = threading.Lock()
        planner.model.eval()

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> StudentEngine:
        return cls(StudentPlanner.from_pretrained(model_dir))

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> Completion:
        import torch

        planner = self.planner
        model, tokenizer, fmt = planner.model, planner.tokenizer, planner.prompt_format
        encoded = fmt.encode(messages)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": float(temperature), "top_p": top_p}
        # The tokenizer is in the lock too: a fast tokenizer is not safe to share across threads.
        with self.lock, torch.no_grad():
            text = tokenizer.apply_chat_template(
                encoded, tokenize=False, add_generation_prompt=True
            )
            batch = tokenizer([text], return_tensors="pt", padding=True, add_special_tokens=False)
            batch = batch.to(model.device)
            if temperature > 0 and seed is not None:
                torch.manual_seed(seed)
            output = model.generate(
                **batch,
                max_new_tokens=max_tokens,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                use_cache=True,  # as prism.student.generation: a Trainer may have saved it off
                **sampling,
            )
        prompt_tokens = int(batch["input_ids"].shape[1])
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
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    if not _is_number(temperature) or not 0 <= temperature <= 2:
        raise RequestError(
            f"temperature must be a number in [0, 2], got {temperature!r}",
            param="temperature",
            code="invalid_value",
        )
    top_p = body.get("top_p", 1.0)
    top_p = 1.0 if top_p is None else top_p
    if not _is_number(top_p) or not 0 < top_p <= 1:
        raise RequestError(
            f"top_p must be a number in (0, 1], got {top_p!r}",
            param="top_p",
            code="invalid_value",
        )
    seed = body.get("seed")
    if seed is not None and not _is_int(seed):
        raise RequestError(
            f"seed must be an integer, got {seed!r}", param="seed", code="invalid_type"
        )
    param = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    max_tokens = body.get(param)
    if max_tokens is None:
        max_tokens = config.default_max_tokens
    if not _is_int(max_tokens) or max_tokens < 1:
        raise RequestError(
            f"{param} must be a positive integer, got {max_tokens!r}",
            param=param,
            code="invalid_value",
        )
    if max_tokens > config.max_tokens_limit:
        raise RequestError(
            f"{param} is too large: {max_tokens}; this server allows at most "
            f"{config.max_tokens_limit} new tokens",
            param=param,
            code="invalid_value",
        )
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
        model_dir: a saved student (``StudentPlanner.from_pretrained`` reads it).
        config: names, token limits, system messages (:class:`ServeConfig`).
        engine: an already loaded engine instead of ``model_dir`` (tests, benchmarks).
    """
    config = config or ServeConfig()
    if engine is None:
        if model_dir is None:
            raise ValueError("create_app needs a model_dir or an engine")
        engine = StudentEngine.from_pretrained(model_dir)
    name = config.model_name or (Path(model_dir).resolve().name if model_dir else "student")
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


def serve(
    model_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: ServeConfig | None = None,
) -> None:
    """Load the student and serve it until interrupted (``prism serve``)."""
    import uvicorn

    app = create_app(model_dir, config)
    logger.info("serving %s as %r on http://%s:%d/v1", model_dir, app.state.model_name, host, port)
    uvicorn.run(app, host=host, port=port, workers=1, log_level="info")
