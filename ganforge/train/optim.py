"""Adam exactly as Keras and TensorFlow apply it, on PyTorch's fused Adam kernel."""
import math

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


def linear_decay(step: int, iterations: int, fraction: float) -> float:
    """The learning rates' factor at `step`: 1, then falling linearly to 0 over the run's last `fraction` of
    iterations (0: always 1, the seed's constant rate). A function of the step alone, so resuming needs no state."""
    decay_steps = fraction * iterations
    return 1.0 if decay_steps <= 0 else min(1.0, (iterations - step) / decay_steps)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
