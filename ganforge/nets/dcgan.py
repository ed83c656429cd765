"""DCGAN's networks as Radford, Metz and Chintala wrote them (ICLR 2016), over resolutions 32..256.

G: z as a 1x1 map -> a 4x4 transposed convolution -> stride-2 4x4 transposed convolutions, each doubling the
resolution and halving the channels, with BatchNorm and ReLU between -> tanh. D mirrors it: stride-2 4x4
convolutions with BatchNorm (none on the first) and leaky ReLU 0.2 down to 4x4, then one 4x4 convolution to a
logit. Weights ~ N(0, 0.02), BN scales ~ N(1, 0.02). `width` is the paper's ngf = ndf: the channels next to the
image, doubling toward 4x4 up to 8x (the paper's 64 px networks at width 64: 512 channels at 4x4).

`upsample="nearest"` replaces each stride-2 transposed convolution by a 3x3 convolution of the 2x nearest-upsampled
map (Odena, Dumoulin and Olah, "Deconvolution and Checkerboard Artifacts", 2016), at the transposed convolution's
cost: it is one, with its 4x4 kernel tied to 3x3 free taps (NearestUpsampleConv). `upsample="bilinear"` blurs that
output with [1, 2, 1] / 4 per axis: bilinear upsampling before the 3x3 convolution (BilinearUpsampleConv), which
leaves no 2-pixel period in G's doublings.

`full_res_channels=N` makes G's last doubling N channels (BN, ReLU) and adds a 3x3 convolution from them to RGB.
In the paper's G the last doubling makes RGB itself, so every nonlinear layer works at half the image's resolution or
less; shapes' corners and thin arms are drawn at the image's own.

Against the seed's family at the same cost, every doubling of the resolution is a learned convolution: the
seed's G at 32 px makes its 16x16 map in one dense layer and has two convolutions after it.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import KerasBatchNorm, MinibatchStd, Pack, check_size

UPSAMPLING = ("transposed", "nearest", "bilinear")
BASIS = 4  # G starts and D ends at a 4x4 map
MAX_WIDTH_FACTOR = 8


def stage_widths(resolution: int, width: int) -> list[int]:
    """Channels of the hidden maps from 4x4 up to resolution / 2: [4w, 2w, w] at 32 px, [8w, 4w, 2w, w] at 64."""
    check_size(resolution, width)
    stages = int(math.log2(resolution // BASIS))
    return [width * min(2 ** (stages - 1 - i), MAX_WIDTH_FACTOR) for i in range(stages)]


def _batch_norm(channels: int) -> KerasBatchNorm:
    # PyTorch's BatchNorm2d defaults in the Keras convention (momentum = weight of the old value), so that SyncBN
    # and the BN modes treat this family as they treat the seed's.
    layer = KerasBatchNorm(channels, momentum=0.9, eps=1e-5)
    nn.init.normal_(layer.weight, 1.0, 0.02)
    return layer


def _init(layer: nn.Module) -> nn.Module:
    nn.init.normal_(layer.weight, 0.0, 0.02)
    return layer


# _NEAREST_TAPS[p, k] = 1 when tap k of a 3x3 convolution of up2(x) lands where tap p of a 4x4 stride-2 transposed
# convolution (padding 1) of x does. Output row 2i takes up2's rows 2i-1, 2i, 2i+1, that is x's rows i-1, i, i: taps
# k = 0 | 1, 2, which the transposed convolution reaches through p = 3 | 1. Row 2i+1 takes x's rows i, i, i+1: k = 0, 1 | 2
# through p = 2 | 0. Zero padding of 1 on up2(x) is zero padding on x, so the borders match too.
_NEAREST_TAPS = torch.tensor([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.float32)
_NEAREST_KERNEL_MAP = torch.kron(_NEAREST_TAPS, _NEAREST_TAPS).T.contiguous()  # (9, 16): 3x3 taps (k, l) -> 4x4 (p, q)


class NearestUpsampleConv(nn.Module):
    """conv3x3(nearest_upsample_2x(x)) without bias, computed as one 4x4 stride-2 transposed convolution."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))  # as nn.Conv2d(in, out, 3) holds it

    def transposed_weight(self) -> torch.Tensor:
        """(in, out, 4, 4), as conv_transpose2d takes it; one small matmul (an einsum over both axes costs twice as much)."""
        out_channels, in_channels = self.weight.shape[:2]
        kernel_map = _NEAREST_KERNEL_MAP.to(self.weight.device, self.weight.dtype)
        return (self.weight.transpose(0, 1).reshape(-1, 9) @ kernel_map).view(in_channels, out_channels, 4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, self.transposed_weight(), stride=2, padding=1)


