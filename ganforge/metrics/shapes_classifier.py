"""A small CNN that tells the 120 modes of the built-in `shapes` data apart: ground truth for mode
coverage, and an offline feature extractor (its 128-d penultimate layer) for a Fréchet distance.

Trained by tools/train_shapes_classifier.py (deterministic, a few minutes on CPU); the weights ship in
the package as shapes_classifier.pt. Images of any resolution are box-filtered down to 32x32 first.
"""
from importlib import resources

import torch
import torch.nn.functional as F
from torch import nn

from ..data.shapes import NUM_MODES

INPUT_RESOLUTION = 32
FEATURES = 128
WEIGHTS_FILE = "shapes_classifier.pt"


class ShapesClassifier(nn.Module):
    """images (B, 3, H, W) in [-1, 1] -> (features (B, 128), logits (B, 120))."""

    def __init__(self):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

        self.body = nn.Sequential(block(3, 32), block(32, 64), block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.features = nn.Sequential(nn.Linear(128, FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, NUM_MODES)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.shape[-1] != INPUT_RESOLUTION:
            images = F.adaptive_avg_pool2d(images, INPUT_RESOLUTION)  # box filter: resolution-independent input
        features = self.features(self.body(images))
        return features, self.head(features)


def load_shapes_classifier(device: torch.device | str = "cpu") -> ShapesClassifier:
    model = ShapesClassifier()
    with resources.files("ganforge.metrics").joinpath(WEIGHTS_FILE).open("rb") as f:
        model.load_state_dict(torch.load(f, map_location="cpu", weights_only=True))
    return model.to(device).eval()
