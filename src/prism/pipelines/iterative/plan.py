"""The loop's plan, said once at its start: what it will do and how long that should take here.

The time comes from rates measured on this machine a moment before, not from a table: a few
training steps of the student (:func:`prism.training.calibration.measure_training`, tokens
per second) and the untuned base planning on the first batch of eval tasks (seconds per
closed-loop task, batched as the evaluation batches them, and the wait for a stage's slowest
task). The work is counted from the configuration:
training tokens of every episode (the dataset grows by ``n_batch`` samples each), the eval
tasks of every episode and of the untuned base, the probe tasks. Loading and saving models,
the token metrics and the teacher's generation are not counted; the line says so.

A continued run (the same command again) skips what an earlier one finished: the plan counts
only the episodes left, and the base's evaluation only if it is still to do
(:func:`finished_work`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prism.evaluation.task_success import eval_sim, run_task
from prism.formats.conversations import load_samples
from prism.formats.eval_tasks import EvalSuite
from prism.pipelines.evaluation.nodes import EvaluationConfig
from prism.pipelines.iterative.comparison import untuned_student
from prism.pipelines.iterative.config import IterativeConfig
from prism.progress import format_duration, progress_bar
from prism.student.batching import batched_student
from prism.student.prompt_format import get_format
from prism.training.base_models import StudentBase
from prism.training.calibration import measure_training
from prism.training.config import TrainConfig

logger = logging.getLogger(__name__)

#: The closed-loop evaluator whose options (batch size, max_new_tokens) the measurement uses.
TASK_EVALUATOR = "task_success"

#: What a finished episode and the base's evaluation leave in ``output_dir``, as
#: ``conf/base/catalog_iterative.yml`` names them (``iterative.episode_{n}.episode_summary``, the
#: episode's last output, and ``iterative.base.evaluation_metrics``).
EPISODE_DONE_FILE = "episode_{n}/episode_summary.json"
BASE_DONE_FILE = "base/evaluation_metrics.json"


@dataclass(frozen=True)
class FinishedWork:
    """What an earlier run in the same ``output_dir`` finished, which a continued run skips."""

    #: episodes 1 to ``episodes`` are done
    episodes: int = 0
    #: the untuned base's evaluation is done
    base: bool = False


def finished_work(config: IterativeConfig) -> FinishedWork:
    """The episodes (in order from 1) and the base's evaluation whose outputs are in
    ``config.output_dir``: what Kedro's ``only_missing_outputs``, with which prism runs the
    loop, will not run again."""
    out = Path(config.output_dir)
    episodes = 0
    while (
        episodes < config.n_episodes and (out / EPISODE_DONE_FILE.format(n=episodes + 1)).is_file()
    ):
        episodes += 1
    return FinishedWork(episodes=episodes, base=(out / BASE_DONE_FILE).is_file())


def announce_plan(
    config: IterativeConfig,
    training: TrainConfig,
    evaluation: EvaluationConfig,
    samples: Sequence[Mapping[str, Any]],
    eval_tasks: EvalSuite,
    base: StudentBase,
) -> None:
    """Log the plan of :func:`plan_loop` in one line (:func:`format_plan`).

    A node without outputs: Kedro runs it on every run, a continued one too
    (``only_missing_outputs`` skips a node whose outputs nobody needs); a continued run's plan
    is what is left (:func:`finished_work`). A run with nothing left says so and measures
    nothing.
    """
    done = finished_work(config)
    if done.episodes == config.n_episodes:
        logger.info("plan: the %d episode(s) are done; the report follows", config.n_episodes)
        return
    plan = plan_loop(config, training, evaluation, samples, eval_tasks, base, done)
    logger.info("%s", format_plan(config, plan["work"], plan["rates"], plan["seconds"]))


def plan_loop(
    config: IterativeConfig,
    training: TrainConfig,
    evaluation: EvaluationConfig,
    samples: Sequence[Mapping[str, Any]],
    eval_tasks: EvalSuite,
    base: StudentBase,
    done: FinishedWork = FinishedWork(),
) -> dict[str, Any]:
    """Measure this machine's speed and count the loop's work left.

    Args:
        config: the loop's configuration.
        training: the episodes' training configuration.
        evaluation: the evaluation configuration (closed-loop settings, evaluator options).
        samples: episode 1's dataset.
        eval_tasks: the eval task file.
        base: the student base every episode starts from.
        done: what an earlier run finished (:func:`finished_work`): not counted.

    Returns:
        The plan: the work (``work``), the measured rates (``rates``) and the estimate in
        seconds (``seconds``, ``None`` when nothing could be measured).
    """
    started = time.perf_counter()
    speed = measure_training(load_samples(list(samples), source="plan"), base, training)
    stages = _closed_loop_stages(config, evaluation, eval_tasks, done)
    closed_loop = _closed_loop_speed(evaluation, eval_tasks, base) if any(stages) else None
    work = _work(config, training, evaluation, len(samples), len(eval_tasks.tasks), done)
    seconds = None
    if speed is not None:
        train_tokens = work["training_samples"] * speed.tokens_per_sample
        seconds = train_tokens / speed.tokens_per_second
        if closed_loop is not None:
            per_task, tail = closed_loop
            seconds += sum(stages) * per_task + sum(1 for n in stages if n) * tail
    rates = {
        "tokens_per_second": speed.tokens_per_second if speed else None,
        "tokens_per_sample": speed.tokens_per_sample if speed else None,
        "seconds_per_task": closed_loop[0] if closed_loop else None,
        "tail_seconds": closed_loop[1] if closed_loop else None,
        "measured_in": time.perf_counter() - started,
    }
    return {"work": work, "rates": rates, "seconds": seconds}


def _closed_loop_stages(
    config: IterativeConfig,
    evaluation: EvaluationConfig,
    eval_tasks: EvalSuite,
    done: FinishedWork,
) -> list[int]:
    """The tasks of each closed-loop stage left: the base's eval tasks, then each episode's
    eval tasks and probe (and the DAgger collection acting in the probe's worlds)."""
    evaluated = len(eval_tasks.tasks) if evaluation.runs_tasks else 0
    episode = [evaluated, config.probe_tasks]
    if config.collection != "teacher":
        episode.append(config.probe_tasks)
    return [0 if done.base else evaluated, *episode * (config.n_episodes - done.episodes)]


def _work(
    config: IterativeConfig,
    training: TrainConfig,
    evaluation: EvaluationConfig,
    n_samples: int,
    n_tasks: int,
    done: FinishedWork,
) -> dict[str, Any]:
    # the dataset grows by n_batch samples an episode
    left = range(done.episodes, config.n_episodes)
    sizes = [n_samples + episode * config.n_batch for episode in left]
    passes = training.epochs * (1 - training.val_frac)
    return {
        "episodes": config.n_episodes,
        "done": done.episodes,
        "base_done": done.base,
        "first_size": sizes[0],
        "last_size": sizes[-1],
        "new_samples": config.n_batch,
        "epochs": training.epochs,
        "eval_tasks": n_tasks if evaluation.runs_tasks else 0,
        "probe_tasks": config.probe_tasks,
        # samples through the model in training over the whole run (validation excluded)
        "training_samples": math.ceil(passes * sum(sizes)),
    }


def _closed_loop_speed(
    evaluation: EvaluationConfig, eval_tasks: EvalSuite, base: StudentBase
) -> tuple[float, float] | None:
    """The untuned base on one batch of eval tasks planned together as the evaluation plans
    them (batched, the same turn limits and worlds): seconds per task, and the tail of a stage.

    A stage keeps a batch in flight, so it finishes a task every (mean task time) / (batch)
    seconds, and then waits for its slowest task: the tail, (slowest - mean task time).
    """
    closed_loop = evaluation.closed_loop()
    generation = evaluation.generation
    if closed_loop is None or generation is None or not eval_tasks.tasks:
        return None
    student = untuned_student(base)
    options = dict(evaluation.options.get(TASK_EVALUATOR, {}))
    prompt_format = get_format(student.metadata.get("prompt_format", "spine"))
    planner, batch = batched_student(student.model, student.tokenizer, prompt_format, options)
    n = min(batch, len(eval_tasks.tasks))

    def timed(index: int) -> float:
        started = time.perf_counter()
        sim = eval_sim(eval_tasks, index, closed_loop.graph_unknown, generation.seed)
        run_task(
            lambda _task, _sim: batched,
            eval_tasks.tasks[index],
            sim,
            max_iterations=closed_loop.max_iterations,
            max_attempts=closed_loop.max_attempts,
        )
        return time.perf_counter() - started

    bar = progress_bar(n, "measuring this machine's speed", "task")
    with planner as batched, bar, ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(timed, i) for i in range(n)]
        for future in futures:
            future.add_done_callback(lambda _f: bar.update())
        seconds = [future.result() for future in futures]
    mean = sum(seconds) / len(seconds)
    return mean / n, max(seconds) - mean


