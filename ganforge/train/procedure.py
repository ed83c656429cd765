"""The training procedures, each written once: the seed's D-real / D-fake / G-through-frozen-D iteration, and
the paired one (D on real and fakes in one loss, then G against the same reals) that a loss judging each fake
against a real one needs (RpGAN).

Remedies enter only as the parts of `GAN` that the build chose (objective, what D sees, penalties,
D steps per G step, G's average); none of them is an `if` here, and with the defaults every one of
them is the identity, so the seed's iteration is exactly the seed's.
"""
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..nets.conditional import no_ramp_in
from .ada import AdaptiveAugmentation, FixedAugmentation
from .ema import GeneratorEMA
from .objectives import SEED_OBJECTIVE, Loss, Objective, PairedObjective, binary_accuracy

REAL, FAKE = 1.0, 0.0


def no_loss_scaling() -> torch.amp.GradScaler:
    """A disabled scaler is the identity: scale() returns the loss, step() is optimizer.step()."""
    return torch.amp.GradScaler("cpu", enabled=False)


def _unchanged(images: torch.Tensor, step: int) -> torch.Tensor:
    return images


def logits_only(discriminator: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, float]:
    """D's judgement of a batch, and no loss of D's own."""
    return discriminator(images), 0.0


@dataclass
class GAN:
    """The two networks, their optimizers, and the chosen variants: everything one iteration changes."""

    generator: nn.Module
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    objective: Objective | PairedObjective = SEED_OBJECTIVE  # paired: a PairedObjective
    fakes_g_training: bool = False  # the seed makes D's fakes with G in inference mode (G.predict)
    frozen_d_training: bool = False  # the seed's frozen D runs its BN in inference mode in G's step
    d_input: Callable[[torch.Tensor, int], torch.Tensor] = _unchanged  # augmentation / noise before D
    augment: AdaptiveAugmentation | FixedAugmentation = field(default_factory=FixedAugmentation)  # ADA's p, moved by the loop
    penalties: list = field(default_factory=list)  # (D, real, fake, step) -> loss, added to D's fake step
    g_terms: list = field(default_factory=list)  # (z, fakes) -> loss, added to G's loss (mode seeking)
    judge_reals: Callable = logits_only  # (D, reals) -> (logits, D's own loss on reals: fastgan's reconstruction)
    d_steps: int = 1  # D's real+fake steps per G step; real and z_fake hold d_steps batches
    ema: GeneratorEMA | None = None  # G's weight average, updated after G's step
    conditioning_ramp: Callable[[int], None] = no_ramp_in  # a conditional run's class weight at each step, set by the loop
    discriminator_local: nn.Module | None = None  # D itself when `discriminator` is a DDP wrapper
    # fp16 loss scaling, one scaler per network (their losses and gradients differ in scale); off otherwise
    scaler_d: torch.amp.GradScaler = field(default_factory=no_loss_scaling)
    scaler_g: torch.amp.GradScaler = field(default_factory=no_loss_scaling)

    def __post_init__(self):
        if self.ema is None:
            self.ema = GeneratorEMA(self.generator, 0, 1)  # off: its module is the live G
        if self.discriminator_local is None:
            self.discriminator_local = self.discriminator


