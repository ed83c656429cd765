"""Inception-v3 as FID defines it (the TensorFlow FID graph of 2015-12-05, as pytorch-fid, torch-fidelity and NVIDIA's
stylegan3 metrics port it), so ganforge's FID is comparable with published numbers. Written here on plain PyTorch:
those libraries need torchvision, which this project avoids. Its weights: inception_weights.py.

Differences from the ImageNet Inception-v3 that FID's graph has: the average pools inside the A, C and first E blocks
do not count padding; the last E block's pool branch is a max pool. The network takes 299x299 images in TF's range;
`to_inception_input` makes them from [-1, 1] images of any size by one of three conventions (CONVENTIONS). Features
are the 2048-d average pool ("pool3").
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..errors import GanforgeError
from .inception_weights import WEIGHTS_FILE, find_weights, read_state_dict

FEATURES = 2048
# How an image reaches 299x299 in Inception's input range. clean-fid (Parmar et al., CVPR 2022) shows the choice moves
# FID by points, so every printed FID names its convention.
CONVENTIONS = {
    "stylegan": "StyleGAN2-ADA's: [0, 255] resized bilinearly to 299, then (x - 128) / 128",
    "pytorch-fid": "pytorch-fid's: [0, 1] resized bilinearly to 299, then 2x - 1",
    "clean": "clean-fid's: [0, 255] resized by PIL bicubic (in float) to 299, then (x - 128) / 128",
}
DEFAULT_CONVENTION = "stylegan"

__all__ = ["CONVENTIONS", "DEFAULT_CONVENTION", "FIDInceptionV3", "WEIGHTS_FILE", "find_weights", "inception_features",
           "load_inception", "to_inception_input"]


class BasicConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, **conv):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))

    def fold_batchnorm(self) -> None:
        """Inference only: BN's scale and shift go into the convolution, one pass fewer over every activation."""
        scale = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        folded = nn.Conv2d(self.conv.in_channels, self.conv.out_channels, self.conv.kernel_size, self.conv.stride,
                           self.conv.padding, bias=True)
        with torch.no_grad():
            folded.weight.copy_(self.conv.weight * scale[:, None, None, None])
            folded.bias.copy_(self.bn.bias - self.bn.running_mean * scale)
        self.conv, self.bn = folded, nn.Identity()


def _avg_pool(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x):
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool(x)),
        ], 1)


class InceptionB(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        double = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(_avg_pool(x)),
        ], 1)


class InceptionD(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        return torch.cat([
            self.branch3x3_2(self.branch3x3_1(x)),
            self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x)))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class InceptionE(nn.Module):
    """`max_pool`: FID's graph has a max pool in the last block's pool branch, an average pool elsewhere."""

    def __init__(self, in_channels: int, max_pool: bool = False):
        super().__init__()
        self.pool = (lambda x: F.max_pool2d(x, 3, stride=1, padding=1)) if max_pool else _avg_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(self.pool(x)),
        ], 1)


class FIDInceptionV3(nn.Module):
    """(B, 3, 299, 299) in TF's range -> pool3 features (B, 2048). Attribute names are pytorch-fid's weights file's."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048, max_pool=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean(dim=(2, 3))

    def fold_batchnorm(self) -> "FIDInceptionV3":
        for module in list(self.modules()):
            if isinstance(module, BasicConv2d):
                module.fold_batchnorm()
        return self


def load_inception(path=None, device="cpu", fold: bool = True) -> FIDInceptionV3:
    """The network with the weights find_weights chooses, in eval mode; `fold`: BN folded into the convolutions."""
    weights = find_weights(path)
    network = FIDInceptionV3()
    state = read_state_dict(weights, network.state_dict())
    try:
        network.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise GanforgeError(f"{weights}: not the FID Inception weights ({str(exc).splitlines()[0]})") from exc
    network.weights_file = weights
    if fold:
        network.fold_batchnorm()
    return network.to(device).eval()


def to_inception_input(images: torch.Tensor, convention: str = DEFAULT_CONVENTION) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, 3, 299, 299) in Inception's range, by `convention` (CONVENTIONS)."""
    if convention == "stylegan":  # bilinear resizing commutes with the affine map from [-1, 1] to [0, 255]
        x = (images.float() + 1) * 127.5
        return (F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 128) / 128
    if convention == "pytorch-fid":
        x = (images.float() + 1) / 2
        return 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1
    if convention == "clean":
        from PIL import Image

        pixels = ((images.float().cpu() + 1) * 127.5).numpy()
        resized = np.stack([[np.asarray(Image.fromarray(channel, mode="F").resize((299, 299), Image.BICUBIC))
                             for channel in image] for image in pixels]).clip(0, 255)
        return (torch.from_numpy(resized).to(images.device) - 128) / 128
    raise GanforgeError(f"unknown FID convention {convention!r}; choose from {', '.join(CONVENTIONS)}")


@torch.no_grad()
def inception_features(network: FIDInceptionV3, images: torch.Tensor, device="cpu", batch: int = 64,
                       convention: str = DEFAULT_CONVENTION, bf16: bool = False, progress: bool = False) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] -> (N, 2048) float64 features. `bf16`: autocast where the CPU or GPU has it."""
    device = torch.device(device)
    network = network.to(memory_format=torch.channels_last)
    chunks = []
    with tqdm(total=len(images), desc="Inception features", unit="img", disable=not progress, leave=False) as bar:
        for chunk in images.split(batch):
            x = to_inception_input(chunk.to(device), convention).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                chunks.append(network(x).double().cpu())
            bar.update(len(chunk))
    return torch.cat(chunks)
