"""The iterative loop: ``kedro run --pipelines iterative``.

The training, evaluation and generation pipelines are instantiated once per episode under the
namespace ``iterative.episode_N`` and chained::

    iterative.episode_N.training_data (dataset_episode_N.json)
      -> train -> iterative.episode_N.student_model (iterative_model_episode_N/)
      -> evaluate -> evaluation_metrics, evaluation_tables (per-sample metrics)
      -> probe: the student on fresh tasks -> probe_outcomes (with collection dagger/mixed:
         the teacher's labels of the states it reaches -> collected_states)
      -> sample examples (sampler plugin) -> generate (data_gen_episode_N/; further scenes
         while fewer than the teacher's share of n_batch passed)
      -> new_samples (new_samples_episode_N.json: rollouts and labelled states by collection)
      -> combine -> iterative.episode_{N+1}.training_data

After the first episode, training continues from the previous episode's student with
``warm_start`` (:func:`~prism.pipelines.iterative.onpolicy.train_episode`).

and each episode ends with its paired comparison (``episode_N/paired_comparison.json``: task
by task against the previous episode, for episode 1 the untuned base, and against the base) and
its summary (``episode_N/episode_summary.json``: what wandb logs for it, and the row of the
report).

Before the episodes: one node checks every parameter and input, one that the endpoint teacher
or scene generator answers, and one records the run (``iterative_run.json``) and hands the
checked configuration to every other node, so nothing is written before. Then one writes the
initial dataset (``dataset_episode_0.json``, which is also episode 1's dataset), one prepares
the student base all episodes share, one measures this machine's speed on it and logs
the plan with the time it should take (:mod:`~prism.pipelines.iterative.plan`), one scores the
teacher on the eval tasks, two evaluate
the untuned student base on the same tasks and worlds (namespace ``iterative.base``,
``base/evaluation_metrics.json`` and ``evaluation_tables.json``), and one makes
``iterative.tracking``, what the loop's wandb run is opened with. Each episode trains with its
own ``training_config`` (the loop's, with its run name). After the episodes one node ranks the
episodes by ``objective`` and links ``best_model``, and the last two report every episode from
their summaries: ``episode_metrics`` (a table, one row per episode, also logged),
``metrics_plot`` (loss, accuracy and task success per episode with its 95 % interval, the
teacher's and the base's too) and
``dataset_growth_plot``. Every dataset is a catalog entry (``conf/base/catalog_iterative.yml``)
under ``output_dir``; wandb logging is a hook's (:class:`prism.hooks.wandb_run.WandbEpisodeHook`), which
finds the tracking and the summaries by their catalog ``metadata``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from kedro.pipeline import Node, Pipeline

from prism.pipelines import CREDENTIALS_DATASET, evaluation, training
from prism.pipelines.iterative.comparison import compare_episode, evaluate_base
from prism.pipelines.iterative.new_samples import generate_episode_rollouts, select_new_samples
from prism.pipelines.iterative.nodes import (
    check_generation_endpoints,
    check_iterative_inputs,
    combine_datasets,
    episode_generation_config,
    episode_training_config,
    prepare_initial_dataset,
    record_run,
    sample_generation_priors,
)
from prism.pipelines.iterative.onpolicy import probe_student, train_episode
from prism.pipelines.iterative.plan import announce_plan
from prism.pipelines.iterative.reports import (
    log_episode_report,
    report_episodes,
    select_best_episode,
    summarize_episode,
)
from prism.pipelines.iterative.tracking import loop_tracking
from prism.pipelines.training.nodes import check_training_inputs

#: The namespace of the loop; episodes are ``iterative.episode_N``.
NAMESPACE = "iterative"
#: The untuned student base's evaluation, within the loop's namespace: ``iterative.base``.
BASE_NAMESPACE = "base"

#: The node that measures this machine and says the plan. Kedro runs the nodes that are ready
#: together in the order of their names: this one sorts before the untuned base's evaluation
#: (``iterative.base.evaluate_untuned_base``), so the plan comes before its minute of work.
PLAN_NODE = "announce_plan"

#: The node that ends an episode: its summary (``episode_N/episode_summary.json``).
SUMMARY_NODE = "summarize_episode"

#: Inputs that every part of the loop shares, outside any namespace.
SHARED_INPUTS = {
    name: name for name in ("held_out_data", "eval_tasks", "call_cache", CREDENTIALS_DATASET)
}
#: The reused pipelines' parameters, shared as they are (not prefixed by a namespace).
SHARED_PARAMETERS = {"iterative", "training", "generation", "evaluation"}

#: Nodes of the training pipeline that each episode runs (its training_config is the loop's).
TRAINING_NODES = ("load_training_samples", "split_train_val", "train_student")
#: Nodes of the evaluation pipeline that each episode runs.
EVALUATION_NODES = ("evaluate_student", "summarize_evaluation", "sample_table", "plot_samples")


def episode_namespace(episode: int) -> str:
    """``iterative.episode_N``."""
    return f"{NAMESPACE}.episode_{episode}"


def create_pipeline(n_episodes: int) -> Pipeline:
    """The iterative loop with ``n_episodes`` episodes.

    Args:
        n_episodes: how many train-evaluate-generate cycles; in a run it comes from the
            ``n_episodes`` parameter through :func:`prism.pipelines.iterative.episode_count`.

    Raises:
        ValueError: ``n_episodes`` is not a positive integer.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int) or n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    return Pipeline(
        [
            _setup(n_episodes),
            *(_episode(n) for n in range(1, n_episodes + 1)),
            _best(n_episodes),
            _report(n_episodes),
        ]
    )


