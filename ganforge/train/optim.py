"""Adam exactly as Keras and TensorFlow apply it, on PyTorch's fused Adam kernel."""
import math
from dataclasses import dataclass

import torch


class KerasAdam(torch.optim.Adam):
    """Adam with Keras' epsilon: added to sqrt(v) *before* v's bias correction.

    Per step t:  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
                 p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
    (Kingma & Ba's "epsilon hat" form.) torch.optim.Adam adds its epsilon after the correction:
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps'), which is the same update exactly
    when eps' = eps / sqrt(1 - b2^t). So each step sets that eps' and runs PyTorch's own (fused) kernel.
    """

    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7):
        params = list(params)
        fused = bool(params) and all(isinstance(p, torch.Tensor) and p.is_floating_point() for p in params)
        super().__init__(params, lr=lr, betas=(beta1, beta2), eps=eps, fused=fused or None)
        for group in self.param_groups:
            group["keras_eps"] = eps

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            with_grad = [p for p in group["params"] if p.grad is not None]
            if not with_grad:
                continue
            t = self._steps_taken(group, with_grad[0]) + 1
            group["eps"] = group["keras_eps"] / math.sqrt(1 - group["betas"][1] ** t)
            group["steps_taken"] = t  # a plain number in the group, saved and restored with the optimizer's state
        return super().step(closure)

    def _steps_taken(self, group: dict, param: torch.Tensor) -> int:
        """The group's step count, read from the device only when it is not known on the host: at the first step
        of a checkpoint from before this counter, and under fp16 loss scaling, whose fused kernel does not count
        a step it skips. Elsewhere reading it would stall the host on the GPU three times an iteration."""
        if "steps_taken" in group and getattr(self, "found_inf", None) is None:
            return group["steps_taken"]
        state = self.state[param]
        return int(state["step"].item()) if "step" in state else 0


@dataclass(frozen=True)
class DecaySchedule:
    """Both learning rates' factor by step: `start_factor` until the decay begins, then linearly to 0 at `end`,
    over `length` steps. A function of the step alone, saved in checkpoints, so a resume continues it exactly.

    A fresh run decays over its last `fraction` of iterations (fraction 0: the seed's constant rate). The two
    ways a run's length changes mid-run start a new linear piece from the factor reached, so it never jumps:
    a resume with another --iterations (`extended_to`), and a time limit that will end the run first
    (`fitted_to`)."""

    end: int
    length: float
    start_factor: float = 1.0
    fitted: bool = False  # to a time limit: once per run

    @classmethod
    def fresh(cls, iterations: int, fraction: float) -> "DecaySchedule":
        return cls(iterations, fraction * iterations)

    def factor(self, step: int) -> float:
        if self.length <= 0:
            return self.start_factor
        return min(self.start_factor, self.start_factor * (self.end - step) / self.length)

    def extended_to(self, iterations: int, fraction: float, step: int) -> "DecaySchedule":
        """On resume at `step` with `iterations` in place of `end`: from the factor reached at `step`, either the
        usual decay over the new run's last `fraction` (if it has not begun) or straight on to 0 at the new end."""
        if fraction <= 0:
            return DecaySchedule(iterations, 0.0)
        reached = self.factor(step)
        if reached <= 0:
            raise ValueError(f"the learning rates reached 0 at step {self.end}: the run is over")
        if iterations <= step:
            raise ValueError(f"train.iterations = {iterations} is not past the run's step {step}")
        length = iterations - step if reached < 1 else min(fraction * iterations, iterations - step)
        return DecaySchedule(iterations, length, reached)

    def fitted_to(self, end: int, step: int) -> "DecaySchedule":
        """The run will end at `end` (its time limit, at the speed measured so far): decay from here to 0 there."""
        return DecaySchedule(end, end - step, self.factor(step), fitted=True)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
