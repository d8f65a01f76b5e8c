"""The Trainer callbacks of prism's training runs: one progress bar and a readable loss log.

Used by the student's fine-tuning (:mod:`prism.training.fit`) and the planner base's
pretraining (:mod:`prism.pretraining.pretrain`).
"""

from __future__ import annotations

import logging
from typing import Any

from transformers import ProgressCallback, TrainerCallback

from prism.progress import progress_bar

logger = logging.getLogger(__name__)


class ProgressBarCallback(ProgressCallback):
    """One bar for a training run (:func:`prism.progress.progress_bar`: a tqdm bar on a
    terminal, a log line every 30 s elsewhere), its latest loss beside it; a validation pass is
    a transient bar within it.

    transformers' own callback prints every log dict under the bar; :class:`StepLogCallback`
    puts the losses in the log instead.

    Args:
        desc: the bar's label. Short, as the line logged before the run names the model: at 80
            columns a model's name (``iterative_model_episode_1``) left the bar one character
            and cut its loss off.
    """

    def __init__(self, desc: str = "training") -> None:
        super().__init__()
        self.desc = desc

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero:
            self.training_bar = progress_bar(state.max_steps, self.desc, "step")
        self.current_step = 0

    def on_prediction_step(
        self, args: Any, state: Any, control: Any, eval_dataloader: Any = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or eval_dataloader is None:
            return
        if self.prediction_bar is None:
            total = len(eval_dataloader) if hasattr(eval_dataloader, "__len__") else None
            self.prediction_bar = progress_bar(total, "validation", "batch", leave=False)
        self.prediction_bar.update(1)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any
    ) -> None:
        if state.is_world_process_zero and self.training_bar is not None and "loss" in (logs or {}):
            self.training_bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)


class StepLogCallback(TrainerCallback):
    """Write the training and validation losses to the Python log (Kedro's console and log file).

    Every validation loss is INFO (before and after training: whether it learned); training
    losses are DEBUG (``KEDRO_LOGGING_CONFIG=conf/logging_verbose.yml`` shows them): the
    progress bar shows the run going with its latest loss, and ``training_metrics`` keeps every
    loss.
    """

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            logger.debug(
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
