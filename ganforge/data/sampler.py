"""Which real images make up each batch: a pure function of (seed, step), so resuming needs no state."""
import numpy as np
import torch


class EpochSampler:
    """Each epoch is a fresh permutation of the dataset, seeded by (seed, epoch); the last partial batch
    of an epoch is dropped. Under torchrun every process draws the global batch and keeps its shard."""

    def __init__(self, num_images: int, batch_size: int, seed: int):
        if num_images < batch_size:
            raise ValueError(f"the dataset has {num_images} images, fewer than one batch of {batch_size}")
        self.num_images = num_images
        self.batch_size = batch_size
        self.seed = seed
        self.batches_per_epoch = num_images // batch_size
        self._epoch = -1
        self._order = np.empty(0, dtype=np.int64)

    def indices(self, step: int) -> np.ndarray:
        epoch, batch = divmod(step, self.batches_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._order = torch.randperm(self.num_images, generator=generator).numpy()
            self._epoch = epoch
        start = batch * self.batch_size
        return np.sort(self._order[start : start + self.batch_size])  # sorted: faster reads from a memory map


def to_training_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float32 in [-1, 1], matching G's tanh."""
    return torch.from_numpy(np.array(pixels, copy=True)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)  # copy: a memmap is read-only
