"""The Trainer callbacks of prism's training runs: a quiet progress bar and a readable loss log.

Used by the student's fine-tuning (:mod:`prism.training.fit`) and the planner base's
pretraining (:mod:`prism.pretraining.pretrain`).
"""

from __future__ import annotations

import logging
from typing import Any

from transformers import ProgressCallback, TrainerCallback

logger = logging.getLogger(__name__)


class ProgressBarCallback(ProgressCallback):
    """transformers' tqdm progress bar, without its printing of every log dict under the bar.

    :class:`StepLogCallback` already puts each loss in the log, once and readable.
    """

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any
    ) -> None:
        return None


class StepLogCallback(TrainerCallback):
    """Write the training and validation losses to the Python log (Kedro's console and log file).

    Every validation loss, and about ten training losses per run (the first, every tenth of the
    steps, the last), are INFO; the other training losses are DEBUG. The progress bar shows the
    run going, and ``training_metrics`` keeps every loss.
    """

    #: Training losses at INFO per run, about.
    INFO_LINES = 10

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            every = max(1, state.max_steps // self.INFO_LINES)
            step = state.global_step
            shown = step <= args.logging_steps or step % every == 0 or step == state.max_steps
            logger.log(
                logging.INFO if shown else logging.DEBUG,
                "step %d/%d  epoch %.2f  loss %.4f  lr %.2e",
                state.global_step,
                state.max_steps,
                logs.get("epoch", 0.0),
                logs["loss"],
                logs.get("learning_rate", 0.0),
            )
        elif "eval_loss" in logs:
            logger.info(
                "step %d/%d  val loss %.4f", state.global_step, state.max_steps, logs["eval_loss"]
            )
