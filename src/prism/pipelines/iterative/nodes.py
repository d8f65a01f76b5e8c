"""Nodes of the iterative loop that the generation, training and evaluation pipelines lack.

The loop reuses those pipelines' nodes for the work itself (training, evaluation, rollouts);
these nodes check the parameters, prepare the initial dataset, pick the examples that seed each
episode's generation, merge the new samples into the next episode's dataset, pick the best
episode and report every episode in a table and two plots. Plain functions: ``pipeline.py``
wires them to catalog entries.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from prism.config import fingerprint as fingerprint_hash
from prism.formats.conversations import dedupe
from prism.formats.eval_tasks import EvalSuite
from prism.formats.json_store import JsonStore
from prism.generation import GenerationConfig, check_endpoints
from prism.pipelines.evaluation.nodes import EvaluationConfig, check_evaluation_inputs
from prism.pipelines.iterative.config import (
    IterativeConfig,
    IterativeConfigError,
    fingerprint_changes,
)
from prism.plugins import SampleRequest, get_evaluator, get_plugin_manager, get_sampler
from prism.scenes.base import Prior
from prism.seeding import derive_seed
from prism.training.base_models import BUILTIN, resolve_base_model
from prism.values import is_finite_number

logger = logging.getLogger(__name__)

#: Key of the run record in the output directory (``<output_dir>/iterative_run.json``).
RUN_RECORD_KEY = "iterative_run"


# ---------------------------------------------------------------------------------- checks
def check_iterative_inputs(
    params: Mapping[str, Any],
    training: Mapping[str, Any],
    generation: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    initial_data: Sequence[Mapping[str, Any]],
    held_out_data: Sequence[Mapping[str, Any]] | None,
    eval_tasks: EvalSuite,
    run_record: JsonStore,
    credentials: Mapping[str, Any],
    built_episodes: int,
) -> tuple[IterativeConfig, EvaluationConfig, dict[str, Any]]:
    """Check every parameter and input file before anything is written.

    Every other node of the loop depends on this one. Besides the values themselves it checks
    that the sampler and evaluators are installed, that some evaluator reports ``objective``,
    that an endpoint teacher or scene generator answers, and that ``output_dir`` holds no run
    made with other parameters (a run may be continued, e.g. with more episodes, but never
    overwritten by a different one; how an endpoint is reached, its ``base_url``, key and
    timeouts, may change). Last, it records this run's parameters in
    ``<output_dir>/iterative_run.json``.

    Args:
        params: the ``iterative`` parameters.
        training, generation, evaluation: the pipelines' own parameters, which the loop's
            parameters override.
        initial_data: the loaded ``initial_data`` file.
        held_out_data: the loaded ``held_out_data`` file, ``None`` when not given.
        eval_tasks: the loaded eval task file.
        run_record: the output directory as a record store.
        credentials: Kedro credentials (``conf/local/credentials.yml``) for endpoints.
        built_episodes: the number of episodes the pipeline was built with.

    Returns:
        The loop's configuration, the evaluation configuration, and the training parameters
        (before the per-episode run name).

    Raises:
        IterativeConfigError: a wrong value, naming the parameter.
        UnknownPluginError: an unknown sampler or evaluator, listing the installed ones.
        TrainConfigError, ConfigError, BaseModelError: a wrong training or generation value.
    """
    config = IterativeConfig.from_params(params)
    if config.n_episodes != built_episodes:
        raise IterativeConfigError(
            f"n_episodes is {config.n_episodes} but the iterative pipeline was built with "
            f"{built_episodes} episodes: register prism.pipelines.iterative.EpisodeCountHook in "
            "settings.py HOOKS so that `--params n_episodes=N` shapes the pipeline"
        )
    get_sampler(config.sampling_strategy)  # UnknownPluginError lists the installed samplers
    training_params = config.training_params(training)
    base_model = str(training_params.get("base_model", ""))
    if base_model.lower() != BUILTIN:
        resolve_base_model(base_model)  # a missing shipped base or a bad path fails now
    # raises naming the generation parameter
    first_generation = config.generation_config(generation, episode=1)

    evaluation_params = {**dict(evaluation), "skip_eval_tasks": config.skip_eval_tasks}
    evaluation_config = check_evaluation_inputs(
        evaluation_params, _closed_loop_generation(config, generation), eval_tasks
    )
    _check_objective(config, evaluation_config, held_out=bool(held_out_data))
    _check_sampler_needs(config, evaluation_config)

    samples = list(initial_data)
    if not samples:
        raise IterativeConfigError(f"initial_data {config.initial_data}: the file holds no samples")
    if config.initial_dataset_size is not None and config.initial_dataset_size > len(samples):
        raise IterativeConfigError(
            f"initial_dataset_size is {config.initial_dataset_size} but initial_data "
            f"{config.initial_data} holds only {len(samples)} samples; pass at most {len(samples)}"
            " or leave it null for all of them"
        )

    fingerprint = config.fingerprint(
        training_params,
        {
            "initial_samples": _ids_hash(samples),
            "held_out_samples": _ids_hash(held_out_data or []),
            "eval_tasks": len(eval_tasks.tasks),
            "generation": _what_generation_makes(generation),
            "evaluation": evaluation_params,
        },
    )
    previous = run_record.get(RUN_RECORD_KEY)
    if previous is not None and previous.get("fingerprint") != fingerprint:
        changes = fingerprint_changes(previous.get("fingerprint") or {}, fingerprint)
        raise IterativeConfigError(
            f"output_dir {config.output_dir} holds an iterative run made with other parameters "
            f"({'; '.join(changes[:8]) or 'unknown differences'}); continue it with the same "
            "parameters (n_episodes and the objective may change), or pass another output_dir"
        )
    check_endpoints(first_generation, credentials)  # EndpointError says what to fix
    run_record.put(
        RUN_RECORD_KEY,
        {
            "fingerprint": fingerprint,
            "hash": fingerprint_hash(fingerprint),
            "n_episodes": config.n_episodes,
            "objective": config.objective,
            "objective_type": config.objective_type,
        },
    )
    logger.info(
        "iterative: %d episode(s) of %d new samples, sampler %s, into %s",
        config.n_episodes,
        config.n_batch,
        config.sampling_strategy,
        config.output_dir,
    )
    return config, evaluation_config, training_params


#: Endpoint settings that decide how a server is reached, not what it answers: a run may be
#: continued with them changed (a corrected ``base_url``, a new key, a longer timeout).
CONNECTION_SETTINGS = frozenset(
    {
        "base_url",
        "credentials",
        "api_key_env",
        "timeout_s",
        "max_retries",
        "backoff_s",
        "max_backoff_s",
        "max_concurrency",
    }
)


def _what_generation_makes(generation: Mapping[str, Any]) -> dict[str, Any]:
    """The generation parameters without those that cannot change the data: ``workers`` and
    the endpoints' connection settings."""

    def strip(value: Any, key: str = "") -> Any:
        if isinstance(value, Mapping):
            drop = CONNECTION_SETTINGS if key == "endpoint" else frozenset()
            return {k: strip(v, k) for k, v in value.items() if k not in drop}
        return value

    return {k: strip(v, k) for k, v in generation.items() if k != "workers"}


