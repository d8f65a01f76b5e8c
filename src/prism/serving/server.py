"""Running the server: :func:`serve` (``prism serve``) binds the port and serves the app until a
signal stops it.

:func:`serve` checks before loading anything that the directory is a saved student and, for a
LoRA adapter, that the base model its ``adapter_config.json`` names is there
(:func:`~prism.serving.engine.check_model_dir`), then binds the port (in use:
:class:`~prism.serving.config.ServeError`), then loads the model. SIGINT or SIGTERM shut the
server down gracefully and :func:`serve` returns normally (``prism serve`` exits 0).
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from prism.serving.app import create_app
from prism.serving.config import ServeConfig, ServeError
from prism.serving.engine import check_model_dir

logger = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (as uvicorn binds it), or a :class:`ServeError` saying why not.

    Bound before the model loads, so a port in use fails at once, and handed to uvicorn, so
    nothing can take the port in between.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = (
                "the port is already in use (another server, maybe an earlier `prism serve`, "
                "listens there); stop it or choose another --port"
            )
        else:
            reason = exc.strerror or str(exc)
        raise ServeError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def serve(
    model_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: ServeConfig | None = None,
) -> None:
    """Load the student and serve it until SIGINT or SIGTERM (``prism serve``).

    Checks the directory (:func:`check_model_dir`) and binds the port before loading the
    model; either failing is a :class:`ServeError`. A signal shuts the server down gracefully
    (requests in flight are answered) and this returns normally; port 0 picks a free port (the
    log says which).
    """
    import uvicorn

    check_model_dir(model_dir)
    sock = bind(host, port)
    try:
        app = create_app(model_dir, config)
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, workers=1, log_level="info")
        )
        config = app.state.config
        logger.info(
            "serving %s as %r on http://%s:%d/v1; %s, at most %d new tokens per reply",
            model_dir,
            app.state.model_name,
            host,
            sock.getsockname()[1],
            "sampling as requested (temperature, top_p, seed)"
            if config.sampling
            else "greedy as in process (a request's temperature, top_p, seed are ignored)",
            config.max_new_tokens,
        )
        _run_until_signal(server, sock)
    finally:
        sock.close()


def _run_until_signal(server: Any, sock: socket.socket) -> None:
    """``server.run``, where the signal that stops it ends the command normally (exit code 0).

    After a graceful shutdown uvicorn re-raises the signal it caught to the handlers that were
    there before it (the defaults: KeyboardInterrupt, or death by SIGTERM); the handlers set
    here only note it.
    """
    if threading.current_thread() is not threading.main_thread():
        server.run(sockets=[sock])
        return
    caught: list[int] = []

    def note(signum: int, _frame: Any) -> None:
        caught.append(signum)

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, note) for sig in handled}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        logger.info("stopped by %s", signal.Signals(caught[0]).name)
