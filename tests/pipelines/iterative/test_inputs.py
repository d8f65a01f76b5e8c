"""The loop's input checks: the output folder, the initial data's planner turns, whether
``n_batch`` can be done."""

from __future__ import annotations

import json
import logging

import pytest

from prism.formats.conversations import load_samples
from prism.formats.errors import DataFormatError
from prism.generation import GenerationConfig
from prism.pipelines.iterative import IterativeConfig, IterativeConfigError
from prism.pipelines.iterative.inputs import (
    check_collection_reach,
    check_n_batch_fits,
    check_output_dir,
    check_planner_turns,
    used_positions,
)

SPINE = json.dumps(
    {"primary_goal": "find it", "relevant_graph": [], "reasoning": "r", "plan": "[answer(no)]"}
)


def _samples(*assistant: str) -> list[dict]:
    return load_samples(
        [
            {
                "conversations": [
                    {"role": "user", "value": f"task: find truck {i}\nScene graph:{{}}"},
                    {"role": "assistant", "value": text},
                ]
            }
            for i, text in enumerate(assistant)
        ]
    )


def test_an_output_dir_that_is_a_file_or_inside_one_is_refused(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    with pytest.raises(IterativeConfigError, match=rf"^output_dir {file} is a file, not a folder"):
        check_output_dir(str(file))
    with pytest.raises(IterativeConfigError, match=rf"is inside {file}, which is a file"):
        check_output_dir(str(file / "run"))
    check_output_dir(str(tmp_path / "new" / "run"))  # a folder that can be made
    check_output_dir(str(tmp_path))  # an existing folder


def test_turns_that_are_no_spine_responses_are_named_in_a_warning(caplog):
    samples = _samples(SPINE, "I think I should go {not json", SPINE, '{"plan": "[answer(no)]"}')
    config = IterativeConfig(initial_data="data/mine.json")
    with caplog.at_level(logging.WARNING, logger="prism.pipelines.iterative.inputs"):
        check_planner_turns(config, samples)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("data/mine.json: 2 of 4 samples train on an assistant turn that is no")
    assert "sample 1 (conversations[1]: not a JSON object)" in line
    assert "sample 3 (conversations[1]: a JSON object without all of the SPINE keys)" in line
    assert "strict_data: true refuses them" in line


def test_strict_data_refuses_them_naming_the_file_and_samples():
    samples = _samples(SPINE, "I think I should go {not json")
    config = IterativeConfig(initial_data="data/mine.json", strict_data=True)
    with pytest.raises(DataFormatError, match=r"^data/mine.json: 1 of 2 samples .* sample 1 \("):
        check_planner_turns(config, samples)
    check_planner_turns(config, samples[:1])  # all SPINE: nothing to say


def test_only_the_samples_trained_on_are_checked(caplog):
    samples = _samples(SPINE, SPINE, "not json")
    assert used_positions([samples[0], samples[0], samples[1]], 2) == [0, 2]
    strict = IterativeConfig(initial_dataset_size=2, strict_data=True)
    check_planner_turns(strict, samples)  # the bad sample is not among the first 2
    # a student's own turn at weight 0 is context, never trained on
    (dagger,) = load_samples(
        [
            {
                "conversations": [
                    {"role": "user", "value": "task: find it"},
                    {"role": "assistant", "value": "}{ garbage", "weight": 0},
                    {"role": "user", "value": "feedback"},
                    {"role": "assistant", "value": SPINE},
                ]
            }
        ]
    )
    check_planner_turns(IterativeConfig(strict_data=True), [dagger])


def test_an_n_batch_whose_dataset_cannot_fit_in_memory_is_refused_before_training():
    samples = _samples(SPINE, SPINE)
    check_n_batch_fits(IterativeConfig(n_batch=10), samples)
    with pytest.raises(
        IterativeConfigError,
        match=r"^n_batch 1000000000 cannot be done: episode 5 would train on 2 \+ 5 x "
        r"1000000000 samples held in memory, at least .*B \(.*B a sample as JSON, the mean of "
        r"initial_data's\), more than this machine's .*B of memory: pass n_batch \d+ or less$",
    ) as refused:
        check_n_batch_fits(IterativeConfig(n_batch=10**9), samples)
    most = int(refused.value.args[0].rsplit("pass n_batch ", 1)[1].split()[0])
    check_n_batch_fits(IterativeConfig(n_batch=most), samples)  # the bound it names is allowed
    with pytest.raises(IterativeConfigError):
        check_n_batch_fits(IterativeConfig(n_batch=most + 1), samples)


def test_dagger_cannot_label_more_states_than_the_probe_has_planner_calls():
    generation = GenerationConfig(max_iterations=10, max_attempts=3)
    check_collection_reach(IterativeConfig(collection="dagger", n_batch=720), generation)
    with pytest.raises(
        IterativeConfigError,
        match=r"n_batch 721 cannot be reached with collection 'dagger': .* 24 probe worlds .* "
        r"= 30 a world, 720 in all: pass probe_tasks 25 or more, or collection mixed",
    ):
        check_collection_reach(IterativeConfig(collection="dagger", n_batch=721), generation)
    # the teacher's rollouts make up for the states with mixed
    check_collection_reach(IterativeConfig(collection="mixed", n_batch=10**6), generation)
