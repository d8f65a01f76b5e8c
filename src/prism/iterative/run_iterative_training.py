#!/usr/bin/env python
"""The seed's command line for the iterative loop (``kedro run --pipelines iterative``)::

    python ./src/prism/iterative/run_iterative_training.py \\
        --initial_data /path/to/initial_data.json --output_dir /path/to/output \\
        --n_episodes 2 --n_batch 10 --eval_task_file eval_tasks_1.json \\
        --graph_unknown 0.2,0.3,0.4,0.5

    # debugging: a subsample of the initial data, no closed-loop evaluation, one epoch
    python ./src/prism/iterative/run_iterative_training.py \\
        --initial_data /path/to/initial_data.json --output_dir /path/to/output \\
        --n_episodes 1 --n_batch 5 --initial_dataset_size 50 --skip_eval_tasks --epochs 1

Every flag is the runtime parameter of the same name in ``conf/base/parameters_iterative.yml``
(the training flags are fields of ``TrainConfig``); the flags build an
:class:`~prism.iterative.IterativeTrainingPipeline`, which runs the Kedro pipeline. A flag left
out is not passed, so the project's value stays: ``conf/base/parameters_iterative.yml``
(``parameters_training.yml`` for the training flags) and ``conf/local`` over it decide, and
``--help`` shows the value they give. A killed run continues when the same command is run again.

A wrong command line (an unknown flag, a value that is not of the flag's type, a ``--params``
item that is not ``KEY=VALUE``) prints one line on stderr naming the flag (for a misspelt one,
the flag meant too) and ending in ``(see --help)``, and exits 2, as argparse does. A wrong value
or a missing file found as the run starts prints one line on stderr and exits 1
(``PRISM_TRACEBACK=1`` shows the traceback); an interrupted run exits 130.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # `python path/to/run_iterative_training.py` puts this folder first on sys.path, where its
    # modules would shadow top-level ones of the same name: take it off.
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    try:
        import prism  # noqa: F401
    except ImportError:  # a source checkout that is not installed: <root>/src
        sys.path.insert(0, os.path.dirname(os.path.dirname(_HERE)))

import argparse
import dataclasses
import difflib
import re
import typing
from collections.abc import Sequence
from typing import Any, NoReturn, get_args, get_origin

#: TrainConfig fields that are no flags: ``data`` is ``--initial_data``, ``val_frac`` and
#: ``seed`` are the loop's flags, ``builtin_model`` is nested (``--params
#: training.builtin_model.hidden_size=64``).
NOT_TRAINING_FLAGS = ("data", "val_frac", "seed", "builtin_model")
#: The seed's training flags, listed first.
SEED_TRAINING_FLAGS = ("name", "epochs", "r", "base_model")

DESCRIPTION = (
    "The iterative train -> evaluate -> generate -> retrain loop "
    "(kedro run --pipelines iterative). A flag left out is not passed: the project's "
    "configuration decides (conf/base/parameters_iterative.yml, parameters_training.yml and "
    "conf/local over them); the defaults shown are the values it gives. A killed run continues "
    "when the same command is run again."
)
#: Where a flag's value comes from when the project's configuration cannot be read.
LOOP_CONF = "conf/base/parameters_iterative.yml"
TRAINING_CONF = "conf/base/parameters_training.yml"


def build_parser() -> argparse.ArgumentParser:
    """The seed's flags, the loop's other parameters and the training fields.

    No flag has a value of its own: one left out is ``None`` (``--skip_eval_tasks`` too) and is
    not passed, so the project's configuration decides. ``--help`` shows the value that
    configuration gives each flag (:func:`project_defaults`).
    """
    from prism.pipelines.iterative.config import COLLECTIONS

    parser = _Parser(prog="run_iterative_training.py", description=DESCRIPTION, allow_abbrev=False)
    loop = parser.add_argument_group("the loop")
    loop.add_argument("--initial_data", help="conversations JSON file episode 1 trains on")
    loop.add_argument("--output_dir", help="folder of every output")
    loop.add_argument("--n_episodes", type=int, help="train-evaluate-generate cycles")
    loop.add_argument("--n_batch", type=int, help="new samples generated per episode")
    loop.add_argument("--held_out_data", help="conversations file evaluated, never trained on")
    loop.add_argument("--val_frac", type=float,
                      help="fraction of each episode's dataset held out for validation")  # fmt: skip
    loop.add_argument(
        "--sampling_strategy",
        help="sampler of the examples that seed generation: uniform, accuracy_weighted, "
        "loss_weighted, task_failure (the probe's failed worlds) or a plugin's (`prism plugins` lists them)",
    )
    loop.add_argument(
        "--objective",
        help="metric that picks best_model; auto: task/accuracy, or eval/mean_accuracy with "
        "--skip_eval_tasks",
    )
    loop.add_argument("--objective_type", help="max or min")
    loop.add_argument("--eval_metric", help="headline metric of each episode")
    loop.add_argument(
        "--eval_task_file",
        help="eval task file: a path, or a name looked up in the working directory, then in "
        "the project's data/01_raw",
    )
    loop.add_argument("--skip_eval_tasks", action="store_true", default=None,
                      help="no closed-loop evaluation on the eval tasks")  # fmt: skip
    loop.add_argument("--initial_dataset_size", type=int,
                      help="train on the first N initial samples only (debugging)")  # fmt: skip
    loop.add_argument(
        "--graph_unknown",
        help="comma-separated fractions of nodes hidden from the planner, used in turn",
    )
    for name, text in (
        ("min_regions", "fewest regions of a generated scene"),
        ("max_regions", "most regions of a generated scene"),
        ("min_objects", "fewest objects of a generated scene"),
        ("max_objects", "most objects of a generated scene"),
        ("tasks_per_sample", "tasks (rollouts) per generated scene"),
        ("graphs_per_sample", "scenes generated from each sampled example"),
        ("seed", "seed of sampling, generation and training"),
    ):
        loop.add_argument(f"--{name}", type=int, help=text)

    onpolicy = parser.add_argument_group("where new samples come from (README: On-policy data)")
    onpolicy.add_argument(
        "--collection",
        choices=COLLECTIONS,
        help="teacher: the teacher's rollouts on new scenes (the seed's process); dagger: the "
        "teacher labels the states the student reaches; mixed: half each",
    )
    onpolicy.add_argument("--dagger_beta", type=float,
                          help="P(the teacher's turn is executed) in episode 1")  # fmt: skip
    onpolicy.add_argument("--dagger_beta_decay", type=float,
                          help="dagger_beta shrinks by this factor each episode")  # fmt: skip
    onpolicy.add_argument("--probe_tasks", type=int,
                          help="fresh tasks the student plans on after training; 0: none")  # fmt: skip
    onpolicy.add_argument("--warm_start", type=_boolean, nargs="?", const=True,
                          help="continue from the previous episode's weights")  # fmt: skip

    train = parser.add_argument_group(
        "training (TrainConfig fields; default: the project's training parameters)"
    )
    for name, (kind, choices) in _training_fields().items():
        help_text = {
            "name": "run name; episodes train <name>_episode_N",
            "epochs": "passes over the training split",
            "r": "LoRA rank",
            "base_model": "planner-base, builtin, an alias (llama-3.2-3b), a hub id or a path",
        }.get(name, f"TrainConfig.{name}")
        if kind is bool:
            train.add_argument(f"--{name}", type=_boolean, nargs="?", const=True, help=help_text)
        elif kind is list:
            train.add_argument(f"--{name}", type=_words, help=help_text + " (comma-separated)")
        else:
            train.add_argument(f"--{name}", type=kind, choices=choices, help=help_text)

    other = parser.add_argument_group("other")
    other.add_argument(
        "--params",
        action="append",
        default=[],
        type=_key_values,
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="further parameters as `kedro run --params` takes them, e.g. "
        "generation.workers=2,evaluation.task_success.max_new_tokens=64 (repeatable)",
    )
    other.add_argument(
        "--project_path",
        help="the Kedro project (default: the one containing the working directory, else the "
        "source checkout of prism)",
    )
    return parser


def project_defaults(project_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Each flag's value in the project's configuration: what a run without the flag uses.

    The parameters as ``kedro run`` reads them (the project's config loader over its ``conf``,
    ``KEDRO_ENV`` or ``local`` over ``base``, no runtime parameters): the ``iterative``
    parameters, and for the training flags ``iterative.<flag>`` unless null, else
    ``iterative.training.<flag>``, else ``training.<flag>``.

    Raises:
        Whatever finding the project (``IterativeConfigError``) or reading its configuration
        raises.
    """
    import warnings

    from prism import settings
    from prism.iterative import find_project_root
    from prism.pipelines.iterative.config import TRAINING_FLAGS

    root = find_project_root(project_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # OmegaConf's deprecation of register_new_resolver
        loader = settings.CONFIG_LOADER_CLASS(
            conf_source=str(root / getattr(settings, "CONF_SOURCE", "conf")),
            env=os.environ.get("KEDRO_ENV"),
            runtime_params={},
            **settings.CONFIG_LOADER_ARGS,
        )
        params = loader["parameters"]
    loop = dict(params.get("iterative") or {})
    values = {**dict(params.get("training") or {}), **dict(loop.pop("training", None) or {})}
    values.update(
        {
            name: value
            for name, value in loop.items()
            if name not in TRAINING_FLAGS or value is not None
        }
    )
    return values


def pipeline_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~prism.iterative.IterativeTrainingPipeline` the flags describe.

    A flag left out is ``None``, which the pipeline does not pass: the project's value stays.
    """
    from prism.iterative import IterativeTrainingPipeline
    from prism.iterative.iterative_training import ARGUMENT_PARAMS

    training = {
        name: getattr(args, name)
        for name in _training_fields()
        if getattr(args, name, None) is not None
    }
    loop = {arg: getattr(args, name, None) for arg, name in ARGUMENT_PARAMS.items()}
    return IterativeTrainingPipeline(
        **loop,
        train_config=None,
        training=training,
        params=_params(args.params),
        project_path=args.project_path,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the loop; 0 on success, 1 on a wrong value or missing file, 130 when interrupted (a
    wrong command line exits 2 before: :meth:`_Parser.error`)."""
    args = build_parser().parse_args(argv)
    from prism.console import user_error_message

    try:
        result = pipeline_from_args(args).run_pipeline()
    except KeyboardInterrupt:
        print(
            "Interrupted: run the same command again to continue where it stopped.",
            file=sys.stderr,
        )
        return 130
    except Exception as error:
        message = user_error_message(error)
        if message is None:
            raise
        print(f"Error: {one_line(message)}", file=sys.stderr)
        return 1
    summary = result.summary
    print(f"Outputs in {result.output_dir}")
    if result.best_episode is not None:
        print(
            f"best_model -> iterative_model_episode_{result.best_episode} "
            f"({summary.get('objective')} = {summary.get('value')}, {summary.get('objective_type')})"
        )
    return 0


def one_line(message: str) -> str:
    """A message on one line: its lines joined by ``; ``."""
    lines = [line.strip() for line in message.splitlines()]
    return "; ".join(line for line in lines if line)


# ---------------------------------------------------------------------------------- helpers
class _Parser(argparse.ArgumentParser):
    """Its ``--help`` shows each flag's value in the project's configuration (the project of
    ``--project_path`` when the command line has it), read only when help is shown."""

    project_path: str | None = None

    def error(self, message: str) -> NoReturn:
        """One line on stderr, naming the flag (and the flag meant, for a misspelt one), then
        exit 2: argparse's usage, 40 lines of flags, would bury it."""
        unknown = re.fullmatch(r"unrecognized arguments: (.*)", message)
        if unknown:
            flags = [option for action in self._actions for option in action.option_strings]
            for word in unknown.group(1).split():
                close = difflib.get_close_matches(word.split("=", 1)[0], flags, n=1)
                if word.startswith("-") and close:
                    message += f"; did you mean {close[0]}?"
                    break
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def,override]
        args = sys.argv[1:] if args is None else list(args)
        self.project_path = _project_path_flag(args)
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        from prism.pipelines.iterative.config import IterativeConfig

        try:
            defaults, shipped = project_defaults(self.project_path), False
        except Exception:  # no project, or a configuration that does not load: as shipped
            defaults = {f.name: f.default for f in dataclasses.fields(IterativeConfig)}
            shipped = True
        texts = {action: action.help for action in self._actions}
        try:
            for action in self._actions:
                value = defaults.get(action.dest)
                if not action.option_strings or action.help in (None, argparse.SUPPRESS):
                    continue
                if shipped and value is not None:
                    where = f"from {LOOP_CONF} ({_shown(value)})"
                elif shipped and action.dest in _training_fields():
                    where = f"from {TRAINING_CONF}"
                elif shipped and action.dest in defaults:
                    where = f"from {LOOP_CONF}"
                elif value is not None:
                    where = _shown(value)
                else:
                    continue
                action.help = f"{action.help} (default: {where.replace('%', '%%')})"
            return super().format_help()
        finally:
            for action, text in texts.items():
                action.help = text


def _project_path_flag(argv: Sequence[str]) -> str | None:
    """The value of ``--project_path`` in ``argv``, if any (the last one, as argparse takes)."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--project_path" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--project_path="):
            found = arg.split("=", 1)[1]
    return found


def _shown(value: Any) -> str:
    """A configured value as a flag would spell it: ``true``, ``0.2,0.3``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(_shown(v) for v in value)
    return str(value)


def _training_fields() -> dict[str, tuple[Any, tuple[str, ...] | None]]:
    """TrainConfig's fields as flags: name -> (argparse type, choices); the seed's first."""
    from prism.training.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    flags: dict[str, tuple[Any, tuple[str, ...] | None]] = {}
    names = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in NOT_TRAINING_FLAGS]
    for name in sorted(names, key=lambda n: (n not in SEED_TRAINING_FLAGS, names.index(n))):
        hint = hints[name]
        args = [a for a in get_args(hint) if a is not type(None)]
        if get_origin(hint) is typing.Literal:
            flags[name] = (str, tuple(get_args(hint)))
        elif hint is bool:
            flags[name] = (bool, None)
        elif get_origin(hint) is list:
            flags[name] = (list, None)
        elif hint in (int, float) or (args and args[0] in (int, float)):
            flags[name] = (_number, None)  # 1 stays an int, as `kedro run --params` reads it
        else:
            flags[name] = (str, None)
    return flags


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not true or false: {text!r}")


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


def _pairs(item: str) -> list[str]:
    """A ``--params`` value's ``KEY=VALUE`` pairs (a comma before the next ``key=`` parts
    them; one inside a value stays)."""
    return [pair.strip() for pair in re.split(r",(?=\s*[\w.]+\s*=)", item) if pair.strip()]


def _key_values(item: str) -> str:
    """A ``--params`` value, checked: every pair is ``KEY=VALUE``."""
    for pair in _pairs(item):
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            raise argparse.ArgumentTypeError(f"{pair!r} is not KEY=VALUE")
    return item


def _params(items: Sequence[str]) -> dict[str, Any]:
    """``--params`` values read as ``kedro run --params`` reads them (OmegaConf dot list)."""
    from omegaconf import OmegaConf

    pairs = [pair for item in items for pair in _pairs(item)]
    conf = OmegaConf.from_dotlist([f"{k.strip()}={v}" for k, v in (p.split("=", 1) for p in pairs)])
    return OmegaConf.to_container(conf)  # type: ignore[return-value]


if __name__ == "__main__":
    sys.exit(main())
