"""The student's prompt formats: SPINE passes through, compact is lossless where it matters."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prism.formats.conversations import read_samples, to_chat_messages
from prism.student.prompt_format import (
    CompactFormat,
    KnownGraph,
    PromptFormat,
    compact_graph,
    format_of,
    get_format,
    save_format,
)
from prism.teachers.oracle import OracleTeacher
from prism.world.protocol import InvalidTurn, first_turn, parse_turn
from prism.world.rollout import run_rollout
from prism.world.simulator import PartialObservationSim
from prism.world.task import Task

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "initial_dataset.json"
COMPACT = CompactFormat()


def _chat(sample):
    return to_chat_messages(sample)


@pytest.fixture(scope="module")
def shipped_samples():
    return read_samples(SHIPPED)


def test_spine_format_is_the_identity():
    messages = [{"role": "user", "content": "task: x"}, {"role": "assistant", "content": "{}"}]
    fmt = PromptFormat()
    assert fmt.encode(messages) == messages
    assert fmt.decode('{"plan": "[replan()]"}', messages) == '{"plan": "[replan()]"}'


def test_compact_first_prompt_lists_every_node_without_coordinates(tiny_graph):
    prompt = first_turn("Is there a cabin nearby?", tiny_graph)
    (encoded,) = COMPACT.encode([{"role": "user", "content": prompt}])
    text = encoded["content"]
    assert "coords" not in text and "{" not in text
    lines = text.splitlines()
    assert lines[0] == "at yard_1"
    assert "region road_2: road_1 field_1 bridge_1 | potholes" in lines
    assert "object pickup_truck_1: road_2 | has keys" in lines
    assert lines[-1] == "task: Is there a cabin nearby?"  # last: right before the reply
    assert "match object cabin_1: island_1" in lines


def test_unmapped_regions_come_nearest_first(tiny_spine):
    for region in tiny_spine["regions"]:
        region.pop("description")
    known = KnownGraph(tiny_spine)
    assert known.unmapped() == ["yard_1", "road_1", "road_2", "field_1", "bridge_1", "island_1"]
    known.apply([("update_node_attributes", '[{"name": "road_1", "description": "x"}]')])
    known.apply([("update_robot_location", "road_2")])
    assert known.unmapped()[:3] == ["road_2", "field_1", "bridge_1"]
    assert "road_1" not in known.unmapped()


def test_task_words_match_node_names_in_plural_and_singular(tiny_spine):
    known = KnownGraph(tiny_spine)
    assert known.matches("Are any pickup trucks nearby?") == ["pickup_truck_1"]
    assert known.matches("Where is the cabin?") == ["cabin_1"]
    assert known.matches("Is there anything there?") == []


def test_the_reply_is_the_plan_and_decodes_to_a_valid_spine_turn(shipped_samples):
    for sample in shipped_samples[:30]:
        chat = _chat(sample)
        encoded = COMPACT.encode(chat)
        assert [m["role"] for m in encoded] == [m["role"] for m in chat if m["role"] != "system"]
        for original, compact in zip(chat, encoded, strict=True):
            if original["role"] != "assistant":
                continue
            teacher_turn = parse_turn(original["content"])
            assert compact["content"].startswith("[")
            student_turn = parse_turn(COMPACT.decode(compact["content"], chat))
            assert student_turn.plan == teacher_turn.plan
            assert student_turn.primary_goal.startswith(chat[0]["content"][6:20])
            assert set(student_turn.relevant_graph) == {
                a.target for a in student_turn.plan if a.target
            }


def test_updates_become_node_lines_and_keep_every_fact(shipped_samples):
    sample = next(s for s in shipped_samples if "add_nodes" in json.dumps(s))
    chat = _chat(sample)
    encoded = COMPACT.encode(chat)
    update_index = next(i for i, m in enumerate(chat) if "add_nodes(" in m["content"])
    update = json.loads(chat[update_index]["content"].splitlines()[0][len("add_nodes(") : -1])
    text = encoded[update_index]["content"]
    for node in update:
        assert f"{node['type']} {node['name']}:" in text
    assert text.splitlines()[-1].startswith("task: ")


def test_messages_it_does_not_understand_pass_verbatim(tiny_graph):
    chat = [
        {"role": "system", "content": "You are SPINE"},
        {"role": "user", "content": first_turn("Is the bridge damaged?", tiny_graph)},
        {"role": "assistant", "content": "not json at all"},
        {"role": "user", "content": "Your plan could not be parsed: goto needs a region."},
    ]
    encoded = COMPACT.encode(chat)
    assert [m["role"] for m in encoded] == ["user", "assistant", "user"]  # no system prompt
    assert encoded[1]["content"] == "not json at all"
    assert encoded[2]["content"] == chat[3]["content"]
    foreign = [{"role": "user", "content": "hello, no graph here"}]
    assert COMPACT.encode(foreign) == foreign


def test_decode_passes_json_through_and_garbage_fails_validation_cleanly(tiny_graph):
    chat = [{"role": "user", "content": first_turn("Is the bridge damaged?", tiny_graph)}]
    full = '{"primary_goal": "g", "relevant_graph": [], "reasoning": "r", "plan": "[replan()]"}'
    assert COMPACT.decode(full, chat) == full
    with pytest.raises(InvalidTurn) as error:
        parse_turn(COMPACT.decode("region road_1 road_1 road_1", chat))
    assert error.value.kind in ("bad_plan", "unknown_action")


def test_an_oracle_rollout_round_trips_through_the_compact_format(tiny_graph):
    task = Task("Is the bridge damaged?", "yes", "yard_1", kind="attribute", targets=("bridge_1",))
    sim = PartialObservationSim(tiny_graph, graph_unknown=0.3, rng=random.Random(3))
    rollout = run_rollout(OracleTeacher().planner(task, sim), sim, task.task)
    chat = to_chat_messages({"conversations": rollout.conversation})
    encoded = COMPACT.encode(chat)
    for i, message in enumerate(chat):
        if message["role"] == "assistant":
            decoded = parse_turn(COMPACT.decode(encoded[i]["content"], chat[:i]))
            assert decoded.plan == parse_turn(message["content"]).plan


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["user", "assistant"]), st.text()), max_size=5))
def test_compact_encoding_never_raises(turns):
    chat = [{"role": role, "content": text} for role, text in turns]
    assert len(COMPACT.encode(chat)) == len(chat)


def _weights(messages):
    return [m.get("weight") for m in messages]


@pytest.mark.parametrize("fmt", [PromptFormat(), COMPACT], ids=lambda f: f.name)
def test_every_format_keeps_each_assistant_messages_weight(fmt, shipped_samples):
    sample = next(s for s in shipped_samples if len(s["conversations"]) >= 6)
    turns = [dict(t) for t in sample["conversations"]]
    assistants = [i for i, t in enumerate(turns) if t["role"] == "assistant"]
    for i in assistants[:-1]:  # a DAgger sample: only the last (the teacher's) turn is trained
        turns[i]["weight"] = 0
    chat = to_chat_messages({"conversations": turns})
    plain = to_chat_messages(sample)
    encoded = fmt.encode(chat)
    kept = [m for m in chat if fmt.name == "spine" or m["role"] != "system"]
    assert _weights(encoded) == _weights(kept)
    assert _weights(encoded).count(0) == len(assistants) - 1
    # The weight changes nothing else of the rewriting.
    assert [{k: v for k, v in m.items() if k != "weight"} for m in encoded] == fmt.encode(plain)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["user", "assistant"]), st.text(), st.sampled_from([None, 0])),
        max_size=5,
    )
)
def test_compact_encoding_keeps_weights_in_place(turns):
    chat = [
        {"role": role, "content": text, **({} if weight is None else {"weight": weight})}
        for role, text, weight in turns
    ]
    assert _weights(COMPACT.encode(chat)) == _weights(chat)


def test_compact_graph_writes_objects_with_their_region(tiny_spine):
    lines = compact_graph(tiny_spine)
    assert "object cabin_1: island_1" in lines  # an empty description adds nothing
    assert "region island_1: bridge_1 | sandy" in lines


def test_the_format_travels_with_the_model_directory(tmp_path):
    assert format_of(tmp_path).name == "spine"
    assert format_of(None).name == "spine"
    assert format_of("meta-llama/Llama-3.2-3B-Instruct").name == "spine"
    save_format(tmp_path, get_format("compact"))
    assert format_of(tmp_path).name == "compact"
    save_format(tmp_path, get_format("spine"))
    assert format_of(tmp_path).name == "spine"
    (tmp_path / "prism_format.json").write_text('{"format": "haiku"}')
    with pytest.raises(ValueError, match="unknown prompt format 'haiku'; known formats: spine"):
        format_of(tmp_path)
    (tmp_path / "prism_format.json").write_text("[1]")
    with pytest.raises(ValueError, match=r"prism_format\.json"):
        format_of(tmp_path)
