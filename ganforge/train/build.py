"""Building a run's parts from its config: the device, the networks with the remedies that change them, and the
GAN (optimizers, objective, penalties, what D sees), each choice validated here, once."""
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..config import Config
from ..device import resolve_device as device_named
from ..errors import GanforgeError
from ..nets.conditional import ConditioningRampIn, no_ramp_in
from ..nets.registry import build_discriminator, build_generator, family_of
from .ada import AdaptiveAugmentation, FixedAugmentation
from .augment import DInput
from .distributed import World, synchronize_batch_norm
from .ema import GeneratorEMA
from .objectives import make_objective
from .mode_seeking import ModeSeeking
from .optim import KerasAdam
from .penalties import R1, R2, GradientPenalty
from .procedure import GAN, logits_only, paired_iteration, seed_iteration

PROCEDURES = {"seed": seed_iteration, "paired": paired_iteration}


def resolve_device(name: str, world: World = World()) -> torch.device:
    return device_named(name, world.local_rank, world.size)


AMP = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16, "auto": None}  # autocast's dtype; auto: see below
BN_MODES = {"inference": False, "training": True}


def autocast_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """train.amp's dtype; "auto" is bf16 where the hardware computes it natively (emulated bf16 is slower than fp32)."""
    if setting == "auto":
        native = torch.cuda.is_bf16_supported() if device.type == "cuda" else torch.ops.mkldnn._is_mkldnn_bf16_supported()
        return torch.bfloat16 if native else None
    return AMP[setting]


def check_choices(config: Config) -> None:
    """What the config's own checks cannot see, because it needs two settings together or a network family: checked
    before any data is decoded, so that a mismatch fails in a second, not after a folder of images has been read."""
    r, t = config.remedies, config.train
    family_of(config)
    for name, group in (("remedies.pack", r.pack), ("remedies.minibatch_std", r.minibatch_std)):
        if group > 1 and t.batch_size % group:
            raise GanforgeError(f"{name} = {group} needs a batch size that is a multiple of it, not {t.batch_size}")
    try:
        make_objective(t.loss, r.label_smoothing, t.procedure)
        augmentation(config, DInput(r.diffaugment, r.instance_noise, r.instance_noise_anneal))
        penalties(config)
    except ValueError as exc:
        raise GanforgeError(str(exc)) from exc


def r1_gamma(config: Config) -> float:
    """R1's gamma: remedies.r1_gamma, or StyleGAN2-ADA's heuristic gamma = 0.0002 x resolution^2 / batch (its
    train.py, cfg auto), which scales the penalty with the number of pixels each image's gradient spans."""
    if config.remedies.r1_heuristic:
        return 0.0002 * config.model.resolution ** 2 / config.train.batch_size
    return config.remedies.r1_gamma


def penalties(config: Config) -> list:
    r, gamma = config.remedies, r1_gamma(config)
    return (([R1(gamma, r.lazy_interval)] if gamma else []) + ([R2(r.r2_gamma, r.lazy_interval)] if r.r2_gamma else [])
            + ([GradientPenalty(r.gp_weight)] if r.gp_weight else []))


def judge_reals(config: Config):
    family = family_of(config)
    return family.judge_reals(config) if family.judge_reals else None


def augmentation(config: Config, d_input: DInput, processes: int = 1) -> AdaptiveAugmentation | FixedAugmentation:
    """ADA's controller over D's augmentations where remedies.ada_target is set; otherwise they apply always."""
    r = config.remedies
    if not r.ada_target:
        return FixedAugmentation()
    return AdaptiveAugmentation(d_input, r.ada_target, r.ada_interval, r.ada_kimg * 1000, config.train.batch_size * processes)


