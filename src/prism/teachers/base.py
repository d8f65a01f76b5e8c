"""The teacher interface: a teacher hands out a planner for one task in one simulator."""

from __future__ import annotations

from typing import Protocol

from prism.world.rollout import Planner
from prism.world.simulator import PartialObservationSim
from prism.world.task import Task


class Teacher(Protocol):
    """Produces rollouts: implementations are the oracle (offline), an LLM endpoint, the student.

    ``planner`` is called once per rollout, so a planner may keep per-rollout state.
    """

    name: str

    def check(self) -> None:
        """Fail fast, before a long run, if the teacher cannot work (endpoint unreachable...)."""
        ...

    def planner(self, task: Task, sim: PartialObservationSim) -> Planner:
        """A planner for ``task``. It may read ``sim.partial`` (the planner's own view) but never
        the full scene."""
        ...
