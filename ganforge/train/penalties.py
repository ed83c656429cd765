"""Gradient penalties on D, added to D's loss on its fake step (the one step that sees both real and fake)."""
import torch


def _input_gradient(discriminator, images: torch.Tensor) -> torch.Tensor:
    images = images.detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(discriminator(images).sum(), images, create_graph=True)
    return gradient.flatten(1)


class R1:
    """gamma/2 * E|grad_x D(x)|^2 on real data (Mescheder et al. 2018). Lazy: computed on every `interval`-th
    step only and multiplied by `interval`, so its average strength stays the same (Karras et al. 2020)."""

    def __init__(self, gamma: float, interval: int = 1):
        if interval < 1:
            raise ValueError("remedies.r1_interval must be >= 1")
        self.gamma, self.interval = gamma, interval

    def __call__(self, discriminator, real: torch.Tensor, fake: torch.Tensor, step: int):
        if step % self.interval:
            return 0.0
        return self.gamma / 2 * self.interval * _input_gradient(discriminator, real).pow(2).sum(1).mean()


class GradientPenalty:
    """weight * E(|grad D(x_hat)| - 1)^2 at random points x_hat between real and fake (Gulrajani et al. 2017)."""

    def __init__(self, weight: float):
        self.weight = weight

    def __call__(self, discriminator, real: torch.Tensor, fake: torch.Tensor, step: int):
        mix = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
        between = real.detach() + mix * (fake.detach() - real.detach())
        return self.weight * (_input_gradient(discriminator, between).norm(dim=1) - 1).pow(2).mean()
