"""The OpenAI chat-completions protocol as the student server speaks it: what a request may
hold (:func:`parse_request`), what a reply and a model listing look like, and the OpenAI error
objects (:class:`RequestError`) a refused request gets.

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
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from prism.serving.config import ServeConfig
from prism.values import is_finite_number, is_int

#: The message roles a request may hold.
ROLES = ("system", "user", "assistant")


# ---------------------------------------------------------------------------------- errors
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
        """The OpenAI error object: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


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


def http_error(status: int, detail: str) -> RequestError:
    """The OpenAI error for an HTTP error of the routing itself (unknown path, wrong method)."""
    return RequestError(
        detail,
        status=status,
        type_="not_found_error" if status == 404 else "invalid_request_error",
        code="not_found" if status == 404 else None,
    )


def internal_error(exc: Exception) -> RequestError:
    """The OpenAI error (500, ``server_error``) for a reply whose generation failed."""
    return RequestError(
        f"internal error: {type(exc).__name__}: {exc}",
        status=500,
        type_="server_error",
        code="internal_error",
    )


# -------------------------------------------------------------------------------- requests
def decode_json(raw: bytes) -> Any:
    """The JSON a request body holds, or a 400 ``invalid_json``."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(
            f"the request body is not valid JSON: {exc}", code="invalid_json"
        ) from None


def _content(message: dict[str, Any], i: int) -> str:
    """The text of ``messages[i]``: a string, or its text parts joined."""
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
    """Validate a chat-completions body; the arguments of
    :meth:`~prism.serving.engine.StudentEngine.complete`."""
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


# ------------------------------------------------------------------------------- responses
def chat_completion(
    model: str,
    *,
    content: str,
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> dict[str, Any]:
    """The body of a ``chat.completion`` holding one assistant reply and its ``usage``."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def model_card(model: str, created: int) -> dict[str, Any]:
    """The ``model`` object ``GET /v1/models/{id}`` answers (``created``: a Unix time)."""
    return {"id": model, "object": "model", "created": created, "owned_by": "prism"}


def model_list(model: str, created: int) -> dict[str, Any]:
    """The ``list`` ``GET /v1/models`` answers: the one served model."""
    return {"object": "list", "data": [model_card(model, created)]}
