"""Training samples: every accepted shape, every rejection, stable ids, dedup, task extraction."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prism.formats.conversations import (
    dedupe,
    is_trained,
    load_samples,
    read_samples,
    sample_id,
    to_chat_messages,
    write_samples,
)
from prism.formats.errors import DataFormatError
from prism.formats.prompt_task import first_user_task, prior_prompt

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "initial_dataset.json"

USER_TEXT = 'task: find the truck\nUse the graph.\nScene graph:{"regions": []}'
PLAN_TEXT = '{"primary_goal": "find", "plan": "[goto(field_6)]"}'
CANONICAL_TURNS = [
    {"role": "user", "value": USER_TEXT},
    {"role": "assistant", "value": PLAN_TEXT},
]


def seed_sample(**extra):
    return {"conversations": copy.deepcopy(CANONICAL_TURNS), **extra}


def load_one(sample, **kwargs):
    (result,) = load_samples([sample], **kwargs)
    return result


def rejection(records, source="data/x.json") -> str:
    with pytest.raises(DataFormatError) as info:
        load_samples(records, source=source)
    return str(info.value)


# ---------------------------------------------------------------------------------- accepted
class TestAcceptedShapes:
    def test_seed_format_is_canonical_plus_id(self):
        sample = load_one(seed_sample())
        assert sample == {"id": sample_id(CANONICAL_TURNS), "conversations": CANONICAL_TURNS}
        assert list(sample) == ["id", "conversations"]

    def test_content_instead_of_value(self):
        turns = [{"role": t["role"], "content": t["value"]} for t in CANONICAL_TURNS]
        assert load_one({"conversations": turns}) == load_one(seed_sample())

    def test_sharegpt_from_human_gpt(self):
        turns = [
            {"from": "human", "value": USER_TEXT},
            {"from": "gpt", "value": PLAN_TEXT},
        ]
        assert load_one({"conversations": turns}) == load_one(seed_sample())

    def test_messages_key_with_role_content(self):
        turns = [{"role": t["role"], "content": t["value"]} for t in CANONICAL_TURNS]
        assert load_one({"messages": turns}) == load_one(seed_sample())

    def test_system_role_kept(self):
        turns = [{"from": "system", "value": "You plan."}, *CANONICAL_TURNS]
        sample = load_one({"conversations": turns})
        assert [t["role"] for t in sample["conversations"]] == ["system", "user", "assistant"]

    @pytest.mark.parametrize(
        ("raw", "canonical"),
        [("model", "assistant"), ("Human", "user"), (" GPT ", "assistant"), ("USER", "user")],
    )
    def test_role_aliases_and_case(self, raw, canonical):
        turns = [{"role": "user", "value": "task: x"}, {"role": raw, "value": "plan"}]
        if canonical == "user":
            turns.append({"role": "assistant", "value": "plan"})
        assert load_one({"conversations": turns})["conversations"][1]["role"] == canonical

    def test_both_text_keys_equal_is_fine(self):
        turns = [
            {"role": "user", "value": "task: x", "content": "task: x"},
            {"role": "assistant", "from": "assistant", "value": "plan"},
        ]
        assert load_one({"conversations": turns})["conversations"][0] == {
            "role": "user",
            "value": "task: x",
        }

    def test_extra_turn_keys_are_dropped(self):
        turns = [{**t, "name": "x", "loss": False} for t in CANONICAL_TURNS]
        assert load_one({"conversations": turns})["conversations"] == CANONICAL_TURNS

    def test_text_is_not_stripped(self):
        turns = [{"role": "user", "value": "  task: x \n"}, {"role": "assistant", "value": "p "}]
        sample = load_one({"conversations": turns})
        assert [t["value"] for t in sample["conversations"]] == ["  task: x \n", "p "]

    def test_other_sample_keys_are_preserved_as_deep_copies(self):
        record = seed_sample(source="oracle", task="find the truck", meta={"n": [1, 2]})
        sample = load_one(record)
        assert sample["source"] == "oracle"
        assert sample["task"] == "find the truck"
        assert sample["meta"] == {"n": [1, 2]}
        sample["meta"]["n"].append(3)
        assert record["meta"] == {"n": [1, 2]}

    def test_input_is_not_modified(self):
        records = [
            {
                "conversations": [
                    {"from": "human", "value": "task: x"},
                    {"from": "gpt", "value": "p"},
                ]
            }
        ]
        before = copy.deepcopy(records)
        load_samples(records)
        assert records == before

    @pytest.mark.parametrize("wrapper", ["data", "samples", "train"])
    def test_object_holding_one_list(self, wrapper):
        records = {wrapper: [seed_sample()], "version": 2}
        assert load_samples(records) == [load_one(seed_sample())]

    def test_tuple_of_samples_and_empty_list(self):
        assert load_samples((seed_sample(),)) == [load_one(seed_sample())]
        assert load_samples([]) == []

    def test_order_is_kept(self):
        other = {
            "conversations": [
                {"role": "user", "value": "task: y"},
                {"role": "assistant", "value": "q"},
            ]
        }
        ids = [s["id"] for s in load_samples([seed_sample(), other])]
        assert ids == [sample_id(CANONICAL_TURNS), sample_id(other["conversations"])]


class TestIds:
    def test_contract_recipe(self):
        import hashlib

        blob = json.dumps(
            CANONICAL_TURNS, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        assert sample_id(CANONICAL_TURNS) == hashlib.sha256(blob.encode()).hexdigest()[:16]

    def test_known_value_is_stable_across_runs(self):
        turns = [{"role": "user", "value": "hi"}, {"role": "assistant", "value": "hello"}]
        assert sample_id(turns) == "bd22c334e359fe6d"

    def test_same_content_any_format_same_id(self):
        sharegpt = [{"from": "human", "value": "hi"}, {"from": "gpt", "content": "hello"}]
        seed = [{"role": "user", "value": "hi"}, {"role": "assistant", "value": "hello"}]
        assert sample_id(sharegpt) == sample_id(seed)

    def test_metadata_does_not_change_the_id(self):
        assert load_one(seed_sample(source="oracle"))["id"] == load_one(seed_sample())["id"]

    @pytest.mark.parametrize(
        "change",
        [
            lambda t: t[0].update(value=t[0]["value"] + " "),
            lambda t: t[1].update(role="user"),
            lambda t: t.reverse(),
        ],
    )
    def test_any_content_change_changes_the_id(self, change):
        turns = copy.deepcopy(CANONICAL_TURNS)
        change(turns)
        assert sample_id(turns) != sample_id(CANONICAL_TURNS)

    def test_foreign_id_moves_to_source_id(self):
        sample = load_one(seed_sample(id=17))
        assert sample["id"] == sample_id(CANONICAL_TURNS)
        assert sample["source_id"] == 17

    def test_matching_id_is_kept_without_source_id(self):
        sample = load_one(seed_sample(id=sample_id(CANONICAL_TURNS)))
        assert "source_id" not in sample

    def test_existing_source_id_wins_over_a_stale_id(self):
        sample = load_one(seed_sample(id="0000000000000000", source_id="sharegpt-12"))
        assert sample["source_id"] == "sharegpt-12"
        assert sample["id"] == sample_id(CANONICAL_TURNS)

    def test_lone_surrogates_still_get_an_id(self):
        turns = [{"role": "user", "value": "task: \ud800"}, {"role": "assistant", "value": "p"}]
        assert len(sample_id(turns)) == 16


# ---------------------------------------------------------------------------------- rejected
class TestRejections:
    def test_error_is_a_value_error_with_fields(self):
        with pytest.raises(ValueError) as info:
            load_samples(
                [seed_sample(), {"conversations": [{"role": "bot", "value": "x"}]}], source="d.json"
            )
        err = info.value
        assert isinstance(err, DataFormatError)
        assert (err.source, err.sample, err.field) == ("d.json", 1, "conversations[0].role")

    def test_error_pickles(self):
        err = DataFormatError("bad", source="f.json", sample=3, field="conversations[0].role")
        again = pickle.loads(pickle.dumps(err))
        assert str(again) == str(err)
        assert again.field == "conversations[0].role"

    @pytest.mark.parametrize("records", ["text", 3, None, True])
    def test_top_level_not_a_list(self, records):
        message = rejection(records)
        assert message.startswith("data/x.json: expected a JSON list of samples")

    def test_object_without_a_list(self):
        message = rejection({"version": 1})
        assert "data/x.json: " in message
        assert '{"data": [...]}' in message
        assert "version" in message

    def test_object_with_several_lists(self):
        message = rejection({"train": [], "test": []})
        assert "several lists (train, test)" in message

    def test_single_sample_instead_of_a_list(self):
        message = rejection(seed_sample())
        assert "single sample" in message
        assert "wrap it in [ ]" in message

    @pytest.mark.parametrize("bad", ["text", 3, None, [1]])
    def test_sample_not_an_object(self, bad):
        message = rejection([seed_sample(), bad])
        assert message.startswith("data/x.json: sample 1: a sample must be a JSON object")

    def test_missing_conversations(self):
        message = rejection([{"turns": []}])
        assert message == (
            "data/x.json: sample 0: missing 'conversations' (or ShareGPT 'messages'): "
            "the list of turns"
        )

    def test_both_conversations_and_messages(self):
        message = rejection([{**seed_sample(), "messages": CANONICAL_TURNS}])
        assert "sample 0" in message
        assert "keep one" in message

    def test_empty_conversations(self):
        message = rejection([{"conversations": []}])
        assert message.startswith("data/x.json: sample 0, field conversations: is empty")

    def test_conversations_not_a_list(self):
        message = rejection([{"messages": "hi"}])
        assert (
            message
            == "data/x.json: sample 0, field messages: must be a list of turns, got a string"
        )

    def test_turn_not_an_object(self):
        message = rejection([{"conversations": [CANONICAL_TURNS[0], "hello"]}])
        assert message.startswith("data/x.json: sample 0, field conversations[1]: a turn must be")

    def test_turn_without_role(self):
        message = rejection([{"conversations": [{"value": "x"}]}])
        assert "field conversations[0]: the turn has no role: expected 'role' or 'from'" in message

    def test_turn_without_text(self):
        message = rejection([{"conversations": [CANONICAL_TURNS[0], {"role": "assistant"}]}])
        assert (
            "sample 0, field conversations[1]: the turn has no text: expected 'value' or 'content'"
            in message
        )

    def test_non_string_text(self):
        message = rejection(
            [{"conversations": [CANONICAL_TURNS[0], {"role": "assistant", "value": 42}]}]
        )
        assert "field conversations[1].value: the text must be a string, got a number" in message

    def test_multipart_content_gets_a_hint(self):
        parts = [{"type": "text", "text": "hi"}]
        message = rejection([{"messages": [{"role": "user", "content": parts}]}])
        assert "field messages[0].content" in message
        assert "join the text parts into one string" in message

    def test_empty_text(self):
        message = rejection(
            [{"conversations": [CANONICAL_TURNS[0], {"role": "assistant", "value": "  "}]}]
        )
        assert "field conversations[1].value: the turn's text is empty" in message

    def test_unknown_role_lists_the_accepted_ones(self):
        records = [
            seed_sample(),
            seed_sample(),
            seed_sample(),
            {"conversations": [*CANONICAL_TURNS, {"role": "bot", "value": "x"}]},
        ]
        assert rejection(records) == (
            "data/x.json: sample 3, field conversations[2].role: unknown role 'bot' "
            "(expected one of: system, user, assistant, human, gpt, model)"
        )

    def test_role_not_a_string(self):
        message = rejection([{"conversations": [{"from": 1, "value": "x"}]}])
        assert "field conversations[0].from: the role must be a string, got a number" in message

    def test_conflicting_role_keys(self):
        message = rejection([{"conversations": [{"role": "user", "from": "gpt", "value": "x"}]}])
        assert "both 'role' and 'from' with different roles" in message

    def test_conflicting_text_keys(self):
        message = rejection([{"conversations": [{"role": "user", "value": "x", "content": "y"}]}])
        assert "field conversations[0]: the turn has both 'value' and 'content'" in message

    def test_no_assistant_turn(self):
        message = rejection(
            [{"conversations": [{"role": "system", "value": "s"}, {"role": "user", "value": "u"}]}]
        )
        assert message.startswith(
            "data/x.json: sample 0, field conversations: has no assistant turn (roles: system, user)"
        )

    def test_default_source_label(self):
        with pytest.raises(DataFormatError, match=r"^<data>: expected a JSON list"):
            load_samples(None)


# ---------------------------------------------------------------------------------- weights
#: A DAgger sample: the student's own plan (not trained), then the teacher's label (trained).
DAGGER_TURNS = [
    {"role": "user", "value": USER_TEXT},
    {"role": "assistant", "value": '{"plan": "[goto(field_1)]"}', "weight": 0},
    {"role": "user", "value": "no_updates()"},
    {"role": "assistant", "value": PLAN_TEXT},
]


def dagger_sample(**last_turn):
    turns = copy.deepcopy(DAGGER_TURNS)
    turns[3].update(last_turn)
    return {"conversations": turns}


class TestWeights:
    def test_weight_0_is_kept_and_weight_1_is_the_default(self):
        sample = load_one(dagger_sample(weight=1))
        assert sample["conversations"] == DAGGER_TURNS
        assert sample == load_one(dagger_sample())
        assert [is_trained(t) for t in sample["conversations"]] == [False, False, False, True]

    @pytest.mark.parametrize(("untrained", "trained"), [(0, 1), (0.0, 1.0)])
    def test_integral_floats_are_weights_too(self, untrained, trained):
        turns = copy.deepcopy(DAGGER_TURNS)
        turns[1]["weight"], turns[3]["weight"] = untrained, trained
        assert load_one({"conversations": turns})["conversations"] == DAGGER_TURNS

    def test_every_input_shape_reads_the_weight(self):
        turns = [
            {"from": "human", "content": USER_TEXT},
            {"from": "gpt", "content": DAGGER_TURNS[1]["value"], "weight": 0},
            {"from": "human", "content": "no_updates()"},
            {"from": "model", "content": PLAN_TEXT},
        ]
        assert load_one({"messages": turns}) == load_one(dagger_sample())

    def test_round_trip_through_a_file_keeps_the_weight(self, tmp_path):
        target = tmp_path / "dagger.json"
        write_samples([dagger_sample()], target)
        written = json.loads(target.read_text())
        assert written[0]["conversations"][1] == {**DAGGER_TURNS[1], "weight": 0}
        again = tmp_path / "again.json"
        write_samples(read_samples(target), again)
        assert again.read_bytes() == target.read_bytes()
        assert read_samples(again) == written

    def test_the_weight_reaches_the_chat_messages(self):
        messages = to_chat_messages(load_one(dagger_sample()))
        assert [m.get("weight") for m in messages] == [None, 0, None, None]
        assert messages[1] == {
            "role": "assistant",
            "content": DAGGER_TURNS[1]["value"],
            "weight": 0,
        }
        assert [is_trained(m) for m in messages] == [False, False, False, True]

    def test_the_id_counts_weight_0_and_nothing_else(self):
        unweighted = [{"role": t["role"], "value": t["value"]} for t in DAGGER_TURNS]
        explicit_ones = [{**t, "weight": 1} for t in unweighted if t["role"] == "assistant"]
        assert sample_id(DAGGER_TURNS) != sample_id(unweighted)
        assert sample_id([unweighted[0], explicit_ones[0], unweighted[2], explicit_ones[1]]) == (
            sample_id(unweighted)
        )
        other_turn_untrained = [*unweighted[:3], {**unweighted[3], "weight": 0}]
        assert sample_id(other_turn_untrained) not in (
            sample_id(DAGGER_TURNS),
            sample_id(unweighted),
        )
        assert load_one(dagger_sample())["id"] == sample_id(DAGGER_TURNS)

    def test_an_empty_turn_is_context_at_weight_0_and_refused_as_a_target(self):
        """A student's empty turn is what it saw (DAgger), never something to learn."""
        empty_context = dagger_sample()
        empty_context["conversations"][1]["value"] = ""
        assert load_one(empty_context)["conversations"][1] == {
            "role": "assistant",
            "value": "",
            "weight": 0,
        }
        records = [seed_sample(), dagger_sample(value=" ", weight=1)]
        assert rejection(records) == (
            "data/x.json: sample 1, field conversations[3].value: the turn's text is empty"
        )

    def test_samples_that_differ_only_in_weights_are_not_duplicates(self):
        unweighted = load_one(dagger_sample())
        unweighted["conversations"][1].pop("weight")
        unweighted = load_one(unweighted)
        weighted = load_one(dagger_sample())
        assert dedupe([weighted, unweighted, load_one(dagger_sample())]) == [weighted, unweighted]

    def test_the_shipped_ids_are_unchanged(self):
        stored = [record["id"] for record in json.loads(SHIPPED.read_text())]
        assert [sample["id"] for sample in read_samples(SHIPPED)] == stored

    @pytest.mark.parametrize(
        ("weight", "shown"),
        [
            (True, "a boolean"),
            (False, "a boolean"),
            ("0", "a string"),
            (None, "null"),
            ([0], "a list"),
            (0.5, "0.5"),
            (2, "2"),
            (-1, "-1"),
            (float("nan"), "nan"),
        ],
    )
    def test_a_weight_other_than_0_or_1_is_refused(self, weight, shown):
        records = [seed_sample(), seed_sample(), dagger_sample(weight=weight)]
        assert rejection(records) == (
            "data/x.json: sample 2, field conversations[3].weight: the weight must be 0 "
            f"(not trained) or 1 (trained, the default), got {shown}"
        )

    @pytest.mark.parametrize(("role", "weight"), [("user", 0), ("system", 1), ("human", 0)])
    def test_a_weight_on_another_role_is_refused(self, role, weight):
        turns = [{"role": role, "value": "task: x", "weight": weight}, CANONICAL_TURNS[1]]
        canonical = "user" if role == "human" else role
        assert rejection([{"conversations": turns}]) == (
            "data/x.json: sample 0, field conversations[0].weight: "
            f"only assistant turns carry a weight, not {canonical} turns"
        )

    def test_a_sample_that_trains_nothing_is_refused(self):
        records = [dagger_sample(), dagger_sample(weight=0)]
        message = rejection(records)
        assert message.startswith("data/x.json: sample 1, field conversations: ")
        assert "every assistant turn has weight 0, so nothing is learnt" in message

    def test_conversations_waiting_for_a_reply_need_no_trained_turn(self):
        turns = DAGGER_TURNS[:3]
        assert to_chat_messages({"conversations": turns})[1]["weight"] == 0
        assert len(sample_id(turns)) == 16


