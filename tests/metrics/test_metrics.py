"""Metrics against independent references: closed forms, direct O(n^2) sums, point sets with known answers."""
import itertools
import math

import numpy as np
import pytest

from ganforge.metrics import (
    density_coverage,
    frechet_distance,
    frechet_distance_from_features,
    kernel_inception_distance,
    precision_recall,
)
from ganforge.metrics.kid import mmd2_unbiased


def test_frechet_distance_closed_form_for_commuting_covariances():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # = 5 + 1 + 0 + 4
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_closed_form_for_non_commuting_2x2():
    s1 = np.array([[2.0, 0.5], [0.5, 1.0]])
    s2 = np.array([[1.0, -0.3], [-0.3, 3.0]])
    product = s1 @ s2  # tr sqrt(P) = sqrt(tr P + 2 sqrt(det P)) for a 2x2 P with positive eigenvalues
    trace_sqrt = math.sqrt(np.trace(product) + 2 * math.sqrt(np.linalg.det(product)))
    expected = 0.25 + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    assert frechet_distance([0.5, 0], s1, [0, 0], s2) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_samples_approaches_the_gaussians():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (200_000, 2))
    y = rng.normal(0, 2, (200_000, 2)) + [3, 0]
    assert frechet_distance_from_features(x, y) == pytest.approx(9 + 2 * (2 - 1) ** 2, rel=0.01)


def test_frechet_distance_stays_real_and_finite_on_near_singular_covariances():
    rng = np.random.default_rng(1)
    low_rank = rng.normal(size=(100, 5)) @ rng.normal(size=(5, 256))  # rank 5 in 256 dimensions
    other = rng.normal(size=(100, 5)) @ rng.normal(size=(5, 256)) * 1e-6
    for a, b in ((low_rank, low_rank), (low_rank, other), (other, other)):
        value = frechet_distance_from_features(a, b)
        assert np.isfinite(value) and isinstance(value, float)
    assert frechet_distance_from_features(low_rank, low_rank) == pytest.approx(0, abs=1e-6 * np.trace(np.cov(low_rank.T)))


def _direct_mmd2(x, y):
    """The unbiased estimator written as sums over pairs: an O(n^2) reference."""
    k = lambda a, b: (np.dot(a, b) / len(a) + 1) ** 3  # noqa: E731
    m = len(x)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_a_direct_pairwise_computation():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(12, 4)), rng.normal(0.5, 1.5, size=(12, 4))
    assert mmd2_unbiased(x, y) == pytest.approx(_direct_mmd2(x, y), rel=1e-10)
    mean, std = kernel_inception_distance(x, y, subsets=1, subset_size=12)
    assert mean == pytest.approx(_direct_mmd2(x, y), rel=1e-10) and std == 0.0
    # subsets: the mean of the direct values over the same subsets
    rng_subsets = np.random.default_rng(7)
    expected = np.mean([_direct_mmd2(x[rng_subsets.choice(12, 6, replace=False)], y[rng_subsets.choice(12, 6, replace=False)]) for _ in range(5)])
    assert kernel_inception_distance(x, y, subsets=5, subset_size=6, seed=7)[0] == pytest.approx(expected, rel=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(3)
    same = kernel_inception_distance(rng.normal(size=(500, 8)), rng.normal(size=(500, 8)), subsets=20, subset_size=200)[0]
    different = kernel_inception_distance(rng.normal(size=(500, 8)), rng.normal(1, 1, size=(500, 8)), subsets=20, subset_size=200)[0]
    assert abs(same) < 0.02 and different > 0.5


def test_precision_recall_density_coverage_on_a_known_point_set():
    real = np.arange(10, dtype=float)[:, None]  # 0, 1, ..., 9: every nearest-neighbour radius (k=1) is 1
    fake = np.array([[0.0], [100.0]])
    precision, recall = precision_recall(real, fake, k=1)
    assert precision == 0.5  # 0 lies in real 0's ball; 100 in none
    assert recall == 1.0  # the fakes' own radius is 100: each fake ball holds every real point
    density, coverage = density_coverage(real, fake, k=1)
    assert coverage == 0.1  # only real 0's ball (radius 1, strict) holds a fake; real 1 is at distance exactly 1
    assert density == 0.5  # one (real ball, fake) pair, divided by k * number of fakes


def test_identical_sets_score_perfectly_and_far_sets_score_zero():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(300, 3))
    assert precision_recall(real, real + 1e-9) == (1.0, 1.0)
    density, coverage = density_coverage(real, real + 1e-9)
    assert coverage == 1.0 and density == pytest.approx(1.0, abs=0.1)
    assert precision_recall(real, real + 100) == (0.0, 0.0)
    assert density_coverage(real, real + 100) == (0.0, 0.0)


def test_mode_dropping_lowers_recall_and_coverage_but_not_precision():
    rng = np.random.default_rng(5)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    real = np.concatenate([c + rng.normal(size=(200, 2)) for c in centres])
    half = np.concatenate([c + rng.normal(size=(400, 2)) for c in centres[:2]])  # two of four modes
    precision, recall = precision_recall(real, half)
    density, coverage = density_coverage(real, half)
    assert precision > 0.9 and 0.4 < recall < 0.6 and 0.4 < coverage < 0.6


def test_mode_coverage_and_reverse_kl_on_known_histograms():
    from ganforge.metrics.modes import confidence_threshold, mode_coverage, reverse_kl_to_uniform

    uniform = np.repeat(np.arange(10), 5)
    assert reverse_kl_to_uniform(uniform, 10) == pytest.approx(0.0, abs=1e-12)
    collapsed = np.zeros(50, dtype=int)  # everything in one mode: KL = log(10)
    assert reverse_kl_to_uniform(collapsed, 10) == pytest.approx(math.log(10))
    half = np.repeat(np.arange(5), 10)  # five of ten modes, evenly: KL = log 2
    assert reverse_kl_to_uniform(half, 10) == pytest.approx(math.log(2))
    quality = np.ones(50, dtype=bool)
    quality[half == 4] = False  # mode 4 has no high-quality sample: not covered
    result = mode_coverage(half, quality, 10)
    assert result.modes_covered == 4 and result.high_quality == pytest.approx(0.8)
    confidences = np.linspace(0, 1, 101)
    bar = confidence_threshold(confidences)
    assert (confidences >= bar).mean() >= 0.98 and (confidences > bar).mean() < 0.98


def test_the_shape_breakdown_counts_each_shapes_modes_and_share():
    from ganforge.data.shapes import SHAPES, mode_of
    from ganforge.metrics.modes import shape_breakdown

    # 3 circle modes (one of them only low quality), 1 diamond mode twice, nothing else: hand-counted
    modes = np.array([mode_of(0, 0, 0), mode_of(0, 1, 2), mode_of(0, 4, 3), mode_of(3, 2, 1), mode_of(3, 2, 1)])
    quality = np.array([True, True, False, True, False])
    result = shape_breakdown(modes, quality)
    assert result["shape_modes_covered"] == {**dict.fromkeys(SHAPES, 0), "circle": 2, "diamond": 1}
    assert result["shape_share"] == {**dict.fromkeys(SHAPES, 0.0), "circle": 0.6, "diamond": 0.4}
