"""The ``Trainer`` of every training run here: transformers' own, with an order of batches that a
run resumed from a checkpoint replays exactly.

transformers' ``LengthGroupedSampler`` draws each epoch's order from the global random state at
the moment the epoch starts, which a resumed run cannot reproduce (an evaluation before training,
for one, has drawn from it in the first run and not in the second). Here each epoch's order is a
function of the seed and the epoch alone; the Trainer tells the sampler the epoch
(``set_epoch``), also when it fast-forwards a resumed run.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """Batches of similar length, in an order fixed by ``seed`` and the epoch."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))


class ResumableTrainer(Trainer):
    """``Trainer`` whose length-grouped batches are replayed exactly on resume.

    Datasets must expose ``lengths`` (as :class:`prism.training.collate.ConversationDataset`
    does) for the seeded sampler; others get transformers' own.
    """

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        dataset = self.train_dataset if train_dataset is None else train_dataset
        lengths = getattr(dataset, "lengths", None)
        if self.args.train_sampling_strategy != "group_by_length" or lengths is None:
            return super()._get_train_sampler(train_dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return EpochSeededLengthGroupedSampler(
            self.args.train_batch_size * self.args.gradient_accumulation_steps,
            lengths=[int(n) for n in lengths],
            seed=seed,
        )