def _setup(n_episodes: int) -> Pipeline:
    """Check the inputs and the endpoints, record the run, write the initial dataset, prepare
    the student base, score the teacher, and say how the loop is tracked."""
    base = training.create_pipeline(build_base=True).only_nodes("prepare_student_base")
    nodes = Pipeline(
        [
            Node(
                _bind(check_iterative_inputs, built_episodes=n_episodes),
                [
                    "params:iterative",
                    "params:training",
                    "params:generation",
                    "params:evaluation",
                    "initial_data",
                    "held_out_data",
                    "eval_tasks",
                    "previous_run",
                ],
                [
                    "checked_config",
                    "checked_evaluation_config",
                    "training_params",
                    "run_fingerprint",
                ],
                name="check_iterative_inputs",
            ),
            Node(
                check_generation_endpoints,
                ["checked_config", "params:generation", CREDENTIALS_DATASET],
                "endpoints",
                name="check_endpoints",
            ),
            # The only node after the checks that takes their configuration: every other one
            # takes it from here, so nothing is written before the run is recorded.
            Node(
                record_run,
                ["checked_config", "checked_evaluation_config", "run_fingerprint", "endpoints"],
                ["run_record", "config", "evaluation_config"],
                name="record_run",
            ),
            Node(
                loop_tracking,
                [
                    "config",
                    "run_record",
                    "training_params",
                    "params:generation",
                    "params:evaluation",
                ],
                "tracking",
                name="loop_tracking",
            ),
            Node(
                check_training_inputs,
                "training_params",
                "training_config",
                name="check_training_inputs",
            ),
            Node(
                prepare_initial_dataset,
                ["config", "initial_data"],
                ["initial_dataset", "first_dataset"],
                name="prepare_initial_dataset",
            ),
            base,
            Node(
                announce_plan,
                [
                    "config",
                    "training_config",
                    "evaluation_config",
                    "first_dataset",
                    "eval_tasks",
                    "student_base",
                ],
                None,
                name=PLAN_NODE,
            ),
            evaluation.create_pipeline().only_nodes("score_teacher"),
            _base_evaluation(),
        ]
    )
    return Pipeline(
        nodes,
        namespace=NAMESPACE,
        inputs={**SHARED_INPUTS, "training_samples": f"{NAMESPACE}.episode_1.training_data"},
        outputs={
            "initial_dataset": f"{NAMESPACE}.episode_0.training_data",
            "first_dataset": f"{NAMESPACE}.episode_1.training_data",
        },
        parameters=SHARED_PARAMETERS,
    )


def _base_evaluation() -> Pipeline:
    """The untuned student base on the eval tasks, once: what every episode is compared with
    (namespace ``base``, within the loop's)."""
    return Pipeline(
        [
            Node(
                evaluate_base,
                ["evaluation_config", "student_base", "eval_tasks"],
                ["student_evaluation", "evaluation_tables", "evaluation_transcripts"],
                name="evaluate_untuned_base",
            ),
            evaluation.create_pipeline().only_nodes("summarize_evaluation"),
        ],
        namespace=BASE_NAMESPACE,
        inputs={"evaluation_config", "student_base", "eval_tasks", "teacher_task_eval"},
    )


