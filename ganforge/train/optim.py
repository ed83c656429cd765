"""Adam exactly as Keras and TensorFlow apply it."""
import math

import torch


class KerasAdam(torch.optim.Optimizer):
    """Adam with Keras' epsilon: added to sqrt(v) *before* v's bias correction.

    Per step t:  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
                 p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
    (Kingma & Ba's "epsilon hat" form.) torch.optim.Adam adds eps after the correction, which is
    the same only if its eps is rescaled by sqrt(1 - b2^t) at every step, so the seed needs this one.
    """

    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7):
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads, exp_avgs, exp_avg_sqs = [], [], []
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
            step = int(self.state[params[0]]["step"].item())
            beta1, beta2 = group["beta1"], group["beta2"]
            alpha = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
            torch._foreach_mul_(exp_avgs, beta1)
            torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
            denominators = torch._foreach_sqrt(exp_avg_sqs)
            torch._foreach_add_(denominators, group["eps"])
            torch._foreach_addcdiv_(params, exp_avgs, denominators, value=-alpha)
