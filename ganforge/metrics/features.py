"""The feature space images are scored in, chosen in this one place for `eval`, the best-checkpoint keeper and the
live checks. On `shapes`: the shipped classifier's 128-d features (offline), whose class probabilities also give mode
coverage. On any other data: Inception-v3's 2048-d pool features, FID's (the weights file on disk, or downloaded)."""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

SHAPES, INCEPTION = "shapes", "inception"


@dataclass(frozen=True)
class FeatureSpace:
    name: str  # SHAPES or INCEPTION
    fd_key: str  # the Fréchet distance's name in this space: fd_shapes, or fid
    suffix: str  # on the names of the other metrics computed in it: kid_shapes, precision_shapes; "" for Inception's
    # (N, 3, H, W) in [-1, 1] -> (N, D) features, and (N, classes) class probabilities where the space has classes
    embed: Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray | None]]


def space_of(source: str) -> str:
    """The space a data source's images are compared in."""
    return SHAPES if source == "shapes" else INCEPTION


def load_space(name: str, device, inception_weights=None, download: bool = True) -> FeatureSpace:
    """`download=False`: a GanforgeError instead of a download when the Inception weights are not on disk."""
    if name == SHAPES:
        from .shapes_classifier import load_shapes_classifier

        classifier = load_shapes_classifier(device)
        return FeatureSpace(SHAPES, "fd_shapes", "_shapes", lambda images: _classify(images, classifier, device))
    from .inception import find_weights, inception_features, load_inception

    network = load_inception(find_weights(inception_weights, download), device)
    return FeatureSpace(INCEPTION, "fid", "", lambda images: (inception_features(network, images, device).numpy(), None))


@torch.no_grad()
def _classify(images: torch.Tensor, classifier, device, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    features, probabilities = [], []
    for chunk in images.split(batch):
        f, logits = classifier(chunk.to(device))
        features.append(f.cpu())
        probabilities.append(logits.softmax(1).cpu())
    return torch.cat(features).numpy(), torch.cat(probabilities).numpy()
