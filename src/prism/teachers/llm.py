"""The LLM teacher: a SPINE-style planner on any OpenAI-compatible endpoint.

Each planner turn is one chat completion: the SPINE system prompt (the API and the response
format), then the rollout so far. Validation feedback goes back as a user message and the
rollout loop gives it up to ``max_attempts`` tries (:func:`prism.world.rollout.run_rollout`).
Retries on 429/5xx and timeouts, bounded concurrency and the on-disk call cache live in
:class:`prism.endpoint.ChatClient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prism.endpoint import ChatClient, EndpointError
from prism.world.protocol import SYSTEM_PROMPT
from prism.world.rollout import ContextLengthExceeded, Message
from prism.world.simulator import PartialObservationSim
from prism.world.task import Task

#: The ``code`` of OpenAI's (and compatible servers', ``prism serve`` included) error for a
#: conversation that does not fit the model's context.
CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"


def chat_messages(system_prompt: str, messages: Sequence[Message]) -> list[dict[str, str]]:
    """A rollout's messages (``role``/``value``) as OpenAI chat messages after a system prompt."""
    return [
        {"role": "system", "content": system_prompt},
        *({"role": m["role"], "content": m["value"]} for m in messages),
    ]


@dataclass
class LLMTeacher:
    """Plans with a chat model. The training samples do not contain the system prompt: the
    student learns to plan from the task and the scene graph alone, as the reference did."""

    client: ChatClient
    system_prompt: str = SYSTEM_PROMPT
    name: str = "llm"

    def check(self) -> None:
        """Fail fast, before a long run, if the endpoint cannot serve the model."""
        self.client.check_reachable()

    def planner(self, task: Task, sim: PartialObservationSim) -> LLMPlanner:
        """A planner for one rollout; it sees only the conversation, never the simulator."""
        return LLMPlanner(self, tag=task.task[:60])


@dataclass
class LLMPlanner:
    """One rollout's view of the LLM teacher."""

    teacher: LLMTeacher
    tag: str = ""

    def respond(self, messages: Sequence[Message]) -> str:
        """The model's next turn (validated by the rollout loop).

        Raises:
            ContextLengthExceeded: the endpoint answered ``context_length_exceeded`` (the
                rollout then ends with the reason ``context_length``).
            EndpointError: any other failure of the endpoint.
        """
        chat = chat_messages(self.teacher.system_prompt, messages)
        turn = sum(m["role"] == "assistant" for m in messages) + 1
        try:
            reply = self.teacher.client.complete(chat, request_tag=f"{self.tag} [turn {turn}]")
        except EndpointError as error:
            if error.code == CONTEXT_LENGTH_EXCEEDED:
                raise ContextLengthExceeded(str(error)) from error
            raise
        return reply.text
