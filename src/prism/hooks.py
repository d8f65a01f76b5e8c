"""Kedro hooks of the project: credentials for the endpoint nodes, the release of training
checkpoints once a model is saved, and wandb for the iterative loop (:class:`WandbEpisodeHook`)."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol

from prism.pipelines import CREDENTIALS_DATASET
from prism.values import is_finite_number

logger = logging.getLogger(__name__)


class EndpointCredentialsHook:
    """Give nodes that talk to an OpenAI-compatible endpoint the project's credentials.

    Kedro hands credentials only to datasets; the teacher and the scene generator are node
    parameters, so the credentials go into the catalog as an in-memory input. A missing
    ``conf/local/credentials.yml`` is fine: the endpoint code then falls back to the environment
    and fails with a clear message only when an endpoint is actually configured.
    """

    @hook_impl
    def after_catalog_created(self, catalog: CatalogProtocol, conf_creds: dict[str, Any]) -> None:
        catalog[CREDENTIALS_DATASET] = dict(conf_creds or {})


class TrainingCheckpointsHook:
    """Delete a training run's checkpoints once the catalog has saved its model.

    The train node (``train_student``, in any namespace) keeps its resumable checkpoints in its
    ``training_checkpoints`` input folder: a run killed after training but before the model
    reaches the disk must still find them. Once ``student_model`` is saved they go
    (:func:`prism.training.checkpoints.release_checkpoints`).
    """

    def __init__(self) -> None:
        self._catalog: CatalogProtocol | None = None

    @hook_impl
    def after_catalog_created(self, catalog: CatalogProtocol) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        if self._catalog is None or node is None:
            return
        if node.name.rsplit(".", 1)[-1] != "train_student":
            return
        if dataset_name.rsplit(".", 1)[-1] != "student_model":
            return
        folder = next((n for n in node.inputs if n.endswith("training_checkpoints")), None)
        if folder is None:
            return
        from prism.training.checkpoints import release_checkpoints

        release_checkpoints(self._catalog.load(folder))


# ------------------------------------------------------------------------------------- wandb
#: Names of keys whose values never reach wandb: the last part of the key (after ``_``, ``-``
#: or ``.``) is one of these words, case-insensitive (``api_key``, ``hub_token``,
#: ``client_secret``, ``password``, ``credentials`` ...; ``max_new_tokens`` and
#: ``token_metrics`` are not secrets).
SECRET_KEY = re.compile(
    r"(?:^|[_\-.])(?:api_?key|apikey|(?:secret|private|access)_?key|token|password|passwd|"
    r"secret|credentials?|auth|authorization)$",
    re.IGNORECASE,
)
#: Values that are secrets whatever their key: OpenAI-style keys, and the user and password
#: of a URL (``https://user:pass@host``).
_SECRET_VALUE = re.compile(r"^sk-[A-Za-z0-9_\-]{16,}$")
_URL_USERINFO = re.compile(r"^([a-z][a-z0-9+.\-]*://)[^/@\s]+@", re.IGNORECASE)
REDACTED = "<redacted>"


def scrub_secrets(value: Any) -> Any:
    """``value`` as plain data (mappings, lists, scalars; dataclasses as mappings) with every
    secret replaced by ``<redacted>``: the value of a key named like a secret
    (:data:`SECRET_KEY`), an OpenAI-style key anywhere, and the credentials in a URL."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if SECRET_KEY.search(str(k)) else scrub_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_secrets(v) for v in value]
    if isinstance(value, str):
        if _SECRET_VALUE.match(value):
            return REDACTED
        return _URL_USERINFO.sub(rf"\1{REDACTED}@", value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


#: ``iterative.episode_N.<node>``: the episode and the node's own name.
_EPISODE_NODE = re.compile(r"^iterative\.episode_(\d+)\.(\w+)$")


class WandbEpisodeHook:
    """Log the iterative loop to wandb: one run per ``kedro run --pipelines iterative``, named
    after the ``name`` parameter, with the episode as the step.

    Per episode (step ``N``) it logs

    * every metric of the episode's evaluation report under the evaluators' names:
      ``train/mean_loss``, ``train/mean_accuracy``, ``eval/mean_loss``, ``eval/mean_accuracy``,
      ``held_out/mean_loss``, ``held_out/mean_accuracy`` (with ``held_out_data``),
      ``task/accuracy``, ``task/valid_rate``, ``teacher/task_accuracy``, ``task/of_teacher``;
    * ``samples/<split>/accuracy`` and ``samples/<split>/loss``: histograms of the per-sample
      token metrics (``wandb.Histogram``), one per split;
    * ``dataset/size`` (samples trained on), ``dataset/new_samples`` and
      ``dataset/next_size``;
    * ``training/loss_first``, ``training/loss_last``, ``training/val_loss_before``,
      ``training/val_loss_after``, ``training/steps``, ``training/seconds``,
      ``training/tokens_per_second`` from the episode's training, and
      ``training/loss_curve_episode_N``, a chart of its loss per optimizer step;
    * ``best/episode`` and ``best/value``: the best episode so far by ``objective``
      (``objective_type``), and its value;

    and the run's configuration (the ``iterative`` parameters, the episodes' training
    parameters, ``generation`` and ``evaluation``) with every secret redacted
    (:func:`scrub_secrets`). The run's summary gets the loop's final best episode.

    **On and off.** The hook follows the loop's training setting ``report_to``: ``wandb`` (the
    default) turns it on, ``none`` or ``tensorboard`` off (``--params training.report_to=none``,
    or ``report_to`` under the loop's own ``training`` parameter). ``WANDB_MODE=disabled`` turns
    it off too; otherwise ``WANDB_MODE`` picks the mode, **offline** when unset
    (``WANDB_MODE=online`` uploads), and ``WANDB_PROJECT`` the project (``prism``). wandb
    writes under ``$WANDB_DIR/wandb`` (default ``./wandb``). While the loop's ``report_to`` is
    ``wandb``, the episodes' training configurations report nowhere (``report_to: none``, set
    by ``episode_training_config``; the ``training/...`` values above stand for it):
    transformers' Trainer would log its optimizer steps into this run as the run's step, which
    would collide with the episodes (wandb drops values logged at an earlier step), and one run
    per episode would scatter a loop over ``n_episodes + 1`` runs. The per-step losses are kept
    in the loss-curve charts and in each episode's ``training_metrics.json``.

    Nothing here can stop the loop: wandb missing, failing to start or failing to log is a
    warning, and the loop runs on without wandb. Episodes a resumed run skips (finished
    earlier) are logged from their saved outputs, so every run holds the whole history.

    Attributes:
        logged: what was logged, by step (episode): key -> value.
        config: the configuration given to ``wandb.init`` (secrets redacted).
        run: the wandb run while it is open, else ``None``.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self.logged: dict[int, dict[str, Any]] = {}
        self._evaluated: set[int] = set()  # episodes whose evaluation this run has logged
        self.config: dict[str, Any] | None = None
        self.run: Any = None
        self._iterative = False
        self._settings: Any = None  # the loop's IterativeConfig
        self._best: tuple[float, int] | None = None
        self._summary: Mapping[str, Any] | None = None
        self._failed = False

    # ------------------------------------------------------------------------- kedro hooks
    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        with self._lock:
            self._close()
            self._reset()
            self._iterative = any(n.name.startswith("iterative.") for n in pipeline.nodes)

    @hook_impl
    def after_node_run(
        self, node: Any, catalog: Any, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> None:
        if not self._iterative or self._failed:
            return
        with self._lock:
            try:
                self._after_node(node, catalog, inputs, outputs)
            except Exception as error:  # wandb must never stop the loop
                self._fail(error)

    @hook_impl
    def after_pipeline_run(self, catalog: Any) -> None:
        with self._lock:
            if self.run is not None:
                try:
                    self._backfill(catalog, self._settings.n_episodes + 1)
                    if self._summary:
                        self.run.summary.update(
                            {
                                "best/episode": self._summary.get("best_episode"),
                                "best/value": self._summary.get("value"),
                                "best/objective": self._summary.get("objective"),
                            }
                        )
                except Exception as error:
                    self._fail(error)
            self._close()

    @hook_impl
    def on_pipeline_error(self) -> None:
        with self._lock:
            self._close(exit_code=1)

    # ------------------------------------------------------------------------- the work
    def _after_node(self, node: Any, catalog: Any, inputs: dict, outputs: dict) -> None:
        if node.name == "iterative.check_iterative_inputs":
            self._start(catalog, outputs)
            return
        if self.run is None:
            return
        if node.name == "iterative.select_best_model":
            self._summary = outputs.get("iterative.summary")
            return
        match = _EPISODE_NODE.match(node.name)
        if not match:
            return
        episode, step = int(match.group(1)), match.group(2)
        prefix = f"iterative.episode_{episode}."
        if step == "train_student":
            values = _training_values(outputs.get(prefix + "training_metrics"), episode)
        elif step == "evaluate_student":
            values = {
                "dataset/size": len(inputs[prefix + "training_data"]),
                **_histograms(outputs.get(prefix + "evaluation_tables")),
            }
        elif step == "summarize_evaluation":
            values = self._metric_values(episode, outputs.get(prefix + "evaluation_metrics"))
            self._evaluated.add(episode)
        elif step == "combine_datasets":
            values = {
                "dataset/new_samples": len(inputs[prefix + "new_samples"]),
                "dataset/next_size": len(outputs[f"iterative.episode_{episode + 1}.training_data"]),
            }
        else:
            return
        # A run resumed after an episode's evaluation first meets that episode here: log what
        # it saved before the step's own values, at the same step.
        self._backfill(catalog, episode + 1 if step == "combine_datasets" else episode)
        self._log(episode, values)

    def _start(self, catalog: Any, outputs: dict[str, Any]) -> None:
        """Open the run once the loop's inputs are checked (a refused run opens none)."""
        settings = outputs.get("iterative.config")
        training = outputs.get("iterative.training_params") or {}
        report_to = training.get("report_to", "wandb")
        mode = os.environ.get("WANDB_MODE", "").strip().lower() or "offline"
        if settings is None:
            return
        if report_to != "wandb":
            logger.info("wandb: off for this run (training report_to is %r)", report_to)
            return
        if mode == "disabled" or os.environ.get("WANDB_DISABLED", "").lower() in ("1", "true"):
            logger.info("wandb: off for this run (WANDB_MODE=disabled)")
            return
        self._settings = settings
        self.config = scrub_secrets(
            {
                "iterative": settings,
                "training": training,
                "generation": _load_parameter(catalog, "params:generation"),
                "evaluation": _load_parameter(catalog, "params:evaluation"),
            }
        )
        try:
            import wandb

            self.run = wandb.init(
                project=os.environ.get("WANDB_PROJECT") or "prism",
                name=settings.name,
                job_type="iterative",
                config=self.config,
                mode=mode,
            )
        except Exception as error:  # wandb missing, a bad mode, a service that fails to start
            self.run = None
            logger.warning(
                "wandb: could not start a run (%s: %s); the loop goes on without wandb",
                type(error).__name__,
                error,
            )
            return
        logger.info(
            "wandb: run %s (%s mode), one step per episode; the episodes' training opens no "
            "run of its own",
            settings.name,
            mode,
        )

    def _metric_values(self, episode: int, report: Mapping[str, Any] | None) -> dict[str, Any]:
        metrics = {
            k: float(v)
            for k, v in ((report or {}).get("metrics") or {}).items()
            if is_finite_number(v)
        }
        value = metrics.get(self._settings.objective)
        if value is not None:
            score = self._settings.objective_score
            if self._best is None or score(value) > score(self._best[0]):  # earliest on a tie
                self._best = (value, episode)
        if self._best is not None:
            metrics.update({"best/episode": self._best[1], "best/value": self._best[0]})
        return metrics

    def _backfill(self, catalog: Any, episode: int) -> None:
        """Log the episodes before ``episode`` whose evaluation this run has not logged (a
        resumed run skips the finished ones) from their saved outputs."""
        for earlier in range(1, episode):
            if earlier in self._evaluated:
                continue
            prefix = f"iterative.episode_{earlier}."
            report = _load_saved(catalog, prefix + "evaluation_metrics")
            if report is None:
                continue  # never evaluated: nothing to show
            values = _training_values(_load_saved(catalog, prefix + "training_metrics"), earlier)
            samples = _load_saved(catalog, prefix + "training_data")
            if samples is not None:
                values["dataset/size"] = len(samples)
            values.update(_histograms(_load_saved(catalog, prefix + "evaluation_tables")))
            values.update(self._metric_values(earlier, report))
            new = _load_saved(catalog, prefix + "new_samples")
            if new is not None:
                values["dataset/new_samples"] = len(new)
                if samples is not None:
                    values["dataset/next_size"] = len(samples) + len(new)
            self._evaluated.add(earlier)
            self._log(earlier, values)

    def _log(self, episode: int, values: dict[str, Any]) -> None:
        if not values:
            return
        self.logged.setdefault(episode, {}).update(values)
        self.run.log({"episode": episode, **values}, step=episode)

    def _fail(self, error: Exception) -> None:
        self._failed = True
        logger.warning(
            "wandb: logging stopped (%s: %s); the loop goes on without wandb",
            type(error).__name__,
            error,
        )
        self._close(exit_code=1)

    def _close(self, exit_code: int | None = None) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        try:
            run.finish(exit_code=exit_code)
        except Exception as error:
            logger.warning("wandb: could not finish the run: %s: %s", type(error).__name__, error)


def _training_values(metrics: Mapping[str, Any] | None, episode: int) -> dict[str, Any]:
    names = {
        "train_loss_first": "training/loss_first",
        "train_loss_last": "training/loss_last",
        "val_loss_before": "training/val_loss_before",
        "val_loss_after": "training/val_loss_after",
        "steps": "training/steps",
        "train_seconds": "training/seconds",
        "tokens_per_second": "training/tokens_per_second",
    }
    metrics = metrics or {}
    values = {
        key: metrics[name] for name, key in names.items() if is_finite_number(metrics.get(name))
    }
    return {**values, **_loss_curve(metrics, episode)}


def _loss_curve(metrics: Mapping[str, Any], episode: int) -> dict[str, Any]:
    """``training/loss_curve_episode_N``: the episode's training loss per optimizer step, a
    line chart (the run's step is the episode, so the steps within one are a table)."""
    import wandb

    losses = [float(v) for v in metrics.get("train_losses") or [] if is_finite_number(v)]
    if not losses:
        return {}
    steps = metrics.get("steps") if is_finite_number(metrics.get("steps")) else len(losses)
    rows = [[round((i + 1) * steps / len(losses)), loss] for i, loss in enumerate(losses)]
    table = wandb.Table(columns=["step", "loss"], data=rows)
    title = f"Training loss, episode {episode}"
    return {
        f"training/loss_curve_episode_{episode}": wandb.plot.line(
            table, "step", "loss", title=title
        )
    }


def _histograms(tables: Mapping[str, Any] | None) -> dict[str, Any]:
    """``samples/<split>/accuracy`` and ``.../loss`` histograms of the per-sample metrics."""
    import wandb

    by_split: dict[str, dict[str, list[float]]] = {}
    for row in (tables or {}).get("samples", []):
        split = by_split.setdefault(str(row.get("split")), {"accuracy": [], "loss": []})
        for name, values in split.items():
            if is_finite_number(row.get(name)):
                values.append(float(row[name]))
    return {
        f"samples/{split}/{name}": wandb.Histogram(values, num_bins=20)
        for split, metrics in by_split.items()
        for name, values in metrics.items()
        if values
    }


def _load_parameter(catalog: Any, name: str) -> Any:
    try:
        return catalog.load(name)
    except Exception:  # a catalog without the parameter: leave it out of the config
        return None


def _load_saved(catalog: Any, name: str) -> Any:
    """A saved output, ``None`` when it does not exist (or cannot be read)."""
    try:
        return catalog.load(name) if catalog.exists(name) else None
    except Exception as error:
        logger.debug("wandb: %s not readable: %s", name, error)
        return None
