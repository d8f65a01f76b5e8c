"""The worked example package, installed for real, is discovered through its entry point."""

from __future__ import annotations

import importlib.metadata
import random

import pytest

from prism.plugins import (
    ENTRY_POINT_GROUP,
    DuplicatePluginError,
    EvalContext,
    SampleRequest,
    build_plugin_manager,
    get_evaluator,
    get_sampler,
)
from tests.plugins.conftest import fake_entry_point

SAMPLES = [
    {
        "id": "one",
        "conversations": [{"role": "user", "value": "t"}, {"role": "assistant", "value": "p"}],
    },
    {"id": "three", "conversations": [{"role": "assistant", "value": "p"}] * 3},
    {"id": "none", "conversations": [{"role": "user", "value": "t"}]},
]


def test_the_installed_package_declares_an_entry_point_in_our_group(example_plugin_installed):
    (entry_point,) = [
        ep
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name == "prism-example-plugin"
    ]
    assert entry_point.value == "prism_example_plugin"


def test_the_package_is_not_visible_without_its_install_folder():
    names = {
        ep.dist.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.dist
    }
    assert "prism-example-plugin" not in names


def test_the_manager_discovers_its_sampler_and_evaluator(
    example_plugin_installed, fresh_plugin_manager
):
    sampler = get_sampler("longest_first")
    evaluator = get_evaluator("turn_count")
    assert sampler.description and evaluator.description
    rows = {row.name: row for row in build_plugin_manager().describe().installed}
    assert rows["longest_first"].provider == "prism-example-plugin 0.1.0"
    assert rows["longest_first"].module == "prism_example_plugin"
    assert rows["longest_first"].plugin == "example"
    assert rows["turn_count"].kind == "evaluator"


def test_its_sampler_prefers_samples_with_more_turns(example_plugin_installed):
    sampler = build_plugin_manager().get_sampler("longest_first")
    assert sampler.draw(SampleRequest(SAMPLES, {}, 2, random.Random(0))) == ["three", "one"]
    assert sampler.draw(SampleRequest(SAMPLES, {}, 4, random.Random(0))) == [
        "three",
        "one",
        "none",
        "three",
    ]


def test_its_evaluator_counts_turns_of_the_eval_split(example_plugin_installed):
    evaluator = build_plugin_manager().get_evaluator("turn_count")
    context = EvalContext(None, None, None, {"train": [], "eval": SAMPLES}, None, {})
    result = evaluator.run(context)
    assert result.metrics == {"turns/mean": pytest.approx(4 / 3)}
    assert result.tables["turns"] == [
        {"id": "one", "turns": 1},
        {"id": "three", "turns": 3},
        {"id": "none", "turns": 0},
    ]


def test_a_second_provider_of_its_names_is_reported_naming_both(example_plugin_installed):
    installed = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    copy = fake_entry_point("copy", "prism_example_plugin.__init__")
    pm = build_plugin_manager(entry_points=[*installed, copy])
    with pytest.raises(DuplicatePluginError) as error:
        pm.get_sampler("longest_first")
    assert "plugin 'example' of prism-example-plugin 0.1.0 [prism_example_plugin]" in str(
        error.value
    )
    assert "plugin 'copy' [prism_example_plugin.__init__]" in str(error.value)
