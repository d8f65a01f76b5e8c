"""The iterative loop's own nodes, its configuration and its shape."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from prism.formats.conversations import load_samples
from prism.formats.eval_tasks import read_eval_suite
from prism.pipelines.iterative import IterativeConfig, IterativeConfigError, create_pipeline
from prism.pipelines.iterative import episodes as episode_module
from prism.pipelines.iterative.new_samples import select_new_samples
from prism.pipelines.iterative.nodes import (
    combine_datasets,
    episode_training_config,
    prepare_initial_dataset,
    record_run,
    sample_generation_priors,
)
from prism.pipelines.iterative.tracking import loop_tracking
from prism.pipelines.training.nodes import check_training_inputs
from prism.scenes.base import Prior
from prism.training.config import TrainConfig
from prism.training.errors import TrainConfigError
from prism.world.worlds import World


def _sample(task: str) -> dict:
    return load_samples(
        [
            {
                "conversations": [
                    {"role": "user", "value": f"task: {task}\nScene graph:{{}}"},
                    {"role": "assistant", "value": "{}"},
                ]
            }
        ]
    )[0]


SAMPLES = [_sample(f"find truck {i}") for i in range(6)]


# ---------------------------------------------------------------------------------- config
def test_config_rejects_unknown_keys_by_name():
    with pytest.raises(IterativeConfigError, match=r"unknown iterative parameter\(s\): n_epsiodes"):
        IterativeConfig.from_params({"n_epsiodes": 3})


@pytest.mark.parametrize("empty", ["", "  ", None])
def test_an_empty_sampling_strategy_names_the_installed_samplers(empty):
    with pytest.raises(
        IterativeConfigError,
        match=r"^sampling_strategy is empty: pass one of the installed samplers: "
        r"accuracy_weighted, loss_weighted, task_failure, uniform \(`prism plugins`",
    ):
        IterativeConfig.from_params({"sampling_strategy": empty})
    with pytest.raises(IterativeConfigError, match=r"^output_dir is empty: pass the folder"):
        IterativeConfig.from_params({"output_dir": empty})


def test_strict_data_is_not_part_of_the_run():
    """It only decides whether bad initial data is refused: a run continues with it changed."""
    strict = IterativeConfig(strict_data=True)
    assert strict.fingerprint({}, {}) == IterativeConfig().fingerprint({}, {})


def test_config_reads_the_seeds_graph_unknown_string():
    config = IterativeConfig.from_params({"graph_unknown": "0.2,0.3 0.5"})
    assert config.graph_unknown == (0.2, 0.3, 0.5)
    with pytest.raises(IterativeConfigError, match="graph_unknown must be fractions"):
        IterativeConfig.from_params({"graph_unknown": [20]})


def test_training_flags_override_the_training_parameters():
    config = IterativeConfig.from_params(
        {"epochs": 1, "r": 8, "val_frac": 0.2, "seed": 7, "training": {"learning_rate": 1e-4}}
    )
    base = config.training_params({"epochs": 3, "r": 16, "base_model": "builtin"})
    tracking = loop_tracking(config, {"hash": "0" * 16}, {**base, "report_to": "none"}, {}, {})
    params = episode_training_config(
        config, check_training_inputs(base), tracking, episode=2
    ).to_dict()
    assert params["epochs"] == 1 and params["r"] == 8 and params["base_model"] == "builtin"
    assert params["val_frac"] == 0.2 and params["seed"] == 7 and params["learning_rate"] == 1e-4
    assert params["name"] == "iterative_model_episode_2"
    with pytest.raises(TrainConfigError, match="lr"):
        IterativeConfig.from_params({"training": {"lr": 1}}).training_params({})


@pytest.mark.parametrize(
    ("loop", "episode"),
    [("wandb", "none"), ("none", "none"), ("tensorboard", "tensorboard")],
)
def test_the_episodes_report_nowhere_while_the_loop_logs_to_wandb(loop, episode):
    """The Trainer would log into the loop's wandb run and break its steps (one per episode)."""
    config = IterativeConfig(name="loop")
    training = TrainConfig(report_to=loop, name="loop")
    tracking = loop_tracking(config, {"hash": "0" * 16}, training.to_dict(), {}, {})
    assert tracking.logs_to_wandb is (loop == "wandb")
    episode_config = episode_training_config(config, training, tracking, episode=3)
    # the episode's config is the loop's but for its run name and reporting
    assert episode_config.to_dict() == {
        **training.to_dict(),
        "name": "loop_episode_3",
        "report_to": episode,
    }
    assert training.report_to == loop  # the loop's own config is left as it was


