"""Kedro project settings."""

import warnings

from kedro.config import OmegaConfigLoader

from prism.hooks import EndpointCredentialsHook, TrainingCheckpointsHook, WandbEpisodeHook
from prism.pipelines.iterative import EpisodeCountHook

# Kedro 1.7 calls omegaconf's deprecated register_new_resolver() on every run: not ours to fix,
# and three screens of warnings bury what a run has to say.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
# Raised inside transformers/peft on every LoRA setup; nothing a user of this project can change.
warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated")

# WandbEpisodeHook: the iterative loop's wandb run (offline unless WANDB_MODE says otherwise; off
# with training.report_to=none or WANDB_MODE=disabled).
HOOKS = (
    EndpointCredentialsHook(),
    EpisodeCountHook(),
    TrainingCheckpointsHook(),
    WandbEpisodeHook(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
