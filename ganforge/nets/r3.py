"""A modern minimal GAN backbone after R3GAN (Huang et al., NeurIPS 2024, brownvc/R3GAN), sized for small machines.

What it keeps from R3GAN: ResNet stages of inverted-bottleneck blocks (1x1 expand, grouped 3x3, 1x1 back) with
leaky ReLU; no normalization layer anywhere; fix-up-style initialization (each block's last layer starts at zero,
the others scaled down by the number of blocks, so every block starts as the identity); bilinear resampling
(the [1, 3, 3, 1] filter); a learned 4x4 basis modulated by z at G's input and a depthwise 4x4 basis at D's output.
Standard ops only, so it exports to ONNX (tests/nets/test_families.py runs it in onnxruntime).

What differs: widths are a multiplier (`width` channels at full resolution, doubling toward 4x4 up to 4x; R3GAN's
CIFAR-10 preset is 768 channels everywhere), and G ends in tanh so that its images lie in [-1, 1] as every family's do.
With `shuffle`, the full-resolution stage is left out: G's last stage works at half resolution and a 1x1 convolution
makes 2x2 pixels per position (pixel shuffle), and D starts by folding each 2x2 block of pixels into 12 channels
(pixel unshuffle). Nothing is lost, and the costliest stage is gone: half the time per iteration at 32 px.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import MinibatchStd, Pack, check_size

BASIS = 4  # G starts and D ends at a 4x4 map
LEAK = 0.2
LEAKY_RELU_GAIN = math.sqrt(2 / (1 + LEAK**2))  # keeps activations' second moment through a leaky ReLU
MAX_WIDTH_FACTOR = 4  # low-resolution stages have at most 4x the full-resolution width


def stage_widths(resolution: int, width: int, shuffle: bool = False) -> list[int]:
    """Channels per stage from 4x4 up to `resolution` (to resolution / 2 with `shuffle`): [4w, 4w, 2w, w] at 32 px."""
    check_size(resolution, width, "model.r3.width")
    stages = int(math.log2(resolution // BASIS)) + (0 if shuffle else 1)
    return [width * 2 ** min(stages - 1 - i, int(math.log2(MAX_WIDTH_FACTOR))) for i in range(stages)]


def _msr(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """He-style init: weights ~ N(0, gain^2 / fan_in), zero bias (R3GAN's MSRInitializer)."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _conv(cin: int, cout: int, kernel: int = 1, groups: int = 1, bias: bool = False, gain: float = 1.0) -> nn.Conv2d:
    return _msr(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=bias), gain)