def _episode(episode: int) -> Pipeline:
    """One episode: train (after the first, continuing from the previous episode's weights with
    ``warm_start``), evaluate, probe the student on fresh tasks (and collect the teacher's labels
    of its states), sample examples, generate, combine, summarize."""
    training_nodes = training.create_pipeline(build_base=False).only_nodes(*TRAINING_NODES)
    if episode > 1:
        training_nodes = _continuing(training_nodes)
    steps = Pipeline(
        [
            Node(
                _bind(episode_training_config, episode=episode),
                ["config", "loop_training_config", "tracking"],
                "training_config",
                name="episode_training_config",
            ),
            training_nodes,
            evaluation.create_pipeline().only_nodes(*EVALUATION_NODES),
            Node(
                _bind(probe_student, episode=episode),
                [
                    "config",
                    "params:generation",
                    "evaluation_config",
                    "student_model",
                    "probe_store",
                    "collection_store",
                    "call_cache",
                    CREDENTIALS_DATASET,
                ],
                ["probe_outcomes", "collected_states", "collection_report"],
                name="probe_student",
            ),
            Node(
                _bind(sample_generation_priors, episode=episode),
                ["config", "training_data", "evaluation_tables", "probe_outcomes"],
                "generation_priors",
                name="sample_generation_priors",
            ),
            Node(
                _bind(episode_generation_config, episode=episode),
                ["config", "params:generation", "generation_priors"],
                "generation_config",
                name="episode_generation_config",
            ),
            Node(
                generate_episode_rollouts,
                [
                    "config",
                    "generation_config",
                    "collected_states",
                    "training_data",
                    "data_gen",
                    "call_cache",
                    CREDENTIALS_DATASET,
                ],
                [
                    "generated_samples",
                    "generated_failed",
                    "generation_stats",
                    "generated_scenes",
                ],
                name="generate_rollouts",
            ),
            Node(
                select_new_samples,
                ["config", "generated_samples", "collected_states", "training_data"],
                "new_samples",
                name="select_new_samples",
            ),
            Node(
                combine_datasets,
                ["training_data", "new_samples"],
                "next_training_data",
                name="combine_datasets",
            ),
            Node(
                _bind(compare_episode, episode=episode),
                ["evaluation_tables", "previous_evaluation_tables", "base_evaluation_tables"],
                "paired_comparison",
                name="compare_episode",
            ),
            Node(
                _bind(summarize_episode, episode=episode),
                [
                    "training_metrics",
                    "evaluation_metrics",
                    "evaluation_tables",
                    "training_data",
                    "new_samples",
                    "paired_comparison",
                    "base_evaluation_metrics",
                    "collection_report",
                ],
                "episode_summary",
                name=SUMMARY_NODE,
            ),
        ]
    )
    base = f"{NAMESPACE}.{BASE_NAMESPACE}"
    previous = episode_namespace(episode - 1) if episode > 1 else base
    return Pipeline(
        steps,
        namespace=episode_namespace(episode),
        inputs={
            **SHARED_INPUTS,
            "config": f"{NAMESPACE}.config",
            "loop_training_config": f"{NAMESPACE}.training_config",
            "tracking": f"{NAMESPACE}.tracking",
            "evaluation_config": f"{NAMESPACE}.evaluation_config",
            "student_base": f"{NAMESPACE}.student_base",
            "teacher_task_eval": f"{NAMESPACE}.teacher_task_eval",
            "previous_evaluation_tables": f"{previous}.evaluation_tables",
            "base_evaluation_tables": f"{base}.evaluation_tables",
            "base_evaluation_metrics": f"{base}.evaluation_metrics",
            **(
                {
                    "previous_student": f"{episode_namespace(episode - 1)}.student_dir",
                    "previous_training": f"{episode_namespace(episode - 1)}.training_metrics",
                }
                if episode > 1
                else {}
            ),
        },
        outputs={"next_training_data": f"{episode_namespace(episode + 1)}.training_data"},
        parameters={"generation"},
    )


def _continuing(training_nodes: Pipeline) -> Pipeline:
    """The training nodes with ``train_student`` replaced by :func:`train_episode`, which can
    continue from the previous episode's student (``warm_start``)."""
    (train_node,) = [n for n in training_nodes.nodes if n.name == "train_student"]
    return Pipeline(
        [
            *(n for n in training_nodes.nodes if n is not train_node),
            Node(
                train_episode,
                [*train_node.inputs, "config", "previous_student", "previous_training"],
                train_node.outputs,
                name="train_student",
            ),
        ]
    )


def _best(n_episodes: int) -> Pipeline:
    """Rank the episodes by the objective and link ``best_model``."""
    reports = {
        f"report_{n}": f"{episode_namespace(n)}.evaluation_metrics"
        for n in range(1, n_episodes + 1)
    }
    return Pipeline(
        [
            Node(
                select_best_episode,
                ["config", *reports],
                ["best_model", "summary"],
                name="select_best_model",
            )
        ],
        namespace=NAMESPACE,
        inputs=reports,
    )


def _report(n_episodes: int) -> Pipeline:
    """Tabulate and plot every episode's summary, after the best is picked, and log the table."""
    summaries = {
        f"episode_summary_{n}": f"{episode_namespace(n)}.episode_summary"
        for n in range(1, n_episodes + 1)
    }
    return Pipeline(
        [
            Node(
                report_episodes,
                ["summary", *summaries],
                ["episode_metrics", "metrics_plot", "dataset_growth_plot", "episode_report"],
                name="report_episodes",
            ),
            # No outputs: runs every time, and so makes report_episodes run every time (its
            # in-memory episode_report is needed), also when only_missing_outputs would skip
            # it because the files of an earlier run exist.
            Node(log_episode_report, "episode_report", None, name="log_episode_report"),
        ],
        namespace=NAMESPACE,
        inputs=summaries,
    )


def _bind(func: Callable[..., Any], **values: Any) -> Callable[..., Any]:
    """``func`` with the keyword arguments ``values`` fixed (an episode's number), for a node.

    Unlike a bare ``functools.partial`` it keeps the name, the documentation and the type hints
    of the remaining arguments, which Kedro reads for its logs and parameter validation.
    """

    @functools.wraps(func)
    def bound(*args: Any) -> Any:
        return func(*args, **values)

    signature = inspect.signature(func)
    bound.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in signature.parameters.items() if name not in values]
    )
    return bound
