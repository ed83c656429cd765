"""An exponential moving average of G's weights (Karras et al. 2018; Yazıcı et al. 2019): samples from the
average are smoother and more stable than from the last iterate. Half-life in images, as StyleGAN counts."""
import copy

import torch

from ..nets.conditional import with_drawn_labels
from torch import nn

from ..nets.layers import KerasBatchNorm


def _batch_norms(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (KerasBatchNorm, nn.modules.batchnorm._BatchNorm))]


class GeneratorEMA:
    """After each G step: ema <- beta * ema + (1 - beta) * G, beta = 0.5 ** (batch / half_life_images).
    With half_life 0 there is no average and `module` is the live generator.

    A ramp-up (StyleGAN2-ADA's ema_rampup) shortens the half-life early in a run, so that the average does not lag
    behind a G that is still changing fast: at step s, having seen s x batch images, the half-life is
    min(half_life_images, rampup x s x batch). With rampup 0 the half-life is constant.

    BatchNorm moving statistics cannot be averaged or copied: they describe the live weights' activations,
    not the average's, and sampling the average with them gives washed-out blobs. Before the average is used
    its statistics are recomputed: the exact mean over `CALIBRATION_BATCHES` batches of fixed noise."""

    CALIBRATION_BATCHES, CALIBRATION_BATCH = 8, 64

    def __init__(self, generator: nn.Module, half_life_images: float, batch_size: int, rampup: float = 0.0):
        if half_life_images < 0 or rampup < 0:
            raise ValueError("remedies.ema_half_life and remedies.ema_rampup must be >= 0")
        self.enabled = half_life_images > 0
        self.half_life_images, self.batch_size, self.rampup = half_life_images, batch_size, rampup
        self.beta = 0.5 ** (batch_size / half_life_images) if self.enabled else 0.0  # without the ramp-up
        self.live = generator
        self.average = copy.deepcopy(generator).eval().requires_grad_(False) if self.enabled else None
        self.calibrated = True
        self._momenta = [m.momentum for m in _batch_norms(self.average)] if self.enabled else []

    @property
    def module(self) -> nn.Module:
        if not self.enabled:
            return self.live
        if not self.calibrated:
            self._calibrate_batch_norm()
        return self.average

    @torch.no_grad()
    def _calibrate_batch_norm(self) -> None:
        norms = _batch_norms(self.average)
        if norms:
            for m in norms:
                m.running_mean.zero_()
                m.running_var.zero_()
            noise = torch.Generator().manual_seed(0)  # its own stream: the run's random numbers are untouched
            device = next(self.average.parameters()).device
            self.average.train()
            for k in range(self.CALIBRATION_BATCHES):
                for m in norms:  # running <- running + (batch - running) / (k + 1): the mean over batches so far
                    if isinstance(m, KerasBatchNorm):
                        m.momentum = k / (k + 1)  # Keras' momentum weighs the old value
                    else:
                        m.momentum = 1 / (k + 1)
                z = torch.randn(self.CALIBRATION_BATCH, self.average.latent_dim, generator=noise)
                self.average(with_drawn_labels(self.average, z, noise).to(device))
            for m, momentum in zip(norms, self._momenta):
                m.momentum = momentum
            self.average.eval()
        self.calibrated = True

    def beta_at(self, step: int) -> float:
        """The decay of the update after G's step `step` (0-based): step x batch images were seen before it."""
        if not self.rampup:
            return self.beta
        half_life = min(self.half_life_images, self.rampup * step * self.batch_size)
        return 0.5 ** (self.batch_size / half_life) if half_life > 0 else 0.0

    @torch.no_grad()
    def update(self, step: int) -> None:
        if not self.enabled:
            return
        averaged, live = list(self.average.parameters()), list(self.live.parameters())
        torch._foreach_lerp_(averaged, live, 1.0 - self.beta_at(step))
        for mine, theirs in zip(self.average.buffers(), self.live.buffers()):
            mine.copy_(theirs)  # e.g. spectral norm's power-iteration vectors; BN statistics are recomputed on use
        self.calibrated = False

    def state_dict(self) -> dict | None:
        return self.module.state_dict() if self.enabled else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.enabled:
            self.average.load_state_dict(state)
            self.calibrated = True
