"""Adaptive discriminator augmentation (Karras et al., "Training Generative Adversarial Networks with Limited Data",
2020): the probability p with which each augmentation applies to what D sees follows D's overfitting.

Every `interval` iterations the controller reads r = E[sign(D(x_real))] over the reals D saw since its last
adjustment and moves p by sign(r - target) x (batch x interval) / images_to_one, clamped to [0, 1]: p can go
from 0 to 1 in `images_to_one` images. D certain on reals (r above the target, ADA's 0.6) means D has begun
to memorise them, and stronger augmentation holds it back; p falls again when D is unsure.

r comes from D's accuracy on reals, which the procedures return: with a logit per image, the share of positive
logits, a, gives r = 2a - 1. Under the paired procedure the accuracy is the share of (real, fake) pairs ranked
right, and r is that share's own sign mean: D's certainty that reals are the reals."""
import math

import torch

from .augment import DInput


class AdaptiveAugmentation:
    """ADA's controller over a DInput's probability; p starts at 0."""

    adaptive = True

    def __init__(self, d_input: DInput, target: float, interval: int, images_to_one: float, batch_images: int):
        if not d_input.ops:
            raise ValueError("remedies.ada_target needs augmentations to adapt: set remedies.diffaugment "
                             "(e.g. 'color,translation,cutout')")
        if not 0 < target < 1 or interval < 1 or images_to_one <= 0:
            raise ValueError("remedies.ada_target must be in (0, 1), remedies.ada_interval >= 1, remedies.ada_kimg > 0")
        self.d_input, self.target, self.interval = d_input, target, interval
        self.adjustment = batch_images * interval / images_to_one
        self.d_input.probability = 0.0
        self._accuracy_sum, self._observed = 0.0, 0  # a tensor on D's device once observed: no host sync per iteration

    @property
    def probability(self) -> float:
        return self.d_input.probability

    def observe(self, d_accuracy_real: torch.Tensor, step: int, mean=lambda values: values) -> None:
        """After iteration `step` (counted from 1): D's accuracy on this iteration's reals. At every `interval`-th
        step p moves; `mean` averages over torchrun's processes, so that every process holds the same p."""
        self._accuracy_sum = d_accuracy_real.detach().float() + self._accuracy_sum
        self._observed += 1
        if step % self.interval:
            return
        accuracy = mean({"accuracy": torch.as_tensor(self._accuracy_sum / self._observed)})["accuracy"].item()
        sign_mean = 2 * accuracy - 1
        moved = self.probability + math.copysign(self.adjustment, sign_mean - self.target) * (sign_mean != self.target)
        self.d_input.probability = min(max(moved, 0.0), 1.0)
        self._accuracy_sum, self._observed = 0.0, 0

    def logged(self) -> dict[str, float]:
        return {"augment_p": round(self.probability, 6)}

    def state_dict(self) -> dict:
        return {"probability": self.probability, "accuracy_sum": float(self._accuracy_sum), "observed": self._observed}

    def load_state_dict(self, state: dict | None) -> None:
        if state is None:  # a checkpoint from before ADA was kept in it: p starts again from 0
            return
        self.d_input.probability = state["probability"]
        self._accuracy_sum, self._observed = state["accuracy_sum"], state["observed"]


class FixedAugmentation:
    """No controller: D's inputs are augmented as remedies.diffaugment says, every op on every image."""

    adaptive = False

    def observe(self, d_accuracy_real: torch.Tensor, step: int, mean=None) -> None:
        pass

    def logged(self) -> dict[str, float]:
        return {}

    def state_dict(self) -> None:
        return None

    def load_state_dict(self, state) -> None:
        pass
