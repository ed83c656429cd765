"""Building a run's parts from its config: the device, the networks with the remedies that change them, and the
GAN (optimizers, objective, penalties, what D sees), each choice validated here, once."""
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..config import Config
from ..errors import GanforgeError
from ..nets.registry import Family, family_of
from ..nets.layers import with_spectral_norm, without_batch_norm
from .augment import DInput
from .distributed import World, synchronize_batch_norm
from .ema import GeneratorEMA
from .objectives import make_objective
from .optim import KerasAdam
from .penalties import R1, R2, GradientPenalty
from .procedure import GAN, paired_iteration, seed_iteration

PROCEDURES = {"seed": seed_iteration, "paired": paired_iteration}


def resolve_device(name: str, world: World = World()) -> torch.device:
    if name == "auto" or (name == "cuda" and world.size > 1):
        return torch.device(f"cuda:{world.local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GanforgeError(f"device {name!r} asked for, but PyTorch sees no CUDA GPU here (use --device cpu)")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise GanforgeError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from exc


def family(config: Config, toy2d: bool = False) -> Family:
    try:
        return family_of(config, toy2d)
    except ValueError as exc:
        raise GanforgeError(str(exc)) from exc


def build_generator(config: Config, toy2d: bool = False) -> nn.Module:
    """G with the remedies that change it: BatchNorm dropped, spectral norm. `toy2d`: PacGAN's MLP of 2-D points."""
    generator = family(config, toy2d).generator(config)
    if not config.remedies.g_batch_norm:
        generator = without_batch_norm(generator)
    return with_spectral_norm(generator) if choose(SPECTRAL_NORM, config.remedies.spectral_norm, "remedies.spectral_norm")[1] else generator


def build_discriminator(config: Config, toy2d: bool = False) -> nn.Module:
    discriminator = family(config, toy2d).discriminator(config)
    return with_spectral_norm(discriminator) if choose(SPECTRAL_NORM, config.remedies.spectral_norm, "remedies.spectral_norm")[0] else discriminator


BN_MODES = {"inference": False, "training": True}
AMP = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16, "auto": None}  # autocast's dtype; auto: see below
SPECTRAL_NORM = {"none": (False, False), "d": (True, False), "both": (True, True)}  # (on D, on G)


def autocast_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """train.amp's dtype; "auto" is bf16 where the hardware computes it natively (emulated bf16 is slower than fp32)."""
    dtype = choose(AMP, setting, "train.amp")
    if setting == "auto":
        native = torch.cuda.is_bf16_supported() if device.type == "cuda" else torch.ops.mkldnn._is_mkldnn_bf16_supported()
        dtype = torch.bfloat16 if native else None
    return dtype


def choose(table: dict, value: str, setting: str):
    if value not in table:
        raise GanforgeError(f"{setting} = {value!r} is not one of: {', '.join(table)}")
    return table[value]


def check_remedies(config: Config) -> None:
    r, t = config.remedies, config.train
    if r.pack < 1 or r.d_steps < 1 or r.minibatch_std < 0:
        raise GanforgeError("remedies.pack and remedies.d_steps must be >= 1, remedies.minibatch_std >= 0")
    for name, group in (("remedies.pack", r.pack), ("remedies.minibatch_std", r.minibatch_std)):
        if group > 1 and t.batch_size % group:
            raise GanforgeError(f"{name} = {group} needs a batch size that is a multiple of it, not {t.batch_size}")