def test_the_run_record_holds_the_fingerprint_and_what_may_change():
    config = IterativeConfig(n_episodes=3, objective="task/accuracy", objective_type="min")
    fingerprint = {"seed": 42, "training": {"epochs": 1}}
    record, same_config, evaluation = record_run(config, "evaluation", fingerprint, {})
    assert same_config is config and evaluation == "evaluation"
    assert record == {
        "fingerprint": fingerprint,
        "hash": record["hash"],
        "n_episodes": 3,
        "objective": "task/accuracy",
        "objective_type": "min",
    }
    assert len(record["hash"]) == 16
    assert list(record) == ["fingerprint", "hash", "n_episodes", "objective", "objective_type"]


# ---------------------------------------------------------------------------------- objective
REPO = Path(__file__).resolve().parents[3]


def _checked(**params):
    """check_iterative_inputs on the defaults and the shipped first scene, with ``params``."""
    from prism.formats.eval_tasks import EvalSuite, read_eval_suite
    from prism.pipelines.iterative.nodes import check_iterative_inputs
    from tests.pipelines.training.test_pipeline import TINY_PARAMS

    shipped = read_eval_suite(REPO / "data/01_raw/eval_tasks_1.json")
    suite = EvalSuite(graphs=shipped.graphs[:1], tasks=shipped.tasks[:3])
    evaluation = {"evaluators": ["token_metrics", "task_success"]}
    return check_iterative_inputs(
        params, TINY_PARAMS["training"], {}, evaluation, SAMPLES, None, suite, None, 5
    )


def test_objective_auto_is_task_success_when_the_eval_tasks_run():
    config, *_ = _checked()
    assert IterativeConfig().objective == "auto"
    assert config.objective == "task/accuracy"
    record, *_ = record_run(config, "evaluation", {}, {})
    assert record["objective"] == "task/accuracy"  # what the run was ranked by, recorded


def test_objective_auto_is_token_accuracy_when_the_eval_tasks_are_skipped():
    config, *_ = _checked(skip_eval_tasks=True)
    assert config.objective == "eval/mean_accuracy"
    with pytest.raises(
        IterativeConfigError,
        match=r"objective auto \('eval/mean_accuracy' when no eval tasks run\) is reported by "
        r"no configured evaluator; available: train/mean_loss",
    ):
        _checked(skip_eval_tasks=True, val_frac=0.0)


@pytest.mark.parametrize("skip", [False, True])
def test_an_objective_given_overrides_auto(skip):
    config, *_ = _checked(objective="train/mean_loss", objective_type="min", skip_eval_tasks=skip)
    assert config.objective == "train/mean_loss"


def test_generation_config_makes_n_batch_rollouts_seeded_by_the_priors():
    config = IterativeConfig.from_params(
        {"n_batch": 5, "tasks_per_sample": 2, "graphs_per_sample": 2}
    )
    assert (config.n_scenes, config.n_priors) == (3, 2)
    generation = config.generation_config(
        {"workers": 2}, episode=1, priors=[Prior("a"), Prior("b")]
    )
    assert generation.n_samples == 3 and generation.n_tasks == 2
    assert [p.task for p in generation.priors] == ["a", "a", "b"]
    assert generation.seed != config.generation_config({}, episode=2).seed


def _world(task: str) -> World:
    suite = read_eval_suite(REPO / "data/01_raw/eval_tasks_1.json")
    graph = suite.graphs[suite.task_graphs[0]]
    return World(graph=graph, task=dataclasses.replace(suite.tasks[0], task=task))


