"""Kedro hooks of the project: credentials for the endpoint nodes, the release of training
checkpoints once a model is saved, and wandb for the iterative loop (:class:`WandbEpisodeHook`).
The console's hooks are :mod:`prism.console`'s."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol

from prism.pipelines import CREDENTIALS_DATASET

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
#: The key of a catalog entry's ``metadata`` that tells :class:`WandbEpisodeHook` what the
#: dataset is to wandb: :data:`WANDB_RUN`, :data:`WANDB_EPISODE` or :data:`WANDB_RUN_SUMMARY`.
WANDB_METADATA = "wandb"
#: The dataset the loop's wandb run is opened with (a ``LoopTracking``).
WANDB_RUN = "run"
#: An episode's summary (``summarize_episode``), logged at the step of its ``episode``.
WANDB_EPISODE = "episode"
#: The loop's summary (``select_best_episode``): the run's summary gets its best episode.
WANDB_RUN_SUMMARY = "run_summary"
_WANDB_ROLES = (WANDB_RUN, WANDB_EPISODE, WANDB_RUN_SUMMARY)


class WandbEpisodeHook:
    """Log the iterative loop to wandb: one run per ``kedro run --pipelines iterative``, named
    after the ``name`` parameter, with the episode as the step.

    The hook knows the pipeline only by the catalog entries it runs that carry a ``wandb``
    marker in their ``metadata`` (:data:`WANDB_METADATA`): it opens the run when the
    ``run`` dataset (``iterative.tracking``, a
    :class:`~prism.pipelines.iterative.tracking.LoopTracking`) is saved, logs every
    ``episode`` dataset (``iterative.episode_N.episode_summary``) as it is saved, and gives the
    ``run_summary`` dataset (``iterative.summary``) to the run's summary at the end.

    Per episode (step ``N``, from its summary) it logs

    * every metric of the episode's summary under the evaluators' names:
      ``train/mean_loss``, ``train/mean_accuracy``, ``eval/mean_loss``, ``eval/mean_accuracy``,
      ``held_out/mean_loss``, ``held_out/mean_accuracy`` (with ``held_out_data``),
      ``task/accuracy`` with its 95 % interval ``task/accuracy_low`` and
      ``task/accuracy_high``, ``task/family/<kind>/accuracy`` and ``.../n``,
      ``task/valid_rate``, ``teacher/task_accuracy``, ``task/of_teacher``; the untuned base's
      ``base/task_accuracy`` (``_low``, ``_high``); and the paired comparisons with the previous
      episode and the base, ``paired/previous/<figure>`` and ``paired/base/<figure>`` (``n``,
      ``both``, ``neither``, ``gained``, ``lost``, ``difference``, ``p_value``);
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

    and the run's configuration (the ``iterative`` parameters, the loop's training
    parameters, ``generation`` and ``evaluation``), every secret redacted by the node that
    made it. The run's summary gets the loop's final best episode.

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
    warning, and the loop runs on without wandb. A resumed run first logs, in episode order,
    the summaries of the episodes finished earlier (those on disk among the pipeline's
    ``episode`` datasets), so every run holds the whole history.

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
        self.config: dict[str, Any] | None = None
        self.run: Any = None
        self._catalog: Any = None
        self._roles: dict[str, str] = {}  # dataset name -> its wandb role, in this pipeline
        self._tracking: Any = None  # the LoopTracking the run was opened with
        self._best: tuple[float, int] | None = None
        self._summary: Mapping[str, Any] | None = None
        self._failed = False

    # ------------------------------------------------------------------------- kedro hooks
    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        with self._lock:
            self._close()
            self._reset()
            self._catalog = catalog
            self._roles = wandb_roles(pipeline.datasets(), catalog)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        role = self._roles.get(dataset_name)
        if role is None or self._failed:
            return
        with self._lock:
            try:
                if role == WANDB_RUN:
                    self._start(data)
                elif self.run is None:
                    return
                elif role == WANDB_EPISODE:
                    self._log_episode(data)
                else:
                    self._summary = data
            except Exception as error:  # wandb must never stop the loop
                self._fail(error)

    @hook_impl
    def after_pipeline_run(self) -> None:
        with self._lock:
            if self.run is not None and self._summary:
                try:
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
    def _start(self, tracking: Any) -> None:
        """Open the run once the loop's run is recorded (a refused run opens none), then log
        the episodes an earlier run finished."""
        mode = os.environ.get("WANDB_MODE", "").strip().lower() or "offline"
        if not tracking.logs_to_wandb:
            logger.info("wandb: off for this run (training report_to is %r)", tracking.report_to)
            return
        if mode == "disabled" or os.environ.get("WANDB_DISABLED", "").lower() in ("1", "true"):
            logger.info("wandb: off for this run (WANDB_MODE=disabled)")
            return
        self._tracking = tracking
        self.config = dict(tracking.config)
        try:
            import wandb

            silent = _silent_wandb()
            if silent:  # wandb's terminal is set up once per process, before init's settings
                wandb.setup(settings=wandb.Settings(silent=True))
            self.run = wandb.init(
                project=os.environ.get("WANDB_PROJECT") or "prism",
                name=tracking.loop.name,
                job_type="iterative",
                config=self.config,
                mode=mode,
                settings=wandb.Settings(silent=silent),
            )
        except Exception as error:  # wandb missing, a bad mode, a service that fails to start
            self.run = None
            logger.warning(
                "wandb: could not start a run (%s: %s); the loop goes on without wandb",
                type(error).__name__,
                error,
            )
            return
        folder = getattr(self.run, "dir", None)  # the run's files/ folder
        folder = os.path.dirname(folder) if isinstance(folder, str) else "its folder"
        logger.info(
            "wandb: run %s (%s mode) in %s%s, one step per episode; the episodes' training "
            "opens no run of its own",
            tracking.loop.name,
            mode,
            folder,
            f" (`wandb sync {folder}` uploads it)" if mode == "offline" else "",
        )
        for summary in self._saved_episodes():
            self._log_episode(summary)

    def _saved_episodes(self) -> list[Mapping[str, Any]]:
        """The summaries already on disk among the pipeline's episode datasets (a resumed run
        skips the episodes they describe), in episode order."""
        saved = []
        for name, role in self._roles.items():
            if role != WANDB_EPISODE:
                continue
            try:
                if self._catalog.exists(name):
                    saved.append(self._catalog.load(name))
            except Exception as error:  # an unreadable summary: that episode is not logged
                logger.warning("wandb: %s not readable: %s", name, error)
        return sorted(saved, key=lambda summary: summary["episode"])

    def _log_episode(self, summary: Mapping[str, Any]) -> None:
        episode = int(summary["episode"])
        if episode in self.logged:
            return  # logged from disk already
        if self.logged and episode < max(self.logged):
            logger.warning(
                "wandb: episode %d's summary came after episode %d's; wandb drops it",
                episode,
                max(self.logged),
            )
        values = {
            **_training_values(summary, episode),
            "dataset/size": summary["dataset"]["size"],
            "dataset/new_samples": summary["dataset"]["new_samples"],
            "dataset/next_size": summary["dataset"]["next_size"],
            **_histograms(summary.get("samples") or {}),
            **self._metric_values(episode, summary.get("metrics") or {}),
        }
        self._log(episode, values)

    def _metric_values(self, episode: int, metrics: Mapping[str, float]) -> dict[str, Any]:
        values = dict(metrics)
        value = values.get(self._tracking.loop.objective)
        if value is not None:
            score = self._tracking.loop.objective_score
            if self._best is None or score(value) > score(self._best[0]):  # earliest on a tie
                self._best = (value, episode)
        if self._best is not None:
            values.update({"best/episode": self._best[1], "best/value": self._best[0]})
        return values

    def _log(self, episode: int, values: dict[str, Any]) -> None:
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


