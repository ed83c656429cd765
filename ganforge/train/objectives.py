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


def _loss_precision(logits: torch.Tensor) -> torch.Tensor:
    """At least float32 (autocast's half-precision logits are promoted), float64 kept for the parity tests."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def logistic_bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    """The seed's loss, BCE from logits: softplus(-l) for label 1, softplus(l) for label 0, batch mean.

    The seed compiles tf.keras' BinaryCrossentropy(from_logits=False) on a Dense(1, sigmoid) output. tf.keras
    (TensorFlow's Keras 2, and Keras 3 on TensorFlow) computes it from the logits the sigmoid caches on its
    output, so it is never clipped: a D certain that a fake is fake still gives G a gradient of about -1.
    """
    logits = _loss_precision(logits)
    # -[y log sigmoid(l) + (1 - y) log(1 - sigmoid(l))], written with softplus (log1p inside) so that a tiny
    # loss keeps its relative precision: F.binary_cross_entropy_with_logits computes log(1 + e^l), which
    # returns 2.7356e-13 for 2.7334e-13 (8e-4 off) where D is certain.
    return (label * F.softplus(-logits) + (1.0 - label) * F.softplus(logits)).mean()


def keras_torch_bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    """BinaryCrossentropy(from_logits=False) as Keras 3's *torch* backend computes it: on sigmoid(logits)
    clipped to [1e-7, 1 - 1e-7], so a D that is certain (D(G(z)) < 1e-7) gives no gradient at all.

    Not the seed's maths (see logistic_bce): what the seed's code computes when run on Keras 3 with
    KERAS_BACKEND=torch. -[y log p + (1 - y) log(1 - p)], averaged over the batch.
    """
    probability = torch.sigmoid(_loss_precision(logits)).clamp(KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    # Written out rather than F.binary_cross_entropy, which autocast (mixed precision) refuses to run.
    return -(label * torch.log(probability) + (1.0 - label) * torch.log1p(-probability)).mean()


def least_squares(logits: torch.Tensor, label: float) -> torch.Tensor:
    """LSGAN (Mao et al. 2017, the a=0, b=c=1 coding): 1/2 (D(x) - label)^2 on D's raw output."""
    return 0.5 * (_loss_precision(logits) - label).pow(2).mean()


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


@dataclass(frozen=True)
class PairedObjective:
    """An objective on real and fake logits together, for the paired procedure (D on both, then G)."""

    d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # D's loss from (real_logits, fake_logits)
    g: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # G's loss from (real_logits, fake_logits)


def relativistic_pairing() -> PairedObjective:
    """RpGAN (Jolicoeur-Martineau 2019; R3GAN's loss): each fake is judged against a real one, not against a fixed
    threshold. D: E softplus(D(fake) - D(real)) = -E log sigmoid(D(real) - D(fake)); G: the mirror image,
    E softplus(D(real) - D(fake)). Pair i is real[i] with fake[i]; adding a constant to D changes neither loss,
    so D's raw logits have no absolute meaning (its accuracy is the share of pairs it ranks right)."""
    return PairedObjective(d=lambda real, fake: F.softplus(_loss_precision(fake) - _loss_precision(real)).mean(),
                           g=lambda real, fake: F.softplus(_loss_precision(real) - _loss_precision(fake)).mean())


def paired(objective: "Objective") -> PairedObjective:
    """A per-batch objective in the paired procedure: D's loss is its real and fake losses summed."""
    return PairedObjective(d=lambda real, fake: objective.d_real(real) + objective.d_fake(fake), g=lambda real, fake: objective.g(fake))


LABELLED = {"logistic": logistic_bce, "keras_torch_bce": keras_torch_bce, "lsgan": least_squares}
UNLABELLED = {"hinge": _hinge, "wgan": _wasserstein}
PAIRED = {"rpgan": relativistic_pairing}  # losses of real and fake together: train.procedure = paired only
OBJECTIVE_NAMES = [*LABELLED, *UNLABELLED, *PAIRED]


def make_objective(name: str, label_smoothing: float = 0.0, procedure: str = "seed") -> Objective | PairedObjective:
    """The named objective for `procedure` (the paired one takes every loss; the seed's three separate steps
    cannot take a loss that pairs real with fake); one-sided label smoothing moves D's real label to 1 - label_smoothing."""
    if procedure == "paired":
        if name in PAIRED:
            if label_smoothing:
                raise ValueError(f"label smoothing needs a loss with labels ({', '.join(LABELLED)}), not {name!r}")
            return PAIRED[name]()
        return paired(make_objective(name, label_smoothing))
    if name in PAIRED:
        raise ValueError(f"train.loss = {name!r} judges real and fake together: it needs train.procedure = 'paired', "
                         f"not {procedure!r}")
    if name in LABELLED:
        return _labelled(LABELLED[name], 1.0 - label_smoothing)
    if name in UNLABELLED:
        if label_smoothing:
            raise ValueError(f"label smoothing needs a loss with labels ({', '.join(LABELLED)}), not {name!r}")
        return UNLABELLED[name]()
    raise ValueError(f"train.loss = {name!r} is not one of: {', '.join(OBJECTIVE_NAMES)}")


SEED_OBJECTIVE = make_objective("logistic")
