"""The seed's Python API, :class:`IterativeTrainingPipeline`, over ``kedro run --pipelines iterative``.

There is one implementation of the loop: the Kedro pipeline in :mod:`prism.pipelines.iterative`.
This class only translates the seed's constructor arguments into that pipeline's runtime
parameters (the flat names of ``conf/base/parameters_iterative.yml``: ``n_episodes``,
``n_batch``, ``output_dir`` ...) and runs it in a :class:`~kedro.framework.session.KedroSession`
of the project, with ``only_missing_outputs=True`` as ``prism run``/``kedro run`` does for this
pipeline, so that a killed run continues where it stopped when it is started again.

Example (the seed's README)::

    from prism.training.train import TrainConfig
    from prism.iterative import IterativeTrainingPipeline

    train_config = TrainConfig(name="iterative_model", data="data/01_raw/initial_dataset.json",
                               r=32, base_model="llama-3.2-3b", epochs=3)
    pipeline = IterativeTrainingPipeline(
        initial_data_path="data/01_raw/initial_dataset.json",
        output_dir="output/iterative_training",
        n_episodes=5,
        n_batch=10,
        train_config=train_config,
        eval_task_file="eval_tasks_1.json",
        graph_unknown=[0.2, 0.3, 0.4, 0.5],
    )
    result = pipeline.run_pipeline()
    print(result.best_model, result.best_episode)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prism.pipelines.iterative.config import AUTO_OBJECTIVE, TRAINING_FLAGS, IterativeConfigError
from prism.training.config import TrainConfig

logger = logging.getLogger(__name__)

#: The Kedro pipeline the facade runs.
PIPELINE_NAME = "iterative"
#: Where a bare eval task file name (``eval_tasks_1.json``) is looked up, under the project root.
EVAL_TASK_DIRS = ("data/01_raw",)
#: Files the pipeline writes in ``output_dir`` (see ``conf/base/catalog_iterative.yml``).
SUMMARY_FILE = "iterative_summary.json"
BEST_MODEL = "best_model"

#: Constructor arguments and the runtime parameter each one sets (the seed's flat names).
ARGUMENT_PARAMS = {
    "initial_data_path": "initial_data",
    "output_dir": "output_dir",
    "n_episodes": "n_episodes",
    "n_batch": "n_batch",
    "held_out_data_path": "held_out_data",
    "seed": "seed",
    "eval_task_file": "eval_task_file",
    "graph_unknown": "graph_unknown",
    "min_regions": "min_regions",
    "max_regions": "max_regions",
    "min_objects": "min_objects",
    "max_objects": "max_objects",
    "tasks_per_sample": "tasks_per_sample",
    "graphs_per_sample": "graphs_per_sample",
    "val_frac": "val_frac",
    "sampling_strategy": "sampling_strategy",
    "objective": "objective",
    "objective_type": "objective_type",
    "eval_metric": "eval_metric",
    "skip_eval_tasks": "skip_eval_tasks",
    "initial_dataset_size": "initial_dataset_size",
    "collection": "collection",
    "dagger_beta": "dagger_beta",
    "dagger_beta_decay": "dagger_beta_decay",
    "probe_tasks": "probe_tasks",
    "warm_start": "warm_start",
}
#: Runtime parameters that name files or folders (made absolute, or relative to the project root).
PATH_PARAMS = ("initial_data", "output_dir", "held_out_data", "eval_task_file")
#: TrainConfig fields the loop sets itself: ``data`` is ``initial_data``; ``val_frac`` and
#: ``seed`` are the loop's own parameters; ``name`` is the loop's ``name`` (runs are
#: ``<name>_episode_N``).
LOOP_TRAINING_FIELDS = ("name", "data", "val_frac", "seed")


@dataclass(frozen=True)
class IterativeRunResult:
    """What :meth:`IterativeTrainingPipeline.run_pipeline` produced.

    Attributes:
        output_dir: the absolute output folder.
        best_model: ``<output_dir>/best_model`` (a link to the best episode's model).
        best_episode: the episode ``best_model`` points to.
        summary: ``<output_dir>/iterative_summary.json``: every episode's objective and
            ``eval_metric``, and the best episode.
        outputs: the free outputs of the Kedro run (normally empty: everything is a file).
    """

    output_dir: Path
    best_model: Path
    best_episode: int | None
    summary: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def episode_model(self, episode: int) -> Path:
        """``<output_dir>/iterative_model_episode_N``."""
        return self.output_dir / f"iterative_model_episode_{episode}"


class IterativeTrainingPipeline:
    """The iterative train → evaluate → generate → retrain loop (the seed's Python API).

    Every argument becomes the runtime parameter of the same name in
    ``conf/base/parameters_iterative.yml`` (``initial_data_path`` → ``initial_data``,
    ``held_out_data_path`` → ``held_out_data``); :meth:`run_pipeline` runs
    ``kedro run --pipelines iterative`` with them. The values are checked by the pipeline,
    before anything is written, and a wrong one raises the project's own error naming it
    (:class:`~prism.pipelines.iterative.IterativeConfigError`, ``TrainConfigError``,
    ``UnknownPluginError``, Kedro's ``DatasetError`` for a missing file ...).

    Args:
        initial_data_path: the conversations file episode 1 trains on; ``None`` takes
            ``train_config.data``, else the project's ``initial_data``.
        output_dir: where every output goes; ``None``: the project's ``output_dir``.
        n_episodes: train-evaluate-generate cycles.
        n_batch: new samples generated per episode.
        train_config: the episodes' training (:class:`~prism.training.config.TrainConfig`);
            every field replaces the project's ``training`` parameter of that name, except
            ``name`` (runs are ``<name>_episode_N``), ``data`` (``initial_data_path`` wins),
            ``val_frac`` (the loop's ``val_frac`` wins) and ``seed`` (the loop's ``seed``
            unless the two differ). ``None``: the project's ``training`` parameters
            (``conf/base/parameters_training.yml``) with the run name ``iterative_model``.
        held_out_data_path: a conversations file evaluated every episode, never trained on.
        seed: seed of the sampling, the generation and (see ``train_config``) the training.
        eval_task_file: the eval task file: a path, or a bare name looked up in the working
            directory, then in the project's ``data/01_raw`` (``eval_tasks_1.json``).
            ``None``: the project's ``eval_task_file`` (``data/01_raw/eval_tasks_1.json``).
        graph_unknown: fractions of nodes hidden from the planner, used in turn (a list, or the
            seed's comma-separated string ``"0.2,0.3,0.4,0.5"``).
        min_regions, max_regions, min_objects, max_objects: sizes of the generated scenes.
        val_frac: fraction of each episode's dataset held out for validation.
        sampling_strategy: the sampler picking the examples that seed generation
            (``uniform``, ``accuracy_weighted``, ``loss_weighted`` or a plugin's).
        objective: the metric that picks ``best_model``; ``auto``: ``task/accuracy`` (the
            closed-loop task success) when the eval tasks run, ``eval/mean_accuracy`` when
            they are skipped (resolved before the run starts, recorded in the run's
            ``iterative_run.json``).
        objective_type: ``max`` or ``min``.
        eval_metric: the metric reported as each episode's headline.
        skip_eval_tasks: leave out the closed-loop evaluation on the eval tasks.
        initial_dataset_size: train on the first N samples of the initial data (debugging).
        tasks_per_sample: tasks (rollouts) per generated scene.
        graphs_per_sample: scenes generated from each sampled example.
        collection: where each episode's new samples come from: ``teacher`` (the seed's
            process: teacher rollouts on new scenes), ``dagger`` (the teacher's labels of the
            states the student reaches on the probe's tasks) or ``mixed`` (half each).
        dagger_beta, dagger_beta_decay: the probability that the teacher's turn is executed
            instead of the student's in the DAgger collection, ``dagger_beta *
            dagger_beta_decay ** (N - 1)`` in episode N.
        probe_tasks: fresh tasks the student plans on after each episode's training (their
            outcomes feed ``task_failure`` and the collection); 0: no probe.
        warm_start: each episode continues from the previous episode's weights instead of
            training from the base.
        training: further ``TrainConfig`` fields on top of the project's ``training``
            parameters (and of ``train_config``), e.g. ``{"epochs": 1}``.
        params: further runtime parameters, as ``kedro run --params`` takes them: nested
            mappings or dotted keys, e.g. ``{"generation.workers": 2}``.
        project_path: the Kedro project to run in; by default the one containing the working
            directory, else the source checkout prism is installed from.
    """

    def __init__(
        self,
        initial_data_path: str | os.PathLike[str] | None,
        output_dir: str | os.PathLike[str] | None,
        n_episodes: int = 5,
        n_batch: int = 10,
        train_config: TrainConfig | None = None,
        held_out_data_path: str | os.PathLike[str] | None = None,
        seed: int = 42,
        eval_task_file: str | os.PathLike[str] | None = None,
        graph_unknown: Sequence[float] | str = (0.2, 0.3, 0.4, 0.5),
        min_regions: int = 8,
        max_regions: int = 15,
        min_objects: int = 5,
        max_objects: int = 15,
        tasks_per_sample: int = 2,
        graphs_per_sample: int = 1,
        val_frac: float = 0.1,
        sampling_strategy: str = "uniform",
        objective: str = AUTO_OBJECTIVE,
        objective_type: str = "max",
        eval_metric: str = "eval/mean_accuracy",
        skip_eval_tasks: bool = False,
        initial_dataset_size: int | None = None,
        *,
        collection: str = "teacher",
        dagger_beta: float = 0.5,
        dagger_beta_decay: float = 0.5,
        probe_tasks: int = 24,
        warm_start: bool = False,
        training: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        project_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if train_config is not None and not isinstance(train_config, TrainConfig):
            raise IterativeConfigError(
                f"train_config must be a prism.training.TrainConfig, got {type(train_config).__name__}"
            )
        self.initial_data_path = initial_data_path
        self.output_dir = output_dir
        self.n_episodes = n_episodes
        self.n_batch = n_batch
        self.train_config = train_config
        self.held_out_data_path = held_out_data_path
        self.seed = seed
        self.eval_task_file = eval_task_file
        self.graph_unknown = graph_unknown
        self.min_regions = min_regions
        self.max_regions = max_regions
        self.min_objects = min_objects
        self.max_objects = max_objects
        self.tasks_per_sample = tasks_per_sample
        self.graphs_per_sample = graphs_per_sample
        self.val_frac = val_frac
        self.sampling_strategy = sampling_strategy
        self.objective = objective
        self.objective_type = objective_type
        self.eval_metric = eval_metric
        self.skip_eval_tasks = skip_eval_tasks
        self.initial_dataset_size = initial_dataset_size
        self.collection = collection
        self.dagger_beta = dagger_beta
        self.dagger_beta_decay = dagger_beta_decay
        self.probe_tasks = probe_tasks
        self.warm_start = warm_start
        self.training = dict(training or {})
        self.params = _nested(params or {})
        self.project_path = project_path
        clashes = sorted(set(self.params) & {*ARGUMENT_PARAMS.values(), *TRAINING_FLAGS, "name"})
        if clashes:
            raise IterativeConfigError(
                f"params sets {', '.join(clashes)}: pass "
                f"{'it as the argument' if len(clashes) == 1 else 'them as the arguments'} "
                "of that name (or a train_config / training field) instead"
            )
        self.result: IterativeRunResult | None = None

    # ------------------------------------------------------------------------------ running
    def run_pipeline(self) -> IterativeRunResult:
        """Run the loop: ``kedro run --pipelines iterative`` with these parameters.

        Outputs already in ``output_dir`` from an earlier run with the same parameters are kept
        (``only_missing_outputs``): a killed run continues, a finished one is not redone, and
        ``n_episodes`` may grow.

        Returns:
            The output folder, ``best_model`` and the run's summary.

        Raises:
            IterativeConfigError, TrainConfigError, UnknownPluginError, DatasetError ...: the
                pipeline's own errors, naming the parameter or file at fault.
        """
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        root = self.project_root()
        runtime_params = self.runtime_params(root)
        logger.info(
            "iterative training: kedro run --pipelines %s in %s (output_dir %s)",
            PIPELINE_NAME,
            root,
            runtime_params.get("output_dir", "the project's"),
        )
        with _working_directory(root):  # relative paths mean what they mean to `kedro run`
            bootstrap_project(root)
            with KedroSession.create(project_path=root, runtime_params=runtime_params) as session:
                outputs = session.run(pipeline_names=[PIPELINE_NAME], only_missing_outputs=True)
                output_dir = _output_dir(session, root)
        self.result = _result(output_dir, outputs)
        return self.result

    def project_root(self) -> Path:
        """The Kedro project the loop runs in (see ``project_path``)."""
        return find_project_root(self.project_path)

    def runtime_params(self, root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """The runtime parameters :meth:`run_pipeline` passes (``kedro run --params``).

        File and folder names are made absolute against the working directory, then written
        relative to the project root when they lie inside it: the same values, and so the same
        run record in ``output_dir``, as ``kedro run`` from the project root with relative paths.

        Args:
            root: the project root; found as in :meth:`project_root` when not given.

        Raises:
            IterativeConfigError: ``eval_task_file`` names no existing file, or ``train_config``
                and ``training`` name an unknown ``TrainConfig`` field.
        """
        root = Path(root) if root is not None else self.project_root()
        cwd = Path.cwd()
        values: dict[str, Any] = {name: getattr(self, arg) for arg, name in ARGUMENT_PARAMS.items()}
        training = self._training_fields()
        if values["initial_data"] is None:
            values["initial_data"] = training.get("data")
        graph_unknown = values["graph_unknown"]
        if not isinstance(graph_unknown, str | bytes) and isinstance(graph_unknown, Sequence):
            values["graph_unknown"] = list(graph_unknown)
        if values["eval_task_file"] is not None:
            values["eval_task_file"] = _resolve_eval_task_file(values["eval_task_file"], root, cwd)
        for name in PATH_PARAMS:
            if values[name] is not None:
                values[name] = _project_path(values[name], root, cwd)
        # None means "the project's value": a null runtime parameter would blank a catalog path.
        params = {name: value for name, value in values.items() if value is not None}

        if "val_frac" in training and training["val_frac"] != self.val_frac:
            logger.warning(
                "train_config.val_frac %s is not used: the loop's val_frac (%s) is",
                training["val_frac"],
                self.val_frac,
            )
        if "name" in training:
            params["name"] = training["name"]
        for flag in TRAINING_FLAGS:  # epochs, r, base_model: the seed's own flags
            if flag in training:
                params[flag] = training[flag]
        rest = {
            k: v for k, v in training.items() if k not in (*LOOP_TRAINING_FIELDS, *TRAINING_FLAGS)
        }
        if rest:
            params["training"] = rest
        if "seed" in training and training["seed"] != self.seed:
            # The loop gives the training its own seed unless iterative.training sets one.
            params["iterative"] = {"training": {"seed": training["seed"]}}
        return _merge(self.params, params)

    def _training_fields(self) -> dict[str, Any]:
        """``train_config``'s fields, then ``training``'s, checked against ``TrainConfig``."""
        fields: dict[str, Any] = {}
        if self.train_config is not None:
            fields.update(dataclasses.asdict(self.train_config))
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = sorted(set(self.training) - known)
        if unknown:
            raise IterativeConfigError(
                f"training: unknown TrainConfig field(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(known))}"
            )
        fields.update(self.training)
        return fields

    def __repr__(self) -> str:
        args = ", ".join(f"{arg}={getattr(self, arg)!r}" for arg in ARGUMENT_PARAMS)
        return f"{type(self).__name__}({args}, train_config={self.train_config!r})"


# ---------------------------------------------------------------------------------- helpers
def find_project_root(project_path: str | os.PathLike[str] | None = None) -> Path:
    """The Kedro project to run in: ``project_path``, else the one containing the working
    directory (a ``pyproject.toml`` with ``[tool.kedro]``), else the source checkout prism is
    imported from.

    Raises:
        IterativeConfigError: none of these is a Kedro project.
    """
    from kedro.utils import find_kedro_project

    if project_path is not None:
        root = Path(project_path).expanduser().resolve()
        if find_kedro_project(root) != root:
            raise IterativeConfigError(
                f"project_path {project_path}: no pyproject.toml with [tool.kedro] there"
            )
        return root
    found = find_kedro_project(Path.cwd())
    if found is not None:
        return Path(found).resolve()
    checkout = Path(__file__).resolve().parents[3]  # <root>/src/prism/iterative/this file
    if find_kedro_project(checkout) == checkout:
        return checkout
    raise IterativeConfigError(
        f"no Kedro project found: neither {Path.cwd()} nor a folder above it has a "
        "pyproject.toml with [tool.kedro]; run from the project, or pass project_path"
    )


def _resolve_eval_task_file(value: str | os.PathLike[str], root: Path, cwd: Path) -> str:
    from prism.formats.eval_tasks import EvalTaskFileNotFound, resolve_eval_task_file

    try:
        found = resolve_eval_task_file(value, [root / d for d in EVAL_TASK_DIRS], cwd=cwd)
    except EvalTaskFileNotFound as error:
        raise IterativeConfigError(f"eval_task_file: {error.one_line()}") from None
    return str(found)


def _project_path(value: str | os.PathLike[str], root: Path, cwd: Path) -> str:
    """``value`` (relative to ``cwd``) relative to ``root`` when inside it, else absolute."""
    path = Path(value).expanduser()
    path = Path(os.path.normpath(path if path.is_absolute() else cwd / path))
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _output_dir(session: Any, root: Path) -> Path:
    """The run's ``output_dir`` as the pipeline read it (the project's default included)."""
    value = session.load_context().config_loader["parameters"]["iterative"]["output_dir"]
    path = Path(value)
    return path if path.is_absolute() else root / path


def _result(output_dir: Path, outputs: Mapping[str, Any] | None) -> IterativeRunResult:
    summary_file = output_dir / SUMMARY_FILE
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    return IterativeRunResult(
        output_dir=output_dir,
        best_model=output_dir / BEST_MODEL,
        best_episode=summary.get("best_episode"),
        summary=summary,
        outputs=dict(outputs or {}),
    )


def _nested(params: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys (``generation.workers``) as nested mappings, as ``kedro run --params``."""
    nested: dict[str, Any] = {}
    for key, value in params.items():
        *parents, last = str(key).split(".")
        target = nested
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise IterativeConfigError(f"params: {key} sets a field of a non-mapping value")
        target[last] = _nested(value) if isinstance(value, Mapping) else value
    return nested


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` deep-merged over ``base``."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
