"""Project CLI: ``prism run`` (Kedro's ``run``), ``prism plugins`` and ``prism serve``.

``prism --help`` lists the commands; a command line that names none (``prism``,
``prism --pipelines train``) is ``run``'s, as in Kedro's project template. The ``prism`` command
logs on stderr (:func:`logs_to_stderr`), so stdout holds only what a command prints:
``prism plugins --json | python -m json.tool`` reads JSON alone.

Kedro prints a full traceback for any exception a node raises. For errors this project raises on
purpose — a wrong parameter, a malformed file, an endpoint without a key — the message already
names the file, sample or field and the fix; the traceback only buries it. Those are printed as
one line (:func:`prism.console.user_error_message`; set ``PRISM_TRACEBACK=1`` to see the
traceback anyway), and Kedro's own lines about them are dropped
(:func:`prism.console.quiet_user_errors`); anything else, a bug, keeps its traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run

from prism.console import user_error_message
from prism.plugins import describe_plugins


def logs_to_stderr() -> None:
    """Send the root logger's console handlers to stderr.

    Kedro's logging configuration writes through a rich handler to stdout; a command whose
    output is read by a program (``prism plugins --json``) needs stdout for that output alone,
    as Unix tools keep it.
    """
    from rich.console import Console
    from rich.logging import RichHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, RichHandler):
            handler.console = Console(stderr=True)
        elif isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


class _RunByDefault(click.Group):
    """A group whose command line without a command (none, or options only) is ``run``'s.

    A first word that is not a command (``prism runn``) is still the group's error, with
    click's "did you mean"; ``--help`` is the group's.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first is None or (first.startswith("-") and first not in ctx.help_option_names):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(
    name="prism",
    cls=_RunByDefault,
    # The epilog is the `prism` command's: `kedro --help` shows this group's help, not it.
    epilog="With no command named (`prism`, `prism --pipelines train`) prism runs `run`. Logs "
    "go to stderr: stdout holds only what a command prints (`prism plugins --json`: JSON).",
)
def cli() -> None:
    """The prism project's commands."""


@cli.command(
    name="run",
    params=kedro_run.params,
    help=kedro_run.help,
    short_help="Run a pipeline (Kedro's run).",
)
def run(**kwargs: Any) -> Any:
    """Run the pipeline (Kedro's ``run``)."""
    if kwargs.get("pipeline") and not kwargs.get("pipelines"):
        # `kedro run --pipeline iterative` is this project's documented main command: pass it
        # on as `--pipelines`, which Kedro 1.x prefers, instead of warning on every run.
        kwargs["pipelines"], kwargs["pipeline"] = [kwargs["pipeline"]], None
    names = list(kwargs.get("pipelines") or [])
    if "iterative" in names:
        # A killed loop resumes where it stopped: finished episodes are not trained again.
        kwargs["only_missing_outputs"] = True
    try:
        return kedro_run.callback(**kwargs)
    except Exception as error:
        message = user_error_message(error)
        if message is None:
            raise
        raise click.ClickException(message) from None


@cli.command(
    name="plugins", short_help="List the installed plugins, who provides them, what failed."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def plugins(as_json: bool) -> None:
    """List the installed samplers and evaluators, who provides them, and plugins that failed.

    Plugins that failed to load are listed, not fatal: the exit code is 0.
    """
    # A plugin's module may print as it is imported (transformers' wandb integration does):
    # loading the plugins must not put it in the report.
    with contextlib.redirect_stdout(sys.stderr):
        report = describe_plugins()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(report.to_text())


@cli.command(name="serve", short_help="Serve a student as an OpenAI-compatible endpoint.")
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(),
    help="A saved student directory (e.g. data/06_models/student).",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port, logged at startup).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--name", default=None, help="Model id clients send (default: the folder name).")
@click.option(
    "--max-new-tokens",
    default=256,  # prism.student.planner.MAX_NEW_TOKENS (tested; importing it imports torch)
    show_default=True,
    type=click.IntRange(min=1),
    help="Most new tokens in one reply, as the in-process planner's max_new_tokens: the default "
    "cap, and what a larger max_tokens in a request is lowered to (never refused).",
)
@click.option(
    "--sample",
    "sampling",
    is_flag=True,
    help="Honour the request's temperature, top_p and seed (default: greedy decoding whatever "
    "they say, as the in-process student).",
)
@click.option(
    "--keep-system",
    is_flag=True,
    help="Pass system messages to the student (default: drop them; it was trained without).",
)
@click.option(
    "--strict-context",
    is_flag=True,
    help="Refuse prompt + max_tokens over the model's context with HTTP 400, as OpenAI does "
    "(default: lower max_tokens to the room left, as the in-process student).",
)
def serve(
    model_dir: str,
    port: int,
    host: str,
    name: str | None,
    max_new_tokens: int,
    sampling: bool,
    keep_system: bool,
    strict_context: bool,
) -> None:
    """Serve a student as an OpenAI-compatible endpoint: POST /v1/chat/completions.

    A drop-in for the LLM teacher's endpoint: in its config change base_url
    (http://HOST:PORT/v1), model (NAME) and the API key (any value, e.g. EMPTY), nothing else.
    By default the server decodes as the in-process student, whatever the request asks:
    greedily (temperature, top_p and seed are ignored; --sample honours them) and at most
    --max-new-tokens new tokens (a larger max_tokens, such as the teacher config's 2048, is
    lowered to it).

    A directory that is not a saved student, a LoRA adapter whose base model is not where its
    adapter_config.json says, or a port in use fail at once with one message (exit code 1).
    SIGINT (Ctrl+C) or SIGTERM stop the server gracefully (exit code 0).
    """
    from prism.serving.config import ServeConfig, ServeError
    from prism.serving.server import serve as run_server

    config = ServeConfig(
        model_name=name,
        max_new_tokens=max_new_tokens,
        sampling=sampling,
        keep_system=keep_system,
        strict_context=strict_context,
    )
    try:
        run_server(model_dir, host=host, port=port, config=config)
    except ServeError as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:
        message = user_error_message(error)
        if message is None:
            raise
        raise click.ClickException(message) from None
