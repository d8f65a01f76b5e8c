"""Configuration of an OpenAI-compatible chat-completions endpoint.

One :class:`EndpointConfig` describes where the teacher (or the scene generator) sends its
requests and how patiently: the server, the model, the key, retries, concurrency and sampling.
It is built from a parameters block plus Kedro's credentials by
:meth:`EndpointConfig.from_params`, e.g. with ``conf/base/parameters_generation.yml``::

    teacher:
      endpoint:
        base_url: http://localhost:8000/v1   # null = OpenAI
        model: meta-llama/Llama-3.1-70B-Instruct
        credentials: vllm                    # entry name in conf/local/credentials.yml

and ``conf/local/credentials.yml``::

    vllm:
      api_key: EMPTY
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prism.endpoint.errors import EndpointError

logger = logging.getLogger(__name__)

#: Where requests go when ``base_url`` is ``None``. Spelled out (instead of letting the SDK
#: pick it, which also reads ``$OPENAI_BASE_URL``) so messages and cache keys name the real URL.
OPENAI_BASE_URL = "https://api.openai.com/v1"

#: Kedro's default home for secrets; named in messages so users know which file to edit.
CREDENTIALS_FILE = "conf/local/credentials.yml"


@dataclass(frozen=True, kw_only=True)
class EndpointConfig:
    """Where and how to call an OpenAI-compatible chat-completions endpoint.

    Attributes:
        model: Model name as the server knows it (``gpt-4o``, ``llama3.1:70b`` ...).
        base_url: Server root including ``/v1`` (``http://localhost:11434/v1`` for Ollama);
            ``None`` means OpenAI.
        api_key: The resolved key (see :meth:`from_params`). Local servers accept any
            non-empty value such as ``EMPTY``. Never printed in ``repr``.
        credentials: Entry name in ``conf/local/credentials.yml`` holding ``api_key``.
        api_key_env: Environment variable consulted when the credentials entry has no key.
        timeout_s: Seconds to wait for one HTTP answer before the attempt counts as failed.
        max_retries: Retries after the first attempt on 429, 5xx, timeouts and connection
            errors (so at most ``1 + max_retries`` attempts).
        backoff_s: First wait before a retry; doubles per retry, with jitter. A server's
            ``Retry-After`` is honoured when it asks for longer.
        max_backoff_s: Upper bound on any single wait, ``Retry-After`` included, so a server
            asking for an hour cannot stall a job.
        max_concurrency: Requests one client keeps in flight at most, whatever the size of the
            caller's thread pool.
        temperature: Default sampling temperature (a call may override it).
        max_tokens: Upper bound on tokens generated per reply.
        json_mode: Ask for ``response_format={"type": "json_object"}``; dropped automatically
            for servers that reject it.
        seed: Sampling seed passed to the server (best effort on most servers); part of the
            cache key, so a different seed is a different call.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    credentials: str = "openai"
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_concurrency: int = 8
    temperature: float = 0.2
    max_tokens: int = 2048
    json_mode: bool = True
    seed: int | None = None

    def __post_init__(self) -> None:
        _check_text("model", self.model)
        if self.base_url is not None:
            _check_text("base_url", self.base_url)
            if not self.base_url.startswith(("http://", "https://")):
                raise EndpointError(
                    f"endpoint base_url must start with http:// or https://, got "
                    f"{self.base_url!r} (e.g. http://localhost:8000/v1; null for OpenAI)"
                )
        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key):
            raise EndpointError(
                "endpoint api_key must be a non-empty string (local servers accept 'EMPTY')"
            )
        _check_text("credentials", self.credentials)
        _check_text("api_key_env", self.api_key_env)
        _check_number("timeout_s", self.timeout_s, minimum=0.0, inclusive=False)
        _check_int("max_retries", self.max_retries, minimum=0)
        _check_number("backoff_s", self.backoff_s, minimum=0.0)
        _check_number("max_backoff_s", self.max_backoff_s, minimum=0.0)
        _check_int("max_concurrency", self.max_concurrency, minimum=1)
        _check_number("temperature", self.temperature, minimum=0.0, maximum=2.0)
        _check_int("max_tokens", self.max_tokens, minimum=1)
        if not isinstance(self.json_mode, bool):
            raise EndpointError(f"endpoint json_mode must be true or false, got {self.json_mode!r}")
        if self.seed is not None:
            _check_int("seed", self.seed, minimum=None)

    @property
    def url(self) -> str:
        """The server URL requests go to (``base_url``, or OpenAI's when it is ``None``).

        Without a trailing slash, so ``.../v1`` and ``.../v1/`` share cache entries.
        """
        return self.base_url.rstrip("/") if self.base_url is not None else OPENAI_BASE_URL

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any],
        credentials: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> EndpointConfig:
        """Build a config from a parameters block and Kedro's credentials.

        The API key is looked up in this order: ``credentials[<credentials>]["api_key"]``
        (``conf/local/credentials.yml``), then the environment variable ``api_key_env``.

        Args:
            params: The endpoint's parameters (every field but ``api_key``); unknown keys are
                rejected so a typo such as ``max_retry`` does not silently fall back to a
                default.
            credentials: Kedro's credentials mapping (the whole ``credentials.yml``), or
                ``None`` when there is none.
            environ: Environment to read ``api_key_env`` from; ``os.environ`` by default.

        Raises:
            EndpointError: on an unknown or invalid parameter, a key placed in parameters, or
                when no key is found (the message says where it looked and how to add one).
        """
        _reject_unknown_params(params)
        values = dict(params)
        config = cls(**values)  # validates every field before the key is looked up
        api_key, source = _resolve_api_key(
            config, credentials or {}, os.environ if environ is None else environ
        )
        logger.info("endpoint %s (model %s): API key from %s", config.url, config.model, source)
        return dataclasses.replace(config, api_key=api_key)


