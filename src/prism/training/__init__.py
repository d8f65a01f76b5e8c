"""The student: supervised fine-tuning (LoRA or full) on rollouts, assistant turns only.

* :mod:`~prism.training.config` – ``TrainConfig``, the seed's training configuration.
* :mod:`~prism.training.base_models` – aliases, hub/local bases, the built-in tiny Llama.
* :mod:`~prism.training.chat_template` – the built-in chat template.
* :mod:`~prism.training.masking` – assistant-only labels.
* :mod:`~prism.training.collate` – batching.
* :mod:`~prism.training.split` – train/val split by sample id.
* :mod:`~prism.training.train` – training entry points.
* :mod:`~prism.training.distributed` – multi-process data parallelism with torchrun.
"""

from prism.training.config import TrainConfig

__all__ = ["TrainConfig"]
