"""Batched closed-loop evaluation: many rollouts, one generation call per step.

Every rollout runs in a thread of its own and asks its planner for a turn like any planner; a
:class:`BatchingPlanner` holds those requests for a moment and answers them together with one
batched ``generate`` (:meth:`StudentPlanner.respond_many`). The rollout loop, the simulator and
the validation are untouched; only the model calls are gathered.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from prism.student.planner import MAX_NEW_TOKENS, StudentPlanner
from prism.world.rollout import Message

#: Conversations generated at once when the options do not say (one batch per turn).
DEFAULT_BATCH = 8


def batched_student(
    model: Any, tokenizer: Any, prompt_format: Any, options: Mapping[str, Any]
) -> tuple[BatchingPlanner, int]:
    """The student as one planner for concurrent rollouts, from the closed-loop options
    ``max_new_tokens`` (:data:`~prism.student.planner.MAX_NEW_TOKENS`) and ``batch_size``
    (:data:`DEFAULT_BATCH`): the :class:`BatchingPlanner` (a context manager) and the batch
    size, which is also how many rollouts to keep in flight."""
    planner = StudentPlanner(
        model,
        tokenizer,
        prompt_format,
        max_new_tokens=int(options.get("max_new_tokens", MAX_NEW_TOKENS)),
    )
    batch = int(options.get("batch_size", DEFAULT_BATCH))
    return BatchingPlanner(planner, max_batch=batch), batch


class BatchingPlanner:
    """A planner facade that gathers concurrent ``respond`` calls into batches.

    Args:
        planner: the student that generates.
        max_batch: most conversations per generation call.
        window_s: how long the first request of a batch waits for others to join it.

    Use it as a context manager (it owns one worker thread)::

        with BatchingPlanner(student, max_batch=16) as planner:
            ... run rollouts in threads, each calling planner.respond(messages) ...
    """

    def __init__(self, planner: StudentPlanner, *, max_batch: int = 16, window_s: float = 0.01):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.planner = planner
        self.max_batch = max_batch
        self.window_s = window_s
        self._queue: list[tuple[Sequence[Message], Future[str]]] = []
        self._ready = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._serve, name="student-batcher", daemon=True)
        self.batches: list[int] = []
        """Size of every batch generated (for benchmarks)."""

    def __enter__(self) -> BatchingPlanner:
        self._worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._worker.join()

    def respond(self, messages: Sequence[Message]) -> str:
        """Queue the conversation and wait for its turn (called from a rollout thread)."""
        future: Future[str] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the batching planner is closed")
            self._queue.append((messages, future))
            self._ready.notify()
        return future.result()

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return  # closed and drained
                # Let the other rollouts of this step join the batch.
                self._ready.wait_for(
                    lambda: len(self._queue) >= self.max_batch or self._closed, self.window_s
                )
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self.batches.append(len(batch))
            try:
                replies = self.planner.respond_each([messages for messages, _ in batch])
            except Exception as error:  # every waiting rollout gets the error, none hangs
                for _, future in batch:
                    future.set_exception(error)
                continue
            for (_, future), reply in zip(batch, replies, strict=True):
                if isinstance(reply, Exception):  # this conversation outgrew the context
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