def _closed_loop_generation(config: IterativeConfig, generation: Mapping[str, Any]) -> dict:
    # Student and teacher are scored on worlds hidden the way the loop's data is generated.
    return {**dict(generation), "seed": config.seed, "graph_unknown": list(config.graph_unknown)}


def _check_objective(config: IterativeConfig, evaluation: EvaluationConfig, held_out: bool) -> None:
    splits = ["train", *(["eval"] if config.val_frac > 0 else []), *(["held_out"] * held_out)]
    metrics, undeclared = evaluation.declared_metrics(splits)
    if config.objective in metrics:
        pass
    elif undeclared:
        logger.warning(
            "objective %r is not a declared metric of the configured evaluators; it must come "
            "from %s, which declare none",
            config.objective,
            ", ".join(undeclared),
        )
    else:
        raise IterativeConfigError(
            f"objective {config.objective!r} is reported by no configured evaluator; available: "
            f"{', '.join(metrics) or 'none'} (evaluators {', '.join(evaluation.evaluators)}"
            f"{', eval tasks skipped' if config.skip_eval_tasks else ''})"
        )
    if config.eval_metric not in metrics and not undeclared:
        logger.warning(
            "eval_metric %r is reported by no configured evaluator; available: %s",
            config.eval_metric,
            ", ".join(metrics),
        )


def _check_sampler_needs(config: IterativeConfig, evaluation: EvaluationConfig) -> None:
    """The per-sample metrics the sampler weights by must come from a configured evaluator."""
    missing = [
        m for m in get_sampler(config.sampling_strategy).needs if m not in evaluation.sample_metrics
    ]
    if not missing:
        return
    providers = sorted(
        name
        for name, plugin in get_plugin_manager().evaluators().items()
        if set(missing) <= set(plugin.sample_metrics)
    )
    raise IterativeConfigError(
        f"sampling_strategy {config.sampling_strategy!r} weights samples by their "
        f"{' and '.join(missing)}, which no configured evaluator computes: add "
        f"{' or '.join(providers) or 'an evaluator that does'} to evaluation.evaluators or use "
        "sampling_strategy uniform"
    )


