"""The plugin manager: built-ins, entry points loaded one by one, broken plugins reported."""

from __future__ import annotations

import logging

import pytest

from prism.plugins import (
    BUILTIN_PLUGINS,
    ComponentRequest,
    DuplicatePluginError,
    PluginLoadError,
    PluginManager,
    PluginResultError,
    UnknownPluginError,
    build_plugin_manager,
    get_plugin_manager,
    get_sampler,
    samplers,
)
from prism.scenes.base import SceneRequest
from tests.plugins import fake_plugins
from tests.plugins.conftest import fake_entry_point, fake_plugin

BUILTIN_SAMPLERS = {"uniform", "accuracy_weighted", "loss_weighted", "task_failure"}
BUILTIN_EVALUATORS = {"token_metrics", "task_success"}


def load(*plugins: str) -> PluginManager:
    """A manager with the built-ins and the named fake plugins."""
    return build_plugin_manager(entry_points=[fake_plugin(name) for name in plugins])


def only_failure(pm: PluginManager):
    assert len(pm.failures) == 1, pm.failures
    return pm.failures[0]


def test_a_plugin_adds_a_scene_generator_and_a_teacher_built_by_kind():
    """prism_register_scene_generators and prism_register_teachers, as the generation uses them."""
    pm = load("components")
    assert set(pm.scene_generators()) == {"procedural", "llm", "farms"}
    assert set(pm.teachers()) == {"oracle", "llm", "no_planner"}
    request = ComponentRequest("farms", {"endpoint": {}}, {}, lambda: None, 10, 3)
    generator = pm.get_scene_generator("farms").create(request)
    scene = generator.generate(SceneRequest(n_regions=8, n_objects=5, n_tasks=2, seed=1))
    assert scene.metadata["theme"] == "farm" and len(scene.tasks) == 2
    with pytest.raises(PluginResultError, match=r"teacher 'no_planner'.*without name, check"):
        pm.get_teacher("no_planner").create(request)


def test_builtin_samplers_are_registered_through_the_hook():
    pm = load()
    assert set(pm.samplers()) == BUILTIN_SAMPLERS
    assert pm.failures == []
    assert "prism.sampling.samplers" in BUILTIN_PLUGINS
    assert pm.get_plugin("prism.sampling.samplers") is not None


def test_builtins_are_described_as_prism_builtin():
    rows = {row.name: row for row in load().describe().installed}
    assert rows["uniform"].kind == "sampler"
    assert rows["uniform"].provider == "prism (built-in)"
    assert rows["uniform"].module == "prism.sampling.samplers"
    assert rows["uniform"].description


def test_a_missing_builtin_module_is_an_error_naming_it():
    with pytest.raises(PluginLoadError, match=r"'prism\.no_such_module'.*BUILTIN_PLUGINS"):
        build_plugin_manager(builtins=["prism.no_such_module"], entry_points=[])


def test_a_broken_builtin_is_an_error_not_a_recorded_failure():
    with pytest.raises(PluginLoadError, match=r"built-in plugin 'tests\.plugins\.fake_plugins'"):
        build_plugin_manager(builtins=["tests.plugins.fake_plugins"], entry_points=[])


def test_a_good_third_party_plugin_adds_a_sampler_and_an_evaluator():
    pm = load("good")
    assert set(pm.samplers()) == BUILTIN_SAMPLERS | {"first"}
    assert set(pm.evaluators()) == BUILTIN_EVALUATORS | {"constant"}
    assert pm.get_evaluator("constant").name == "constant"
    assert pm.failures == []


def test_an_unimportable_plugin_is_reported_by_name_and_the_rest_load(caplog):
    entry_points = [
        fake_entry_point("ghost", "prism_no_such_package.plugin"),
        fake_plugin("good"),
    ]
    with caplog.at_level(logging.WARNING, logger="prism.plugins.manager"):
        pm = build_plugin_manager(entry_points=entry_points)
    failure = only_failure(pm)
    assert (failure.plugin, failure.stage) == ("ghost", "import")
    assert "ModuleNotFoundError" in failure.reason and "prism_no_such_package" in failure.reason
    assert "'ghost'" in caplog.text
    assert "first" in pm.samplers()


def test_an_entry_point_to_a_missing_attribute_is_an_import_failure():
    pm = build_plugin_manager(entry_points=[fake_plugin("not_there")])
    assert only_failure(pm).stage == "import"


def test_a_raising_hook_is_reported_by_name_and_the_rest_load():
    pm = load("raising_hook", "good")
    failure = only_failure(pm)
    assert (failure.plugin, failure.stage) == ("raising_hook", "prism_register_samplers")
    assert "RuntimeError: the plugin's own bug" in failure.reason
    assert set(pm.samplers()) == BUILTIN_SAMPLERS | {"first"}


