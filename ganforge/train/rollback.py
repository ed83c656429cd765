"""A NaN or Inf in a loss or a weight is never logged or saved: the run goes back to its last good checkpoint, with
fresh noise so that the same numbers are not replayed into the same NaN, at most `limit` times in a row."""
from pathlib import Path

import torch

from ..errors import GanforgeError
from .. import checkpoint as ckpt
from .procedure import GAN
from .run_state import restore_run_state


class Rollbacks:
    def __init__(self, limit: int, seed: int):
        self.limit, self.seed, self.in_a_row = limit, seed, 0

    def roll_back(self, gan: GAN, noise: torch.Generator, step: int, last_checkpoint: Path) -> tuple[int, str]:
        """The step restored, and the warning that says so; a GanforgeError once the limit is passed."""
        self.in_a_row += 1
        if self.in_a_row > self.limit:
            raise GanforgeError(f"iteration {step}: NaN or Inf again after {self.limit} rollbacks in a row; stopped. "
                                f"The last good checkpoint is {last_checkpoint}. Try a lower learning rate.")
        step = restore_run_state(gan, noise, ckpt.load_checkpoint(last_checkpoint))
        noise.manual_seed(self.seed + 1_000_003 * self.in_a_row)
        return step, (f"NaN or Inf in a loss or a weight; rolled back to step {step} ({last_checkpoint.name}), "
                      f"rollback {self.in_a_row} of at most {self.limit}")

    def saved(self) -> None:
        """A good checkpoint was written: the count in a row starts again."""
        self.in_a_row = 0