def test_a_prior_that_replays_a_world_is_that_world_then_new_scenes_like_it():
    """task_failure: the failed world (one rollout) and graphs_per_sample similar new scenes,
    until the scenes hold n_batch rollouts."""
    config = IterativeConfig(n_batch=5, tasks_per_sample=2, graphs_per_sample=1)
    failed = Prior.of_world(_world("where is the ladder?"), sample_id="o1")
    generation = config.generation_config({}, episode=1, priors=[failed, Prior("b")])
    worlds = [p.world is not None for p in generation.priors]
    assert worlds == [True, False, False]  # 1 + 2 + 2 rollouts
    assert generation.n_samples == 3
    assert [p.task for p in generation.priors] == ["where is the ladder?"] * 2 + ["b"]


@pytest.mark.parametrize(
    ("collection", "teacher", "scenes"), [("teacher", 6, 3), ("mixed", 3, 2), ("dagger", 0, 0)]
)
def test_the_collection_sets_the_teachers_share_of_n_batch(collection, teacher, scenes):
    config = IterativeConfig(n_batch=6, tasks_per_sample=2, collection=collection)
    assert (config.teacher_share, config.n_scenes) == (teacher, scenes)
    assert config.generation_config({}, episode=1).n_samples == scenes
    assert [config.beta(n) for n in (1, 2, 3)] == [0.5, 0.25, 0.125]


def test_mixed_new_samples_are_half_each_and_one_fills_in_for_the_other():
    config = IterativeConfig(n_batch=4, collection="mixed")
    rollouts, states = SAMPLES[1:4], SAMPLES[4:]
    new = select_new_samples(config, rollouts, states, SAMPLES[:1])
    assert [s["id"] for s in new] == [s["id"] for s in [*rollouts[:2], *states[:2]]]
    short = select_new_samples(config, rollouts[:1], states, SAMPLES[:1])  # 1 rollout passed
    assert [s["id"] for s in short] == [s["id"] for s in [rollouts[0], *states[:3]]]
    dagger = dataclasses.replace(config, collection="dagger")
    assert select_new_samples(dagger, [], states, []) == states  # no rollouts generated


# ---------------------------------------------------------------------------------- nodes
def test_prepare_initial_dataset_subsamples_the_first_samples_and_drops_duplicates():
    config = IterativeConfig(initial_dataset_size=2)
    first, same = prepare_initial_dataset(config, [SAMPLES[0], SAMPLES[0], *SAMPLES[1:]])
    assert [s["id"] for s in first] == [SAMPLES[0]["id"], SAMPLES[1]["id"]] and same == first


def test_priors_come_from_per_sample_metrics_aligned_by_id():
    hard = SAMPLES[3]["id"]
    rows = [
        {
            "evaluator": "token_metrics",  # whose declared sample_metrics the columns are
            "split": "train",
            "id": s["id"],
            "loss": 10.0 if s["id"] == hard else 0.0,
            "accuracy": 0.5,
        }
        for s in SAMPLES
    ]
    rows[0] = {**rows[0], "loss": math.nan}  # never offered: no finite metric
    rows.append(
        {
            "evaluator": "token_metrics",
            "split": "held_out",
            "id": "other",
            "loss": 99.0,
            "accuracy": 0,
        }
    )
    config = IterativeConfig(n_batch=2, tasks_per_sample=2, sampling_strategy="loss_weighted")
    priors = sample_generation_priors(config, SAMPLES, {"samples": rows}, [], episode=1)
    assert priors["ids"] == [hard]
    (prior,) = priors["priors"]
    assert (prior["task"], prior["sample_id"]) == ("find truck 3", hard)