_BINOMIAL = torch.tensor([1.0, 2.0, 1.0]) / 4


class BilinearUpsampleConv(NearestUpsampleConv):
    """conv3x3(bilinear_upsample_2x(x)) away from the border: nearest upsampling's kernel [1, 1] convolved with
    [1, 2, 1] / 4 is bilinear's [1, 3, 3, 1] / 4, and a fixed depthwise blur commutes with the 3x3 convolution, so the
    blur runs after it, on the output's channels, at a few multiplications per pixel. The outermost pixel ring
    differs (the blur pads by replication after the convolution's zero padding)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        channels = x.shape[1]
        kernel = torch.outer(_BINOMIAL, _BINOMIAL).to(x.device, x.dtype).expand(channels, 1, 3, 3)
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=channels)


def _upsampling(kind: str, cin: int, cout: int) -> nn.Module:
    if kind == "transposed":
        return nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
    if kind == "nearest":
        return NearestUpsampleConv(cin, cout)
    if kind == "bilinear":
        return BilinearUpsampleConv(cin, cout)
    raise ValueError(f"model.dcgan.upsample = {kind!r} is not one of {', '.join(UPSAMPLING)}")


class DCGANGenerator(nn.Module):
    """z (B, latent_dim) -> images (B, 3, resolution, resolution) in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, resolution: int = 64, width: int = 64, upsample: str = "transposed",
                 full_res_channels: int = 0):
        super().__init__()
        self.latent_dim = latent_dim
        self.resolution = resolution
        widths = stage_widths(resolution, width)
        layers = [_init(nn.ConvTranspose2d(latent_dim, widths[0], BASIS, 1, 0, bias=False)), _batch_norm(widths[0]), nn.ReLU()]
        for cin, cout in zip(widths, widths[1:]):
            layers += [_init(_upsampling(upsample, cin, cout)), _batch_norm(cout), nn.ReLU()]
        last = full_res_channels or 3
        layers.append(_init(_upsampling(upsample, widths[-1], last)))
        if full_res_channels:
            layers += [_batch_norm(last), nn.ReLU(), _init(nn.Conv2d(last, 3, 3, 1, 1, bias=False))]
        layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """images (B, 3, resolution, resolution) -> logits (B / pack, 1).

    PacGAN packing judges `pack` consecutive images as one input of 3 * pack channels; a minibatch standard-deviation
    map (group size `minibatch_std`) is appended at 4x4, before the last convolution."""

    def __init__(self, resolution: int = 64, pack: int = 1, minibatch_std: int = 0, width: int = 64):
        super().__init__()
        self.resolution = resolution
        self.pack = Pack(pack)
        widths = stage_widths(resolution, width)[::-1]  # [w, 2w, 4w] at 32 px
        layers = [_init(nn.Conv2d(3 * pack, widths[0], 4, 2, 1, bias=False)), nn.LeakyReLU(0.2)]
        for cin, cout in zip(widths, widths[1:]):
            layers += [_init(nn.Conv2d(cin, cout, 4, 2, 1, bias=False)), _batch_norm(cout), nn.LeakyReLU(0.2)]
        if minibatch_std:
            layers.append(MinibatchStd(minibatch_std))
        layers += [_init(nn.Conv2d(widths[-1] + (1 if minibatch_std else 0), 1, BASIS, 1, 0)), nn.Flatten()]
        nn.init.zeros_(layers[-2].bias)
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(self.pack(images))
