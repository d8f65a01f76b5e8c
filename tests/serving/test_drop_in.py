"""The served student is a drop-in for the teacher: our own LLM teacher pointed at the real
server gives, task for task, what the in-process student gives.

The LLM teacher is set up as a SPINE user would: the project's teacher endpoint config
(``conf/base/parameters_generation.yml``, ``temperature: 0.2``, ``max_tokens: 2048``) with only
``base_url``, ``model`` and the API key changed; the server decodes as the in-process planner
whatever those ask. (The official ``openai`` client's view: ``test_protocol.py`` and
``test_engine.py``.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from prism.endpoint import ChatClient, EndpointConfig
from prism.evaluation.task_success import eval_sim, evaluate_planner
from prism.formats.eval_tasks import read_eval_suite
from prism.serving import ServeConfig, create_app
from prism.student.bundle import ModelBundle, save_bundle
from prism.student.generation import prompt_ids
from prism.student.planner import MAX_NEW_TOKENS, StudentPlanner
from prism.teachers.llm import LLMTeacher
from prism.world.protocol import first_turn
from tests.serving.conftest import MAX_TOKENS, NAME, running

ROOT = Path(__file__).resolve().parents[2]


EVAL = ROOT / "data" / "01_raw" / "eval_tasks_1.json"


PARAMS = ROOT / "conf" / "base" / "parameters_generation.yml"


PLANNER_BASE = ROOT / "data" / "01_raw" / "planner_base"


def _teacher_endpoint(base_url: str) -> EndpointConfig:
    """The project's LLM teacher endpoint pointed at ``base_url`` as a SPINE user does it: its
    parameters from ``conf/base/parameters_generation.yml``, only ``base_url`` and ``model``
    changed, the key given where the config looks for it (its credentials entry)."""
    params = yaml.safe_load(PARAMS.read_text())["generation"]["teacher"]["endpoint"]
    config = EndpointConfig.from_params(
        {**params, "base_url": base_url, "model": NAME},
        {params["credentials"]: {"api_key": "EMPTY"}},
        environ={},
    )
    # what makes the drop-in a test: the teacher samples and asks for more than the planner
    assert config.temperature > 0 and config.max_tokens > MAX_NEW_TOKENS, config
    assert config.seed is None
    return config


@pytest.fixture(scope="module")
def drop_in(student_dir):
    """All defaults but the cap, which is the in-process ``local`` student's: what
    ``prism serve --max-new-tokens`` is for (256 on both sides by default)."""
    config = ServeConfig(model_name=NAME, max_new_tokens=MAX_TOKENS)
    with running(create_app(student_dir, config)) as url:
        yield url


def test_the_llm_teacher_on_the_server_is_the_in_process_student(drop_in, local, tmp_path):
    """Closed loop through our own stack, the teacher config changed only in base_url, model
    and key: same per-task results, same seed."""
    suite_file = tmp_path / "eval_first_graph.json"
    suite_file.write_text(json.dumps(json.loads(EVAL.read_text())[:1]))
    suite = read_eval_suite(suite_file)
    kwargs = {"graph_unknown": [0.3], "seed": 5, "max_iterations": 2}
    with ChatClient(_teacher_endpoint(drop_in)) as chat:
        teacher = LLMTeacher(chat)
        teacher.check()
        served_summary, served = evaluate_planner(teacher.planner, suite, **kwargs)
        assert chat.stats().http_requests > len(suite.tasks)
    local_summary, in_process = evaluate_planner(lambda t, s: local, suite, **kwargs)
    assert served == in_process
    # the student's own turns (accepted, or rejected with their response) are in what was compared
    answers = [a["response"] for r in served for a in r["rejected"]] + [
        m["value"] for r in served for m in r["transcript"] if m["role"] == "assistant"
    ]
    assert len(answers) >= len(suite.tasks)
    assert served_summary == local_summary


def test_the_drop_in_holds_where_conversations_outgrow_the_context(tmp_path):
    """The shipped planner base (it writes real plans) with a context cut so that it fits only
    some first turns, some with less room than a whole turn: served and in process, the same
    turns are clipped and the same tasks end with ``context_length``, transcripts equal."""
    suite = read_eval_suite(EVAL)
    kwargs = {"graph_unknown": [0.3], "seed": 5, "max_iterations": 2}
    base = StudentPlanner.from_pretrained(ROOT / "data" / "01_raw" / "planner_base")
    scenes = [suite.scene_graph(g) for g in range(len(suite.graphs))]
    firsts = [
        base.prompt_format.encode([{"role": "user", "content": first_turn(t.task, sim.partial)}])
        for i, t in enumerate(suite.tasks)
        for sim in [eval_sim(suite, i, kwargs["graph_unknown"], kwargs["seed"], scenes)]
    ]
    lengths = sorted(len(prompt_ids(base.tokenizer, first)) for first in firsts)
    base.model.config.max_position_embeddings = lengths[len(lengths) // 2] + MAX_TOKENS // 2
    path = tmp_path / "short_context"
    bundle = ModelBundle(base.model, base.tokenizer, {"prompt_format": base.prompt_format.name})
    save_bundle(bundle, path)
    local = StudentPlanner.from_pretrained(path, max_new_tokens=MAX_TOKENS)
    assert local.respond_each(firsts[:1])  # sanity: it loads and answers

    in_process_summary, in_process = evaluate_planner(lambda t, s: local, suite, **kwargs)
    # the server's cap is the in-process student's; the client is the teacher config as is
    app = create_app(path, ServeConfig(model_name=NAME, max_new_tokens=MAX_TOKENS))
    with running(app) as url, ChatClient(_teacher_endpoint(url)) as chat:
        served_summary, served = evaluate_planner(LLMTeacher(chat).planner, suite, **kwargs)

    # Half the tasks cannot start; the others write a turn (cut by the room left or the cap,
    # so rejected) and their retry, with its feedback, no longer fits.
    assert all(r["reason"] == "context_length" for r in in_process)
    written = [len(r["rejected"]) for r in in_process]
    assert 0 in written and max(written) > 0, written
    assert served == in_process
    assert served_summary == in_process_summary


def test_the_planner_base_served_with_defaults_is_the_in_process_one_with_defaults(tmp_path):
    """Nothing set on either side: ``prism serve`` as it starts, ``StudentPlanner`` as it loads,
    the teacher config as shipped but for base_url, model and key. The shipped planner base
    writes real plans (it stops by itself), in a 2048-token context."""
    suite_file = tmp_path / "eval_two_graphs.json"
    suite_file.write_text(json.dumps(json.loads(EVAL.read_text())[:2]))
    suite = read_eval_suite(suite_file)
    kwargs = {"graph_unknown": [0.2, 0.5], "seed": 5, "max_iterations": 2}
    local = StudentPlanner.from_pretrained(PLANNER_BASE)
    assert local.max_new_tokens == MAX_NEW_TOKENS
    in_process_summary, in_process = evaluate_planner(lambda t, s: local, suite, **kwargs)
    app = create_app(PLANNER_BASE, ServeConfig(model_name=NAME))
    with running(app) as url, ChatClient(_teacher_endpoint(url)) as chat:
        served_summary, served = evaluate_planner(LLMTeacher(chat).planner, suite, **kwargs)
    assert served == in_process
    assert served_summary == in_process_summary
    turns = [t for r in in_process for t in (*r["rejected"], *r["transcript"][1:])]
    assert turns  # the student wrote turns, and they were compared