def _silent_wandb() -> bool:
    """wandb prints a screen when a run starts and one when it ends (sync hints, the history as
    sparklines, ads for other products); the hook's own line says where the run is, so wandb
    keeps silent unless ``WANDB_QUIET`` or ``WANDB_SILENT`` says how it should be."""
    return not ({"WANDB_QUIET", "WANDB_SILENT"} & set(os.environ))


def wandb_roles(datasets: Iterable[str], catalog: Any) -> dict[str, str]:
    """The datasets among ``datasets`` whose catalog entry carries a wandb marker
    (``metadata: {wandb: <role>}``), with their role. A marker that names no known role is
    left out with a warning naming the entry and the known roles."""
    roles = {}
    for name in sorted(datasets):
        metadata = getattr(catalog.get(name), "metadata", None)
        role = metadata.get(WANDB_METADATA) if isinstance(metadata, Mapping) else None
        if role is None:
            continue
        if role not in _WANDB_ROLES:
            logger.warning(
                "wandb: catalog entry %s: metadata %s: %r is not one of %s; not logged",
                name,
                WANDB_METADATA,
                role,
                ", ".join(_WANDB_ROLES),
            )
            continue
        roles[name] = role
    return roles


def _training_values(summary: Mapping[str, Any], episode: int) -> dict[str, Any]:
    """``training/<name>`` for the summary's training values, and the loss-curve chart
    ``training/loss_curve_episode_N`` (the run's step is the episode, so the optimizer steps
    within one are a table)."""
    values = {f"training/{name}": value for name, value in (summary.get("training") or {}).items()}
    rows = summary.get("loss_curve") or []
    if rows:
        import wandb

        table = wandb.Table(columns=["step", "loss"], data=[list(row) for row in rows])
        title = f"Training loss, episode {episode}"
        values[f"training/loss_curve_episode_{episode}"] = wandb.plot.line(
            table, "step", "loss", title=title
        )
    return values


def _histograms(samples: Mapping[str, Mapping[str, list[float]]]) -> dict[str, Any]:
    """``samples/<split>/accuracy`` and ``.../loss`` histograms of the per-sample metrics."""
    import wandb

    return {
        f"samples/{split}/{name}": wandb.Histogram(values, num_bins=20)
        for split, metrics in samples.items()
        for name, values in metrics.items()
        if values
    }
