"""Layers with Keras semantics, so the seed's networks compute exactly what its Keras code computes."""
import torch
import torch.nn.functional as F
from torch import nn

from ..config import RESOLUTIONS


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


SUPPORTED_RESOLUTIONS = RESOLUTIONS  # every image family builds these sizes (the config offers no others)


def check_size(resolution: int, width: int, width_setting: str = "model.width") -> None:
    """The sizes every image family checks: a resolution it builds and a width of at least one filter."""
    if resolution not in SUPPORTED_RESOLUTIONS:
        raise ValueError(f"model.resolution {resolution} is not supported; choose one of {SUPPORTED_RESOLUTIONS}")
    if width < 1:
        raise ValueError(f"{width_setting} must be at least 1, not {width}")


class Pack(nn.Module):
    """PacGAN (Lin et al. 2018): D judges `pack` consecutive samples as one input, side by side along the feature
    axis: images (B, 3, H, W) -> (B / pack, 3 * pack, H, W), points (B, 2) -> (B / pack, 2 * pack). D's first layer
    takes `pack` times the channels; with pack = 1 it is the identity."""

    def __init__(self, pack: int = 1):
        super().__init__()
        self.pack = pack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, x.shape[1] * self.pack, *x.shape[2:]) if self.pack > 1 else x

    def extra_repr(self) -> str:
        return f"pack={self.pack}"


class MinibatchStd(nn.Module):
    """Appends one feature map: the standard deviation of each feature across a group of `group_size`
    samples, averaged over features and pixels (Karras et al. 2018). A collapsed G makes it near 0 and
    D can see it, so collapse costs G."""

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        group = min(self.group_size, b)
        if b % group:
            raise ValueError(f"minibatch std: batch {b} is not a multiple of its group size {group}")
        y = x.reshape(group, -1, c, h, w)  # sample i shares a group with samples i + b/group, i + 2b/group, ...
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (b / group,)
        feature = std.repeat(group).view(b, 1, 1, 1).expand(b, 1, h, w)
        return torch.cat([x, feature.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


def without_batch_norm(module: nn.Module) -> nn.Module:
    """Every BatchNorm layer replaced by the identity, in place: each sample's output then depends on its own
    input alone. In G, batch statistics tie a batch's samples together, which blurs modes narrower than
    that coupling (measured on toy2d's grid: see the README's remedies table)."""
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, (KerasBatchNorm, nn.modules.batchnorm._BatchNorm)):
                setattr(parent, name, nn.Identity())
    return module


def with_spectral_norm(module: nn.Module) -> nn.Module:
    """Every convolution and linear layer's weight divided by its largest singular value, estimated by one
    power iteration per training forward pass (Miyato et al. 2018)."""
    for layer in list(module.modules()):
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(layer)
    return module
