"""Gradient penalties on D, added to D's loss on its fake step (the one step that sees both real and fake)."""
from contextlib import contextmanager

import torch


@contextmanager
def moving_statistics_kept(module: torch.nn.Module):
    """D's extra passes for a penalty run in training mode (batch statistics, as D's own step), but are not
    more batches for the BN moving statistics: the running means and variances are put back afterwards."""
    kept = [(buffer, buffer.clone()) for name, buffer in module.named_buffers()
            if name.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")]
    try:
        yield
    finally:
        for buffer, value in kept:
            # through .data: the pass's graph may hold these buffers (inference mode), and putting back the
            # values they had must not count as an in-place change to it
            buffer.data.copy_(value)


def _input_gradient(discriminator, images: torch.Tensor) -> torch.Tensor:
    images = images.detach().requires_grad_(True)
    with moving_statistics_kept(discriminator):
        logits = discriminator(images)
    (gradient,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return gradient.flatten(1)


class ZeroCentredPenalty:
    """gamma/2 * E|grad_x D(x)|^2 on real data (R1, Mescheder et al. 2018) or on fakes (R2). Lazy: computed on every
    `interval`-th step only and multiplied by `interval`, so its average strength stays the same (Karras et al.
    2020). R1 alone leaves D free to be steep around the fakes; with R2 as well the training dynamics converge
    locally (R3GAN, Huang et al. 2024)."""

    def __init__(self, gamma: float, interval: int = 1, on: str = "real"):
        if interval < 1:
            raise ValueError("remedies.lazy_interval must be >= 1")
        if gamma < 0:
            raise ValueError(f"a gradient penalty's gamma must be >= 0, not {gamma}")
        self.gamma, self.interval, self.on = gamma, interval, on

    def __call__(self, discriminator, real: torch.Tensor, fake: torch.Tensor, step: int):
        if step % self.interval:
            return 0.0
        images = real if self.on == "real" else fake
        return self.gamma / 2 * self.interval * _input_gradient(discriminator, images).pow(2).sum(1).mean()


def R1(gamma: float, interval: int = 1) -> ZeroCentredPenalty:
    return ZeroCentredPenalty(gamma, interval, "real")


def R2(gamma: float, interval: int = 1) -> ZeroCentredPenalty:
    return ZeroCentredPenalty(gamma, interval, "fake")


class GradientPenalty:
    """weight * E(|grad D(x_hat)| - 1)^2 at random points x_hat between real and fake (Gulrajani et al. 2017)."""

    def __init__(self, weight: float):
        self.weight = weight

    def __call__(self, discriminator, real: torch.Tensor, fake: torch.Tensor, step: int):
        mix = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
        between = real.detach() + mix * (fake.detach() - real.detach())
        return self.weight * (_input_gradient(discriminator, between).norm(dim=1) - 1).pow(2).mean()
