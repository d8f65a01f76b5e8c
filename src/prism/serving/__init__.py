"""Serve a distilled student as an OpenAI-compatible chat-completions endpoint.

The server is a drop-in for the LLM teacher's endpoint (:mod:`prism.endpoint`): SPINE messages
in, the SPINE JSON reply :meth:`prism.student.planner.StudentPlanner.respond` would return out.
``prism serve`` is the command (docs/serving.md). Its layers, each importing only those below:

* :mod:`prism.serving.server`: :func:`serve`, the port and the signals;
* :mod:`prism.serving.app`: :func:`create_app`, the FastAPI routes;
* :mod:`prism.serving.engine`: :class:`StudentEngine`, the loaded student generating replies;
* :mod:`prism.serving.protocol`: the OpenAI chat-completions API (requests, replies, errors,
  decoding), described in its docstring;
* :mod:`prism.serving.config`: :class:`ServeConfig` and :class:`ServeError`.
"""

from prism.serving.app import create_app
from prism.serving.config import ServeConfig, ServeError
from prism.serving.engine import StudentEngine
from prism.serving.server import serve

__all__ = ["ServeConfig", "ServeError", "StudentEngine", "create_app", "serve"]