# ---------------------------------------------------------------------------------- helpers
class TestHelpers:
    def test_to_chat_messages(self):
        assert to_chat_messages(load_one(seed_sample())) == [
            {"role": "user", "content": USER_TEXT},
            {"role": "assistant", "content": PLAN_TEXT},
        ]

    def test_to_chat_messages_accepts_other_shapes_and_prompt_only(self):
        assert to_chat_messages({"messages": [{"from": "human", "content": "hi"}]}) == [
            {"role": "user", "content": "hi"}
        ]

    def test_to_chat_messages_rejects_bad_turns(self):
        with pytest.raises(DataFormatError, match="unknown role"):
            to_chat_messages({"conversations": [{"role": "bot", "value": "x"}]})

    def test_dedupe_first_wins_and_keeps_order(self):
        a = load_one(seed_sample(source="first"))
        b = load_one(
            {
                "conversations": [
                    {"role": "user", "value": "task: y"},
                    {"role": "assistant", "value": "q"},
                ]
            }
        )
        a_again = load_one(seed_sample(source="second"))
        result = dedupe([a, b, a_again, b])
        assert result == [a, b]
        assert result[0] is a

    def test_dedupe_computes_missing_ids(self):
        raw = seed_sample()
        assert dedupe([raw, load_one(seed_sample())]) == [raw]

    def test_read_and_write_files(self, tmp_path):
        source = tmp_path / "in.json"
        source.write_text(
            json.dumps(
                {
                    "data": [
                        {
                            "messages": [
                                {"from": "human", "value": "task: x"},
                                {"from": "gpt", "value": "p"},
                            ]
                        }
                    ]
                }
            )
        )
        samples = read_samples(source)
        target = tmp_path / "out" / "dataset_episode_1.json"
        write_samples(samples, target)
        assert json.loads(target.read_text()) == samples
        assert read_samples(target) == samples

    def test_read_invalid_json_names_file_line_and_column(self, tmp_path):
        path = tmp_path / "broken.json"
        path.write_text('[{"conversations": [}]')
        with pytest.raises(DataFormatError) as info:
            read_samples(path)
        assert str(info.value).startswith(f"{path}: not valid JSON: ")
        assert "line 1, column 21" in str(info.value)

    def test_write_refuses_invalid_samples(self, tmp_path):
        target = tmp_path / "out.json"
        with pytest.raises(DataFormatError, match=f"^{target}: sample 0"):
            write_samples([{"conversations": []}], target)
        assert not target.exists()


