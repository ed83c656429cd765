"""PacGAN's networks for 2-D toy data (Lin et al. 2018, their code's sizes)."""
import torch
from torch import nn

from .layers import Pack


class ToyGenerator(nn.Module):
    """z (B, 2) -> points (B, 2): four Linear(400) + BatchNorm + ReLU layers, then a linear output."""

    def __init__(self, latent_dim: int = 2, width: int = 400, depth: int = 4):
        super().__init__()
        self.latent_dim = latent_dim
        layers, features = [], latent_dim
        for _ in range(depth):
            layers += [nn.Linear(features, width), nn.BatchNorm1d(width), nn.ReLU()]
            features = width
        self.net = nn.Sequential(*layers, nn.Linear(features, 2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Maxout(nn.Module):
    """max over `pieces` linear maps: Goodfellow et al. 2013."""

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).unflatten(-1, (-1, self.pieces)).amax(-1)  # (B, out, pieces) -> (B, out)


class ToyDiscriminator(nn.Module):
    """points (B, 2) -> logits (B / pack, 1): three maxout layers of 200 units with 5 pieces each. With
    PacGAN packing, each `pack` consecutive points are judged together as one (2 * pack)-vector."""

    def __init__(self, pack: int = 1, width: int = 200, pieces: int = 5):
        super().__init__()
        self.pack = Pack(pack)
        self.net = nn.Sequential(Maxout(2 * pack, width, pieces), Maxout(width, width, pieces), Maxout(width, width, pieces), nn.Linear(width, 1))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.net(self.pack(points))
