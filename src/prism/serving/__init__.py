"""Serve a distilled student as an OpenAI-compatible chat-completions endpoint.

The server is a drop-in for the LLM teacher's endpoint (:mod:`prism.endpoint`): SPINE messages
in, the SPINE JSON reply :meth:`prism.student.planner.StudentPlanner.respond` would return out.
The API (requests, replies, errors, decoding) is described in the docstring of
:mod:`prism.serving.app`; ``prism serve`` is the command (docs/serving.md).
"""

from prism.serving.app import ServeConfig, StudentEngine, create_app

__all__ = ["ServeConfig", "StudentEngine", "create_app"]
