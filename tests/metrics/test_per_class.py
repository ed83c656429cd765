"""Scores per class: intra-class FID against closed forms, and on shapes the share of samples read as the class asked."""
import numpy as np

from ganforge.metrics.evaluate import Features, conditional_accuracy, per_class_distances


def test_intra_class_fid_of_two_gaussian_classes_matches_the_closed_form():
    rng = np.random.default_rng(0)
    x0, x1 = rng.standard_normal((400, 6)), rng.standard_normal((300, 6)) + 1.0
    mu = np.array([0.5, -1.0, 0, 0, 2.0, 0])
    # class 0's samples: its reals shifted by mu, so FID = |mu|^2 exactly (same covariance);
    # class 1's: its reals doubled, so FID = |m|^2 + tr(C) (mean m -> 2m, covariance C -> 4C: tr(C + 4C - 2 * 2C) = tr(C))
    real = np.concatenate([x0, x1])
    labels = np.array([0] * 400 + [1] * 300)
    fake = np.concatenate([x0 + mu, 2 * x1])
    table = per_class_distances(real, labels, fake, labels, ["zero", "one"])
    assert abs(table["zero"]["fid"] - mu @ mu) < 1e-6
    m, c = x1.mean(0), np.cov(x1, rowvar=False)
    assert abs(table["one"]["fid"] - (m @ m + np.trace(c))) < 1e-6
    assert table["zero"]["real"] == 400 and table["one"]["samples"] == 300 and table["zero"]["kid"] > 0


def test_a_class_without_samples_gets_a_row_and_no_score():
    real, fake = np.zeros((4, 2)), np.zeros((2, 2))
    table = per_class_distances(real, np.array([0, 0, 1, 1]), fake, np.array([0, 0]), ["a", "b"])
    assert table["b"] == {"real": 2, "samples": 0}


def test_conditional_accuracy_counts_samples_read_as_the_class_asked():
    real_probabilities = np.eye(3)[[0, 1, 2, 0]] * 0.9 + 0.1 / 3  # real images read at 0.93
    fake_probabilities = np.eye(3)[[0, 1, 1, 2]] * 0.9 + 0.1 / 3
    f = Features(None, None, None, real_probabilities, fake_probabilities, 4, None)
    scores = conditional_accuracy(f, np.array([0, 1, 2, 0]))  # right, right, wrong, wrong
    assert scores == {"conditional_accuracy": 0.5, "classes_hit": 2, "classes_asked": 3}
