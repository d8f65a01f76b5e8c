"""Serve a distilled student as an OpenAI-compatible chat-completions endpoint.

The server is a drop-in for the LLM teacher's endpoint (:mod:`prism.endpoint`): SPINE messages
in, the SPINE JSON reply :meth:`prism.student.planner.StudentPlanner.respond` would return out.
See :func:`create_app` for the API and ``prism serve`` for the command.
"""

from prism.serving.app import ServeConfig, StudentEngine, create_app

__all__ = ["ServeConfig", "StudentEngine", "create_app"]
