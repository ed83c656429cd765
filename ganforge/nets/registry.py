"""Network families: a name (`model.arch`) -> a builder of (G, D) from the config.

The contract every family meets (tests/nets/test_families.py checks it for each one):
- G(z) takes z of shape (B, latent_dim) and returns images (B, 3, resolution, resolution) in [-1, 1];
  G has `latent_dim` and `resolution` attributes.
- D(images) returns logits (B / pack, 1); D has a `resolution` attribute.
- `remedies`: which of the network-changing remedies (pack, minibatch_std, spectral_norm, g_batch_norm) the
  family takes; a config that asks another one of it is one clear error when the run is built.
- `judge_reals`: where D learns something of its own from reals (fastgan's decoder), (config) -> a function
  (D, reals) -> (logits, that loss), which D's step on reals calls in place of D(reals); None for the others.
- `batch_norm`: the normalization layer types it uses (EMA recalibrates any BatchNorm; SyncBN under torchrun takes
  KerasBatchNorm and refuses the others by name).
A new family is one module in nets/ and one entry in FAMILIES. toy2d, PacGAN's MLPs for the 2-D benchmark, is an entry
like the others whose networks make points, not images (`images=False`).

build_generator and build_discriminator are the one place networks are built from a config: training, sampling,
export and the Keras import all call them.
"""
from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..errors import GanforgeError
from .conditional import ConditionalGenerator, ProjectionDiscriminator
from .fastgan import FastGANDiscriminator, FastGANGenerator
from .dcgan import DCGANDiscriminator, DCGANGenerator, stage_widths as dcgan_widths
from .layers import KerasBatchNorm, with_spectral_norm, without_batch_norm
from .r3 import R3Discriminator, R3Generator, stage_widths
from .seed import SeedDiscriminator, SeedGenerator, discriminator_widths, generator_widths
from .toy import ToyDiscriminator, ToyGenerator

NETWORK_REMEDIES = {  # setting -> its value when off
    "pack": 1,
    "minibatch_std": 0,
    "spectral_norm": "none",
    "g_batch_norm": True,
}


@dataclass(frozen=True)
class Family:
    generator: Callable[..., nn.Module]  # (config) -> G
    discriminator: Callable[..., nn.Module]  # (config) -> D, with the remedies that change its shape
    check: Callable  # (config) -> None; raises ValueError on sizes the family cannot build
    remedies: frozenset  # the NETWORK_REMEDIES it takes
    batch_norm: tuple = ()  # its normalization layer types
    images: bool = True  # its G makes images (B, 3, R, R); toy2d's makes 2-D points
    judge_reals: Callable | None = None  # (config) -> (D, reals) -> (logits, D's own loss on reals), or None


def _reconstructing(config):
    weight = config.model.fastgan.reconstruction

    def judge(discriminator, reals):
        logits, error = discriminator(reals, reconstruct=True)
        return logits, weight * error
    return judge if weight else None


def d_width(config) -> int:
    """D's width in the seed, dcgan and fastgan families: model.d_width, or model.width when it is 0."""
    return config.model.d_width or config.model.width


def _seed_check(config) -> None:
    generator_widths(config.model.resolution, config.model.width)
    discriminator_widths(config.model.resolution, d_width(config))


def _r3_sizes(config) -> dict:
    r3 = config.model.r3
    return dict(width=r3.width, blocks=r3.blocks, expansion=r3.expansion, group_channels=r3.group_channels, shuffle=r3.shuffle)


def _r3_check(config) -> None:
    r3 = config.model.r3
    if config.model.d_width:
        raise ValueError("model.d_width is for the seed and dcgan families; r3 sizes both networks with model.r3.width")
    stage_widths(config.model.resolution, r3.width)
    if (r3.width * r3.expansion) % r3.group_channels:
        raise ValueError(f"model.r3.group_channels {r3.group_channels} must divide width x expansion "
                         f"({r3.width} x {r3.expansion} = {r3.width * r3.expansion})")


def _dcgan_check(config) -> None:
    dcgan_widths(config.model.resolution, config.model.width)
    dcgan_widths(config.model.resolution, d_width(config))


