"""The ``prism`` command and ``python -m prism``: ``kedro run`` in the project root by default.

``prism plugins`` (and any other command of :mod:`prism.cli`) runs that command; anything else
(``prism``, ``prism --pipelines train``) goes to ``run``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kedro.framework.cli.utils import find_run_command
from kedro.framework.project import configure_project


def main(*args: Any, **kwargs: Any) -> Any:
    """Configure the project and hand over to Kedro's ``run`` command."""
    package_name = Path(__file__).parent.name
    configure_project(package_name)
    kwargs["standalone_mode"] = not hasattr(sys, "ps1")
    from prism.cli import cli

    argv = list(args[0]) if args else sys.argv[1:]
    if argv and argv[0] in cli.commands:
        return cli.main(argv, prog_name="prism", **kwargs)
    run = find_run_command(package_name)
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