class ResidualBlock(nn.Module):
    """x + f(x), f = 1x1 expand -> lrelu -> grouped 3x3 -> lrelu -> 1x1 back, with no normalization.

    Fix-up init: f's last layer is zero, so the block starts as the identity; the other two are scaled by
    blocks^(-1/4) (R3GAN: L^(-1/(2m-2)) with m = 3 layers), which keeps the sum of L residual branches' variance
    bounded as L grows. The biases sit before each activation (R3GAN's biased activation)."""

    def __init__(self, channels: int, expansion: int, group_channels: int, total_blocks: int):
        super().__init__()
        expanded = channels * expansion
        if expanded % group_channels:
            raise ValueError(f"model.r3.group_channels {group_channels} does not divide a block's {expanded} channels")
        gain = LEAKY_RELU_GAIN * total_blocks ** (-1 / 4)
        self.expand = _conv(channels, expanded, bias=True, gain=gain)
        self.spatial = _conv(expanded, expanded, 3, groups=expanded // group_channels, bias=True, gain=gain)
        self.project = _conv(expanded, channels, gain=0.0)  # zero: the block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.expand(x), LEAK)
        y = F.leaky_relu(self.spatial(y), LEAK)
        return x + self.project(y)


class Downsample(nn.Module):
    """Bilinear x1/2: a depthwise [1, 3, 3, 1] x [1, 3, 3, 1] / 64 filter at stride 2 (R3GAN's downsampler)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = torch.tensor([1.0, 3.0, 3.0, 1.0], device=x.device, dtype=x.dtype) / 8
        kernel = torch.outer(taps, taps).expand(x.shape[1], 1, 4, 4)  # made here: no buffer to save or count
        return F.conv2d(x, kernel, stride=2, padding=1, groups=x.shape[1])


def _upsample(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 (the [1, 3, 3, 1] filter's transposed form, edges replicated)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class R3Generator(nn.Module):
    """z (B, latent_dim) -> images (B, 3, resolution, resolution) in [-1, 1]."""

    def __init__(self, latent_dim: int = 64, resolution: int = 32, width: int = 32, blocks: int = 1, expansion: int = 2,
                 group_channels: int = 16, shuffle: bool = False):
        super().__init__()
        self.latent_dim, self.resolution, self.shuffle = latent_dim, resolution, shuffle
        widths = stage_widths(resolution, width, shuffle)
        total = blocks * len(widths)
        self.basis = nn.Parameter(torch.randn(widths[0], BASIS, BASIS))  # a learned 4x4 map per channel ...
        self.basis_scale = _msr(nn.Linear(latent_dim, widths[0], bias=False))  # ... each scaled by a linear map of z
        self.stages = nn.ModuleList()
        for i, channels in enumerate(widths):
            layers = [] if i == 0 else ([_conv(widths[i - 1], channels)] if widths[i - 1] != channels else [nn.Identity()])
            layers += [ResidualBlock(channels, expansion, group_channels, total) for _ in range(blocks)]
            self.stages.append(nn.Sequential(*layers))
        self.to_rgb = _conv(widths[-1], 12 if shuffle else 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.basis.unsqueeze(0) * self.basis_scale(z)[:, :, None, None]  # (B, C0, 4, 4)
        x = self.stages[0](x)
        for stage in self.stages[1:]:
            x = stage[0](x)  # the channel change at the lower resolution, where it is cheaper
            x = stage[1:](_upsample(x))
        x = self.to_rgb(x)
        if self.shuffle:
            x = F.pixel_shuffle(x, 2)  # (B, 12, H/2, W/2) -> (B, 3, H, W)
        return torch.tanh(x)


class R3Discriminator(nn.Module):
    """images (B, 3, resolution, resolution) -> logits (B / pack, 1).

    PacGAN packing (`pack` images side by side as 3 * pack channels) and a minibatch standard-deviation feature
    at 4x4 are the two remedies that change its shape; both are off by default."""

    def __init__(self, resolution: int = 32, width: int = 32, blocks: int = 1, expansion: int = 2, group_channels: int = 16,
                 pack: int = 1, minibatch_std: int = 0, shuffle: bool = False):
        super().__init__()
        self.resolution, self.pack, self.shuffle = resolution, Pack(pack), shuffle
        widths = stage_widths(resolution, width, shuffle)[::-1]  # full resolution first
        total = blocks * len(widths)
        self.from_rgb = _conv(3 * pack * (4 if shuffle else 1), widths[0])
        self.stages = nn.ModuleList()
        for i, channels in enumerate(widths[:-1]):
            layers = [ResidualBlock(channels, expansion, group_channels, total) for _ in range(blocks)]
            layers += [Downsample(), _conv(channels, widths[i + 1]) if widths[i + 1] != channels else nn.Identity()]
            self.stages.append(nn.Sequential(*layers))
        last = widths[-1]
        self.stages.append(nn.Sequential(*[ResidualBlock(last, expansion, group_channels, total) for _ in range(blocks)]))
        self.minibatch_std = MinibatchStd(minibatch_std) if minibatch_std else nn.Identity()
        last += 1 if minibatch_std else 0
        self.basis = _conv(last, last, BASIS, groups=last)  # depthwise 4x4, no padding: (B, C, 4, 4) -> (B, C, 1, 1)
        self.basis.padding = (0, 0)
        self.to_logit = _msr(nn.Linear(last, 1, bias=False))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = self.pack(images)
        if self.shuffle:
            images = F.pixel_unshuffle(images, 2)  # (B, C, H, W) -> (B, 4C, H/2, W/2)
        x = self.from_rgb(images)
        for stage in self.stages:
            x = stage(x)
        x = self.basis(self.minibatch_std(x))
        return self.to_logit(x.flatten(1))  # (B, 1)
