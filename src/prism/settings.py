"""Kedro project settings."""

import contextlib
import sys
import warnings

# Warnings no user of this project can act on, filtered before the imports that raise them:
# - Kedro 1.7 calls omegaconf's deprecated register_new_resolver() on every run: not ours to
#   fix, and three screens of warnings bury what a run has to say.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
# - raised inside transformers/peft on every LoRA setup.
warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated")
# - tqdm in a Jupyter kernel without ipywidgets, on importing tqdm.auto (transformers does):
#   prism's progress bars are text bars there, which need no widgets (prism.progress).
warnings.filterwarnings("ignore", message=r"IProgress not found", module=r"tqdm")

# transformers prints "[INFO] Running in WANDB offline mode" on stdout as it imports its wandb
# integration under WANDB_MODE=offline; stdout is a command's output (`kedro plugins --json`).
with contextlib.redirect_stdout(sys.stderr):
    import transformers.integrations.integration_utils  # noqa: F401

from kedro.config import OmegaConfigLoader  # noqa: E402

from prism.console import EpisodeProgressHook, ProjectLoggingHook, quiet_user_errors  # noqa: E402
from prism.hooks import EndpointCredentialsHook, TrainingCheckpointsHook  # noqa: E402
from prism.hooks.wandb_run import WandbEpisodeHook  # noqa: E402
from prism.pipelines.iterative import EpisodeCountHook  # noqa: E402
from prism.progress import route_library_bars  # noqa: E402

# transformers' own bars (one "Loading weights" bar per model load) as transient stages: gone
# from a terminal once done, absent from a log unless slow.
route_library_bars()
# A wrong parameter or a malformed file is said once, by the command line, as one line: not
# also by Kedro's node and runner loggers, with the node's signature and "--from-nodes" advice.
quiet_user_errors()

# ProjectLoggingHook: conf/logging.yml also for a notebook in notebooks/ (Kedro looks for it in
# the working directory). EpisodeProgressHook: the loop's line after every episode.
# WandbEpisodeHook: the iterative loop's wandb run (offline unless WANDB_MODE says otherwise; off
# with training.report_to=none or WANDB_MODE=disabled).
HOOKS = (
    ProjectLoggingHook(),
    EndpointCredentialsHook(),
    EpisodeCountHook(),
    TrainingCheckpointsHook(),
    EpisodeProgressHook(),
    WandbEpisodeHook(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