def format_plan(
    config: IterativeConfig,
    work: Mapping[str, Any],
    rates: Mapping[str, Any],
    seconds: float | None,
) -> str:
    """The plan as one line: the episodes and their work, then the expected time and what it
    is based on, e.g. ``plan: 5 episodes, each training 3 epochs on 118 -> 158 samples (+10
    per episode), 126 eval tasks, 24 probe tasks; the untuned base first on the 126 tasks.
    Expected about 14 min 10 s here (measured just now: training 5100 tokens/s, 0.47 s per
    closed-loop task; not counted: loading and saving models, token metrics, the teacher)``."""
    each = [
        f"training {work['epochs']:g} epochs on {work['first_size']}"
        + (f" -> {work['last_size']}" if work["last_size"] != work["first_size"] else "")
        + f" samples (+{work['new_samples']} per episode)"
    ]
    if work["eval_tasks"]:
        each.append(f"{work['eval_tasks']} eval tasks")
    if work["probe_tasks"]:
        each.append(f"{work['probe_tasks']} probe tasks")
    line = f"plan: {work['episodes']} episode(s)"
    if work.get("done"):
        first = work["done"] + 1
        left = (
            f"episode {first}"
            if first == work["episodes"]
            else f"episodes {first}-{work['episodes']}"
        )
        line += f", {work['done']} done before: {left} left"
    line += f", each {', '.join(each)}"
    if work["eval_tasks"] and not work.get("base_done"):
        line += f"; the untuned base first, on the {work['eval_tasks']} tasks"
    if seconds is None:
        return line + ". Expected time: not measured (no sample has a token to train on)"
    measured = [f"training {rates['tokens_per_second']:.0f} tokens/s"]
    if rates.get("seconds_per_task") is not None:
        measured.append(f"{rates['seconds_per_task']:.2f} s per closed-loop task")
    teacher = "" if config.collection == "teacher" else " and its labels"
    return (
        f"{line}. Expected about {format_duration(seconds)} on this machine (measured just now "
        f"in {format_duration(rates['measured_in'])}: {', '.join(measured)}; not counted: "
        f"loading and saving models, token metrics, the teacher's rollouts{teacher})"
    )
