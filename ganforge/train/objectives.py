"""Objectives: pure functions of D's logits. Each returns a scalar loss to minimise.

Sign convention: D wants real -> 1, fake -> 0; G wants D(G(z)) -> 1 ("fake labels are real for the
generator cost", the non-saturating trick the seed uses by training the stack G + D on labels 1).
"""
import torch
import torch.nn.functional as F

KERAS_EPSILON = 1e-7  # keras.backend.epsilon()


def keras_bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    """The seed's loss: Keras BinaryCrossentropy(from_logits=False) on sigmoid(logits).

    Keras clips the probability to [1e-7, 1 - 1e-7] before the logs, so a saturated D gets no
    gradient at all: part of the seed's instability, kept here on purpose for fidelity.
    -[y log p + (1 - y) log(1 - p)], averaged over the batch.
    """
    probability = torch.sigmoid(logits).clamp(KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    return F.binary_cross_entropy(probability, torch.full_like(probability, label))


def binary_accuracy(logits: torch.Tensor, label: float) -> torch.Tensor:
    """Keras' binary accuracy: the fraction of D(x) > 0.5 that agrees with the label."""
    predicted = (logits > 0).to(logits.dtype)  # sigmoid(l) > 0.5  <=>  l > 0
    return (predicted == label).to(logits.dtype).mean()


def logistic_bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    """BCE computed from logits, never saturating to a zero gradient: softplus(-l) for 1, softplus(l) for 0."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


OBJECTIVES = {"keras_bce": keras_bce, "logistic": logistic_bce}