class TestTaskExtraction:
    @pytest.mark.parametrize(
        ("first_user", "task"),
        [
            ('task: find the truck\nBe brief.\nScene graph:{"a": 1}', "find the truck"),
            ("task: Is the boat damaged?\nScene graph:{}", "Is the boat damaged?"),
            ('task: find the truck Scene graph:{"regions": []}', "find the truck"),
            ('task: find the truck. scene graph {"regions": []}', "find the truck"),
            ("Task:   find the truck  \nScene graph:{}", "find the truck"),
            ("task: go to the shed.\nadvice\nScene graph:{}", "go to the shed."),
            (
                "task: describe the scene graph layout\nScene graph:{}",
                "describe the scene graph layout",
            ),
            ("task: only a task", "only a task"),
        ],
    )
    def test_prompt_forms(self, first_user, task):
        sample = {
            "conversations": [
                {"role": "user", "value": first_user},
                {"role": "assistant", "value": "p"},
            ]
        }
        assert first_user_task(sample) == task
        assert prior_prompt(sample) == "example task: " + task

    def test_skips_system_turn_and_reads_other_shapes(self):
        sample = {
            "messages": [
                {"from": "system", "content": "You plan."},
                {"from": "human", "content": "task: find keys Scene graph:{}"},
            ]
        }
        assert first_user_task(sample) == "find keys"

    def test_later_user_turns_are_ignored(self):
        turns = [*CANONICAL_TURNS, {"role": "user", "value": "task: other"}]
        assert first_user_task({"conversations": turns}) == "find the truck"

    def test_not_a_task_prompt(self):
        sample = load_one(
            {
                "conversations": [
                    {"role": "user", "value": "hello there"},
                    {"role": "assistant", "value": "p"},
                ]
            }
        )
        with pytest.raises(DataFormatError) as info:
            first_user_task(sample, source="d.json")
        message = str(info.value)
        assert message.startswith(f"d.json: sample {sample['id']}, field conversations[0].value:")
        assert "does not start with 'task: <task>'" in message

    def test_no_user_turn(self):
        with pytest.raises(DataFormatError, match="has no user turn"):
            first_user_task({"conversations": [{"role": "assistant", "value": "p"}]})

    def test_empty_task(self):
        with pytest.raises(DataFormatError, match=r"field messages\[0\]\.content: .*empty task"):
            first_user_task({"messages": [{"role": "user", "content": "task: \nScene graph:{}"}]})


