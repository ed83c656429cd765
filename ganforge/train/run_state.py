"""A run's state in a checkpoint: what resuming needs, written and read back, and the check that a resumed run
is the same experiment."""
import dataclasses
from pathlib import Path

import torch
from torch import nn

from ..config import Config, flatten
from ..errors import GanforgeError
from .build import local
from .optim import DecaySchedule
from .procedure import GAN


# Settings that may change when a run is resumed; any other difference means a different experiment.
RESUMABLE_CHANGES = {
    "train.iterations", "train.device", "train.log_every", "train.sample_every", "train.checkpoint_every",
    "train.keep_checkpoints", "train.best_every", "train.best_samples", "train.diagnose_every", "train.max_rollbacks", "train.compile", "train.max_minutes", "data.workers", "data.cache_dir",
}


def check_same_experiment(saved: dict, current: dict, where: Path) -> None:
    # Both through the dataclasses: a setting added since the run was saved has its default on both sides.
    old, new = (flatten(Config.from_dict(c, str(where)).to_dict()) for c in (saved, current))
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES)
    if changed:
        details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed)
        raise GanforgeError(f"{where} holds a run with other settings ({details}); resume it with its own settings or use a new --out")


def run_state(gan: GAN, config: Config, step: int, noise: torch.Generator, schedule: DecaySchedule) -> dict:
    """Everything resuming needs: weights, BN statistics, optimizer states, RNG states, step, config, lr schedule."""
    return {
        "step": step,
        "lr_schedule": dataclasses.asdict(schedule),
        "config": config.to_dict(),
        "generator": local(gan.generator).state_dict(),
        "discriminator": local(gan.discriminator).state_dict(),
        "opt_g": gan.opt_g.state_dict(),
        "opt_d": gan.opt_d.state_dict(),
        "generator_ema": gan.ema.state_dict(),  # None when the run keeps no average
        "augment": gan.augment.state_dict(),  # ADA's p and what it has observed; None without ADA
        "scaler_d": gan.scaler_d.state_dict(),  # {} unless fp16
        "scaler_g": gan.scaler_g.state_dict(),
        "rng": {"noise": noise.get_state(), "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []},
    }


def saved_schedule(state: dict) -> DecaySchedule:
    """The checkpoint's learning-rate schedule; checkpoints from before it was saved had the one their config gives."""
    if "lr_schedule" in state:
        return DecaySchedule(**state["lr_schedule"])
    return DecaySchedule.fresh(state["config"]["train"]["iterations"], state["config"]["optim"]["lr_decay"])


def restore_run_state(gan: GAN, noise: torch.Generator, state: dict) -> int:
    local(gan.generator).load_state_dict(state["generator"])
    local(gan.discriminator).load_state_dict(state["discriminator"])
    gan.opt_g.load_state_dict(state["opt_g"])
    gan.opt_d.load_state_dict(state["opt_d"])
    gan.ema.load_state_dict(state.get("generator_ema"))
    gan.augment.load_state_dict(state.get("augment"))
    for name in ("scaler_d", "scaler_g"):
        if state.get(name):  # absent in checkpoints of runs without fp16
            getattr(gan, name).load_state_dict(state[name])
    noise.set_state(state["rng"]["noise"])
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"].get("cuda") and torch.cuda.is_available():  # augmentation, instance noise, GP's mixing on a GPU
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return state["step"]


def restore_imported_networks(gan: GAN, state: dict) -> int:
    """An imported Keras model fixes the networks only: the optimizers (so --lr and --beta1), G's average (it starts
    from G) and the random streams are this run's own. Returns the step, 0."""
    try:
        local(gan.generator).load_state_dict(state["generator"])
        local(gan.discriminator).load_state_dict(state["discriminator"])
    except RuntimeError as exc:
        raise GanforgeError(
            "the imported networks do not fit this run's settings: a remedy that changes a network's layers "
            "(remedies.spectral_norm, g_batch_norm, pack, minibatch_std) cannot apply to them "
            f"({str(exc).splitlines()[0]})") from exc
    if gan.ema.enabled:
        gan.ema.load_state_dict(local(gan.generator).state_dict())
    return state["step"]


def save_imported_run(run_dir: Path, generator: nn.Module, discriminator: nn.Module | None) -> Path:
    """A step-0 checkpoint holding imported networks (and a fresh D if none was given), fresh optimizers."""
    from .. import checkpoint as ckpt
    from ..run_folder import write_config
    from .build import build_gan

    if ckpt.list_checkpoints(run_dir):
        raise GanforgeError(f"{run_dir} already holds a run; import into a new folder")
    config = Config().merged({"model.resolution": generator.resolution, "model.latent_dim": generator.latent_dim}, "import")
    gan = build_gan(config, torch.device("cpu"))
    gan.generator.load_state_dict(generator.state_dict())
    if discriminator is not None:
        if discriminator.resolution != generator.resolution:
            raise GanforgeError(f"the generator makes {generator.resolution} px images but the discriminator takes {discriminator.resolution} px")
        gan.discriminator.load_state_dict(discriminator.state_dict())
    write_config(run_dir, config)
    schedule = DecaySchedule.fresh(config.train.iterations, config.optim.lr_decay)
    state = run_state(gan, config, 0, torch.Generator().manual_seed(config.train.seed), schedule)
    return ckpt.save_checkpoint(run_dir, {**state, "imported": True}, keep=config.train.keep_checkpoints)
