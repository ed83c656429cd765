"""The seed's DCGAN-style generator and discriminator, as one family over resolutions 32..256.

At 128x128 these are the seed's Keras models layer for layer (see shared/seed/NOTES.md). Other
resolutions keep the seed's widths at the high-resolution end and add or drop blocks at the other:
G always starts from a 16x16x64 map and its last block has 64 filters; D's first block always has 64
filters and D always flattens an 8x8 map. `width` scales every 64 (and so every width) of both networks:
64 is the seed; less is a cheaper, no longer faithful network (the demo's).

Both networks are channels-first. Keras flattens and reshapes channels-last; that difference is a
fixed permutation of one Dense layer's rows (D) or columns (G), handled by ganforge.interop.keras.
D returns logits: the seed's sigmoid is applied by its objective, which is the same maths.
"""
import math

import torch
from torch import nn

from .layers import KerasBatchNorm, MinibatchStd, Pack, check_size, keras_dense, seed_conv
from .upsample_conv import upsample_conv

G_START = 16  # G's first feature map is G_START x G_START x width
SEED_WIDTH = 64
D_END = 8  # D flattens a D_END x D_END map


def generator_widths(resolution: int, width: int = SEED_WIDTH) -> list[int]:
    """Filters of G's upsampling blocks: [256, 128, 64] at 128 px."""
    check_size(resolution, width)
    n_blocks = int(math.log2(resolution // G_START))
    return [width * 2 ** (n_blocks - 1 - i) for i in range(n_blocks)]


def discriminator_widths(resolution: int, width: int = SEED_WIDTH) -> list[int]:
    """Filters of D's downsampling blocks: [64, 128, 256, 512] at 128 px."""
    check_size(resolution, width)
    n_blocks = int(math.log2(resolution // D_END))
    return [min(width * 2**i, 8 * width) for i in range(n_blocks)]


class SeedGenerator(nn.Module):
    """z (B, latent_dim) -> images (B, 3, resolution, resolution) in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, resolution: int = 128, width: int = SEED_WIDTH, bn_momentum: float = 0.8,
                 double_bn: bool = True):
        super().__init__()
        check_size(resolution, width)
        self.latent_dim = latent_dim
        self.resolution = resolution
        self.start_channels = width
        start_features = width * G_START * G_START
        self.mapping = nn.Sequential(
            keras_dense(latent_dim, 64),
            nn.LeakyReLU(0.2),
            keras_dense(64, 512),
            nn.LeakyReLU(0.2),
            keras_dense(512, start_features),
            KerasBatchNorm(start_features, bn_momentum),
        )
        # The seed normalizes twice in a row here (per feature, then per channel after the reshape)
        self.start_norm = KerasBatchNorm(width, bn_momentum) if double_bn else nn.Identity()
        blocks = []
        in_channels = width
        for i, filters in enumerate(generator_widths(resolution, width)):
            block = [seed_conv(in_channels, filters), KerasBatchNorm(filters, bn_momentum), nn.LeakyReLU(0.2)]
            if i == 0 and double_bn:
                block.append(KerasBatchNorm(filters, bn_momentum))  # the seed has a second BN in its first block only
            block.append(nn.Upsample(scale_factor=2, mode="nearest"))
            blocks.append(nn.Sequential(*block))
            in_channels = filters
        self.blocks = nn.Sequential(*blocks)
        self.to_rgb = seed_conv(in_channels, 3)
        self.fused_upsampling = True

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.mapping(z)
        x = x.view(-1, self.start_channels, G_START, G_START)  # (B, 64, 16, 16); Keras: (B, 16, 16, 64)
        x = self.start_norm(x)
        if not self.fused_upsampling:  # layer by layer, as written (summary's hooks see every layer)
            return torch.tanh(self.to_rgb(self.blocks(x)))
        # Each block ends in a nearest x2 upsampling that the next convolution absorbs: same numbers, 2.8x fewer
        # multiply-adds (ganforge.nets.upsample_conv).
        upsampled_conv = lambda x, conv: conv(x)  # noqa: E731  (the first block's conv sees no upsampling)
        for conv, *middle, _upsample in self.blocks:
            x = upsampled_conv(x, conv)
            for layer in middle:
                x = layer(x)
            upsampled_conv = upsample_conv
        return torch.tanh(upsample_conv(x, self.to_rgb))


class SeedDiscriminator(nn.Module):
    """images (B, 3, resolution, resolution) -> logits (B / pack, 1); the seed's D(x) is sigmoid(logits).

    Two remedies change its shape (both off in the seed): PacGAN packing judges `pack` consecutive images
    as one input of 3 * pack channels; a minibatch standard-deviation feature map (group size
    `minibatch_std`) is appended before the flatten.
    """

    def __init__(self, resolution: int = 128, pack: int = 1, minibatch_std: int = 0, width: int = SEED_WIDTH,
                 bn_momentum: float = 0.8, dense_head: bool = True):
        super().__init__()
        self.resolution = resolution
        self.pack = Pack(pack)
        blocks = []
        in_channels = 3 * pack
        for filters in discriminator_widths(resolution, width):
            blocks.append(
                nn.Sequential(seed_conv(in_channels, filters), KerasBatchNorm(filters, bn_momentum), nn.LeakyReLU(0.2), nn.AvgPool2d(2))
            )
            in_channels = filters
        if minibatch_std:
            blocks.append(MinibatchStd(minibatch_std))
            in_channels += 1
        self.blocks = nn.Sequential(*blocks)
        if not dense_head:
            self.classifier = nn.Sequential(nn.Flatten(), keras_dense(in_channels * D_END * D_END, 1))
            return
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, C * 8 * 8) in (C, H, W) order; Keras flattens in (H, W, C) order
            keras_dense(in_channels * D_END * D_END, 1024),
            nn.LeakyReLU(0.2),
            keras_dense(1024, 512),
            nn.LeakyReLU(0.2),
            keras_dense(512, 128),
            nn.LeakyReLU(0.2),
            keras_dense(128, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(self.pack(images)))


def count_parameters(module: nn.Module) -> int:
    """Parameters plus BN moving statistics: the number Keras' model.summary() prints."""
    return sum(p.numel() for p in module.parameters()) + sum(b.numel() for b in module.buffers())