# ---------------------------------------------------------------------------------- properties
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
role_names = st.sampled_from(
    ["user", "assistant", "system", "human", "gpt", "model", "bot", "GPT", ""]
)
turn_keys = st.sampled_from(["role", "from", "value", "content", "weight"])
turns = st.dictionaries(
    turn_keys,
    st.one_of(role_names, st.text(max_size=10), json_values),
    max_size=4,
)
samples = st.dictionaries(
    st.sampled_from(["conversations", "messages", "id", "source_id", "source", "task"]),
    st.one_of(st.lists(turns, max_size=5), json_values),
    max_size=4,
)
valid_turns = st.builds(
    lambda role_key, role, text_key, text: {role_key: role, text_key: text},
    st.sampled_from(["role", "from"]),
    role_names.filter(lambda r: r not in ("bot", "")),
    st.sampled_from(["value", "content"]),
    st.text(min_size=1).filter(str.strip),
)
valid_samples = st.builds(
    lambda key, body, extra: {key: [*body, {"role": "assistant", "value": "plan"}], **extra},
    st.sampled_from(["conversations", "messages"]),
    st.lists(valid_turns, max_size=4),
    st.dictionaries(
        st.sampled_from(["id", "source_id", "source", "task"]), json_values, max_size=3
    ),
)
record_sets = st.one_of(
    json_values,
    st.lists(st.one_of(samples, valid_samples, json_values), max_size=4),
    st.dictionaries(
        st.sampled_from(["data", "meta"]),
        st.lists(st.one_of(samples, valid_samples), max_size=3),
        max_size=2,
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record_sets)
def test_load_samples_returns_samples_or_raises_data_format_error(records):
    try:
        result = load_samples(records, source="prop.json")
    except DataFormatError as err:
        assert str(err).startswith("prop.json: ")
        return
    assert isinstance(result, list)
    for sample in result:
        assert set(t["role"] for t in sample["conversations"]) <= {"system", "user", "assistant"}
        assert sample["id"] == sample_id(sample["conversations"])


@settings(max_examples=200, deadline=None)
@given(st.lists(valid_samples, max_size=4))
def test_canonical_output_round_trips(records):
    once = load_samples(records)
    assert load_samples(once) == once
    assert load_samples(json.loads(json.dumps(once))) == once
    assert [to_chat_messages(s) for s in once] == [
        [{"role": t["role"], "content": t["value"]} for t in s["conversations"]] for s in once
    ]


weights = st.sampled_from([None, 0, 1, 0.0, 1.0])
weighted_samples = st.builds(
    lambda body, last: {"conversations": [*body, {"role": "assistant", "value": "plan", **last}]},
    st.lists(
        st.builds(
            lambda role, text, weight: {
                "role": role,
                "value": text,
                **({} if weight is None or role != "assistant" else {"weight": weight}),
            },
            st.sampled_from(["user", "assistant", "system"]),
            st.text(min_size=1).filter(str.strip),
            weights,
        ),
        max_size=4,
    ),
    st.sampled_from([{}, {"weight": 1}, {"weight": 1.0}]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(weighted_samples, max_size=4))
def test_weighted_samples_round_trip_with_their_weights(records):
    once = load_samples(records)
    assert load_samples(json.loads(json.dumps(once))) == once
    for record, sample in zip(records, once, strict=True):
        raw = record["conversations"]
        assert [t.get("weight") for t in sample["conversations"]] == [
            0 if t.get("weight") == 0 else None for t in raw
        ]
        chat = to_chat_messages(sample)
        assert [is_trained(m) for m in chat] == [
            t["role"] == "assistant" and t.get("weight", 1) == 1 for t in raw
        ]
        without = [{"role": t["role"], "value": t["value"]} for t in raw]
        untrained = any(t.get("weight") == 0 for t in raw)
        assert (sample["id"] == sample_id(without)) is not untrained


@settings(max_examples=200, deadline=None)
@given(json_values, st.sampled_from(["user", "assistant", "system"]))
def test_any_weight_is_read_as_0_or_1_or_refused_with_its_field(weight, role):
    turns = [{"role": "user", "value": "task: x"}, {"role": "assistant", "value": "p"}]
    turns.insert(1, {"role": role, "value": "t", "weight": weight})
    try:
        (sample,) = load_samples([{"conversations": turns}], source="prop.json")
    except DataFormatError as err:
        assert str(err).startswith("prop.json: sample 0, field conversations[1].weight: ")
        return
    assert role == "assistant" and not isinstance(weight, bool) and weight in (0, 1)
    assert sample["conversations"][1].get("weight", 1) == weight
