"""Nearest-neighbour metrics of sample fidelity and diversity.

Improved precision and recall (Kynkäänniemi et al. 2019): each real sample gets a ball reaching its
k-th nearest real neighbour; precision is the fraction of fakes inside some real ball; recall swaps the
roles. Density and coverage (Naeem et al. 2020) use the real balls only: density counts, per fake, how
many real balls hold it (divided by k); coverage is the fraction of real balls holding at least one fake.
Inside means strictly closer than the radius, as in the authors' code.
"""
import numpy as np
import torch


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return torch.cdist(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)).numpy()


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each sample to its k-th nearest neighbour in the same set (itself excluded)."""
    if len(features) <= k:
        raise ValueError(f"need more than k={k} samples, got {len(features)}")
    return np.partition(_distances(features, features), k, axis=1)[:, k]  # column 0 is the sample itself


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    real_to_fake = _distances(real, fake)  # (N_real, N_fake)
    precision = (real_to_fake < knn_radii(real, k)[:, None]).any(axis=0).mean()
    recall = (real_to_fake < knn_radii(fake, k)[None, :]).any(axis=1).mean()
    return float(precision), float(recall)


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    inside = _distances(real, fake) < knn_radii(real, k)[:, None]  # (N_real, N_fake)
    density = inside.sum() / (k * fake.shape[0])
    coverage = inside.any(axis=1).mean()
    return float(density), float(coverage)