def _backward_and_step(scaler: torch.amp.GradScaler, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
    """backward() and one optimizer step; under fp16, with the loss scaled so that small gradients do not
    flush to zero, unscaled before the step, and the step skipped when they overflowed."""
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


def _d_step(gan: GAN, images: torch.Tensor, loss_of: Loss, label: float, extra=lambda: 0.0,
            judge=logits_only) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras' d_model.train_on_batch(images, labels): D in training mode, one optimizer step."""
    logits, own_loss = judge(gan.discriminator, images)
    loss = loss_of(logits)
    gan.opt_d.zero_grad(set_to_none=True)
    _backward_and_step(gan.scaler_d, loss + own_loss + extra(), gan.opt_d)
    return loss.detach(), binary_accuracy(logits.detach(), label)


def seed_iteration(gan: GAN, real: torch.Tensor, z_fake: torch.Tensor, z_gen: torch.Tensor, step: int = 0) -> dict[str, torch.Tensor]:
    """One iteration of the seed's procedure. Three separate optimizer steps; D takes two of them (per D step).

    real: (d_steps * B, 3, H, W) in [-1, 1]; z_fake: (d_steps * B, latent) for D's fakes; z_gen: (B, latent)
    for G's step. Returns detached scalar tensors of the last D step and G's step (no host sync here).
    """
    G, D, seen_by_d = gan.generator, gan.discriminator, gan.d_input
    D_local = gan.discriminator_local  # for passes that share no weight gradient across processes
    D.train()
    for real_batch, z_batch in zip(real.chunk(gan.d_steps), z_fake.chunk(gan.d_steps)):
        # 1. D on a real batch, labels 1 (and D's own loss on reals, where its family has one).
        real_seen = seen_by_d(real_batch, step)
        d_loss_real, d_acc_real = _d_step(gan, real_seen, gan.objective.d_real, REAL, judge=gan.judge_reals)

        # 2. D on fakes, labels 0. The seed makes them with G.predict: G in inference mode, so its BN uses
        #    moving statistics while G's own step below trains it on batch statistics.
        G.train(gan.fakes_g_training)
        with torch.no_grad():
            fake_seen = seen_by_d(G(z_batch), step)
        penalties = lambda: sum(p(D_local, real_seen, fake_seen, step) for p in gan.penalties)  # noqa: E731
        d_loss_fake, d_acc_fake = _d_step(gan, fake_seen, gan.objective.d_fake, FAKE, penalties)

    # 3. G through D frozen, labels 1 (the stacked Keras model with d.trainable = False). A frozen
    #    Keras BatchNormalization also runs in inference mode, hence D.eval().
    G.train()
    D_local.train(gan.frozen_d_training)
    D_local.requires_grad_(False)  # no weight gradients for the frozen D
    fakes = G(z_gen)
    g_loss = gan.objective.g(D_local(seen_by_d(fakes, step)))
    gan.opt_g.zero_grad(set_to_none=True)
    _backward_and_step(gan.scaler_g, g_loss + sum(term(z_gen, fakes) for term in gan.g_terms), gan.opt_g)
    D_local.requires_grad_(True)
    gan.ema.update(step)

    return {
        "d_loss_real": d_loss_real,
        "d_loss_fake": d_loss_fake,
        "g_loss": g_loss.detach(),
        "d_acc_real": d_acc_real,
        "d_acc_fake": d_acc_fake,
    }


def paired_iteration(gan: GAN, real: torch.Tensor, z_fake: torch.Tensor, z_gen: torch.Tensor, step: int = 0) -> dict[str, torch.Tensor]:
    """One iteration of the paired procedure: per D step, one optimizer step on a loss of real and fake logits
    together; then G's step, its fakes judged by D (frozen) against the last real batch. Shapes as seed_iteration's.

    D's accuracy here is the share of pairs (real[i], fake[i]) it ranks right, D(real) > D(fake), reported for
    both halves: a relativistic D's logits mean nothing on their own.
    """
    G, D, seen_by_d = gan.generator, gan.discriminator, gan.d_input
    D_local = gan.discriminator_local
    D.train()
    for real_batch, z_batch in zip(real.chunk(gan.d_steps), z_fake.chunk(gan.d_steps)):
        # 1. D on a real batch and a batch of fakes, one loss, one step; the penalties (R1 on the reals, R2 on
        #    the fakes) in the same step.
        real_seen = seen_by_d(real_batch, step)
        G.train(gan.fakes_g_training)
        with torch.no_grad():
            fake_seen = seen_by_d(G(z_batch), step)
        (real_logits, own_loss), fake_logits = gan.judge_reals(D, real_seen), D(fake_seen)
        d_loss = gan.objective.d(real_logits, fake_logits)
        penalty = sum(p(D_local, real_seen, fake_seen, step) for p in gan.penalties)
        gan.opt_d.zero_grad(set_to_none=True)
        _backward_and_step(gan.scaler_d, d_loss + own_loss + penalty, gan.opt_d)

    # 2. G through D frozen: its fakes against the reals D last saw (no gradient flows into the reals' side).
    G.train()
    D_local.train(gan.frozen_d_training)
    D_local.requires_grad_(False)
    with torch.no_grad():
        real_logits_g = D_local(real_seen)
    fakes = G(z_gen)
    g_loss = gan.objective.g(real_logits_g, D_local(seen_by_d(fakes, step)))
    gan.opt_g.zero_grad(set_to_none=True)
    _backward_and_step(gan.scaler_g, g_loss + sum(term(z_gen, fakes) for term in gan.g_terms), gan.opt_g)
    D_local.requires_grad_(True)
    gan.ema.update(step)

    ranked = (real_logits.detach() > fake_logits.detach()).to(real_logits.dtype).mean()
    return {
        "d_loss_real": d_loss.detach() / 2,  # the shared loss, halved so that real + fake is D's loss as with the seed's
        "d_loss_fake": d_loss.detach() / 2,
        "g_loss": g_loss.detach(),
        "d_acc_real": ranked,
        "d_acc_fake": ranked,
    }
