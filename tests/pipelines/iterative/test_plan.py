"""The loop's plan: its work counted from the configuration, its time from rates measured on the
tiny student, said in one line before the untuned base's evaluation; a continued run's plan is
what is left."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
import yaml

from prism.formats.eval_tasks import read_eval_suite
from prism.pipelines.evaluation.nodes import check_evaluation_inputs
from prism.pipelines.iterative import IterativeConfig, create_pipeline
from prism.pipelines.iterative.pipeline import PLAN_NODE
from prism.pipelines.iterative.plan import (
    BASE_DONE_FILE,
    EPISODE_DONE_FILE,
    FinishedWork,
    announce_plan,
    finished_work,
    format_plan,
    plan_loop,
)
from tests.conftest import CONVERSATIONS
from tests.pipelines.iterative.conftest import REPO
from tests.training.conftest import tiny_config


def test_the_plan_comes_before_the_untuned_bases_evaluation():
    order = [node.name for node in create_pipeline(2).nodes]
    plan = order.index(f"iterative.{PLAN_NODE}")
    assert plan < order.index("iterative.base.evaluate_untuned_base")
    assert plan > order.index("iterative.prepare_student_base")  # it measures that base
    assert plan < min(i for i, name in enumerate(order) if name.endswith("train_student"))


def test_the_plan_measures_the_tiny_student_and_counts_the_work(tiny_base, tmp_path):
    suite_file = tmp_path / "eval.json"
    suite_file.write_text(
        json.dumps(json.loads((REPO / "data/01_raw/eval_tasks_1.json").read_text())[:2])
    )
    suite = read_eval_suite(suite_file)  # 6 tasks
    evaluation = check_evaluation_inputs(
        {"evaluators": ["token_metrics", "task_success"], "task_success": {"max_new_tokens": 4}},
        {},
        suite,
    )
    config = IterativeConfig(n_episodes=3, n_batch=2, probe_tasks=4)
    samples = json.loads(CONVERSATIONS.read_text())[:20]
    training = tiny_config(epochs=1)

    plan = plan_loop(config, training, evaluation, samples, suite, tiny_base)

    work, rates = plan["work"], plan["rates"]
    assert (work["first_size"], work["last_size"], work["episodes"]) == (20, 24, 3)
    # 20 + 22 + 24 samples, one epoch, 90 % of them trained on
    assert work["training_samples"] == math.ceil(0.9 * 66)
    assert (work["eval_tasks"], work["probe_tasks"]) == (6, 4)
    assert rates["tokens_per_second"] > 0 and rates["seconds_per_task"] > 0
    # the training tokens at the measured rate; the base's 6 tasks, then 3 x (6 eval + 4 probe)
    # tasks, and the wait for the slowest task of each of those 7 stages
    training = work["training_samples"] * rates["tokens_per_sample"] / rates["tokens_per_second"]
    tasks = 36 * rates["seconds_per_task"] + 7 * rates["tail_seconds"]
    assert plan["seconds"] == pytest.approx(training + tasks)

    line = format_plan(config, work, rates, plan["seconds"])
    assert line.startswith(
        "plan: 3 episode(s), each training 1 epochs on 20 -> 24 samples (+2 per episode), "
        "6 eval tasks, 4 probe tasks; the untuned base first, on the 6 tasks. Expected about "
    )
    assert "on this machine (measured just now in " in line
    assert "tokens/s" in line and "s per closed-loop task" in line
    assert "not counted: loading and saving models" in line and "\n" not in line


def test_without_eval_tasks_or_probe_only_training_is_measured(tiny_base, tmp_path):
    suite = read_eval_suite(REPO / "data/01_raw/eval_tasks_1.json")
    evaluation = check_evaluation_inputs(
        {"evaluators": ["token_metrics", "task_success"], "skip_eval_tasks": True}, {}, suite
    )
    config = IterativeConfig(n_episodes=1, n_batch=5, probe_tasks=0, skip_eval_tasks=True)
    samples = json.loads(CONVERSATIONS.read_text())[:8]

    plan = plan_loop(config, tiny_config(epochs=2), evaluation, samples, suite, tiny_base)

    assert plan["rates"]["seconds_per_task"] is None and plan["seconds"] > 0
    line = format_plan(config, plan["work"], plan["rates"], plan["seconds"])
    assert line.startswith("plan: 1 episode(s), each training 2 epochs on 8 samples (+5 per")
    assert "eval tasks" not in line and "closed-loop" not in line


def _done(out: Path, *names: str) -> None:
    for name in names:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("{}")


def test_a_continued_run_knows_what_an_earlier_one_finished(tmp_path):
    config = IterativeConfig(n_episodes=3, output_dir=str(tmp_path))
    assert finished_work(config) == FinishedWork(episodes=0, base=False)
    _done(tmp_path, "base/evaluation_metrics.json", "episode_1/episode_summary.json")
    _done(tmp_path, "episode_3/episode_summary.json")  # episode 2 is not done: 3 runs again
    assert finished_work(config) == FinishedWork(episodes=1, base=True)
    _done(tmp_path, "episode_2/episode_summary.json")
    assert finished_work(config) == FinishedWork(episodes=3, base=True)


def test_the_files_it_looks_for_are_the_catalogs():
    catalog = yaml.safe_load((REPO / "conf/base/catalog_iterative.yml").read_text())
    summary = catalog["iterative.episode_{n}.episode_summary"]["filepath"]
    assert summary.endswith("}/" + EPISODE_DONE_FILE)
    assert catalog["iterative.base.evaluation_metrics"]["filepath"].endswith("}/" + BASE_DONE_FILE)


def test_a_continued_runs_plan_is_what_is_left(tiny_base, tmp_path):
    suite = read_eval_suite(REPO / "data/01_raw/eval_tasks_1.json")
    evaluation = check_evaluation_inputs({"evaluators": ["token_metrics"]}, {}, suite)
    config = IterativeConfig(n_episodes=3, n_batch=2, probe_tasks=0, output_dir=str(tmp_path))
    samples = json.loads(CONVERSATIONS.read_text())[:20]
    done = FinishedWork(episodes=2, base=True)

    plan = plan_loop(config, tiny_config(epochs=1), evaluation, samples, suite, tiny_base, done)

    work = plan["work"]
    assert (work["first_size"], work["last_size"]) == (24, 24)  # episode 3 only: 20 + 2 x 2
    assert work["training_samples"] == math.ceil(0.9 * 24)
    line = format_plan(config, work, plan["rates"], plan["seconds"])
    assert line.startswith(
        "plan: 3 episode(s), 2 done before: episode 3 left, each training 1 epochs on 24 samples"
    )
    assert "untuned base first" not in line


def test_a_run_with_every_episode_done_measures_nothing(tmp_path, caplog):
    config = IterativeConfig(n_episodes=1, output_dir=str(tmp_path))
    _done(tmp_path, "episode_1/episode_summary.json")
    with caplog.at_level(logging.INFO, logger="prism.pipelines.iterative.plan"):
        announce_plan(config, None, None, [], None, None)  # nothing to measure with
    assert caplog.messages == ["plan: the 1 episode(s) are done; the report follows"]
