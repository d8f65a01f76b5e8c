"""A chat-completions client for OpenAI-compatible endpoints, shared by the LLM teacher and
the LLM scene generator.

It wraps the ``openai`` SDK with the SDK's own retries switched off, and adds what a long
distillation job needs on top:

* visible, configurable retries with exponential backoff and jitter on 429, 5xx, timeouts and
  connection errors, honouring ``Retry-After`` up to ``max_backoff_s``
  (:mod:`prism.endpoint.retry`);
* no retry on client errors (400/401/403/404...), which raise :class:`EndpointError` with the
  server's message and what to check (:mod:`prism.endpoint.failures`);
* an on-disk :class:`~prism.endpoint.cache.CallCache`, so a rerun never pays twice;
* a bound on requests in flight, so callers can use a thread pool of any size;
* graceful degradation for servers that reject ``response_format`` or ``max_tokens``.

What it returns, :class:`~prism.endpoint.results.ChatResult` and
:class:`~prism.endpoint.results.ClientStats`, is in :mod:`prism.endpoint.results`.

Typical use from a node (rollouts in a thread pool)::

    config = EndpointConfig.from_params(params["teacher"]["endpoint"], credentials)
    with ChatClient(config, CallCache("data/cache/teacher")) as client:
        client.check_reachable()  # fail fast before hours of work
        with ThreadPoolExecutor(max_workers=32) as pool:
            replies = list(pool.map(client.complete, conversations))
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, TypeVar

import openai
from openai.types.chat import ChatCompletion

from prism.endpoint.cache import CallCache, request_key
from prism.endpoint.config import CREDENTIALS_FILE, EndpointConfig
from prism.endpoint.errors import EndpointError
from prism.endpoint.failures import client_error, describe_failure, exhausted_error, server_message
from prism.endpoint.results import ChatResult, ClientStats, entry_from_completion, result_from_entry
from prism.endpoint.retry import RETRYABLE_STATUS, backoff_delay, retry_after_seconds

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses with which servers refuse an unsupported request parameter.
_PARAMETER_REJECTED_STATUS = frozenset({400, 422})


class ChatClient:
    """Thread-safe chat-completions client for one :class:`EndpointConfig`.

    Args:
        config: Endpoint, model, key, retry, concurrency and sampling settings. ``api_key``
            must be resolved (use :meth:`EndpointConfig.from_params`).
        cache: Where replies are stored and looked up; ``None`` disables caching.

    Raises:
        EndpointError: if ``config.api_key`` is not set.
    """

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any],
        credentials: Mapping[str, Any] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> ChatClient:
        """A client from an ``endpoint`` parameters block, Kedro's credentials and an optional
        cache folder (see :meth:`EndpointConfig.from_params` for how the key is found)."""
        config = EndpointConfig.from_params(params, credentials)
        return cls(config, CallCache(cache_dir) if cache_dir is not None else None)

    def __init__(self, config: EndpointConfig, cache: CallCache | None = None) -> None:
        if config.api_key is None:
            raise EndpointError(
                f"EndpointConfig for {config.url} has no api_key: build it with "
                f"EndpointConfig.from_params(params, credentials), which reads {CREDENTIALS_FILE} "
                f"entry {config.credentials!r} or ${config.api_key_env}"
            )
        self.config = config
        self.cache = cache
        # SDK retries off: ours are logged, configurable, and sleep outside the slot below.
        self._openai = openai.OpenAI(
            base_url=config.url,
            api_key=config.api_key,
            timeout=config.timeout_s,
            max_retries=0,
        )
        # Bounds requests in flight, not callers: a thread waiting out a backoff holds no slot.
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._rng = random.Random()
        self._lock = threading.Lock()  # guards the adaptation flags and the counters below
        self._send_response_format = config.json_mode
        self._max_tokens_param = "max_tokens"
        self._stats = ClientStats()
        # key -> (lock, number of callers using it); see _single_flight.
        self._pending: dict[str, tuple[threading.Lock, int]] = {}

    def __repr__(self) -> str:
        return f"ChatClient({self.config.url!r}, model={self.config.model!r}, cache={self.cache!r})"

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._openai.close()

    def stats(self) -> ClientStats:
        """Return a snapshot of this client's counters."""
        with self._lock:
            return self._stats

    # --------------------------------------------------------------------------------- calls

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float | None = None,
        seed: int | None = None,
        request_tag: str = "",
    ) -> ChatResult:
        """Return the assistant's reply to ``messages``, from the cache or the endpoint.

        Args:
            messages: OpenAI chat messages, ``[{"role": "system"|"user"|"assistant",
                "content": "..."}, ...]``.
            temperature: Overrides ``config.temperature`` for this call.
            seed: Overrides ``config.seed`` for this call. The cache returns the same reply
                for the same request, so pass a different seed to draw another sample for the
                same messages (e.g. the rollout index).
            request_tag: Free text naming the call in logs and errors (e.g.
                ``"episode_2/task_17/turn_3"``); not part of the cache key.

        With a cache, identical requests made at the same time are sent once and the others
        wait for that reply, so "same request, same reply" holds within a run as it does
        across reruns.

        Raises:
            EndpointError: on a client error (400/401/403/404...), after exhausting retries,
                or when the reply is not a chat completion (no ``choices``).
            ValueError: if ``messages`` is not a non-empty list of role/content mappings, or
                ``temperature``/``seed`` are out of range.
        """
        _check_messages(messages)
        _check_overrides(temperature, seed)
        request = {
            "base_url": self.config.url,
            "model": self.config.model,
            "messages": [dict(message) for message in messages],
            "temperature": self.config.temperature if temperature is None else temperature,
            "max_tokens": self.config.max_tokens,
            "json_mode": self.config.json_mode,
            "seed": self.config.seed if seed is None else seed,
        }
        key = request_key(request)
        tag = f" [{request_tag}]" if request_tag else ""
        if self.cache is None:
            return self._fetch(request, key, tag)
        with self._single_flight(key):
            entry = self.cache.get(key)
            if entry is not None:
                self._count(calls=1, cache_hits=1)
                return result_from_entry(entry, key)
            return self._fetch(request, key, tag)

    def check_reachable(self) -> list[str]:
        """Fail fast, before a long job, if the endpoint cannot serve ``config.model``.

        Lists the server's models (``GET /models``, free); when that is not available or does
        not include the model, sends a one-token completion, which fails with the server's
        own explanation if the key, the model name or ``base_url`` is wrong.

        Returns:
            The model ids the server lists (empty when it does not list them).

        Raises:
            EndpointError: naming the URL and what to check.
        """
        model_ids = self._list_models()
        if self.config.model not in model_ids:
            if model_ids:
                logger.warning(
                    "model %r is not among the %d models %s lists (%s); probing it directly",
                    self.config.model,
                    len(model_ids),
                    self.config.url,
                    ", ".join(model_ids[:10]),
                )
            probe = {
                "model": self.config.model,
                "messages": [{"role": "user", "content": "Reply with OK."}],
                "temperature": 0.0,
                "max_tokens": 1,
                "json_mode": False,
                "seed": None,
            }
            completion, _ = self._with_retries(lambda: self._create(probe), tag=" [probe]")
            entry_from_completion(completion, probe, self.config, " [probe]")
        return model_ids

    # ------------------------------------------------------------------------------ internals

    def _fetch(self, request: Mapping[str, Any], key: str, tag: str) -> ChatResult:
        """Ask the endpoint (with retries), count the cost, and store the reply."""
        completion, attempts = self._with_retries(lambda: self._create(request), tag=tag)
        entry = entry_from_completion(completion, request, self.config, tag)
        usage = entry["usage"] or {}
        self._count(
            calls=1,
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
        )
        if self.cache is not None:
            self.cache.put(key, entry)
        return result_from_entry(entry, key, attempts=attempts)

    @contextmanager
    def _single_flight(self, key: str) -> Iterator[None]:
        """Hold a lock private to ``key`` while the caller checks the cache and fetches.

        The lock is dropped when its last user leaves, so the table only holds requests in
        progress, not every request ever made.
        """
        with self._lock:
            lock, users = self._pending.get(key, (threading.Lock(), 0))
            self._pending[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._pending[key]
                if users == 1:
                    del self._pending[key]
                else:
                    self._pending[key] = (lock, users - 1)

    def _list_models(self) -> list[str]:
        """Model ids from ``GET /models``; empty when the server does not list them."""
        try:
            # Raw: the SDK's parsed page breaks on a non-JSON body (a web UI at base_url).
            response, _ = self._with_retries(
                self._openai.models.with_raw_response.list, tag=" [GET /models]"
            )
        except EndpointError as exc:
            if exc.status_code in (401, 403) or exc.status_code is None:
                raise  # a bad key or no server: a completion would fail the same way
            logger.info("%s does not list models (%s); probing with a completion", self, exc)
            return []
        try:
            body = json.loads(response.text)
        except json.JSONDecodeError:
            logger.info("GET %s/models is not JSON; probing with a completion", self.config.url)
            return []
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            return []
        return [str(model["id"]) for model in data if isinstance(model, dict) and "id" in model]

    def _create(self, request: Mapping[str, Any]) -> ChatCompletion | str:
        """Send one chat-completions request, adapted to what this server accepts."""
        kwargs: dict[str, Any] = {
            "model": request["model"],
            "messages": request["messages"],
            "temperature": request["temperature"],
        }
        with self._lock:
            kwargs[self._max_tokens_param] = request["max_tokens"]
            if request["json_mode"] and self._send_response_format:
                kwargs["response_format"] = {"type": "json_object"}
        if request["seed"] is not None:
            kwargs["seed"] = request["seed"]
        # The SDK returns the body as a str when the server does not answer JSON.
        return self._openai.chat.completions.create(**kwargs)

    def _with_retries(self, send: Callable[[], T], *, tag: str) -> tuple[T, int]:
        """Call ``send`` until it succeeds; return its result and the attempts it took."""
        attempts = 0
        retries = 0
        adapted: set[str] = set()
        while True:
            attempts += 1
            self._count(http_requests=1)
            try:
                with self._slots:
                    return send(), attempts
            except openai.APIStatusError as exc:
                if self._adapt_to_rejection(exc, adapted):
                    continue  # resend at once without the rejected parameter
                if exc.status_code not in RETRYABLE_STATUS:
                    raise client_error(exc, self.config, tag) from exc
                failure: openai.APIError = exc
            except openai.APIConnectionError as exc:  # includes APITimeoutError
                failure = exc
            except json.JSONDecodeError as exc:
                # The SDK parses a body labelled application/json and lets a broken one escape.
                raise EndpointError(
                    f"{self.config.url}{tag} answered with a body labelled JSON that is not "
                    f"JSON ({exc}); is base_url the /v1 root of an OpenAI-compatible server?"
                ) from exc

            if retries >= self.config.max_retries:
                raise exhausted_error(failure, self.config, attempts, tag) from failure
            retries += 1
            delay = self._retry_delay(retries, failure)
            logger.warning(
                "%s%s: %s; retry %d/%d in %.2fs",
                self.config.url,
                tag,
                describe_failure(failure),
                retries,
                self.config.max_retries,
                delay,
            )
            self._count(retries=1)
            time.sleep(delay)

    def _retry_delay(self, retry: int, failure: openai.APIError) -> float:
        """Seconds to wait before retry number ``retry`` (1-based) after ``failure``."""
        retry_after = (
            retry_after_seconds(failure.response.headers)
            if isinstance(failure, openai.APIStatusError)
            else None
        )
        return backoff_delay(
            retry,
            backoff_s=self.config.backoff_s,
            max_backoff_s=self.config.max_backoff_s,
            retry_after_s=retry_after,
            rng=self._rng,
        )

    def _adapt_to_rejection(self, exc: openai.APIStatusError, adapted: set[str]) -> bool:
        """Drop a parameter the server refused; return True if the request should be resent.

        Remembered for the client's lifetime, so only the first call pays the extra request.
        Each parameter is adapted at most once per call, so a server that keeps complaining
        cannot loop us.
        """
        if exc.status_code not in _PARAMETER_REJECTED_STATUS:
            return False
        message = server_message(exc).lower()
        if "response_format" in message and "response_format" not in adapted:
            adapted.add("response_format")
            with self._lock:
                if self._send_response_format:
                    self._send_response_format = False
                    logger.warning(
                        "%s rejected response_format (%s); sending requests without JSON mode "
                        "from now on (replies are still validated by the caller)",
                        self.config.url,
                        server_message(exc),
                    )
            return True
        if "max_completion_tokens" in message and "max_tokens" not in adapted:
            # OpenAI's reasoning models refuse max_tokens and name its successor.
            adapted.add("max_tokens")
            with self._lock:
                if self._max_tokens_param == "max_tokens":
                    self._max_tokens_param = "max_completion_tokens"
                    logger.warning(
                        "%s wants max_completion_tokens instead of max_tokens; switching",
                        self.config.url,
                    )
            return True
        return False

    def _count(self, **increments: int) -> None:
        with self._lock:
            current = asdict(self._stats)
            for name, amount in increments.items():
                current[name] += amount
            self._stats = ClientStats(**current)


# ------------------------------------------------------------------------- call arguments


def _check_messages(messages: Sequence[Mapping[str, Any]]) -> None:
    """Reject malformed conversations before they cost a request."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise ValueError(
            "messages must be a non-empty list of {'role': ..., 'content': ...} mappings"
        )
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
            raise ValueError(
                f"messages[{index}] must be a mapping with 'role' and 'content', got {message!r}"
            )


def _check_overrides(temperature: float | None, seed: int | None) -> None:
    """Reject per-call overrides the config itself would not accept."""
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not 0.0 <= temperature <= 2.0
    ):
        raise ValueError(f"temperature must be a number in [0, 2], got {temperature!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
