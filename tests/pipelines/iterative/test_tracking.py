"""What the loop's wandb run is opened with (``LoopTracking``), and secrets kept out of it."""

from __future__ import annotations

import json
from pathlib import Path

from prism.pipelines.iterative import IterativeConfig
from prism.pipelines.iterative.tracking import REDACTED, LoopTracking, loop_tracking, scrub_secrets

SECRET = "sk-test-0123456789abcdefSECRETVALUE"


def test_scrub_secrets_redacts_secret_keys_and_values_and_keeps_the_rest():
    config = {
        "api_key": "x",
        "training": {"hub_token": "hf_abc", "max_new_tokens": 8, "report_to": "wandb"},
        "evaluation": {"token_metrics": {"batch_size": 8}},
        "endpoint": {
            "base_url": "https://user:pw@example.com/v1",
            "api_key_env": "OPENAI_API_KEY",
            "credentials": "openai",
            "headers": [{"Authorization": "Bearer x"}, {"password": "p"}],
        },
        "note": SECRET,
        "client_secret": {"nested": "y"},
        "iterative": IterativeConfig(name="run"),
    }
    scrubbed = scrub_secrets(config)
    assert scrubbed["api_key"] == REDACTED
    assert scrubbed["training"] == {
        "hub_token": REDACTED,
        "max_new_tokens": 8,
        "report_to": "wandb",
    }
    assert scrubbed["evaluation"] == {"token_metrics": {"batch_size": 8}}
    endpoint = scrubbed["endpoint"]
    assert endpoint["base_url"] == f"https://{REDACTED}@example.com/v1"
    assert endpoint["api_key_env"] == "OPENAI_API_KEY"  # the variable's name, not its value
    assert endpoint["credentials"] == REDACTED
    assert endpoint["headers"] == [{"Authorization": REDACTED}, {"password": REDACTED}]
    assert scrubbed["note"] == REDACTED and scrubbed["client_secret"] == REDACTED
    assert scrubbed["iterative"]["name"] == "run"
    assert scrubbed["iterative"]["graph_unknown"] == [0.2, 0.3, 0.4, 0.5]
    json.dumps(scrubbed)  # plain data


def test_the_tracking_names_the_run_and_says_whether_the_loop_logs_to_wandb():
    config = IterativeConfig(name="loop")
    tracking = loop_tracking(
        config,
        {"hash": "0123456789abcdef"},
        {"report_to": "wandb", "hub_token": "hf_x"},
        {"teacher": {"endpoint": {"base_url": "https://me:pw@host/v1", "api_key": SECRET}}},
        {"evaluators": ["token_metrics"]},
    )
    assert isinstance(tracking, LoopTracking) and tracking.loop is config
    assert tracking.logs_to_wandb and tracking.report_to == "wandb"
    assert set(tracking.config) == {"iterative", "training", "generation", "evaluation"}
    assert tracking.config["training"]["hub_token"] == REDACTED
    assert tracking.config["generation"]["teacher"]["endpoint"] == {
        "base_url": f"https://{REDACTED}@host/v1",
        "api_key": REDACTED,
    }
    assert SECRET not in json.dumps(tracking.config)
    assert not loop_tracking(config, {"hash": "0"}, {"report_to": "none"}, {}, {}).logs_to_wandb


def test_a_new_run_id_starts_with_the_runs_hash_and_is_new_each_time():
    """The hash ties the wandb run to iterative_run.json; a loop started over gets a new one."""
    config = IterativeConfig(name="loop", output_dir="out/loop")
    tracking = loop_tracking(config, {"hash": "0123456789abcdef"}, {}, {}, {})
    first, second = tracking.new_run_id(), tracking.new_run_id()
    assert first.startswith("0123456789abcdef-") and second.startswith("0123456789abcdef-")
    assert first != second and len(first) <= 64  # wandb's longest id
    assert not set(first) - set("0123456789abcdef-")  # no character wandb refuses in an id
    assert tracking.run_file == Path("out/loop/wandb_run.json")
