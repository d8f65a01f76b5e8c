"""prism's own teachers, registered through the ``prism_register_teachers`` hook like any
third-party teacher:

- ``oracle``: the scripted expert (offline, the default), :mod:`prism.teachers.oracle`;
- ``llm``: a SPINE-style planner on an OpenAI-compatible endpoint, :mod:`prism.teachers.llm`.
"""

from __future__ import annotations

from prism.plugins.hookspecs import hookimpl
from prism.plugins.types import ComponentRequest, TeacherPlugin
from prism.teachers.llm import LLMTeacher
from prism.teachers.oracle import OracleTeacher


def build_oracle(request: ComponentRequest) -> OracleTeacher:
    """The oracle, answering with what it knows on the loop's last turn."""
    return OracleTeacher(max_iterations=request.max_iterations)


def build_llm_teacher(request: ComponentRequest) -> LLMTeacher:
    """The LLM teacher on the configured endpoint (``options["endpoint"]``)."""
    return LLMTeacher(request.chat_client())


@hookimpl
def prism_register_teachers() -> list[TeacherPlugin]:
    """prism's own teachers."""
    return [
        TeacherPlugin(
            "oracle",
            build_oracle,
            "scripted expert: knows what the task asks for, explores the hidden scene (offline)",
        ),
        TeacherPlugin(
            "llm",
            build_llm_teacher,
            "SPINE-style planner on an OpenAI-compatible endpoint (generation.teacher.endpoint)",
        ),
    ]
