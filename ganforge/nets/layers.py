"""Layers with Keras semantics, so the seed's networks compute exactly what its Keras code computes."""
import torch
import torch.nn.functional as F
from torch import nn


class KerasBatchNorm(nn.Module):
    """BatchNormalization as Keras defines it, for (B, C) or (B, C, H, W) inputs.

    Differs from torch.nn.BatchNorm in three ways that change the numbers:
    epsilon 1e-3; `momentum` is the weight of the *old* moving value (Keras 0.8 == PyTorch 0.2);
    the moving variance is updated with the biased batch variance (PyTorch uses the unbiased one).
    """

    def __init__(self, num_features: int, momentum: float = 0.8, eps: float = 1e-3):
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))  # Keras: gamma
        self.bias = nn.Parameter(torch.zeros(num_features))  # Keras: beta
        self.register_buffer("running_mean", torch.zeros(num_features))  # Keras: moving_mean
        self.register_buffer("running_var", torch.ones(num_features))  # Keras: moving_variance

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        # Normalizes with the biased batch variance and backpropagates through the batch statistics, as Keras
        # does. The kernel also returns the batch mean and 1 / sqrt(biased var + eps): no second pass for them.
        out, batch_mean, inv_std = torch.native_batch_norm(x, self.weight, self.bias, None, None, True, 0.0, self.eps)
        with torch.no_grad():
            batch_var = inv_std.pow(-2).sub_(self.eps)
            self.running_mean.mul_(self.momentum).add_(batch_mean, alpha=1 - self.momentum)
            self.running_var.mul_(self.momentum).add_(batch_var, alpha=1 - self.momentum)
        return out

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, momentum={self.momentum} (Keras convention), eps={self.eps}"


def keras_dense(in_features: int, out_features: int) -> nn.Linear:
    """A Dense layer with Keras' defaults: glorot_uniform kernel, zero bias."""
    layer = nn.Linear(in_features, out_features)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def seed_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """The seed's Conv2D(k=5, padding='same', kernel_initializer=RandomNormal(0, 0.02)), zero bias."""
    layer = nn.Conv2d(in_channels, out_channels, kernel_size=5, padding=2)
    nn.init.normal_(layer.weight, mean=0.0, std=0.02)
    nn.init.zeros_(layer.bias)
    return layer
