"""Eval task files: scene graphs with the tasks a planner is scored on.

The format (the reference's ``eval_1_multi_step.json``)::

    {"graph": {<SPINE scene graph>},
     "tasks": [{"task": "Find me something I can drive in", "answer": "truck",
                "init_node": "field_1"}]}

or a JSON list of such objects, one per scene graph. ``answer`` is a regular expression matched
case-insensitively (``re.search``) against the plan of the planner's final turn; ``init_node`` is
the region the robot starts in (when missing it defaults to the graph's ``robot_location``). Tasks
are :class:`prism.world.task.Task`: the keys our generator writes (``kind``, ``targets``,
``subject``) are read into its fields, any other task key into :attr:`Task.extra`, and other keys
next to ``graph``/``tasks`` into :attr:`EvalSuite.graph_extras`, so that a file reads and writes
back without loss.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prism.formats.errors import DataFormatError
from prism.formats.json_io import json_type, read_json, write_json_atomic
from prism.world.scene_graph import SceneGraph, SceneGraphError
from prism.world.task import Task, TaskError

ENTRY_KEYS: tuple[str, ...] = ("graph", "tasks")

# The label under which graphs are handed to SceneGraph.from_spine; its messages start with it.
_GRAPH_LABEL = "graph"


@dataclass(frozen=True)
class EvalSuite:
    """The scene graphs of an eval task file and the tasks on them.

    Attributes:
        graphs: the scene graphs, as SPINE dicts (treat as read-only).
        tasks: all tasks, grouped by graph in file order.
        task_graphs: for each task, the index in ``graphs`` of the graph it runs on; empty when
            every task runs on graph 0.
        graph_extras: per graph, the keys of its file entry other than ``graph`` and ``tasks``.
        source: where the suite was read from (not part of equality).

    Example:
        >>> suite = read_eval_suite("data/01_raw/eval_tasks_1.json")  # doctest: +SKIP
        >>> suite.scene_of(0).robot_location  # doctest: +SKIP
        'field_1'
    """

    graphs: tuple[dict[str, Any], ...]
    tasks: tuple[Task, ...]
    task_graphs: tuple[int, ...] = ()
    graph_extras: tuple[dict[str, Any], ...] = ()
    source: str = field(default="<data>", compare=False)

    def __post_init__(self) -> None:
        # Accept lists from callers that build a suite by hand; store immutable sequences.
        object.__setattr__(self, "graphs", tuple(self.graphs))
        object.__setattr__(self, "tasks", tuple(self.tasks))
        task_graphs = tuple(self.task_graphs) or tuple(0 for _ in self.tasks)
        if len(task_graphs) != len(self.tasks):
            raise ValueError(
                f"task_graphs has {len(task_graphs)} entries for {len(self.tasks)} tasks; "
                "give one graph index per task (or none: all on graph 0)"
            )
        object.__setattr__(self, "task_graphs", task_graphs)
        extras = tuple(self.graph_extras) or tuple({} for _ in self.graphs)
        if len(extras) != len(self.graphs):
            raise ValueError(
                f"graph_extras has {len(extras)} entries for {len(self.graphs)} graphs; "
                "give one dict per graph (or none)"
            )
        object.__setattr__(self, "graph_extras", extras)

    def __hash__(self) -> int:
        return hash(self.tasks)

    def tasks_for(self, graph_index: int) -> tuple[Task, ...]:
        """The tasks that run on graph ``graph_index``."""
        return tuple(
            task
            for task, graph in zip(self.tasks, self.task_graphs, strict=True)
            if graph == graph_index
        )

    def scene_graph(self, graph_index: int) -> SceneGraph:
        """A fresh :class:`SceneGraph` of graph ``graph_index`` (callers may mutate it)."""
        return SceneGraph.from_spine(
            self.graphs[graph_index], source=f"{self.source}, graph {graph_index}"
        )

    def scene_of(self, task_index: int) -> SceneGraph:
        """A fresh :class:`SceneGraph` of the graph task ``task_index`` runs on."""
        return self.scene_graph(self.task_graphs[task_index])


# ---------------------------------------------------------------------------------- reading
def load_eval_suite(records: Any, source: str = "<data>") -> EvalSuite:
    """Validate parsed eval-task JSON and return the suite.

    Checks every graph (through :meth:`SceneGraph.from_spine`: node names unique, coords two
    numbers, edges between existing nodes, ``robot_location`` a region), that every answer regex
    compiles, and that every ``init_node`` is a region of its graph.

    Args:
        records: ``{"graph": ..., "tasks": [...]}`` or a list of such objects.
        source: the file the records came from (or a label), used in error messages.

    Raises:
        DataFormatError: naming ``source`` and the field at fault, e.g. ``[1].tasks[3].answer``.

    Example:
        >>> suite = load_eval_suite({
        ...     "graph": {"regions": [{"name": "field_1", "coords": [0, 0]}],
        ...               "robot_location": "field_1"},
        ...     "tasks": [{"task": "where am I?", "answer": "field_1", "init_node": "field_1"}]})
        >>> suite.tasks[0].answer
        'field_1'
    """
    if isinstance(records, Mapping):
        entries, prefixes = [records], [""]
    elif isinstance(records, list | tuple):
        if not records:
            raise DataFormatError("the list of graphs is empty", source=source)
        entries, prefixes = list(records), [f"[{i}]." for i in range(len(records))]
    else:
        raise DataFormatError(
            'expected {"graph": ..., "tasks": [...]} or a list of such objects, '
            f"got {json_type(records)}",
            source=source,
        )
    graphs: list[dict[str, Any]] = []
    tasks: list[Task] = []
    task_graphs: list[int] = []
    extras: list[dict[str, Any]] = []
    for graph_index, (entry, prefix) in enumerate(zip(entries, prefixes, strict=True)):
        graph, scene_graph, entry_tasks = _load_entry(entry, graph_index, prefix, source)
        graphs.append(graph)
        extras.append({k: copy.deepcopy(v) for k, v in entry.items() if k not in ENTRY_KEYS})
        tasks.extend(
            _load_task(record, scene_graph, graph_index, f"{prefix}tasks[{i}]", source)
            for i, record in enumerate(entry_tasks)
        )
        task_graphs.extend(graph_index for _ in entry_tasks)
    return EvalSuite(
        graphs=tuple(graphs),
        tasks=tuple(tasks),
        task_graphs=tuple(task_graphs),
        graph_extras=tuple(extras),
        source=source,
    )


def read_eval_suite(path: str | os.PathLike[str]) -> EvalSuite:
    """Read an eval task file.

    Example:
        >>> read_eval_suite("data/01_raw/eval_tasks_1.json").tasks[0].task  # doctest: +SKIP
        'is there a boat in the scene?'

    Raises:
        DataFormatError: the file is not JSON or not a valid eval task file.
        FileNotFoundError: there is no such file.
    """
    return load_eval_suite(read_json(path), source=str(path))


class EvalTaskFileNotFound(FileNotFoundError):
    """No eval task file under the name given; ``places`` are where it was looked for."""

    def __init__(self, message: str, name: str, places: Sequence[Path] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.places = list(places)

    def one_line(self) -> str:
        """The message without line breaks or advice: what was missing, and where it was sought."""
        if not self.places:
            return str(self).splitlines()[0]
        return f"eval task file '{self.name}' not found; looked in: " + ", ".join(
            str(place) for place in self.places
        )


def resolve_eval_task_file(
    name_or_path: str | os.PathLike[str],
    search_dirs: Iterable[str | os.PathLike[str]] = (),
    cwd: str | os.PathLike[str] | None = None,
) -> Path:
    """Find an eval task file given as a path or a bare name (the seed passes ``eval_tasks_1.json``).

    An absolute path is taken as it is. A relative one is looked up in the working directory
    first, then in each of ``search_dirs`` in order (relative folders count from ``cwd``).

    Args:
        name_or_path: the file name or path.
        search_dirs: further folders to look in, e.g. the project's ``data/01_raw``.
        cwd: the working directory; the process's by default.

    Raises:
        EvalTaskFileNotFound: a ``FileNotFoundError`` listing every place looked.

    Example:
        >>> resolve_eval_task_file("eval_tasks_1.json", ["data/01_raw"])  # doctest: +SKIP
        PosixPath('/home/me/prism/data/01_raw/eval_tasks_1.json')
    """
    if not str(name_or_path).strip():
        raise EvalTaskFileNotFound("no eval task file given (the name is empty)", str(name_or_path))
    wanted = Path(name_or_path).expanduser()
    base = Path(cwd) if cwd is not None else Path.cwd()
    if wanted.is_absolute():
        places = [wanted]
    else:
        folders = [base] + [
            folder if folder.is_absolute() else base / folder
            for folder in (Path(d).expanduser() for d in search_dirs)
        ]
        places = list(dict.fromkeys(folder / wanted for folder in folders))
    for place in places:
        if place.is_file():
            return place
    looked = "\n".join(f"  - {place}" for place in places)
    raise EvalTaskFileNotFound(
        f"eval task file '{name_or_path}' not found; looked in:\n{looked}\n"
        "Pass an existing path, or put the file in one of these places.",
        str(name_or_path),
        places,
    )


# ---------------------------------------------------------------------------------- writing
def to_records(suite: EvalSuite) -> dict[str, Any] | list[dict[str, Any]]:
    """The suite in the file format: one graph gives the object form, several the list form.

    Example:
        >>> suite = EvalSuite(
        ...     graphs=[{"regions": [{"name": "r", "coords": [0, 0]}], "robot_location": "r"}],
        ...     tasks=[Task("where am I?", "r", "r")])
        >>> sorted(to_records(suite))
        ['graph', 'tasks']
    """
    known = range(len(suite.graphs))
    for index, (task, graph_index) in enumerate(zip(suite.tasks, suite.task_graphs, strict=True)):
        if graph_index not in known:
            raise DataFormatError(
                f"graph_index {graph_index} of task {task.task!r} is out of range: "
                f"the suite has {len(suite.graphs)} graph(s)",
                source=suite.source,
                field=f"tasks[{index}]",
            )
    entries = []
    for graph_index, graph in enumerate(suite.graphs):
        entry: dict[str, Any] = {
            "graph": copy.deepcopy(graph),
            "tasks": [task.to_record() for task in suite.tasks_for(graph_index)],
        }
        entry.update(copy.deepcopy(suite.graph_extras[graph_index]))
        entries.append(entry)
    return entries[0] if len(entries) == 1 else entries


def write_eval_suite(suite: EvalSuite, path: str | os.PathLike[str]) -> None:
    """Write the suite as an eval task file (validated first; parent folders are created).

    Example:
        >>> write_eval_suite(suite, "data/01_raw/eval_tasks_procedural.json")  # doctest: +SKIP
    """
    target = Path(path)
    records = to_records(suite)
    load_eval_suite(records, source=str(target))  # never write a file that cannot be read back
    write_json_atomic(target, records, ensure_ascii=False, indent=2)


# ---------------------------------------------------------------------------------- internals


def _load_entry(
    entry: Any, graph_index: int, prefix: str, source: str
) -> tuple[dict[str, Any], SceneGraph, list[Any]]:
    where = prefix.rstrip(".") or None
    if not isinstance(entry, Mapping):
        raise DataFormatError(
            f'expected an object {{"graph": ..., "tasks": [...]}}, got {json_type(entry)}',
            source=source,
            field=where,
        )
    missing = [key for key in ENTRY_KEYS if key not in entry]
    if missing:
        raise DataFormatError(
            f"missing {' and '.join(map(repr, missing))}; an entry needs a scene graph under "
            "'graph' and a list of tasks under 'tasks'",
            source=source,
            field=where,
        )
    graph = entry["graph"]
    try:
        scene_graph = SceneGraph.from_spine(graph, source=_GRAPH_LABEL)
    except SceneGraphError as err:
        reason = str(err).removeprefix(f"{_GRAPH_LABEL}: ")
        raise DataFormatError(
            f"invalid scene graph (graph {graph_index}): {reason}",
            source=source,
            field=f"{prefix}graph",
        ) from err
    tasks = entry["tasks"]
    if not isinstance(tasks, list | tuple):
        raise DataFormatError(
            f"must be a list of tasks, got {json_type(tasks)}",
            source=source,
            field=f"{prefix}tasks",
        )
    if not tasks:
        raise DataFormatError(
            f"graph {graph_index} has no tasks; add at least one or remove the graph",
            source=source,
            field=f"{prefix}tasks",
        )
    return copy.deepcopy(dict(graph)), scene_graph, list(tasks)


def _load_task(
    record: Any, scene_graph: SceneGraph, graph_index: int, path: str, source: str
) -> Task:
    if not isinstance(record, Mapping):
        raise DataFormatError(
            "a task must be an object with 'task', 'answer' and 'init_node', "
            f"got {json_type(record)}",
            source=source,
            field=path,
        )
    text = record.get("task")
    if not isinstance(text, str) or not text.strip():
        raise DataFormatError(
            f"'task' must be a non-empty string, got {text!r}", source=source, field=f"{path}.task"
        )
    answer = _load_answer(record, text, path, source)
    init_node = record.get("init_node", scene_graph.robot_location)
    if not isinstance(init_node, str) or not scene_graph.is_region(init_node):
        if isinstance(init_node, str) and scene_graph.is_object(init_node):
            problem = f"'{init_node}' is an object; the robot must start in a region"
        else:
            problem = f"{init_node!r} is not a region of graph {graph_index}"
        regions = scene_graph.regions
        shown = ", ".join(regions[:12]) + (", ..." if len(regions) > 12 else "")
        raise DataFormatError(
            f"init_node of task {text!r}: {problem} (regions: {shown})",
            source=source,
            field=f"{path}.init_node",
        )
    try:
        return Task.from_record({**record, "answer": answer, "init_node": init_node})
    except TaskError as err:
        reason = str(err).removeprefix("<task>: ")
        raise DataFormatError(f"task {text!r}: {reason}", source=source, field=path) from None


def _load_answer(record: Mapping[str, Any], text: str, path: str, source: str) -> str:
    answer = record.get("answer")
    where = {"source": source, "field": f"{path}.answer"}
    if isinstance(answer, list | tuple):
        raise DataFormatError(
            f"the answer of task {text!r} is a list; write one regex and join alternatives "
            "with '|', e.g. 'truck|car'",
            **where,
        )
    if not isinstance(answer, str) or not answer.strip():
        raise DataFormatError(
            f"the answer of task {text!r} must be a non-empty regex string, got {answer!r} "
            "(an empty regex would match every plan)",
            **where,
        )
    try:
        re.compile(answer, re.IGNORECASE)
    except re.error as err:
        raise DataFormatError(
            f"the answer regex {answer!r} of task {text!r} does not compile: {err}", **where
        ) from err
    return answer
