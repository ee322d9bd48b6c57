"""The image peers' data, as the PyTorch examples feed it: a shuffling DataLoader over the images, epoch
after epoch for as long as the benchmark asks."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, TensorDataset


def endless_batches(images: torch.Tensor, batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Whole shuffled batches of ``images`` on ``device``, a new epoch whenever one ends."""
    loader = DataLoader(TensorDataset(images), batch_size=batch_size, shuffle=True, drop_last=True)
    while True:
        for (real,) in loader:
            yield real.to(device)
