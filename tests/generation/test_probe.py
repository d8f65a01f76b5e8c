"""The probe: fresh tasks of the training distribution, outcomes with the world to play again."""

from __future__ import annotations

from prism.formats.json_store import JsonStore
from prism.generation import GenerationConfig, build_scene_generator
from prism.generation.probe import probe_summary, probe_worlds, run_probe
from prism.teachers.oracle import OracleTeacher
from prism.world.worlds import World
from tests.generation.conftest import Garbage

CONFIG = GenerationConfig(seed=7, n_samples=3, n_tasks=2, workers=2)


def _worlds(tmp_path, config=CONFIG):
    return probe_worlds(
        config, JsonStore(tmp_path / "probe"), build_scene_generator(config, None, {})
    )


def test_probe_worlds_are_a_function_of_the_seed(tmp_path):
    first, again = _worlds(tmp_path / "a"), _worlds(tmp_path / "b")
    assert len(first) == 6 and [w.id for w in first] == [w.id for w in again]
    other = _worlds(tmp_path / "c", GenerationConfig(seed=8, n_samples=3, n_tasks=2))
    assert {w.id for w in other}.isdisjoint(w.id for w in first)
    assert all(w.hidden or w.graph_unknown == 0 for w in first)


def test_outcomes_record_the_world_that_replays_exactly(tmp_path):
    worlds = _worlds(tmp_path)
    outcomes = run_probe(OracleTeacher().planner, worlds, CONFIG, workers=2)
    assert [o["id"] for o in outcomes] == [w.id for w in worlds]
    assert all(o["correct"] and o["reason"] is None and o["turns"] >= 1 for o in outcomes)
    replayed = World.from_record(outcomes[0]["world"])
    assert replayed == worlds[0]
    assert sorted(replayed.sim().partial.graph.nodes) == sorted(worlds[0].sim().partial.graph.nodes)
    assert probe_summary(outcomes)["probe/accuracy"] == 1.0


def test_failures_carry_their_reason_and_rejected_attempts(tmp_path):
    worlds = _worlds(tmp_path)
    outcomes = run_probe(lambda task, sim: Garbage(), worlds, CONFIG)
    assert {o["reason"] for o in outcomes} == {"invalid_turn:not_json"}
    assert all(o["rejected"] == CONFIG.max_attempts and not o["valid"] for o in outcomes)
    summary = probe_summary(outcomes)
    assert summary["probe/accuracy"] == 0.0 and summary["failed_by_reason"] == {"invalid_turn": 6}
    assert sum(summary["failed_by_kind"].values()) == 6
