"""Nearest 2x upsampling followed by a 5x5 'same' convolution, computed as four 3x3 convolutions on the
low-resolution input, one per output phase: the same numbers (up to summation order) for 36/100 of the
multiply-adds.

Output row 2i + a (a = 0, 1) of conv5(up2(x)) sums taps k = 0..4 of x's row i + floor((a + k - 2) / 2): for
a = 0 the taps fall on rows i-1, i-1, i, i, i+1; for a = 1 on rows i-1, i, i, i+1, i+1. Summing the taps that
share a row gives a 3-tap kernel per phase, per axis. Zero padding of 2 on the upsampled map is zero
padding of 1 on x, so borders match too.
"""
import torch
import torch.nn.functional as F
from torch import nn

# _TAPS[a][r, k] = 1 when tap k of the 5-tap kernel lands on low-resolution offset r - 1 for output phase a
_TAPS = torch.tensor([
    [[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]],
    [[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 1, 1]],
], dtype=torch.float32)


def phase_kernels(weight: torch.Tensor) -> torch.Tensor:
    """(out, in, 5, 5) -> (out * 4, in, 3, 3), ordered out-major then phase (a, b), as pixel_shuffle reads them."""
    taps = _TAPS.to(weight.device, weight.dtype)
    phases = torch.einsum("arj,bsk,oijk->oabirs", taps, taps, weight)  # (out, 2, 2, in, 3, 3)
    return phases.reshape(weight.shape[0] * 4, weight.shape[1], 3, 3)


def upsample_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """conv(F.interpolate(x, scale_factor=2, mode="nearest")) for the seed's 5x5 'same' convolutions."""
    bias = conv.bias.repeat_interleave(4) if conv.bias is not None else None
    return F.pixel_shuffle(F.conv2d(x, phase_kernels(conv.weight), bias, padding=1), 2)
