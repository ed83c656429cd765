"""Sample-quality metrics over feature vectors from any extractor: (N, D) arrays in, numbers out."""
from .distances import density_coverage, precision_recall
from .frechet import feature_statistics, frechet_distance, frechet_distance_from_features
from .kid import kernel_inception_distance

__all__ = [
    "density_coverage",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "kernel_inception_distance",
    "precision_recall",
]
