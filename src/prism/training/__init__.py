"""The student: supervised fine-tuning (LoRA or full) on rollouts, assistant turns only.

* :mod:`~prism.training.config` – ``TrainConfig``, the seed's training configuration.
* :mod:`~prism.training.base_models` – aliases, hub/local bases, the built-in tiny Llama.
* :mod:`~prism.training.saved_base` – a student base saved to and loaded from its directory.
* :mod:`~prism.training.chat_template` – the built-in chat template.
* :mod:`~prism.training.masking` – assistant-only labels.
* :mod:`~prism.training.collate` – batching.
* :mod:`~prism.training.split` – train/val split by sample id.
* :mod:`~prism.training.finetune` – full or LoRA fine-tuning, and its learning rate.
* :mod:`~prism.training.arguments` – transformers' ``TrainingArguments`` for a config.
* :mod:`~prism.training.callbacks` – the Trainer callbacks (progress bar, loss log).
* :mod:`~prism.training.trainer` – the Trainer, with batches replayed exactly on resume.
* :mod:`~prism.training.checkpoints` – resumable checkpoints.
* :mod:`~prism.training.fit` – one training run in this process.
* :mod:`~prism.training.train` – training entry points.
* :mod:`~prism.training.distributed` – multi-process data parallelism with torchrun.

Saved students are :class:`prism.student.bundle.ModelBundle` directories
(:func:`~prism.student.bundle.save_bundle` / :func:`~prism.student.bundle.load_bundle`).
"""

from prism.training.config import TrainConfig

__all__ = ["TrainConfig"]
