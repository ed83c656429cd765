"""Mode coverage with ground truth, by the Stacked-MNIST protocol (Metz et al. 2017; Lin et al. 2018).

Each generated sample is assigned a mode by a classifier (or, on toy data, by its nearest mean). A
sample is high quality when the classifier is confident enough (on toy data: close enough); the bar is
set so that at least 98% of real samples pass. Reported: modes covered (at least one high-quality
sample), the fraction of high-quality samples, and the reverse KL divergence sum_m p(m) log(p(m) / q(m))
from the generated mode histogram p (all samples) to the uniform q.
"""
from dataclasses import asdict, dataclass

import numpy as np

REAL_PASS_FRACTION = 0.98


@dataclass(frozen=True)
class ModeCoverage:
    modes_covered: int
    num_modes: int
    high_quality: float  # fraction of samples that pass the quality bar
    reverse_kl: float  # nats; 0 for a perfectly uniform mode histogram

    def as_dict(self) -> dict:
        return asdict(self)


def confidence_threshold(real_confidences: np.ndarray, pass_fraction: float = REAL_PASS_FRACTION) -> float:
    """The largest bar that at least `pass_fraction` of real samples still clear."""
    return float(np.quantile(np.asarray(real_confidences), 1.0 - pass_fraction, method="lower"))


def reverse_kl_to_uniform(modes: np.ndarray, num_modes: int) -> float:
    p = np.bincount(np.asarray(modes), minlength=num_modes) / len(modes)
    p = p[p > 0]
    return float(np.sum(p * np.log(p * num_modes)))


def mode_coverage(modes: np.ndarray, high_quality: np.ndarray, num_modes: int) -> ModeCoverage:
    """modes: (N,) assigned mode of each sample; high_quality: (N,) bool."""
    modes, high_quality = np.asarray(modes), np.asarray(high_quality, dtype=bool)
    covered = len(np.unique(modes[high_quality]))
    return ModeCoverage(covered, num_modes, float(high_quality.mean()), reverse_kl_to_uniform(modes, num_modes))


def shape_breakdown(modes: np.ndarray, high_quality: np.ndarray) -> dict:
    """On `shapes`, where the missing modes are: per shape, its modes covered (of its colours x backgrounds) and its
    share of all samples (1/6 each in the data). A shape G draws as blobs shows as a small share and few modes."""
    from ..data.shapes import NUM_MODES, SHAPES

    modes, high_quality = np.asarray(modes), np.asarray(high_quality, dtype=bool)
    per_shape = NUM_MODES // len(SHAPES)  # modes are numbered shape-major (data.shapes.mode_of)
    shape = modes // per_shape
    return {
        "shape_modes_covered": {name: len(np.unique(modes[high_quality & (shape == i)])) for i, name in enumerate(SHAPES)},
        "shape_share": {name: float(np.mean(shape == i)) for i, name in enumerate(SHAPES)},
    }
