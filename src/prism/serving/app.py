"""The FastAPI app: a saved student behind ``/v1/chat/completions``, ``/v1/models``, ``/health``.

The routes only wire the protocol (:mod:`prism.serving.protocol`: what a request may hold, the
replies, the errors) to the engine (:mod:`prism.serving.engine`). Every error, FastAPI's and
Starlette's included, is answered as an OpenAI error object. The engine generates one reply at
a time; the handlers wait for it in worker threads, so ``/health`` and ``/v1/models`` answer
while a reply is being generated.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from prism.serving.config import ServeConfig
from prism.serving.engine import StudentEngine, check_model_dir
from prism.serving.protocol import (
    RequestError,
    chat_completion,
    decode_json,
    http_error,
    internal_error,
    model_card,
    model_list,
    parse_request,
)

logger = logging.getLogger(__name__)


def create_app(
    model_dir: str | Path | None = None,
    config: ServeConfig | None = None,
    *,
    engine: StudentEngine | None = None,
) -> FastAPI:
    """The FastAPI app serving the student saved in ``model_dir`` (loaded once, here).

    Args:
        model_dir: a saved student (``StudentPlanner.from_pretrained`` reads it), checked
            first by :func:`~prism.serving.engine.check_model_dir`
            (:class:`~prism.serving.config.ServeError`).
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
        return error(http_error(exc.status_code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _server_error(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("generation failed")
        return error(internal_error(exc))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": name}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return model_list(name, created)

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str) -> dict[str, Any]:
        if model_id != name:
            raise RequestError(
                f"the model {model_id!r} does not exist",
                status=404,
                param="model",
                code="model_not_found",
            )
        return model_card(name, created)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> JSONResponse:
        arguments = parse_request(decode_json(await request.body()), name, config)
        completion = await run_in_threadpool(engine.complete, **arguments)
        return JSONResponse(
            chat_completion(
                name,
                content=completion.content,
                finish_reason=completion.finish_reason,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
            )
        )

    return app