def test_new_samples_are_at_most_n_batch_and_never_known_ones():
    config = IterativeConfig(n_batch=2)
    new = select_new_samples(
        config, [SAMPLES[0], SAMPLES[4], SAMPLES[4], SAMPLES[5]], [], SAMPLES[:2]
    )
    assert [s["id"] for s in new] == [SAMPLES[4]["id"], SAMPLES[5]["id"]]
    combined = combine_datasets(SAMPLES[:5], new)
    assert [s["id"] for s in combined] == [s["id"] for s in SAMPLES]


# ---------------------------------------------------------------------------------- shape
def test_the_pipeline_has_one_namespace_per_episode():
    pipeline = create_pipeline(3)
    namespaces = {n.namespace for n in pipeline.nodes}
    assert {f"iterative.episode_{i}" for i in (1, 2, 3)} <= namespaces
    assert "iterative.episode_4.training_data" in pipeline.outputs()
    train = next(n for n in pipeline.nodes if n.name == "iterative.episode_2.train_student")
    assert train.inputs == [
        "iterative.episode_2.training_samples",
        "iterative.episode_2.training_split",
        "iterative.student_base",
        "iterative.episode_2.training_config",
        "iterative.episode_2.training_checkpoints",
        "iterative.config",
        # warm_start: the previous episode's saved student, after the node that saves it
        "iterative.episode_1.student_dir",
        "iterative.episode_1.training_metrics",
    ]
    first = next(n for n in pipeline.nodes if n.name == "iterative.episode_1.train_student")
    assert first.inputs == [i.replace("episode_2", "episode_1") for i in train.inputs[:5]]
    with pytest.raises(ValueError, match="n_episodes must be a positive integer"):
        create_pipeline(0)


def test_nothing_runs_before_the_checks_but_what_writes_nothing():
    """The inputs and the endpoints are checked and the run is recorded before any file is
    written: every node but the checks runs after record_run, except one that makes only the
    in-memory TrainConfig of the loop's (checked) training parameters."""
    pipeline = create_pipeline(2)
    checks = {"iterative.check_iterative_inputs", "iterative.check_endpoints"}
    record = next(n for n in pipeline.nodes if n.name == "iterative.record_run")
    assert {"iterative.checked_config", "iterative.endpoints"} <= set(record.inputs)
    after = {n.name for n in pipeline.from_nodes("iterative.record_run").nodes}
    before = {n.name for n in pipeline.nodes} - after - checks
    assert before == {"iterative.check_training_inputs"}
    (config_node,) = (n for n in pipeline.nodes if n.name in before)
    assert config_node.outputs == ["iterative.training_config"]  # a MemoryDataset


def test_the_hook_hands_n_episodes_of_the_run_to_the_registry(monkeypatch):
    monkeypatch.setattr(episode_module, "_state", {"configured": None, "built": None})
    context = SimpleNamespace(config_loader={"parameters": {"iterative": {"n_episodes": 3}}})
    episode_module.EpisodeCountHook().after_context_created(context)
    assert episode_module.episode_count() == 3
    context.config_loader["parameters"]["iterative"]["n_episodes"] = 0
    episode_module.EpisodeCountHook().after_context_created(context)
    assert episode_module.episode_count() == 1  # the run then stops in check_iterative_inputs


def test_outside_a_run_n_episodes_comes_from_the_configuration_files(monkeypatch):
    monkeypatch.setattr(episode_module, "_state", {"configured": None, "built": None})
    monkeypatch.chdir(Path(__file__).resolve().parents[3])
    assert episode_module.episode_count() == 5  # conf/base/parameters_iterative.yml


def test_a_new_n_episodes_in_the_same_process_rebuilds_the_pipelines(monkeypatch):
    from kedro.framework import project

    monkeypatch.setattr(episode_module, "_state", {"configured": 2, "built": 2})
    monkeypatch.setattr(project, "PACKAGE_NAME", "prism")
    configured = []
    monkeypatch.setattr(project.pipelines, "configure", configured.append)
    context = SimpleNamespace(config_loader={"parameters": {"iterative": {"n_episodes": 3}}})
    episode_module.EpisodeCountHook().after_context_created(context)
    assert configured == ["prism.pipeline_registry"]
    assert episode_module.episode_count() == 3
