"""Objectives: pure functions of D's logits, grouped per objective as D's loss on real, D's loss on fakes
and G's loss. Each returns a scalar to minimise.

Sign convention: D wants real -> 1 (high logits), fake -> 0 (low logits); G wants its fakes scored as
real ("fake labels are real for the generator cost", the non-saturating trick the seed uses by
training the stack G + D on labels 1).
"""
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

KERAS_EPSILON = 1e-7  # keras.backend.epsilon()

Loss = Callable[[torch.Tensor], torch.Tensor]


def keras_bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    """The seed's loss: Keras BinaryCrossentropy(from_logits=False) on sigmoid(logits).

    Keras clips the probability to [1e-7, 1 - 1e-7] before the logs, so a saturated D gets no
    gradient at all: part of the seed's instability, kept here on purpose for fidelity.
    -[y log p + (1 - y) log(1 - p)], averaged over the batch.
    """
    probability = torch.sigmoid(logits.float()).clamp(KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    # Written out rather than F.binary_cross_entropy, which autocast (mixed precision) refuses to run.
    return -(label * torch.log(probability) + (1.0 - label) * torch.log1p(-probability)).mean()


def logistic_bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    """BCE computed from logits, never saturating to a zero gradient: softplus(-l) for 1, softplus(l) for 0."""
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits, label, dtype=torch.float32))


def least_squares(logits: torch.Tensor, label: float) -> torch.Tensor:
    """LSGAN (Mao et al. 2017, the a=0, b=c=1 coding): 1/2 (D(x) - label)^2 on D's raw output."""
    return 0.5 * (logits.float() - label).pow(2).mean()


def binary_accuracy(logits: torch.Tensor, label: float) -> torch.Tensor:
    """Keras' binary accuracy: the fraction of D(x) > 0.5 that agrees with the label (logit > 0 for hinge/wgan)."""
    predicted = (logits > 0).to(logits.dtype)  # sigmoid(l) > 0.5  <=>  l > 0
    return (predicted == (label >= 0.5)).to(logits.dtype).mean()


@dataclass(frozen=True)
class Objective:
    d_real: Loss  # D's loss on a real batch
    d_fake: Loss  # D's loss on a batch of fakes
    g: Loss  # G's loss on D's logits for its fakes


def _labelled(loss: Callable[[torch.Tensor, float], torch.Tensor], real_label: float) -> Objective:
    return Objective(d_real=lambda l: loss(l, real_label), d_fake=lambda l: loss(l, 0.0), g=lambda l: loss(l, 1.0))


def _hinge() -> Objective:
    """Lim & Ye 2017 / Miyato et al. 2018: D maximises the margin, G raises D's score of its fakes."""
    return Objective(d_real=lambda l: F.relu(1 - l).mean(), d_fake=lambda l: F.relu(1 + l).mean(), g=lambda l: -l.mean())


def _wasserstein() -> Objective:
    """WGAN's critic (Arjovsky et al. 2017); pair it with remedies.gp_weight for WGAN-GP."""
    return Objective(d_real=lambda l: -l.mean(), d_fake=lambda l: l.mean(), g=lambda l: -l.mean())


LABELLED = {"keras_bce": keras_bce, "logistic": logistic_bce, "lsgan": least_squares}
UNLABELLED = {"hinge": _hinge, "wgan": _wasserstein}
OBJECTIVE_NAMES = [*LABELLED, *UNLABELLED]


def make_objective(name: str, label_smoothing: float = 0.0) -> Objective:
    """The named objective; one-sided label smoothing moves D's real label to 1 - label_smoothing."""
    if name in LABELLED:
        return _labelled(LABELLED[name], 1.0 - label_smoothing)
    if name in UNLABELLED:
        if label_smoothing:
            raise ValueError(f"label smoothing needs a loss with labels ({', '.join(LABELLED)}), not {name!r}")
        return UNLABELLED[name]()
    raise ValueError(f"train.loss = {name!r} is not one of: {', '.join(OBJECTIVE_NAMES)}")


SEED_OBJECTIVE = make_objective("keras_bce")