def _ids_hash(samples: Sequence[Mapping[str, Any]]) -> str:
    ids = sorted(str(s.get("id")) for s in samples)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------- data
def prepare_initial_dataset(
    config: IterativeConfig, initial_data: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The initial dataset: ``initial_data`` without duplicates, its first
    ``initial_dataset_size`` samples when that is set (as the seed subsamples).

    Returns:
        The same samples twice: as ``dataset_episode_0`` (the initial data as used) and as
        ``dataset_episode_1`` (what episode 1 trains on).
    """
    samples = [dict(s) for s in dedupe(initial_data)]
    if len(samples) < len(initial_data):
        logger.warning(
            "initial_data: dropped %d duplicate sample(s)", len(initial_data) - len(samples)
        )
    if config.initial_dataset_size is not None:
        samples = samples[: config.initial_dataset_size]
    logger.info("iterative: initial dataset of %d samples", len(samples))
    return samples, samples


def episode_training_params(
    config: IterativeConfig, training_params: Mapping[str, Any], episode: int
) -> dict[str, Any]:
    """The training parameters of one episode: its run is named ``<name>_episode_N``."""
    return {**dict(training_params), "name": f"{config.name}_episode_{episode}"}


def sample_generation_priors(
    config: IterativeConfig,
    samples: Sequence[Mapping[str, Any]],
    evaluation_tables: Mapping[str, Sequence[Mapping[str, Any]]],
    episode: int,
) -> dict[str, Any]:
    """Pick the examples that seed this episode's generation with the configured sampler.

    Per-sample metrics come from the evaluation's ``samples`` table (rows with ``id``,
    ``split`` and the metrics its evaluator declares in ``sample_metrics``, e.g. ``loss`` and
    ``accuracy``) and are aligned with the dataset by sample id. Samples without finite metrics
    (e.g. truncated away entirely) are not offered to the sampler.

    Returns:
        ``{"episode", "sampler", "ids", "priors"}``: the chosen ids and their priors (task,
        kind, sample and scene: :class:`~prism.scenes.base.Prior` as data), one per
        ``graphs_per_sample`` scenes.
    """
    by_id = {s["id"]: s for s in samples}
    metrics: dict[str, dict[str, float]] = {}
    for row in evaluation_tables.get("samples", []):
        if row.get("split") in ("train", "eval") and row.get("id") in by_id:
            names = get_evaluator(row["evaluator"]).sample_metrics if "evaluator" in row else ()
            values = {k: row.get(k) for k in names}
            if values and all(is_finite_number(v) for v in values.values()):
                metrics[row["id"]] = {k: float(v) for k, v in values.items()}
    candidates = [s for s in samples if s["id"] in metrics] if metrics else list(samples)
    if not candidates:
        candidates = list(samples)
    rng = random.Random(derive_seed(config.seed, "sampling", episode))
    sampler = get_sampler(config.sampling_strategy)
    ids = sampler.draw(SampleRequest(candidates, metrics, config.n_priors, rng))
    source = f"dataset_episode_{episode}.json"
    priors = [Prior.of_sample(by_id[i], source=source).to_dict() for i in ids]
    logger.info(
        "episode %d: %s sampler picked %d example(s) from %d samples",
        episode,
        config.sampling_strategy,
        len(ids),
        len(candidates),
    )
    return {"episode": episode, "sampler": config.sampling_strategy, "ids": ids, "priors": priors}


def episode_generation_config(
    config: IterativeConfig,
    generation: Mapping[str, Any],
    priors: Mapping[str, Any],
    episode: int,
) -> GenerationConfig:
    """The generation configuration of one episode (see
    :meth:`IterativeConfig.generation_config`)."""
    return config.generation_config(
        generation, episode, [Prior.from_value(p) for p in priors["priors"]]
    )


def select_new_samples(
    config: IterativeConfig,
    generated: Sequence[Mapping[str, Any]],
    samples: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The episode's new samples: up to ``n_batch`` passed rollouts not already in the dataset."""
    known = {s["id"] for s in samples}
    fresh = [dict(s) for s in dedupe(generated) if s["id"] not in known]
    new = fresh[: config.n_batch]
    if len(new) < config.n_batch:
        logger.warning(
            "only %d of %d new samples: the other rollouts failed or repeat known samples "
            "(their reasons are in generated_failed.json)",
            len(new),
            config.n_batch,
        )
    return new