FAMILIES = {
    "seed": Family(
        generator=lambda c: SeedGenerator(c.model.latent_dim, c.model.resolution, c.model.width, c.model.seed.bn_momentum,
                                          c.model.seed.double_bn),
        discriminator=lambda c: SeedDiscriminator(c.model.resolution, pack=c.remedies.pack, minibatch_std=c.remedies.minibatch_std,
                                                  width=d_width(c), bn_momentum=c.model.seed.bn_momentum,
                                                  dense_head=c.model.seed.dense_head),
        check=_seed_check,
        remedies=frozenset(NETWORK_REMEDIES),
        batch_norm=(KerasBatchNorm,),
    ),  # the seed's DCGAN-style pair (5x5 convolutions, Keras BatchNorm, dense heads); model.width scales it, model.seed.*
    # switches the seed's own choices (the seed study)
    "dcgan": Family(
        generator=lambda c: DCGANGenerator(c.model.latent_dim, c.model.resolution, c.model.width, c.model.dcgan.upsample,
                                           c.model.dcgan.full_res_channels),
        discriminator=lambda c: DCGANDiscriminator(c.model.resolution, pack=c.remedies.pack, minibatch_std=c.remedies.minibatch_std,
                                                   width=d_width(c)),
        check=_dcgan_check,
        remedies=frozenset(NETWORK_REMEDIES),
        batch_norm=(KerasBatchNorm,),
    ),  # Radford et al.'s DCGAN: strided 4x4 (transposed) convolutions all the way, BatchNorm, no dense layer; model.width is ngf
    "fastgan": Family(
        generator=lambda c: FastGANGenerator(c.model.latent_dim, c.model.resolution, c.model.width),
        discriminator=lambda c: FastGANDiscriminator(c.model.resolution, minibatch_std=c.remedies.minibatch_std, width=d_width(c)),
        check=_dcgan_check,
        remedies=frozenset({"minibatch_std", "spectral_norm", "g_batch_norm"}),  # D's decoder reconstructs one image, not a pack
        batch_norm=(KerasBatchNorm,),
        judge_reals=_reconstructing,
    ),  # FastGAN for CPUs: G with skip-layer excitation, D with a decoder that reconstructs reals; model.fastgan.*
    "r3": Family(
        generator=lambda c: R3Generator(c.model.latent_dim, c.model.resolution, **_r3_sizes(c)),
        discriminator=lambda c: R3Discriminator(c.model.resolution, pack=c.remedies.pack, minibatch_std=c.remedies.minibatch_std,
                                                **_r3_sizes(c)),
        check=_r3_check,
        remedies=frozenset({"pack", "minibatch_std", "spectral_norm"}),  # no BatchNorm to drop
    ),  # R3GAN's minimal backbone: ResNet stages of grouped inverted bottlenecks, no normalization; model.r3.* sizes it
    "toy2d": Family(
        generator=lambda c: ToyGenerator(),
        discriminator=lambda c: ToyDiscriminator(pack=c.remedies.pack),
        check=lambda c: None,
        remedies=frozenset({"pack", "spectral_norm", "g_batch_norm"}),  # no feature maps for a minibatch std
        batch_norm=(nn.BatchNorm1d,),
        images=False,
    ),  # PacGAN's MLPs of 2-D points (`ganforge bench toy2d`, sweeps, the study's toy rows)
}

SPECTRAL_NORM = {"none": (False, False), "d": (True, False), "both": (True, True)}  # remedies.spectral_norm: (on D, on G)


def family_of(config) -> Family:
    """The config's family, its sizes and its remedies checked: a GanforgeError says what is wrong."""
    name = config.model.arch
    if name not in FAMILIES:
        raise GanforgeError(f"model.arch = {name!r} is not a network family; available: {', '.join(FAMILIES)}")
    family = FAMILIES[name]
    try:
        family.check(config)
    except ValueError as exc:
        raise GanforgeError(str(exc)) from exc
    for setting, off in NETWORK_REMEDIES.items():
        if setting not in family.remedies and getattr(config.remedies, setting) != off:
            networks = "toy2d's networks (PacGAN's MLPs)" if name == "toy2d" else f"model.arch = {name!r}"
            raise GanforgeError(f"remedies.{setting} = {getattr(config.remedies, setting)!r} is not available for {networks} "
                                f"(it takes: {', '.join(sorted(family.remedies)) or 'none of the network remedies'})")
    return family


def conditioning(config) -> str:
    """How a conditional G takes its class: model.conditioning, where "auto" is conditional BatchNorm for a G that has
    BatchNorm (on emoji by group it kept each class varied where the embedding collapsed it), the embedding otherwise."""
    how = config.model.conditioning
    if how != "auto":
        return how
    return "batchnorm" if family_of(config).batch_norm and config.remedies.g_batch_norm else "embed"


def build_generator(config) -> nn.Module:
    """G of the config's family with the remedies that change it: BatchNorm dropped, spectral norm; with
    model.num_classes, wrapped to take a class (nets/conditional.py), the family's G reading z and its class embedding."""
    classes, latent_dim, how = config.model.num_classes, config.model.latent_dim, conditioning(config)
    if classes:
        _check_conditional(config)
        if how == "embed":
            config = config.merged({"model.latent_dim": 2 * latent_dim}, "a conditional G")  # z, then the class embedding
    generator = family_of(config).generator(config)
    if not config.remedies.g_batch_norm:
        generator = without_batch_norm(generator)
    generator = with_spectral_norm(generator) if SPECTRAL_NORM[config.remedies.spectral_norm][1] else generator
    if not classes:
        return generator
    try:
        return ConditionalGenerator(generator, classes, latent_dim, how=how, norms=family_of(config).batch_norm)
    except ValueError as exc:
        raise GanforgeError(f"model.arch = {config.model.arch!r}: {exc}") from exc


def build_discriminator(config) -> nn.Module:
    """D of the config's family; with model.num_classes, with a projection of the class (nets/conditional.py)."""
    discriminator = family_of(config).discriminator(config)
    discriminator = with_spectral_norm(discriminator) if SPECTRAL_NORM[config.remedies.spectral_norm][0] else discriminator
    return ProjectionDiscriminator(discriminator, config.model.num_classes) if config.model.num_classes else discriminator


def _check_conditional(config) -> None:
    if not family_of(config).images:
        raise GanforgeError(f"model.arch = {config.model.arch!r} makes 2-D points: it has no conditional form")
    if config.remedies.pack > 1:
        raise GanforgeError(f"remedies.pack = {config.remedies.pack} judges several images as one, which a class per image "
                            "cannot label: use pack = 1 with data.conditional")
