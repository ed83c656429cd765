"""A FastGAN-style pair sized for CPUs (Liu, Zhu, Song and Elgammal, "Towards Faster and Stabilized GAN Training for
High-fidelity Few-shot Image Synthesis", ICLR 2021; lucidrains/lightweight-gan builds on it), for a few thousand
images on one machine.

G: z as a 1x1 map -> a 4x4 transposed convolution, then one block per doubling: nearest 2x upsampling, a 3x3
convolution to twice the channels, BatchNorm, GLU (which halves them again). Skip-layer excitation (SLE): from the
map at 32 px up, each map's channels are gated by the map three doublings below it (4x4 gates 32x32, 8x8 gates
64x64): average-pooled to 4x4, a 4x4 convolution, Swish, a 1x1 convolution and a sigmoid give one gate per
channel. FastGAN's gates span four doublings (8 -> 128) on its 256-1024 px images; ours are 32-256 px. A 3x3
convolution makes RGB at the image's resolution.

D: stride-2 4x4 convolutions (BatchNorm after the first) and leaky ReLU 0.2 down to 4x4, then a 4x4 convolution to
a logit, as the dcgan family's D. On reals, a small decoder makes an image from D's 8x8 features, and D is trained
to make it equal the image it was shown, downsampled to 32 px: FastGAN's self-supervised loss, which keeps D's
features describing the whole image rather than the few cues that tell reals from fakes in a small data set.
FastGAN scores the reconstruction with LPIPS; its backbone's weights cannot be installed here, so this is the
plain mean absolute pixel difference.

`width`: the channels next to the image (G's last hidden map and D's first), doubling toward 4x4 up to 8x, as in
the dcgan family; G's full-resolution map has width / 2.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .dcgan import NearestUpsampleConv, _batch_norm, _init, stage_widths
from .layers import MinibatchStd, check_size

BASIS = 4
SLE_SPAN = 3  # doublings between a gating map and the map it gates
DECODER_FROM, DECODER_TO = 8, 32  # the decoder's input map and its image, in pixels per side


def generator_widths(resolution: int, width: int) -> dict[int, int]:
    """Channels of G's map at each size: {4: 4w, 8: 2w, 16: w, 32: w/2} at 32 px (as dcgan's, plus full resolution)."""
    hidden = stage_widths(resolution, width)
    sizes = [BASIS * 2 ** i for i in range(len(hidden))]
    return {**dict(zip(sizes, hidden)), resolution: max(width // 2, 1)}


class SkipLayerExcitation(nn.Module):
    """FastGAN's SLE: a small map's content decides how strongly each channel of a large map passes."""

    def __init__(self, small_channels: int, large_channels: int):
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(4), _init(nn.Conv2d(small_channels, large_channels, 4, bias=False)), nn.SiLU(),
            _init(nn.Conv2d(large_channels, large_channels, 1, bias=False)), nn.Sigmoid())

    def forward(self, small: torch.Tensor, large: torch.Tensor) -> torch.Tensor:
        return large * self.gate(small)


def _up_block(cin: int, cout: int) -> nn.Sequential:
    # GLU keeps half of the convolution's channels, each multiplied by a sigmoid of its partner
    return nn.Sequential(_init(NearestUpsampleConv(cin, 2 * cout)), _batch_norm(2 * cout), nn.GLU(dim=1))


class FastGANGenerator(nn.Module):
    """z (B, latent_dim) -> images (B, 3, resolution, resolution) in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, resolution: int = 64, width: int = 32):
        super().__init__()
        self.latent_dim, self.resolution = latent_dim, resolution
        widths = generator_widths(resolution, width)
        self.stem = nn.Sequential(_init(nn.ConvTranspose2d(latent_dim, 2 * widths[BASIS], BASIS, 1, 0, bias=False)),
                                  _batch_norm(2 * widths[BASIS]), nn.GLU(dim=1))
        sizes = sorted(widths)
        self.blocks = nn.ModuleDict({str(size): _up_block(widths[size // 2], widths[size]) for size in sizes[1:]})
        self.excitations = nn.ModuleDict({
            str(size): SkipLayerExcitation(widths[size >> SLE_SPAN], widths[size])
            for size in sizes if (size >> SLE_SPAN) >= BASIS})
        self.to_rgb = _init(nn.Conv2d(widths[resolution], 3, 3, 1, 1, bias=False))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        maps = {BASIS: self.stem(z.view(z.shape[0], self.latent_dim, 1, 1))}
        x = maps[BASIS]
        for size, block in self.blocks.items():
            size = int(size)
            x = block(x)
            if str(size) in self.excitations:
                x = self.excitations[str(size)](maps[size >> SLE_SPAN], x)
            maps[size] = x
        return torch.tanh(self.to_rgb(x))


class FastGANDiscriminator(nn.Module):
    """images (B, 3, resolution, resolution) -> logits (B, 1); with reconstruct=True, (logits, the decoder's mean
    absolute error against the images downsampled to 32 px)."""

    def __init__(self, resolution: int = 64, minibatch_std: int = 0, width: int = 32):
        super().__init__()
        self.resolution = resolution
        widths = stage_widths(resolution, width)[::-1]  # [w, 2w, 4w] at 32 px: the maps at 16, 8, 4 px
        self.features = nn.Sequential(_init(nn.Conv2d(3, widths[0], 4, 2, 1, bias=False)), nn.LeakyReLU(0.2),
                                      *[layer for cin, cout in zip(widths, widths[1:]) for layer in
                                        (_init(nn.Conv2d(cin, cout, 4, 2, 1, bias=False)), _batch_norm(cout), nn.LeakyReLU(0.2))])
        head = [MinibatchStd(minibatch_std)] if minibatch_std else []
        self.head = nn.Sequential(*head, _init(nn.Conv2d(widths[-1] + (1 if minibatch_std else 0), 1, BASIS, 1, 0)), nn.Flatten())
        nn.init.zeros_(self.head[-2].bias)
        channels = widths[len(widths) - 1 - int(math.log2(DECODER_FROM // BASIS))]  # D's map at 8x8
        decoder_width = max(width, 16)
        self.decoder = nn.Sequential(_up_block(channels, decoder_width), _up_block(decoder_width, decoder_width // 2),
                                     _init(nn.Conv2d(decoder_width // 2, 3, 3, 1, 1)), nn.Tanh())

    def forward(self, images: torch.Tensor, reconstruct: bool = False):
        x, at_8 = images, None
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU) and x.shape[-1] == DECODER_FROM:
                at_8 = x
        logits = self.head(x)
        if not reconstruct:
            return logits
        target = F.adaptive_avg_pool2d(images, DECODER_TO) if images.shape[-1] != DECODER_TO else images
        return logits, (self.decoder(at_8) - target.to(at_8.dtype)).abs().mean()
