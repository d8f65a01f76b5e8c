"""The built-in samplers: uniform, accuracy_weighted, loss_weighted."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.plugins import SampleRequest, build_plugin_manager
from prism.sampling import (
    ACCURACY_FLOOR,
    accuracy_weights,
    failure_weight,
    loss_weights,
    sample_accuracy_weighted,
    sample_loss_weighted,
    sample_task_failure,
    sample_uniform,
    weighted_choice,
)

SAMPLERS = [sample_uniform, sample_accuracy_weighted, sample_loss_weighted]


def samples(*ids: str) -> list[dict]:
    return [{"id": i, "conversations": [{"role": "user", "value": i}]} for i in ids]


def metrics(**by_id: tuple[float, float]) -> dict[str, dict[str, float]]:
    """``id=(loss, accuracy)`` -> per-sample metrics."""
    return {i: {"loss": loss, "accuracy": acc} for i, (loss, acc) in by_id.items()}


def request(pool, per_sample, n, seed=0) -> SampleRequest:
    return SampleRequest(pool, per_sample, n, random.Random(seed))


POOL = samples("a", "b", "c", "d")
METRICS = metrics(a=(0.1, 0.9), b=(2.0, 0.0), c=(1.0, 0.5), d=(0.0, 1.0))


def test_the_builtins_are_registered_under_their_names():
    registered = build_plugin_manager(entry_points=[]).samplers()
    assert registered["uniform"].sample is sample_uniform
    assert registered["accuracy_weighted"].sample is sample_accuracy_weighted
    assert registered["loss_weighted"].sample is sample_loss_weighted
    assert registered["task_failure"].sample is sample_task_failure
    assert registered["task_failure"].reads_outcomes
    assert registered["accuracy_weighted"].needs == ("accuracy",)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_same_seed_same_choice(sampler):
    assert sampler(request(POOL, METRICS, 3, seed=7)) == sampler(request(POOL, METRICS, 3, seed=7))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_no_repeats_while_n_fits(sampler):
    for seed in range(20):
        chosen = sampler(request(POOL, METRICS, 4, seed))
        assert sorted(chosen) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_n_above_the_pool_takes_everything_then_repeats(sampler):
    chosen = sampler(request(POOL, METRICS, 10))
    assert len(chosen) == 10
    assert sorted(chosen[:4]) == ["a", "b", "c", "d"]
    assert set(chosen[4:]) <= {"a", "b", "c", "d"}


@pytest.mark.parametrize("sampler", [sample_accuracy_weighted, sample_loss_weighted])
def test_missing_metrics_are_an_error_that_counts_them(sampler):
    partial = {"a": METRICS["a"]}
    with pytest.raises(ValueError, match=r"missing for 3 of 4 samples \(e\.g\. 'b', 'c', 'd'\)"):
        sampler(request(POOL, partial, 2))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samples_need_unique_ids(sampler):
    with pytest.raises(ValueError, match="'a' occurs twice"):
        sampler(request(samples("a", "a"), metrics(a=(1.0, 0.5)), 1))
    with pytest.raises(ValueError, match="sample 1 has no 'id'"):
        sampler(request([{"id": "a"}, {"conversations": []}], {}, 1))


def test_accuracy_weights_follow_the_error_rate_and_stay_positive_at_zero():
    assert accuracy_weights([0.0, 0.5, 1.0]) == pytest.approx([1.05, 0.55, ACCURACY_FLOOR])
    with pytest.raises(ValueError, match=r"accuracy 1 is 1\.5"):
        accuracy_weights([0.5, 1.5])


def test_accuracy_weighted_works_when_every_accuracy_is_zero():
    zero = metrics(a=(1.0, 0.0), b=(1.0, 0.0))
    assert sorted(sample_accuracy_weighted(request(samples("a", "b"), zero, 2))) == ["a", "b"]


def test_accuracy_weighted_prefers_what_the_student_gets_wrong():
    pool = samples("mastered", "failed")
    per_sample = metrics(mastered=(0.0, 1.0), failed=(3.0, 0.0))
    first = Counter(
        sample_accuracy_weighted(request(pool, per_sample, 1, s))[0] for s in range(400)
    )
    # P(failed) = 1.05 / 1.10 ~ 0.95
    assert 0.9 < first["failed"] / 400 < 0.99


def test_accuracy_weighted_rejects_a_non_number():
    bad = {**METRICS, "a": {"accuracy": float("nan"), "loss": 1.0}}
    with pytest.raises(ValueError, match="metric 'accuracy' of sample 'a' is not a finite number"):
        sample_accuracy_weighted(request(POOL, bad, 1))


def test_loss_weights_are_the_losses_or_uniform_when_all_zero():
    assert loss_weights([0.0, 2.0, 1.0]) == [0.0, 2.0, 1.0]
    assert loss_weights([0.0, 0.0]) == [1.0, 1.0]
    with pytest.raises(ValueError, match="never negative"):
        loss_weights([1.0, -0.5])


def test_loss_weighted_picks_in_proportion_to_loss():
    pool = samples("low", "high")
    per_sample = metrics(low=(1.0, 0.5), high=(3.0, 0.5))
    first = Counter(sample_loss_weighted(request(pool, per_sample, 1, s))[0] for s in range(400))
    assert 0.68 < first["high"] / 400 < 0.82  # 3 / 4


def test_loss_weighted_takes_zero_loss_samples_last():
    per_sample = metrics(a=(0.0, 1.0), b=(1.0, 0.0), c=(0.0, 1.0))
    for seed in range(10):
        chosen = sample_loss_weighted(request(samples("a", "b", "c"), per_sample, 3, seed))
        assert chosen[0] == "b" and sorted(chosen[1:]) == ["a", "c"]


def test_loss_weighted_is_uniform_when_every_loss_is_zero():
    per_sample = metrics(a=(0.0, 1.0), b=(0.0, 1.0))
    first = Counter(
        sample_loss_weighted(request(samples("a", "b"), per_sample, 1, s))[0] for s in range(200)
    )
    assert first["a"] > 60 and first["b"] > 60


def test_uniform_needs_no_metrics():
    assert len(sample_uniform(request(POOL, {}, 2))) == 2


def test_weighted_choice_rejects_mismatched_weights():
    with pytest.raises(ValueError, match="2 ids but 1 weights"):
        weighted_choice(["a", "b"], [1.0], 1, random.Random(0))


@given(
    n_ids=st.integers(1, 8),
    n=st.integers(1, 20),
    weights=st.lists(st.floats(0, 10), min_size=8, max_size=8),
    seed=st.integers(0, 2**32),
)
def test_weighted_choice_returns_n_known_ids_without_repeats_while_they_fit(
    n_ids, n, weights, seed
):
    ids = [f"s{i}" for i in range(n_ids)]
    chosen = weighted_choice(ids, weights[:n_ids], n, random.Random(seed))
    assert len(chosen) == n and set(chosen) <= set(ids)
    assert len(set(chosen[: min(n, n_ids)])) == min(n, n_ids)


# ---------------------------------------------------------------------------- task_failure
OUTCOMES = [
    {"id": "w_ok", "correct": True, "reason": None},
    {"id": "w_invalid", "correct": False, "reason": "invalid_turn:unknown_node"},
    {"id": "w_lost", "correct": False, "reason": "max_iterations"},
    {"id": "w_wrong", "correct": False, "reason": "wrong_answer"},
]


def with_outcomes(n: int, outcomes=OUTCOMES, seed: int = 0) -> SampleRequest:
    return SampleRequest(POOL, {}, n, random.Random(seed), outcomes=outcomes)


def test_task_failure_picks_only_failed_outcomes_while_there_are_enough():
    for seed in range(20):
        assert sorted(sample_task_failure(with_outcomes(3, seed=seed))) == [
            "w_invalid",
            "w_lost",
            "w_wrong",
        ]


def test_task_failure_weights_by_how_the_task_failed():
    first = Counter(sample_task_failure(with_outcomes(1, seed=seed))[0] for seed in range(3000))
    assert first["w_ok"] == 0
    assert first["w_invalid"] > first["w_lost"] > first["w_wrong"]
    assert first["w_invalid"] / first["w_wrong"] == pytest.approx(3.0, rel=0.2)
    assert failure_weight("invalid_turn:no_path") == 3.0 and failure_weight("new_reason") == 1.0


def test_task_failure_without_failures_samples_uniformly():
    solved = [OUTCOMES[0]]
    chosen = sample_task_failure(with_outcomes(4, outcomes=solved))
    assert sorted(chosen) == ["a", "b", "c", "d"]


def test_a_sampler_may_return_outcome_ids_and_nothing_else():
    registered = build_plugin_manager(entry_points=[]).samplers()
    assert registered["task_failure"].draw(with_outcomes(2))
    from prism.plugins import PluginResultError, SamplerPlugin

    liar = SamplerPlugin("liar", lambda request: ["w_nowhere"] * request.n)
    with pytest.raises(PluginResultError, match="not among the samples or outcomes"):
        liar.draw(with_outcomes(1))
