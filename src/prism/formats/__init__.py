"""The data I/O layer: training samples and eval task files, read leniently, written canonically.

* :mod:`prism.formats.conversations`: training samples (seed, ``content`` and ShareGPT formats)
  to canonical samples with stable content ids.
* :mod:`prism.formats.prompt_task`: the task a sample's prompt states, and its prior prompt.
* :mod:`prism.formats.eval_tasks`: eval task files (scene graphs + tasks with answer regexes).
* :mod:`prism.formats.errors`: :class:`DataFormatError`, raised by every reader.
"""

from prism.formats.conversations import (
    dedupe,
    load_samples,
    read_samples,
    sample_id,
    to_chat_messages,
    write_samples,
)
from prism.formats.errors import DataFormatError
from prism.formats.eval_tasks import (
    EvalSuite,
    load_eval_suite,
    read_eval_suite,
    resolve_eval_task_file,
    to_records,
    write_eval_suite,
)
from prism.formats.prompt_task import first_user_task, prior_prompt

__all__ = [
    "DataFormatError",
    "EvalSuite",
    "dedupe",
    "first_user_task",
    "load_eval_suite",
    "load_samples",
    "prior_prompt",
    "read_eval_suite",
    "read_samples",
    "resolve_eval_task_file",
    "sample_id",
    "to_chat_messages",
    "to_records",
    "write_eval_suite",
    "write_samples",
]
