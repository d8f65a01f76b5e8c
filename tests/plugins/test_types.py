"""The objects plugins register and the requests they answer check themselves."""

from __future__ import annotations

import random

import pytest

from prism.plugins import (
    EvalContext,
    EvalResult,
    EvaluatorPlugin,
    PluginResultError,
    SampleRequest,
    SamplerPlugin,
)

SAMPLES = [{"id": "a", "conversations": []}, {"id": "b", "conversations": []}]


def request(n: int = 2) -> SampleRequest:
    return SampleRequest(SAMPLES, {}, n, random.Random(0))


def context() -> EvalContext:
    return EvalContext(None, None, None, {"eval": SAMPLES}, None, {})


@pytest.mark.parametrize("name", ["", "two words", "1st", "loss-weighted", "naïve", None])
def test_a_name_must_be_an_identifier(name):
    with pytest.raises(ValueError, match="not a valid name"):
        SamplerPlugin(name, lambda r: [])
    with pytest.raises(ValueError, match="evaluator name"):
        EvaluatorPlugin(name, lambda c: EvalResult({}))


def test_the_callable_must_be_callable():
    with pytest.raises(TypeError, match="sampler 'broken': sample must be callable"):
        SamplerPlugin("broken", "uniform")
    with pytest.raises(TypeError, match="evaluator 'broken': evaluate must be callable"):
        EvaluatorPlugin("broken", None)


def test_plugins_are_frozen():
    sampler = SamplerPlugin("first", lambda r: [])
    with pytest.raises(AttributeError):
        sampler.name = "other"


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "2"])
def test_a_request_rejects_a_count_that_is_not_positive(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        SampleRequest(SAMPLES, {}, n, random.Random(0))


def test_a_request_rejects_no_samples():
    with pytest.raises(ValueError, match="empty list of samples"):
        SampleRequest([], {}, 1, random.Random(0))


def test_a_request_needs_a_random_generator():
    with pytest.raises(TypeError, match=r"rng must be a random\.Random"):
        SampleRequest(SAMPLES, {}, 1, 42)


def test_draw_returns_what_a_correct_sampler_returns():
    sampler = SamplerPlugin("both", lambda r: ["b", "a"])
    assert sampler.draw(request()) == ["b", "a"]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (("a", "b"), "must return a list of sample ids"),
        ([1, 2], "must return a list of sample ids"),
        (["a"], "returned 1 ids, 2 were asked for"),
        (["a", "zzz"], "1 ids that are not among the samples"),
    ],
)
def test_draw_names_a_sampler_that_breaks_the_contract(returned, message):
    sampler = SamplerPlugin("sloppy", lambda r: returned)
    with pytest.raises(PluginResultError, match=f"sampler 'sloppy'.*{message}"):
        sampler.draw(request())


def test_run_checks_the_evaluator_returned_an_eval_result():
    good = EvaluatorPlugin("size", lambda c: EvalResult({"size/eval": len(c.splits["eval"])}))
    assert good.run(context()).metrics == {"size/eval": 2}
    bad = EvaluatorPlugin("sloppy", lambda c: {"size/eval": 2.0})
    with pytest.raises(PluginResultError, match="evaluator 'sloppy' must return an EvalResult"):
        bad.run(context())


@pytest.mark.parametrize(
    ("metrics", "message"),
    [({"acc": "0.5"}, "metric 'acc' must be a real number"), ({"": 1.0}, "non-empty strings")],
)
def test_eval_result_metrics_are_named_numbers(metrics, message):
    with pytest.raises(TypeError, match=message):
        EvalResult(metrics)


def test_eval_result_defaults_to_no_tables_or_artifacts():
    result = EvalResult({"task/accuracy": float("nan")})
    assert result.tables == {} and result.artifacts == {}