@pytest.mark.parametrize(
    ("plugin", "hook", "message"),
    [
        ("returns_strings", "prism_register_samplers", "returned str items"),
        ("returns_none", "prism_register_evaluators", "returned None"),
        ("returns_one_object", "prism_register_samplers", "returned a SamplerPlugin"),
    ],
)
def test_a_hook_returning_the_wrong_type_is_reported(plugin, hook, message):
    pm = load(plugin, "good")
    failure = only_failure(pm)
    assert (failure.plugin, failure.stage) == (plugin, hook)
    assert message in failure.reason and "return a list of" in failure.reason
    assert "first" in pm.samplers()


def test_a_misspelt_hook_is_caught_with_a_suggestion():
    pm = load("misspelt_hook", "good")
    failure = only_failure(pm)
    assert (failure.plugin, failure.stage) == ("misspelt_hook", "hooks")
    assert "unknown hook 'prism_register_sampler'" in failure.reason
    assert "did you mean 'prism_register_samplers'" in failure.reason
    assert pm.get_plugin("misspelt_hook") is None
    assert "misspelt" not in pm.samplers() and "first" in pm.samplers()
    pm.check_pending()  # nothing unverified is left behind


def test_a_bad_hook_signature_is_reported():
    pm = load("bad_signature", "good")
    failure = only_failure(pm)
    assert (failure.plugin, failure.stage) == ("bad_signature", "register")
    assert "config" in failure.reason
    assert "first" in pm.samplers()


def test_a_plugin_without_hooks_is_reported():
    failure = only_failure(load("no_hooks"))
    assert (failure.plugin, failure.stage) == ("no_hooks", "hooks")
    assert "implements none of prism's hooks" in failure.reason and "hookimpl" in failure.reason


def test_the_same_entry_point_name_twice_is_reported_not_fatal():
    second = fake_entry_point("good", "tests.plugins.fake_plugins:returns_none")
    pm = build_plugin_manager(entry_points=[fake_plugin("good"), second])
    failure = only_failure(pm)
    assert (failure.plugin, failure.stage) == ("good", "register")
    assert (
        "the name 'good' is taken by plugin 'good' [tests.plugins.fake_plugins]" in failure.reason
    )
    assert "first" in pm.samplers()


def test_the_same_object_under_two_entry_points_is_reported():
    pm = build_plugin_manager(
        entry_points=[
            fake_plugin("good"),
            fake_entry_point("again", "tests.plugins.fake_plugins:good"),
        ]
    )
    failure = only_failure(pm)
    assert failure.plugin == "good" and "already registered as 'again'" in failure.reason


def test_a_duplicate_name_is_an_error_naming_both_providers():
    pm = load("duplicate_uniform", "good")
    assert "uniform" not in pm.samplers()  # neither wins silently
    assert "first" in pm.samplers()
    failure = only_failure(pm)
    assert (failure.plugin, failure.stage) == ("duplicate_uniform", "duplicate")
    with pytest.raises(DuplicatePluginError) as error:
        pm.get_sampler("uniform")
    message = str(error.value)
    assert "prism (built-in) [prism.sampling.samplers]" in message
    assert "plugin 'duplicate_uniform' [tests.plugins.fake_plugins]" in message
    assert message == failure.reason


def test_an_unknown_name_lists_the_installed_ones():
    pm = load("good")
    with pytest.raises(UnknownPluginError) as error:
        pm.get_sampler("loss_weigthed")
    message = str(error.value)
    assert "no sampler named 'loss_weigthed'" in message
    assert "accuracy_weighted, first, loss_weighted, task_failure, uniform" in message
    assert "Did you mean 'loss_weighted'?" in message
    assert isinstance(error.value, ValueError)
    with pytest.raises(
        UnknownPluginError, match="installed evaluators: constant, task_success, token_metrics"
    ):
        pm.get_evaluator("token_metric")


def test_an_unknown_name_points_at_reported_failures():
    with pytest.raises(UnknownPluginError, match=r"1 plugin problem.*kedro plugins"):
        load("raising_hook").get_sampler("first")


def test_registering_directly_rebuilds_the_registry():
    pm = load()
    assert "first" not in pm.samplers()
    pm.register(fake_plugins.good, name="direct")
    assert "first" in pm.samplers()
    rows = {row.name: row for row in pm.describe().installed}
    assert rows["first"].provider == "no distribution"
    assert rows["first"].plugin == "direct"
    assert rows["first"].module == "tests.plugins.fake_plugins"


def test_the_report_lists_failures_and_serialises():
    report = load("raising_hook", "good").describe()
    assert [p.name for p in report.of_kind("evaluator")] == [
        "constant",
        "task_success",
        "token_metrics",
    ]
    data = report.to_dict()
    assert data["entry_point_group"] == "prism_planner.plugins"
    assert data["failures"][0]["plugin"] == "raising_hook"
    assert "raising_hook" in report.to_text() and "Samplers (5):" in report.to_text()


def test_the_process_wide_manager_is_cached(fresh_plugin_manager):
    assert get_plugin_manager() is get_plugin_manager()
    assert get_sampler("uniform") is samplers()["uniform"]
