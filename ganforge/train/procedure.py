"""The training procedure, written once: the seed's D-real / D-fake / G-through-frozen-D iteration."""
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .objectives import binary_accuracy, keras_bce

REAL, FAKE = 1.0, 0.0


@dataclass
class GAN:
    """The two networks and their optimizers: everything one iteration changes."""

    generator: nn.Module
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: Callable[[torch.Tensor, float], torch.Tensor] = keras_bce  # of D's logits and the label
    fakes_g_training: bool = False  # the seed makes D's fakes with G in inference mode (G.predict)
    frozen_d_training: bool = False  # the seed's frozen D runs its BN in inference mode in G's step


def _d_step(gan: GAN, images: torch.Tensor, label: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras' d_model.train_on_batch(images, labels): D in training mode, one optimizer step."""
    logits = gan.discriminator(images)
    loss = gan.loss(logits, label)
    gan.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    gan.opt_d.step()
    return loss.detach(), binary_accuracy(logits.detach(), label)


def seed_iteration(gan: GAN, real: torch.Tensor, z_fake: torch.Tensor, z_gen: torch.Tensor) -> dict[str, torch.Tensor]:
    """One iteration of the seed's procedure. Three separate optimizer steps; D takes two of them.

    real: (B, 3, H, W) in [-1, 1]; z_fake: (B, latent) for D's fakes; z_gen: (B, latent) for G's step.
    Returns detached scalar tensors (no host synchronisation here).
    """
    G, D = gan.generator, gan.discriminator
    D.train()

    # 1. D on a real batch, labels 1.
    d_loss_real, d_acc_real = _d_step(gan, real, REAL)

    # 2. D on fakes, labels 0. The seed makes them with G.predict: G in inference mode, so its BN uses
    #    moving statistics while G's own step below trains it on batch statistics.
    G.train(gan.fakes_g_training)
    with torch.no_grad():
        fake = G(z_fake)
    d_loss_fake, d_acc_fake = _d_step(gan, fake, FAKE)

    # 3. G through D frozen, labels 1 (the stacked Keras model with d.trainable = False). A frozen
    #    Keras BatchNormalization also runs in inference mode, hence D.eval().
    G.train()
    D.train(gan.frozen_d_training)
    D.requires_grad_(False)  # no weight gradients for the frozen D
    g_loss = gan.loss(D(G(z_gen)), REAL)
    gan.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    gan.opt_g.step()
    D.requires_grad_(True)

    return {
        "d_loss_real": d_loss_real,
        "d_loss_fake": d_loss_fake,
        "g_loss": g_loss.detach(),
        "d_acc_real": d_acc_real,
        "d_acc_fake": d_acc_fake,
    }
