"""EndpointConfig: validation and API-key resolution."""

from __future__ import annotations

from typing import Any

import pytest

from prism.endpoint import EndpointConfig, EndpointError

PARAMS = {"base_url": "http://localhost:8000/v1", "model": "llama"}


def test_from_params_reads_every_field() -> None:
    params = {**PARAMS, "max_retries": 1, "max_concurrency": 3, "json_mode": False, "seed": 5}

    config = EndpointConfig.from_params(params, {"openai": {"api_key": "sk-1"}}, environ={})

    assert (config.max_retries, config.max_concurrency, config.json_mode) == (1, 3, False)
    assert config.seed == 5
    assert config.api_key == "sk-1"


def test_base_url_none_means_openai() -> None:
    config = EndpointConfig(model="gpt-4o")

    assert config.url == "https://api.openai.com/v1"


def test_a_trailing_slash_does_not_change_the_url() -> None:
    assert EndpointConfig(model="m", base_url="http://localhost:8000/v1/").url == (
        "http://localhost:8000/v1"
    )


def test_the_key_never_appears_in_repr() -> None:
    config = EndpointConfig(model="m", api_key="sk-secret")

    assert "sk-secret" not in repr(config)


# --------------------------------------------------------------------------- key resolution


def test_the_credentials_entry_beats_the_environment() -> None:
    config = EndpointConfig.from_params(
        PARAMS, {"openai": {"api_key": "from-credentials"}}, environ={"OPENAI_API_KEY": "env"}
    )

    assert config.api_key == "from-credentials"


def test_the_environment_is_used_when_credentials_have_no_entry() -> None:
    config = EndpointConfig.from_params(PARAMS, {}, environ={"OPENAI_API_KEY": "from-env"})

    assert config.api_key == "from-env"


def test_an_empty_placeholder_in_credentials_falls_back_to_the_environment() -> None:
    config = EndpointConfig.from_params(
        PARAMS, {"openai": {"api_key": ""}}, environ={"OPENAI_API_KEY": "from-env"}
    )

    assert config.api_key == "from-env"


def test_the_entry_name_and_the_variable_are_configurable() -> None:
    params = {**PARAMS, "credentials": "vllm", "api_key_env": "VLLM_KEY"}

    from_credentials = EndpointConfig.from_params(params, {"vllm": {"api_key": "EMPTY"}})
    from_env = EndpointConfig.from_params(params, None, environ={"VLLM_KEY": "k"})

    assert (from_credentials.api_key, from_env.api_key) == ("EMPTY", "k")


def test_the_real_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-os-environ")

    assert EndpointConfig.from_params(PARAMS, {}).api_key == "from-os-environ"


def test_a_missing_key_names_both_places_and_the_fix() -> None:
    with pytest.raises(EndpointError) as raised:
        EndpointConfig.from_params(PARAMS, {}, environ={})

    message = str(raised.value)
    assert "conf/local/credentials.yml, entry 'openai'" in message
    assert "environment variable OPENAI_API_KEY" in message
    assert "export OPENAI_API_KEY=" in message
    assert "EMPTY" in message  # the hint for local servers
    assert "http://localhost:8000/v1" in message


def test_a_malformed_credentials_entry_is_an_error() -> None:
    with pytest.raises(EndpointError, match="entry 'openai' must be a mapping"):
        EndpointConfig.from_params(PARAMS, {"openai": "sk-1"}, environ={})


# --------------------------------------------------------------------------- validation


def test_unknown_parameters_are_named() -> None:
    with pytest.raises(EndpointError) as raised:
        EndpointConfig.from_params({**PARAMS, "max_retry": 3, "temprature": 0}, {}, environ={})

    assert "'max_retry', 'temprature'" in str(raised.value)
    assert "max_retries" in str(raised.value)  # the valid names are listed


def test_a_key_in_parameters_is_refused() -> None:
    with pytest.raises(EndpointError, match=r"move it to conf/local/credentials\.yml"):
        EndpointConfig.from_params({**PARAMS, "api_key": "sk-1"}, {}, environ={})


def test_model_is_required() -> None:
    with pytest.raises(EndpointError, match="'model'"):
        EndpointConfig.from_params({"base_url": None}, {}, environ={"OPENAI_API_KEY": "k"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", ""),
        ("base_url", "localhost:8000/v1"),
        ("timeout_s", 0),
        ("timeout_s", "60"),
        ("max_retries", -1),
        ("max_retries", True),
        ("backoff_s", float("nan")),
        ("max_concurrency", 0),
        ("temperature", 2.5),
        ("max_tokens", 0),
        ("json_mode", "yes"),
        ("seed", 1.5),
        ("api_key", ""),
    ],
)
def test_invalid_values_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(EndpointError, match=field):
        EndpointConfig(**{"model": "m", field: value})