def check_choices(config: Config) -> None:
    """Every named choice and remedy setting, checked before any data is decoded: a typo in --set fails in a
    second, with the setting's name and its choices, not after a folder of images has been read."""
    t, r = config.train, config.remedies
    family(config)
    counts = {"train.batch_size": t.batch_size, "train.log_every": t.log_every, "train.best_samples": t.best_samples,
              "train.keep_checkpoints": t.keep_checkpoints, "model.latent_dim": config.model.latent_dim}
    at_least_zero = {"train.iterations": t.iterations, "train.sample_every": t.sample_every, "train.checkpoint_every": t.checkpoint_every,
                     "train.best_every": t.best_every, "train.diagnose_every": t.diagnose_every, "train.max_rollbacks": t.max_rollbacks,
                     "train.max_minutes": t.max_minutes, "optim.lr_decay": config.optim.lr_decay}
    for setting, value in counts.items():
        if value < 1:
            raise GanforgeError(f"{setting} must be at least 1, not {value}")
    for setting, value in at_least_zero.items():
        if value < 0:
            raise GanforgeError(f"{setting} must not be negative, not {value}")
    if config.optim.lr_d <= 0 or config.optim.lr_g <= 0:
        raise GanforgeError(f"the learning rates must be positive, not lr_d {config.optim.lr_d} and lr_g {config.optim.lr_g}")
    for table, value, setting in ((PROCEDURES, t.procedure, "train.procedure"), (AMP, t.amp, "train.amp"),
                                  (BN_MODES, t.fakes_g_mode, "train.fakes_g_mode"), (BN_MODES, t.frozen_d_mode, "train.frozen_d_mode"),
                                  (SPECTRAL_NORM, r.spectral_norm, "remedies.spectral_norm")):
        choose(table, value, setting)
    check_remedies(config)
    try:
        make_objective(t.loss, r.label_smoothing, t.procedure)
        DInput(r.diffaugment, r.instance_noise, r.instance_noise_anneal)
        penalties(config)
    except ValueError as exc:
        raise GanforgeError(str(exc)) from exc


def penalties(config: Config) -> list:
    r = config.remedies
    return (([R1(r.r1_gamma, r.r1_interval)] if r.r1_gamma else []) + ([R2(r.r2_gamma, r.r1_interval)] if r.r2_gamma else [])
            + ([GradientPenalty(r.gp_weight)] if r.gp_weight else []))


def assemble_gan(config: Config, generator: nn.Module, discriminator: nn.Module, lr_g: float, lr_d: float, beta1: float) -> GAN:
    """Optimizers, the preset's variants and the remedies around two networks, chosen here, once."""
    t, o, r = config.train, config.optim, config.remedies
    choose(PROCEDURES, t.procedure, "train.procedure")
    check_remedies(config)
    # fp16's narrow exponent range needs loss scaling (bf16's does not); a disabled scaler is the identity.
    loss_scaling = choose(AMP, t.amp, "train.amp") is torch.float16
    device = next(generator.parameters()).device.type
    try:
        return GAN(
            generator,
            discriminator,
            opt_g=KerasAdam(generator.parameters(), lr=lr_g, beta1=beta1, beta2=o.beta2, eps=o.eps),
            opt_d=KerasAdam(discriminator.parameters(), lr=lr_d, beta1=beta1, beta2=o.beta2, eps=o.eps),
            objective=make_objective(t.loss, r.label_smoothing, t.procedure),
            fakes_g_training=choose(BN_MODES, t.fakes_g_mode, "train.fakes_g_mode"),
            frozen_d_training=choose(BN_MODES, t.frozen_d_mode, "train.frozen_d_mode"),
            d_input=DInput(r.diffaugment, r.instance_noise, r.instance_noise_anneal),
            penalties=penalties(config),
            d_steps=r.d_steps,
            ema=GeneratorEMA(generator, r.ema_half_life, t.batch_size),
            scaler_d=torch.amp.GradScaler(device, enabled=loss_scaling),
            scaler_g=torch.amp.GradScaler(device, enabled=loss_scaling),
        )
    except ValueError as exc:
        raise GanforgeError(str(exc)) from exc


def build_gan(config: Config, device: torch.device, toy2d: bool = False) -> GAN:
    """The networks of the config's family (PacGAN's MLPs with `toy2d`), their remedies and the GAN around them."""
    torch.manual_seed(config.train.seed)  # weight initialisation is part of the run's seed
    # Channels-last: oneDNN's and cuDNN's fast layout for convolutions (1.2x per seed iteration on this CPU).
    generator = build_generator(config, toy2d).to(device, memory_format=torch.channels_last)
    discriminator = build_discriminator(config, toy2d).to(device, memory_format=torch.channels_last)
    o = config.optim
    return assemble_gan(config, generator, discriminator, o.lr_g, o.lr_d, o.beta1)


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
    gan.generator, gan.discriminator = world.wrap(gan.generator, device), world.wrap(gan.discriminator, device)