def assemble_gan(config: Config, generator: nn.Module, discriminator: nn.Module, lr_g: float, lr_d: float, beta1: float,
                 processes: int = 1) -> GAN:
    """Optimizers, the preset's variants and the remedies around two networks, chosen here, once."""
    t, o, r = config.train, config.optim, config.remedies
    check_choices(config)
    # fp16's narrow exponent range needs loss scaling (bf16's does not); a disabled scaler is the identity.
    loss_scaling = t.amp == "fp16"
    device = next(generator.parameters()).device.type
    try:
        d_input = DInput(r.diffaugment, r.instance_noise, r.instance_noise_anneal)
        return GAN(
            generator,
            discriminator,
            opt_g=KerasAdam(generator.parameters(), lr=lr_g, beta1=beta1, beta2=o.beta2, eps=o.eps),
            opt_d=KerasAdam(discriminator.parameters(), lr=lr_d, beta1=beta1, beta2=o.beta2, eps=o.eps),
            objective=make_objective(t.loss, r.label_smoothing, t.procedure),
            fakes_g_training=BN_MODES[t.fakes_g_mode],
            frozen_d_training=BN_MODES[t.frozen_d_mode],
            d_input=d_input,
            augment=augmentation(config, d_input, processes),
            judge_reals=judge_reals(config) or logits_only,
            penalties=penalties(config),
            g_terms=[ModeSeeking(r.mode_seeking, bool(config.model.num_classes))] if r.mode_seeking else [],
            d_steps=r.d_steps,
            ema=GeneratorEMA(generator, r.ema_half_life, t.batch_size, r.ema_rampup),
            conditioning_ramp=_conditioning_ramp(config, generator, discriminator, processes),
            scaler_d=torch.amp.GradScaler(device, enabled=loss_scaling),
            scaler_g=torch.amp.GradScaler(device, enabled=loss_scaling),
        )
    except ValueError as exc:
        raise GanforgeError(str(exc)) from exc


def _conditioning_ramp(config: Config, generator: nn.Module, discriminator: nn.Module, processes: int):
    if not config.remedies.conditioning_rampin:
        return no_ramp_in
    if not config.model.num_classes:
        raise ValueError("remedies.conditioning_rampin takes classes in over training: train with --conditional (data.conditional)")
    return ConditioningRampIn([generator, discriminator], config.remedies.conditioning_rampin * 1000, config.train.batch_size * processes)


def build_gan(config: Config, device: torch.device, processes: int = 1) -> GAN:
    """The networks of the config's family, their remedies and the GAN around them."""
    torch.manual_seed(config.train.seed)  # weight initialisation is part of the run's seed
    # Channels-last: oneDNN's and cuDNN's fast layout for convolutions (1.2x per seed iteration on this CPU).
    generator = build_generator(config).to(device, memory_format=torch.channels_last)
    discriminator = build_discriminator(config).to(device, memory_format=torch.channels_last)
    o = config.optim
    return assemble_gan(config, generator, discriminator, o.lr_g, o.lr_d, o.beta1, processes)


def local(module: nn.Module) -> nn.Module:
    """The network inside torch.compile's and DDP's wrappers: its state dict has no "_orig_mod." or "module." prefixes."""
    module = getattr(module, "_orig_mod", module)
    return module.module if isinstance(module, DistributedDataParallel) else module


def compile_networks(gan: GAN) -> None:
    """torch.compile each network (after DDP wrapping, as PyTorch recommends); D and its unwrapped self stay one
    compiled module in a single process. Parameters, buffers and optimizers are shared with the eager modules."""
    compiled = {}
    for name in ("generator", "discriminator", "discriminator_local"):
        module = getattr(gan, name)
        setattr(gan, name, compiled.setdefault(id(module), torch.compile(module)))


def distribute(gan: GAN, world: World, sync_bn: bool, device: torch.device) -> None:
    """Wrap each network in DDP (gradients averaged over processes); G's step uses D unwrapped: no D gradients."""
    if world.size == 1:
        return
    if sync_bn:
        synchronize_batch_norm(gan.generator)
        synchronize_batch_norm(gan.discriminator)
    gan.discriminator_local = gan.discriminator
    # a D with a loss of its own on reals (fastgan's decoder) leaves that part unused in its steps on fakes
    own_loss_on_reals = gan.judge_reals is not logits_only
    gan.generator = world.wrap(gan.generator, device)
    gan.discriminator = world.wrap(gan.discriminator, device, find_unused_parameters=own_loss_on_reals)
