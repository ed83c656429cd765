"""An exponential moving average of G's weights (Karras et al. 2018; Yazıcı et al. 2019): samples from the
average are smoother and more stable than from the last iterate. Half-life in images, as StyleGAN counts."""
import copy

import torch
from torch import nn


class GeneratorEMA:
    """After each G step: ema <- beta * ema + (1 - beta) * G, beta = 0.5 ** (batch / half_life_images).
    BN moving statistics (buffers) are copied, not averaged. With half_life 0 there is no average and
    `module` is the live generator."""

    def __init__(self, generator: nn.Module, half_life_images: float, batch_size: int):
        if half_life_images < 0:
            raise ValueError("remedies.ema_half_life must be >= 0")
        self.enabled = half_life_images > 0
        self.beta = 0.5 ** (batch_size / half_life_images) if self.enabled else 0.0
        self.live = generator
        self.average = copy.deepcopy(generator).eval().requires_grad_(False) if self.enabled else None

    @property
    def module(self) -> nn.Module:
        return self.average if self.enabled else self.live

    @torch.no_grad()
    def update(self) -> None:
        if not self.enabled:
            return
        averaged, live = list(self.average.parameters()), list(self.live.parameters())
        torch._foreach_lerp_(averaged, live, 1.0 - self.beta)
        for mine, theirs in zip(self.average.buffers(), self.live.buffers()):
            mine.copy_(theirs)

    def state_dict(self) -> dict | None:
        return self.average.state_dict() if self.enabled else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.enabled:
            self.average.load_state_dict(state)
