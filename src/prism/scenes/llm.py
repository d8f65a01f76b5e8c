"""The LLM scene generator ("TaskGraphGen"): a chat model writes the scene graph and its tasks.

The model answers in JSON mode with a scene graph in the SPINE format and tasks in the eval-file
format. The answer is checked like any scene graph from a file (every edge names existing nodes,
the robot's location exists, tasks start in a region, answers are valid regexes); a bad answer
goes back to the model with the reason, up to ``max_attempts`` times.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from prism.endpoint import ChatClient
from prism.scenes.base import GeneratedScene, SceneRequest
from prism.scenes.themes import THEMES
from prism.world.scene_graph import SceneGraph, SceneGraphError
from prism.world.task import Task, TaskError

PROMPT = """You generate training data for an LLM-based robot planner (like SPINE).

Write one outdoor scene as a scene graph and tasks for a robot in it. Answer with one JSON object:
{{"description": "<one sentence: the kind of scene>",
 "graph": {{"regions": [{{"name": "field_1", "coords": [0, 0], "description": "..."}}, ...],
           "objects": [{{"name": "pickup_truck_1", "coords": [-8.8, -20], "description": "has keys"}}, ...],
           "region_connections": [["field_1", "road_1"], ...],
           "object_connections": [["pickup_truck_1", "field_6"], ...],
           "robot_location": "field_1"}},
 "tasks": [{{"task": "...", "answer": "<case-insensitive regex a correct answer matches>",
            "init_node": "<region where the robot starts>"}}, ...]}}

Rules:
- {n_regions} regions and {n_objects} objects; names are lowercase words joined by "_" with a
  number (road_2, shed_1). Coordinates are metres, west-east then south-north.
- Regions are places the robot can drive between; every region must be reachable from the robot's
  location through region_connections. Every object is connected to exactly one region.
- Every node has a "description" with information the robot only learns by mapping or inspecting
  it (e.g. "damaged", "has keys", "door locked", "full of tools").
- Every name used in a connection, robot_location or init_node must be a node you listed.
- {n_tasks} tasks. Do not name nodes in a task: make the planner infer them. Ask for specific
  information that requires mapping or inspecting, e.g. "is there ...", "find me something I can
  ...", "is the ... damaged?", "where are ... likely to be?", "... is down. Why?".
{scene_hint}"""

FEEDBACK = (
    "Your answer cannot be used: {reason}. Fix it and answer again with the complete JSON object."
)


@dataclass
class LLMSceneGenerator:
    """Scene graphs and tasks from a chat model on an OpenAI-compatible endpoint."""

    client: ChatClient
    max_attempts: int = 3
    name: str = "llm"

    def check(self) -> None:
        """Fail fast, before a long run, if the endpoint cannot serve the model."""
        self.client.check_reachable()

    def generate(self, request: SceneRequest) -> GeneratedScene:
        """Ask for a scene and tasks; retry with the reason when the answer is unusable.

        Raises:
            ValueError: after ``max_attempts`` unusable answers (the last reason included).
        """
        messages = [{"role": "user", "content": build_prompt(request)}]
        reason = ""
        for attempt in range(1, self.max_attempts + 1):
            text = self.client.complete(
                messages, seed=request.seed, request_tag=f"scene seed {request.seed} try {attempt}"
            ).text
            try:
                return parse_generated_scene(text, request)
            except (ValueError, json.JSONDecodeError) as err:
                reason = str(err)
                messages += [
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": FEEDBACK.format(reason=reason)},
                ]
        raise ValueError(f"no usable scene after {self.max_attempts} attempts: {reason}")


def build_prompt(request: SceneRequest) -> str:
    """The generation prompt; a prior steers the tasks, else a theme is suggested for variety."""
    if request.prior:
        hint = f"Your tasks and scene should be like the following: {request.prior.prompt()}"
    else:
        theme = random.Random(request.seed).choice(THEMES)
        hint = f"Scene idea (be creative but realistic): {theme.summary}."
    return PROMPT.format(
        n_regions=request.n_regions,
        n_objects=request.n_objects,
        n_tasks=request.n_tasks,
        scene_hint=hint,
    )


def parse_generated_scene(text: str, request: SceneRequest) -> GeneratedScene:
    """Read and check a model's answer.

    Raises:
        ValueError: with the reason to feed back (not JSON, graph invalid, a task invalid, ...).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"it is not valid JSON ({err})") from None
    if not isinstance(data, dict) or "graph" not in data or "tasks" not in data:
        raise ValueError('it must be a JSON object with the keys "description", "graph", "tasks"')
    try:
        scene = SceneGraph.from_spine(data["graph"], source="graph")
    except SceneGraphError as err:
        raise ValueError(str(err)) from None
    unreachable = set(scene.regions) - scene.reachable_regions(scene.robot_location)
    if unreachable:
        raise ValueError(
            f"regions {', '.join(sorted(unreachable))} cannot be reached from the robot's "
            f"location {scene.robot_location}; connect them"
        )
    tasks_data = data["tasks"]
    if not isinstance(tasks_data, list) or not tasks_data:
        raise ValueError('"tasks" must be a non-empty list')
    tasks = []
    for i, record in enumerate(tasks_data):
        if isinstance(record, dict):
            record = {"init_node": scene.robot_location, **record}
        try:
            task = Task.from_record(record, source=f"tasks[{i}]")
            task.check_against(scene, source=f"tasks[{i}]")
        except TaskError as err:
            raise ValueError(str(err)) from None
        tasks.append(task)
    return GeneratedScene(
        scene=scene,
        tasks=tasks[: request.n_tasks],
        description=str(data.get("description", "")),
        metadata={"generator": "llm"},
    )
