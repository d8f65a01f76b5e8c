"""The ``prism`` command and ``python -m prism``: the project's commands (:mod:`prism.cli`).

``prism --help`` lists them; a command line that names no command (``prism``,
``prism --pipelines train``) is ``run``'s, as the ``__main__`` of Kedro's project template runs
``run``. Logs go to stderr and stdout holds only what a command prints.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any


def main(*args: Any, **kwargs: Any) -> Any:
    """Configure the project and run the command line's ``prism`` command."""
    package_name = Path(__file__).parent.name
    # Kedro logs which logging configuration it took while it is imported, on stdout: nothing
    # but a command's output goes there.
    with contextlib.redirect_stdout(sys.stderr):
        from kedro.framework.project import configure_project

        configure_project(package_name)
        from prism.cli import cli, logs_to_stderr
    logs_to_stderr()  # configure_project set the handlers up again
    kwargs["standalone_mode"] = not hasattr(sys, "ps1")
    argv = list(args[0]) if args else sys.argv[1:]
    return cli.main(argv, prog_name="prism", **kwargs)


if __name__ == "__main__":
    main()