def _reject_unknown_params(params: Mapping[str, Any]) -> None:
    """Fail on parameter names the config does not have, and on secrets in parameters."""
    if not isinstance(params, Mapping):
        raise EndpointError(
            f"endpoint parameters must be a mapping of field names to values, got "
            f"{type(params).__name__}"
        )
    if "api_key" in params:
        # Parameters are committed to git and logged by Kedro; keys belong in conf/local.
        raise EndpointError(
            f"endpoint parameters contain 'api_key': move it to {CREDENTIALS_FILE} "
            "(entry named by 'credentials', key 'api_key') or to the environment variable "
            "named by 'api_key_env'"
        )
    known = {f.name for f in dataclasses.fields(EndpointConfig)} - {"api_key"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise EndpointError(
            f"unknown endpoint parameter(s) {', '.join(map(repr, unknown))}; "
            f"valid ones are {', '.join(sorted(known))}"
        )
    if "model" not in params:
        raise EndpointError("endpoint parameters need 'model' (the model name the server knows)")


def _resolve_api_key(
    config: EndpointConfig, credentials: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[str, str]:
    """Return ``(key, where it came from)``: the credentials entry first, then the env var."""
    if not isinstance(credentials, Mapping):
        raise EndpointError(
            f"credentials must be the mapping loaded from {CREDENTIALS_FILE}, got "
            f"{type(credentials).__name__}"
        )
    entry_name = config.credentials
    entry = credentials.get(entry_name)
    if entry is not None and not isinstance(entry, Mapping):
        raise EndpointError(
            f"{CREDENTIALS_FILE} entry {entry_name!r} must be a mapping like "
            f"'{entry_name}: {{api_key: ...}}', got {type(entry).__name__}"
        )
    key = entry.get("api_key") if entry is not None else None
    if key is not None and not isinstance(key, str):
        raise EndpointError(
            f"{CREDENTIALS_FILE} entry {entry_name!r}: api_key must be a string, "
            f"got {type(key).__name__} (quote it in YAML)"
        )
    if key:
        return key, f"{CREDENTIALS_FILE} entry {entry_name!r}"

    env_key = environ.get(config.api_key_env)
    if env_key:
        return env_key, f"environment variable {config.api_key_env}"

    looked_in_credentials = (
        "no such entry" if entry is None else "the entry has no non-empty 'api_key'"
    )
    raise EndpointError(
        f"no API key for endpoint {config.url} (model {config.model!r}). Looked in:\n"
        f"  1. {CREDENTIALS_FILE}, entry {entry_name!r}, key 'api_key': {looked_in_credentials}\n"
        f"  2. environment variable {config.api_key_env}: not set or empty\n"
        f"Fix: add to {CREDENTIALS_FILE}\n"
        f"    {entry_name}:\n"
        f"      api_key: <your key>\n"
        f"or run `export {config.api_key_env}=<your key>`. Local servers (vLLM, Ollama) accept "
        f"any non-empty value, such as EMPTY."
    )


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise EndpointError(f"endpoint {name} must be a non-empty string, got {value!r}")


def _check_int(name: str, value: object, *, minimum: int | None) -> None:
    # bool is an int subclass; `max_retries: true` in YAML is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise EndpointError(f"endpoint {name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise EndpointError(f"endpoint {name} must be >= {minimum}, got {value}")


def _check_number(
    name: str,
    value: object,
    *,
    minimum: float,
    maximum: float | None = None,
    inclusive: bool = True,
) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise EndpointError(f"endpoint {name} must be a finite number, got {value!r}")
    too_small = value < minimum if inclusive else value <= minimum
    if too_small:
        bound = ">=" if inclusive else ">"
        raise EndpointError(f"endpoint {name} must be {bound} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise EndpointError(f"endpoint {name} must be <= {maximum}, got {value}")
