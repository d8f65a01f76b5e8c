"""Eval task files: both shapes, every rejection, file lookup, writing back without loss."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prism.formats.errors import DataFormatError
from prism.formats.eval_tasks import (
    EvalSuite,
    load_eval_suite,
    read_eval_suite,
    resolve_eval_task_file,
    to_records,
    write_eval_suite,
)
from prism.world.task import Task

EXTERNAL = Path("/work/shared/external/prism_eval_1_multi_step.json")


@pytest.fixture
def graph():
    return {
        "objects": [{"name": "truck_1", "coords": [5, 5], "description": "has keys"}],
        "regions": [
            {"name": "field_1", "coords": [0, 0], "description": ""},
            {"name": "field_2", "coords": [4, 4.5], "description": ""},
        ],
        "object_connections": [["truck_1", "field_2"]],
        "region_connections": [["field_1", "field_2"]],
        "robot_location": "field_1",
    }


@pytest.fixture
def entry(graph):
    return {
        "graph": graph,
        "tasks": [
            {"task": "Find me something I can drive in", "answer": "truck", "init_node": "field_1"},
            {
                "task": "Where are the keys?",
                "answer": "truck|keys",
                "init_node": "field_2",
                "kind": "lookup",
                "targets": ["truck_1"],
            },
        ],
    }


def rejection(records, source="evals/x.json") -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        load_eval_suite(records, source=source)
    return info.value


# ---------------------------------------------------------------------------------- accepted
class TestLoading:
    def test_single_graph_object(self, entry, graph):
        suite = load_eval_suite(entry, source="e.json")
        assert suite.graphs == (graph,)
        assert suite.source == "e.json"
        assert suite.tasks[0] == Task("Find me something I can drive in", "truck", "field_1")
        assert suite.task_graphs == (0, 0)
        assert (suite.tasks[1].kind, suite.tasks[1].targets) == ("lookup", ("truck_1",))
        assert suite.tasks[1].extra == {}

    def test_list_of_graphs(self, entry):
        second = copy.deepcopy(entry)
        second["tasks"] = second["tasks"][:1]
        suite = load_eval_suite([entry, second])
        assert len(suite.graphs) == 2
        assert suite.task_graphs == (0, 0, 1)
        assert suite.tasks_for(1) == (suite.tasks[2],)

    def test_missing_init_node_defaults_to_robot_location(self, entry):
        del entry["tasks"][0]["init_node"]
        assert load_eval_suite(entry).tasks[0].init_node == "field_1"

    def test_input_is_copied(self, entry):
        suite = load_eval_suite(entry)
        entry["graph"]["regions"].clear()
        entry["tasks"][1]["targets"].append("x")
        assert len(suite.graphs[0]["regions"]) == 2
        assert suite.tasks[1].targets == ("truck_1",)

    def test_entry_extras_are_kept(self, entry):
        entry["scene_id"] = "proc-7"
        suite = load_eval_suite(entry)
        assert suite.graph_extras == ({"scene_id": "proc-7"},)
        assert to_records(suite) == entry

    def test_answer_matching_is_case_insensitive_search(self, entry):
        task = load_eval_suite(entry).tasks[0]
        assert task.matches("[goto(field_2), answer(The TRUCK is in field_2)]")
        assert not task.matches("[answer(nothing found)]")

    def test_scene_graph_of_the_suite(self, entry):
        suite = load_eval_suite(entry)
        scene = suite.scene_graph(0)
        assert scene.robot_location == "field_1"
        assert scene.is_object("truck_1")
        scene.graph.remove_node("truck_1")
        assert suite.scene_graph(0).is_object("truck_1")

    def test_suite_and_tasks_are_frozen_and_hashable(self, entry):
        suite = load_eval_suite(entry)
        with pytest.raises(AttributeError):
            suite.tasks = ()  # type: ignore[misc]
        assert len({suite, load_eval_suite(entry)}) == 1
        assert len(set(suite.tasks)) == 2


class TestRealFile:
    def test_reference_eval_file_loads_as_it_is(self):
        suite = read_eval_suite(EXTERNAL)
        assert len(suite.tasks) == 10
        assert len(suite.graphs) == 1
        assert suite.tasks[0].task == "is there a boat in the scene?"
        assert {t.init_node for t in suite.tasks} == {"field_1"}
        assert suite.source == str(EXTERNAL)

    def test_reference_eval_file_writes_back_identically(self, tmp_path):
        original = json.loads(EXTERNAL.read_text())
        suite = read_eval_suite(EXTERNAL)
        assert to_records(suite) == original
        write_eval_suite(suite, tmp_path / "copy.json")
        assert json.loads((tmp_path / "copy.json").read_text()) == original


# ---------------------------------------------------------------------------------- rejected
class TestRejections:
    @pytest.mark.parametrize("records", ["x", 3, None])
    def test_not_an_object_or_list(self, records):
        err = rejection(records)
        assert str(err).startswith('evals/x.json: expected {"graph": ..., "tasks": [...]}')

    def test_empty_list(self):
        assert str(rejection([])) == "evals/x.json: the list of graphs is empty"

    def test_entry_not_an_object(self, entry):
        err = rejection([entry, "graph"])
        assert str(err).startswith("evals/x.json: field [1]: expected an object")

    def test_missing_graph_and_tasks(self):
        err = rejection({"scene": {}})
        assert "missing 'graph' and 'tasks'" in str(err)

    def test_tasks_not_a_list(self, entry):
        entry["tasks"] = {"task": "x"}
        assert str(rejection(entry)) == (
            "evals/x.json: field tasks: must be a list of tasks, got an object"
        )

    def test_no_tasks(self, entry):
        entry["tasks"] = []
        assert "field tasks: graph 0 has no tasks" in str(rejection(entry))

    def test_answer_regex_does_not_compile(self, entry):
        entry["tasks"][1]["answer"] = "truck|(keys"
        err = rejection([entry])
        assert err.field == "[0].tasks[1].answer"
        message = str(err)
        assert message.startswith("evals/x.json: field [0].tasks[1].answer: the answer regex")
        assert "'truck|(keys'" in message
        assert "'Where are the keys?'" in message
        assert "does not compile" in message

    @pytest.mark.parametrize("answer", ["", "  ", None, 3])
    def test_answer_missing_or_empty(self, entry, answer):
        entry["tasks"][0]["answer"] = answer
        message = str(rejection(entry))
        assert "field tasks[0].answer: " in message
        assert "non-empty regex string" in message

    def test_answer_list_gets_a_hint(self, entry):
        entry["tasks"][0]["answer"] = ["truck", "car"]
        assert "join alternatives with '|'" in str(rejection(entry))

    @pytest.mark.parametrize("text", ["", None, 5])
    def test_task_text(self, entry, text):
        entry["tasks"][0]["task"] = text
        assert "field tasks[0].task: 'task' must be a non-empty string" in str(rejection(entry))

    def test_task_not_an_object(self, entry):
        entry["tasks"].append("find the truck")
        assert "field tasks[2]: a task must be an object" in str(rejection(entry))

    def test_init_node_unknown(self, entry):
        entry["tasks"][1]["init_node"] = "field_9"
        message = str(rejection(entry))
        assert message.startswith("evals/x.json: field tasks[1].init_node: init_node of task")
        assert "'field_9' is not a region of graph 0" in message
        assert "(regions: field_1, field_2)" in message

    def test_init_node_is_an_object(self, entry):
        entry["tasks"][0]["init_node"] = "truck_1"
        assert "'truck_1' is an object; the robot must start in a region" in str(rejection(entry))

    @pytest.mark.parametrize(
        ("breakage", "expected"),
        [
            (lambda g: g["region_connections"].append(["field_1", "field_7"]), "field_7"),
            (lambda g: g["object_connections"].append(["ghost", "field_1"]), "ghost"),
            (lambda g: g.update(robot_location="nowhere"), "robot_location 'nowhere'"),
            (lambda g: g["regions"].append({"name": "field_1", "coords": [1, 1]}), "duplicate"),
            (lambda g: g["objects"][0].update(coords=[1]), "objects[0].coords"),
            (lambda g: g["regions"][1].update(coords=["a", 2]), "regions[1].coords"),
            (lambda g: g.update(regions=[]), "no regions"),
        ],
    )
    def test_graph_errors_name_file_graph_and_field(self, entry, breakage, expected):
        second = copy.deepcopy(entry)
        breakage(second["graph"])
        err = rejection([entry, second])
        message = str(err)
        assert message.startswith("evals/x.json: field [1].graph: invalid scene graph (graph 1): ")
        assert expected in message
        assert "graph: graph" not in message
        assert err.__cause__ is not None

    def test_graph_not_an_object(self, entry):
        entry["graph"] = []
        assert "field graph: invalid scene graph (graph 0)" in str(rejection(entry))

    def test_read_invalid_json(self, tmp_path):
        path = tmp_path / "evals.json"
        path.write_text('{"graph": ')
        with pytest.raises(DataFormatError, match=r"evals.json: not valid JSON: .* line 1"):
            read_eval_suite(path)


# ---------------------------------------------------------------------------------- writing
class TestWriting:
    def test_one_graph_gives_the_object_form(self, entry):
        assert to_records(load_eval_suite(entry)) == entry

    def test_several_graphs_give_the_list_form(self, entry):
        records = [entry, copy.deepcopy(entry)]
        assert to_records(load_eval_suite(records)) == records

    def test_suite_built_by_hand(self, graph, tmp_path):
        suite = EvalSuite(
            graphs=[graph],
            tasks=[Task("where is the truck?", "truck", "field_1", extra={"note": "lookup"})],
        )
        assert isinstance(suite.graphs, tuple)
        path = tmp_path / "sub" / "eval_tasks_procedural.json"
        write_eval_suite(suite, path)
        assert read_eval_suite(path) == suite

    def test_write_refuses_an_invalid_suite(self, graph, tmp_path):
        suite = EvalSuite(graphs=[graph], tasks=[Task("t", "a", "truck_1")])
        path = tmp_path / "bad.json"
        with pytest.raises(DataFormatError, match=r"bad.json: field tasks\[0\].init_node"):
            write_eval_suite(suite, path)
        assert not path.exists()

    def test_graph_extras_must_match_graphs(self, graph):
        with pytest.raises(ValueError, match="one dict per graph"):
            EvalSuite(graphs=[graph], tasks=[], graph_extras=[{}, {}])

    def test_graph_index_out_of_range(self, graph):
        suite = EvalSuite(graphs=[graph], tasks=[Task("t", "a", "field_1")], task_graphs=[2])
        with pytest.raises(DataFormatError, match=r"graph_index 2 .* out of range"):
            to_records(suite)


names = st.from_regex(r"[a-z]{1,6}_[0-9]", fullmatch=True)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"task": st.text(min_size=1).filter(str.strip), "answer": names},
            optional={"kind": st.sampled_from(["lookup", "count"]), "targets": st.lists(names)},
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(min_value=1, max_value=3),
)
def test_records_round_trip(tasks, n_graphs):
    graph = {
        "regions": [{"name": "field_1", "coords": [0, 0]}, {"name": "field_2", "coords": [1, 2.5]}],
        "region_connections": [["field_1", "field_2"]],
        "robot_location": "field_1",
    }
    entries = [
        {"graph": graph, "tasks": [{**t, "init_node": "field_2"} for t in tasks]}
        for _ in range(n_graphs)
    ]
    records = entries[0] if n_graphs == 1 else entries
    suite = load_eval_suite(records)
    assert to_records(suite) == records
    assert load_eval_suite(to_records(suite)) == suite


# ---------------------------------------------------------------------------------- lookup
class TestResolve:
    def test_bare_name_in_the_working_directory_first(self, tmp_path):
        raw = tmp_path / "data" / "01_raw"
        raw.mkdir(parents=True)
        (raw / "eval_tasks_1.json").write_text("{}")
        (tmp_path / "eval_tasks_1.json").write_text("{}")
        found = resolve_eval_task_file("eval_tasks_1.json", ["data/01_raw"], cwd=tmp_path)
        assert found == tmp_path / "eval_tasks_1.json"

    def test_bare_name_in_a_search_folder(self, tmp_path):
        raw = tmp_path / "data" / "01_raw"
        raw.mkdir(parents=True)
        (raw / "eval_tasks_1.json").write_text("{}")
        found = resolve_eval_task_file("eval_tasks_1.json", ["data/01_raw"], cwd=tmp_path)
        assert found == raw / "eval_tasks_1.json"

    def test_absolute_path(self):
        assert resolve_eval_task_file(EXTERNAL, ["data/01_raw"]) == EXTERNAL

    def test_relative_path_with_folders(self, tmp_path):
        (tmp_path / "evals").mkdir()
        (tmp_path / "evals" / "e.json").write_text("{}")
        assert resolve_eval_task_file("evals/e.json", cwd=tmp_path) == tmp_path / "evals" / "e.json"

    def test_a_folder_is_not_a_file(self, tmp_path):
        (tmp_path / "eval_tasks_1.json").mkdir()
        with pytest.raises(FileNotFoundError):
            resolve_eval_task_file("eval_tasks_1.json", cwd=tmp_path)

    def test_not_found_lists_every_place_looked(self, tmp_path):
        other = tmp_path / "elsewhere"
        with pytest.raises(FileNotFoundError) as info:
            resolve_eval_task_file("eval_tasks_9.json", ["data/01_raw", other], cwd=tmp_path)
        message = str(info.value)
        assert "eval task file 'eval_tasks_9.json' not found" in message
        for place in (
            tmp_path / "eval_tasks_9.json",
            tmp_path / "data" / "01_raw" / "eval_tasks_9.json",
            other / "eval_tasks_9.json",
        ):
            assert f"  - {place}" in message

    def test_missing_absolute_path(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="looked in"):
            resolve_eval_task_file(tmp_path / "nope.json", ["data/01_raw"])

    def test_empty_name(self):
        with pytest.raises(FileNotFoundError, match="name is empty"):
            resolve_eval_task_file("  ")
