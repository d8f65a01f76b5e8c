"""Scripts for the fake OpenAI server that play a (crude) SPINE planner.

Shared by the generation tests and ``bench/generation.py``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.endpoint.fake_openai_server import Reply


def graph_of(request: dict[str, Any]) -> dict[str, Any]:
    """The scene graph in a rollout's first user message (the message after the system prompt)."""
    return json.loads(request["messages"][1]["content"].split("Scene graph:", 1)[1])


def answer_with_every_node(request: dict[str, Any]) -> str:
    """A planner turn answering "yes, no" and every node name: it matches most answer regexes,
    so rollouts pass through the LLM teacher's path without a real model."""
    graph = graph_of(request)
    names = [n["name"] for n in graph["objects"] + graph["regions"]]
    return json.dumps(
        {
            "primary_goal": "answer the user",
            "relevant_graph": names[:3],
            "reasoning": "everything I know",
            "plan": f"[answer(yes, no, {' '.join(names)})]",
        }
    )


def slow(script: Any, delay_s: float) -> Any:
    """``script`` answering after ``delay_s`` seconds (injected latency)."""

    def delayed(request: dict[str, Any]) -> Reply:
        return Reply(text=script(request), delay_s=delay_s)

    return delayed
