"""What the iterative loop's wandb run is opened with: the ``iterative.tracking`` dataset.

The loop logs to one wandb run (:class:`prism.hooks.wandb_run.WandbEpisodeHook`). The hook opens it when
the ``loop_tracking`` node saves a :class:`LoopTracking`: the run's name and objective (the
loop's configuration), whether the loop logs to wandb at all (its training ``report_to``), the
configuration to log, every secret already redacted (:func:`scrub_secrets`), and the run's
fingerprint hash, which starts the id of its wandb run. The episodes' training configurations
read the same dataset, so the lineage shows that their Trainers report nowhere while the loop
logs to wandb itself.

A killed loop, continued, goes on in the same wandb run: the hook keeps the run's id, and the
episodes it holds, in ``<output_dir>/``:data:`WANDB_RUN_FILE`.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prism.pipelines.iterative.config import IterativeConfig

#: The loop's training ``report_to`` that turns its own wandb run on.
LOOP_REPORTER = "wandb"
#: The file in ``output_dir`` naming the loop's wandb run (its id and project) and the episodes
#: logged to it, so that a continued loop resumes that run and does not log them again.
WANDB_RUN_FILE = "wandb_run.json"

#: Names of keys whose values never reach wandb: the last part of the key (after ``_``, ``-``
#: or ``.``) is one of these words, case-insensitive (``api_key``, ``hub_token``,
#: ``client_secret``, ``password``, ``credentials`` ...; ``max_new_tokens`` and
#: ``token_metrics`` are not secrets).
SECRET_KEY = re.compile(
    r"(?:^|[_\-.])(?:api_?key|apikey|(?:secret|private|access)_?key|token|password|passwd|"
    r"secret|credentials?|auth|authorization)$",
    re.IGNORECASE,
)
#: Values that are secrets whatever their key: OpenAI-style keys, and the user and password
#: of a URL (``https://user:pass@host``).
_SECRET_VALUE = re.compile(r"^sk-[A-Za-z0-9_\-]{16,}$")
_URL_USERINFO = re.compile(r"^([a-z][a-z0-9+.\-]*://)[^/@\s]+@", re.IGNORECASE)
REDACTED = "<redacted>"


@dataclass(frozen=True)
class LoopTracking:
    """How the loop is tracked.

    Attributes:
        loop: the loop's configuration: the run is named ``loop.name``, and the best episode so
            far is ranked by ``loop.objective`` (:meth:`IterativeConfig.objective_score`).
        report_to: the loop's training ``report_to``; ``wandb`` turns the loop's wandb run on.
        config: the run's configuration as wandb gets it (the ``iterative``, ``training``,
            ``generation`` and ``evaluation`` parameters), every secret redacted.
        run_hash: the run's fingerprint hash (``hash`` in ``iterative_run.json``).
    """

    loop: IterativeConfig
    report_to: str
    config: Mapping[str, Any]
    run_hash: str

    @property
    def logs_to_wandb(self) -> bool:
        """The loop logs to a wandb run of its own (``WANDB_MODE=disabled`` aside, which the
        hook reads): the episodes' Trainers must then report nowhere."""
        return self.report_to == LOOP_REPORTER

    @property
    def run_file(self) -> Path:
        """Where the loop's wandb run is named: ``<output_dir>/wandb_run.json``."""
        return Path(self.loop.output_dir) / WANDB_RUN_FILE

    def new_run_id(self) -> str:
        """A wandb run id for a loop that has none yet: the run's fingerprint hash, which ties
        the wandb run to ``iterative_run.json``, and a random part, so that a loop started
        over (its ``output_dir`` emptied, the same parameters) gets a run of its own instead of
        writing over the episodes of the old one."""
        return f"{self.run_hash}-{secrets.token_hex(4)}"


def loop_tracking(
    config: IterativeConfig,
    run_record: Mapping[str, Any],
    training_params: Mapping[str, Any],
    generation: Mapping[str, Any],
    evaluation: Mapping[str, Any],
) -> LoopTracking:
    """What the loop's wandb run is opened with (made once the run is recorded).

    Args:
        config: the loop's configuration.
        run_record: the run's record (``record_run``): its fingerprint ``hash``.
        training_params: the loop's training parameters (``report_to`` among them).
        generation, evaluation: the ``generation`` and ``evaluation`` parameters, logged as
            they are given.
    """
    logged = scrub_secrets(
        {
            "iterative": config,
            "training": training_params,
            "generation": generation,
            "evaluation": evaluation,
        }
    )
    report_to = str(training_params.get("report_to", LOOP_REPORTER))
    return LoopTracking(config, report_to, logged, str(run_record["hash"]))


def scrub_secrets(value: Any) -> Any:
    """``value`` as plain data (mappings, lists, scalars; dataclasses as mappings) with every
    secret replaced by ``<redacted>``: the value of a key named like a secret
    (:data:`SECRET_KEY`), an OpenAI-style key anywhere, and the credentials in a URL.

    Example:
        >>> scrub_secrets({"api_key": "x", "base_url": "https://me:pw@host/v1", "r": 16})
        {'api_key': '<redacted>', 'base_url': 'https://<redacted>@host/v1', 'r': 16}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if SECRET_KEY.search(str(k)) else scrub_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_secrets(v) for v in value]
    if isinstance(value, str):
        if _SECRET_VALUE.match(value):
            return REDACTED
        return _URL_USERINFO.sub(rf"\1{REDACTED}@", value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)
