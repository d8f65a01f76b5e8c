"""Checks of the loop's inputs that need more than the parameters' own values: the output
folder, the initial data's planner turns, whether ``n_batch`` can be done at all, and what the
sampler needs.

:func:`~prism.pipelines.iterative.nodes.check_iterative_inputs` calls them before anything is
written or trained, so that a run that cannot succeed stops with one message instead of after
hours, or half-way through with a traceback.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
from tqdm import tqdm

from prism.formats.errors import DataFormatError
from prism.formats.planner_turns import describe_non_planner_turns, non_planner_turns
from prism.generation import GenerationConfig
from prism.pipelines.evaluation.nodes import EvaluationConfig
from prism.pipelines.iterative.config import IterativeConfig, IterativeConfigError
from prism.plugins import get_plugin_manager, get_sampler

logger = logging.getLogger(__name__)


def check_output_dir(output_dir: str) -> None:
    """``output_dir`` must be a folder, or a path where one can be made.

    Raises:
        IterativeConfigError: the path, or a folder above it, is an existing file.
    """
    path = Path(output_dir)
    for where in (path, *path.parents):
        if where.exists() and not where.is_dir():
            what = "is a file" if where == path else f"is inside {where}, which is a file"
            raise IterativeConfigError(
                f"output_dir {output_dir} {what}, not a folder: pass a folder (a new one, or "
                "the output_dir of the run to continue)"
            )


def used_positions(samples: Sequence[Mapping[str, Any]], size: int | None) -> list[int]:
    """The positions in ``initial_data`` of the samples the loop trains on: each id's first
    occurrence, the first ``size`` of them (as ``prepare_initial_dataset`` keeps them)."""
    seen: set[str] = set()
    positions = []
    for position, sample in enumerate(samples):
        if sample["id"] not in seen:
            seen.add(sample["id"])
            positions.append(position)
    return positions[:size]


def check_planner_turns(config: IterativeConfig, samples: Sequence[Mapping[str, Any]]) -> None:
    """Warn about the initial samples that train on turns which are no SPINE responses, naming
    the file and the samples' indices; refuse them with ``strict_data``.

    Raises:
        DataFormatError: with ``strict_data``, naming ``initial_data`` and the samples.
    """
    positions = used_positions(samples, config.initial_dataset_size)
    found = non_planner_turns([samples[p] for p in positions], indices=positions)
    if not found:
        return
    message = describe_non_planner_turns(found, total=len(positions))
    if config.strict_data:
        raise DataFormatError(
            f"{message}; fix or drop them (strict_data: false trains on them with a warning)",
            source=config.initial_data,
        )
    logger.warning(
        "%s: %s; they are trained on as they are (strict_data: true refuses them)",
        config.initial_data,
        message,
    )


def check_n_batch_fits(config: IterativeConfig, samples: Sequence[Mapping[str, Any]]) -> None:
    """``n_batch`` must leave a last dataset that fits in this machine's memory.

    Each episode trains on its whole dataset, loaded in memory: the initial samples and
    ``n_episodes x n_batch`` new ones in the last episode. Its size as JSON, at the mean size
    of the initial samples, is less than the memory it takes (Python's objects and the
    tokenized copy add to it), so a dataset over the machine's physical memory cannot be
    trained on. The sampler and the generation hold a share of it on the way.

    Raises:
        IterativeConfigError: naming the sizes and the largest ``n_batch`` that fits.
    """
    positions = used_positions(samples, config.initial_dataset_size)
    if not positions:
        return
    per_sample = sum(_json_bytes(samples[p]) for p in positions) / len(positions)
    memory = psutil.virtual_memory().total
    final = len(positions) + config.n_episodes * config.n_batch
    if final * per_sample <= memory:
        return
    most = max(0, math.floor((memory / per_sample - len(positions)) / config.n_episodes))
    raise IterativeConfigError(
        f"n_batch {config.n_batch} cannot be done: episode {config.n_episodes} would train on "
        f"{len(positions)} + {config.n_episodes} x {config.n_batch} samples held in memory, at "
        f"least {_size(final * per_sample)} ({_size(per_sample)} a sample as JSON, the mean of "
        f"initial_data's), more than this machine's {_size(memory)} of memory: pass n_batch "
        f"{most} or less"
    )


def check_collection_reach(config: IterativeConfig, generation: GenerationConfig) -> None:
    """With ``collection: dagger`` every new sample is a labelled state of the probe's worlds,
    at most one per planner call: ``probe_tasks x max_iterations x max_attempts``.

    Raises:
        IterativeConfigError: ``n_batch`` is more, naming the fix.
    """
    if config.collection != "dagger":
        return  # the teacher's rollouts make up for any shortfall of labelled states
    per_world = generation.max_iterations * generation.max_attempts
    most = config.probe_tasks * per_world
    if config.n_batch <= most:
        return
    raise IterativeConfigError(
        f"n_batch {config.n_batch} cannot be reached with collection 'dagger': its new samples "
        f"are the teacher's labels of the states the student reaches in the {config.probe_tasks} "
        f"probe worlds (probe_tasks), at most {generation.max_iterations} turns "
        f"(generation.max_iterations) x {generation.max_attempts} attempts "
        f"(generation.max_attempts) = {per_world} a world, {most} in all: pass probe_tasks "
        f"{math.ceil(config.n_batch / per_world)} or more, or collection mixed (the teacher's "
        "rollouts fill in)"
    )


def check_sampler_needs(config: IterativeConfig, evaluation: EvaluationConfig) -> None:
    """The per-sample metrics the sampler weights by must come from a configured evaluator,
    and a sampler of the probe's outcomes needs a probe.

    Raises:
        IterativeConfigError: naming the sampler and what it lacks.
    """
    if get_sampler(config.sampling_strategy).reads_outcomes and config.probe_tasks == 0:
        raise IterativeConfigError(
            f"sampling_strategy {config.sampling_strategy!r} picks from the closed-loop probe's "
            "outcomes, but probe_tasks is 0: set probe_tasks to 1 or more (24 by default)"
        )
    missing = [
        m for m in get_sampler(config.sampling_strategy).needs if m not in evaluation.sample_metrics
    ]
    if not missing:
        return
    providers = sorted(
        name
        for name, plugin in get_plugin_manager().evaluators().items()
        if set(missing) <= set(plugin.sample_metrics)
    )
    raise IterativeConfigError(
        f"sampling_strategy {config.sampling_strategy!r} weights samples by their "
        f"{' and '.join(missing)}, which no configured evaluator computes: add "
        f"{' or '.join(providers) or 'an evaluator that does'} to evaluation.evaluators or use "
        "sampling_strategy uniform"
    )


def _json_bytes(sample: Mapping[str, Any]) -> int:
    return len(json.dumps(sample, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _size(n_bytes: float) -> str:
    return tqdm.format_sizeof(n_bytes, "B")
