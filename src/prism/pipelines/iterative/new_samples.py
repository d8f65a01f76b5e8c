"""An episode's new samples: the teacher's rollouts, generated until there are enough, and the
``n_batch`` new samples chosen from them and the DAgger collection's labelled states.

An episode promises ``n_batch`` new samples. The scenes the episode's generation configuration
holds have as many tasks as the teacher's share of them, but rollouts fail; the generation then
adds further scenes until enough have passed (:func:`prism.generation.generate`'s ``target``,
at most :data:`~prism.generation.target.MAX_EXTRA_ROUNDS` rounds). Samples already in the
dataset do not count, and with ``collection: mixed`` the rollouts also make up for labelled
states the DAgger collection could not give. An episode that still falls short says why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from prism.formats.conversations import dedupe
from prism.formats.json_store import JsonStore
from prism.generation import GenerationConfig
from prism.generation.target import MAX_EXTRA_ROUNDS
from prism.pipelines.generation.nodes import generate_rollouts
from prism.pipelines.iterative.config import IterativeConfig

logger = logging.getLogger(__name__)


def generate_episode_rollouts(
    config: IterativeConfig,
    generation: GenerationConfig,
    collected_states: Sequence[Mapping[str, Any]],
    samples: Sequence[Mapping[str, Any]],
    rollout_store: JsonStore,
    call_cache: JsonStore,
    credentials: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    """The episode's teacher rollouts, until :meth:`IterativeConfig.teacher_target` new samples
    have passed or the further rounds are spent.

    Args:
        config: the loop's configuration.
        generation: the episode's generation configuration (its scenes and priors).
        collected_states: the DAgger collection's labelled states of this episode.
        samples: the episode's dataset, whose samples do not count as new.
        rollout_store: the episode's ``data_gen`` folder; a rerun resumes from it.
        call_cache: on-disk cache of endpoint calls.
        credentials: Kedro credentials for endpoints.

    Returns:
        As the generation pipeline's ``generate_rollouts``: the passed rollouts as samples, the
        failures with their reasons, the statistics (with ``target``: what was asked, passed
        and added) and the scenes in the eval task file format.
    """
    known = {s["id"] for s in samples}
    new_states = len({s["id"] for s in collected_states} - known)
    return generate_rollouts(
        generation,
        rollout_store,
        call_cache,
        credentials,
        target=config.teacher_target(new_states),
        known=known,
    )


def select_new_samples(
    config: IterativeConfig,
    generated: Sequence[Mapping[str, Any]],
    labelled: Sequence[Mapping[str, Any]],
    samples: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The episode's new samples, ``n_batch`` of them not already in the dataset: the teacher's
    passed rollouts (its share, :attr:`IterativeConfig.teacher_share`), then the DAgger
    collection's labelled states (the rest); where one falls short the other fills in."""
    known = {s["id"] for s in samples}
    teacher = [dict(s) for s in dedupe(generated) if s["id"] not in known]
    states = [dict(s) for s in dedupe(labelled) if s["id"] not in known]
    share = config.teacher_share
    new = teacher[:share] + states[: config.n_batch - min(share, len(teacher))]
    if len(new) < config.n_batch:
        new += teacher[share : share + config.n_batch - len(new)]
    new = dedupe(new)[: config.n_batch]  # a state may repeat a rollout
    if len(new) < config.n_batch:
        logger.warning(
            "only %d of %d new samples: %s",
            len(new),
            config.n_batch,
            _shortfall(config, len(teacher), len(states)),
        )
    return new


def _shortfall(config: IterativeConfig, rollouts: int, states: int) -> str:
    """Why an episode has fewer than ``n_batch`` new samples, and what would give more."""
    reasons = []
    if config.collection != "dagger":
        reasons.append(
            f"the teacher's rollouts made {rollouts} new one(s) after "
            f"{MAX_EXTRA_ROUNDS} further round(s) of scenes at most (why the others failed: "
            "generated_failed.json, the rounds: generation_stats.json)"
        )
    if config.collection != "teacher":
        reasons.append(
            f"the student's states in the {config.probe_tasks} probe worlds gave {states} new "
            "labelled one(s) (collection_report.json; more probe_tasks give more)"
        )
    return "; ".join(reasons)