def combine_datasets(
    samples: Sequence[Mapping[str, Any]], new_samples: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The next episode's dataset: this one's samples, then the new ones, each id once."""
    combined = [dict(s) for s in dedupe([*samples, *new_samples])]
    logger.info("dataset grows from %d to %d samples", len(samples), len(combined))
    return combined


# ---------------------------------------------------------------------------------- best
def select_best_episode(
    config: IterativeConfig, *reports: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rank the episodes by ``objective`` (``objective_type`` max or min).

    Args:
        config: the loop's configuration.
        reports: each episode's evaluation metrics report, episode 1 first.

    Returns:
        The selection (``{"episode": N, ...}``, which the ``best_model`` dataset links) and a
        summary of every episode's objective and ``eval_metric``.

    Raises:
        IterativeConfigError: no episode reported the objective (the evaluators' errors are
            named).
    """
    episodes = []
    for episode, report in enumerate(reports, start=1):
        metrics = report.get("metrics", {})
        episodes.append(
            {
                "episode": episode,
                "objective": metrics.get(config.objective),
                "eval_metric": metrics.get(config.eval_metric),
                "metrics": metrics,
                "errors": report.get("errors", {}),
            }
        )
    scored = [e for e in episodes if is_finite_number(e["objective"])]
    if not scored:
        errors = {e["episode"]: e["errors"] for e in episodes if e["errors"]}
        raise IterativeConfigError(
            f"objective {config.objective!r} was reported by no episode"
            + (f"; evaluator errors: {errors}" if errors else "")
        )
    # the earliest of equally good episodes
    best = max(scored, key=lambda e: (config.objective_score(e["objective"]), -e["episode"]))
    logger.info(
        "best episode: %d with %s %.4g (%s)",
        best["episode"],
        config.objective,
        best["objective"],
        config.objective_type,
    )
    selection = {
        "episode": best["episode"],
        "objective": config.objective,
        "objective_type": config.objective_type,
        "value": best["objective"],
    }
    summary = {
        **selection,
        "best_episode": best["episode"],
        "eval_metric": config.eval_metric,
        "episodes": [
            {k: e[k] for k in ("episode", "objective", "eval_metric", "errors")} for e in episodes
        ],
    }
    return selection, summary


# ---------------------------------------------------------------------------------- report
#: Metrics drawn by :func:`plot_episode_metrics`, in the table's column order: the token
#: metrics of each split, then the closed-loop ones.
LOSS_METRICS = ("train/mean_loss", "eval/mean_loss", "held_out/mean_loss")
ACCURACY_METRICS = ("train/mean_accuracy", "eval/mean_accuracy", "held_out/mean_accuracy")
TASK_SERIES = ("task/accuracy", "teacher/task_accuracy")
_METRIC_ORDER = (
    *LOSS_METRICS,
    *ACCURACY_METRICS,
    "task/accuracy",
    "task/valid_rate",
    "teacher/task_accuracy",
    "task/of_teacher",
)


def report_episodes(
    summary: Mapping[str, Any], *episodes: Any, n_episodes: int
) -> tuple[pd.DataFrame, Figure, Figure, str]:
    """The loop's report after the last episode: a table and two plots, one point per episode.

    Args:
        summary: the output of :func:`select_best_episode` (objective, best episode).
        episodes: each episode's evaluation metrics report, then each episode's dataset (what
            it trained on), then each episode's new samples; ``n_episodes`` of each, episode 1
            first.
        n_episodes: the number of episodes.

    Returns:
        The table (:func:`tabulate_episodes`), the metrics plot, the dataset growth plot, and
        the table's main columns as text (for :func:`log_episode_report`).
    """
    if len(episodes) != 3 * n_episodes:
        raise ValueError(f"expected 3 x {n_episodes} episode inputs, got {len(episodes)}")
    reports = episodes[:n_episodes]
    datasets = episodes[n_episodes : 2 * n_episodes]
    new_samples = episodes[2 * n_episodes :]
    table = tabulate_episodes(
        summary, reports, [len(d) for d in datasets], [len(s) for s in new_samples]
    )
    text = format_episode_report(table, summary)
    return table, plot_episode_metrics(table, summary), plot_dataset_growth(table), text


def format_episode_report(table: pd.DataFrame, summary: Mapping[str, Any]) -> str:
    """The table's main columns as aligned text: dataset sizes, the objective and the
    closed-loop success of student and teacher, the best episode marked ``*``."""
    objective = summary.get("objective")
    columns = [
        "episode",
        "dataset_size",
        "new_samples",
        *dict.fromkeys(
            c
            for c in (objective, "eval/mean_accuracy", "task/accuracy", "teacher/task_accuracy")
            if c and c in table
        ),
    ]
    shown = table[columns].copy()
    shown.insert(0, "", ["*" if best else "" for best in table["best"]])
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-")


def log_episode_report(report: str) -> None:
    """Log the episodes' table at the end of the run.

    A node without outputs runs on every run, so the report node that feeds it does too: a run
    continued with more episodes (``only_missing_outputs``) rewrites the table and the plots
    instead of keeping the earlier run's.
    """
    logger.info("iterative: episodes (* the best)\n%s", report)


def tabulate_episodes(
    summary: Mapping[str, Any],
    reports: Sequence[Mapping[str, Any]],
    dataset_sizes: Sequence[int],
    new_samples: Sequence[int],
) -> pd.DataFrame:
    """One row per episode: ``episode``, ``dataset_size`` (samples trained on),
    ``new_samples`` (generated and added), ``next_dataset_size``, every metric of the
    episode's report (``train/mean_loss`` ... ``task/of_teacher``, then any other evaluator's,
    by name) and ``best`` (the episode ``best_model`` links, by ``objective``)."""
    rows = []
    for episode, (report, size, new) in enumerate(
        zip(reports, dataset_sizes, new_samples, strict=True), start=1
    ):
        metrics = {k: float(v) for k, v in report.get("metrics", {}).items() if is_finite_number(v)}
        rows.append(
            {
                "episode": episode,
                "dataset_size": size,
                "new_samples": new,
                "next_dataset_size": size + new,
                **metrics,
                "best": episode == summary.get("best_episode"),
            }
        )
    fixed = ["episode", "dataset_size", "new_samples", "next_dataset_size"]
    names = {k for row in rows for k in row} - {*fixed, "best"}
    ordered = [m for m in _METRIC_ORDER if m in names] + sorted(names - set(_METRIC_ORDER))
    return pd.DataFrame(rows, columns=[*fixed, *ordered, "best"])


def plot_episode_metrics(table: pd.DataFrame, summary: Mapping[str, Any]) -> Figure:
    """Loss and accuracy per episode: the token metrics of every split, the student's
    closed-loop task success and the teacher's on the same tasks; the best episode marked."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    episodes = list(table["episode"]) if not table.empty else []
    styles = {
        "task/accuracy": {"color": "tab:red", "label": "task/accuracy (student)"},
        "teacher/task_accuracy": {"ls": "--", "color": "tab:green", "label": "teacher task"},
    }
    for ax, names in ((loss_ax, LOSS_METRICS), (acc_ax, (*ACCURACY_METRICS, *TASK_SERIES))):
        drawn = 0
        for name in names:
            if name in table and table[name].notna().any():
                style = {"label": name, **styles.get(name, {})}
                ax.plot(episodes, table[name], marker="o", **style)
                drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "not reported", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.legend(fontsize=7)
        best = summary.get("best_episode")
        if best is not None:
            ax.axvline(best, color="grey", ls=":", lw=1)
        ax.set_xticks(episodes)
        ax.set_xlabel("episode")
    loss_ax.set(ylabel="mean loss", title="Token loss per episode")
    acc_ax.set(ylabel="accuracy / success", title="Accuracy and task success per episode")
    acc_ax.set_ylim(-0.02, 1.02)
    objective = summary.get("objective")
    if objective:
        fig.suptitle(
            f"best episode {summary.get('best_episode')} by {objective} "
            f"({summary.get('objective_type', 'max')}), dotted",
            fontsize=9,
        )
    fig.tight_layout()
    return fig


def plot_dataset_growth(table: pd.DataFrame) -> Figure:
    """Samples per episode: what the episode trained on, and the new samples it added."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if table.empty:
        ax.text(0.5, 0.5, "no episodes", ha="center", va="center")
    else:
        episodes = list(table["episode"])
        sizes = list(table["dataset_size"])
        new = list(table["new_samples"])
        ax.bar(episodes, sizes, color="tab:blue", label="trained on")
        ax.bar(episodes, new, bottom=sizes, color="tab:orange", label="new samples")
        for x, size, extra in zip(episodes, sizes, new, strict=True):
            ax.annotate(f"{size}+{extra}", (x, size + extra), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(episodes)
        ax.legend(fontsize=8, loc="lower right")
    ax.set(xlabel="episode", ylabel="samples", title="Dataset growth")
    fig.tight_layout()
    return fig
