"""The feature space images are scored in, chosen in this one place for `eval`, the best-checkpoint keeper and the
live checks. On `shapes`: the shipped classifier's 128-d features (offline), whose class probabilities also give mode
coverage. On any other data: Inception-v3's 2048-d pool features, FID's (inception_weights.py finds the weights).
Inception's features of a set of real images are cached on disk by the images' content, the weights and the
convention, as stylegan2-ada-pytorch caches its dataset statistics, so scoring a run computes only the fake side."""
import hashlib
from dataclasses import dataclass
from pathlib import Path
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
    cache_tag: str | None = None  # what besides the images decides the features; None: not worth caching
    description: str = ""  # printed beside the Fréchet distance

    def embed_real(self, pixels: np.ndarray, images: torch.Tensor, cache_dir=None, log=print):
        """embed(images) for real images, read from the cache when these pixels were embedded before."""
        if self.cache_tag is None:
            return self.embed(images)
        from ..data import cache

        folder = Path(cache_dir or cache.default_cache_dir()) / "features"
        key = cache.cache_key([self.cache_tag, hashlib.sha256(np.ascontiguousarray(pixels).data).hexdigest()])
        hit = cache.load(folder, key)
        if hit is not None:
            return np.asarray(hit[0], dtype=np.float64), None
        features, probabilities = self.embed(images)
        try:
            cache.save(folder, key, features.astype(np.float32), {"tag": self.cache_tag, "count": len(features)})
        except OSError as exc:
            log(f"warning: could not cache the real images' features in {folder}: {exc}")
        return features.astype(np.float32).astype(np.float64), probabilities


def space_of(source: str) -> str:
    """The space a data source's images are compared in."""
    return SHAPES if source == "shapes" else INCEPTION


def load_space(name: str, device, inception_weights=None, download: bool = True, progress: bool = False) -> FeatureSpace:
    """`download=False`: a GanforgeError instead of a download when the Inception weights are not on disk.
    `progress`: a progress bar while Inception embeds (it takes minutes on a CPU)."""
    if name == SHAPES:
        from .shapes_classifier import load_shapes_classifier

        classifier = load_shapes_classifier(device)
        return FeatureSpace(SHAPES, "fd_shapes", "_shapes", lambda images: _classify(images, classifier, device))
    from .inception import CONVENTIONS, DEFAULT_CONVENTION, find_weights, inception_features, load_inception

    network = load_inception(find_weights(inception_weights, download), device)
    weights = network.weights_file
    tag = f"inception {weights.resolve()} {weights.stat().st_size} {DEFAULT_CONVENTION} fp32"
    return FeatureSpace(INCEPTION, "fid", "", lambda images: (inception_features(
        network, images, device, progress=progress).numpy(), None), tag,
        f"Inception-v3 2015-12-05 ({weights.name}), {CONVENTIONS[DEFAULT_CONVENTION]}")


@torch.no_grad()
def _classify(images: torch.Tensor, classifier, device, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    features, probabilities = [], []
    for chunk in images.split(batch):
        f, logits = classifier(chunk.to(device))
        features.append(f.cpu())
        probabilities.append(logits.softmax(1).cpu())
    return torch.cat(features).numpy(), torch.cat(probabilities).numpy()
