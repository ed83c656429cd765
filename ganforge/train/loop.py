"""The run around the procedure: data, resume, logging, sample grids, checkpoints. One iteration is
`seed_iteration` in procedure.py; this file only feeds it and records what it returns."""
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..config import Config
from ..data import load_images
from ..data.sampler import EpochSampler, to_training_tensor
from ..errors import GanforgeError
from ..nets import SeedDiscriminator, SeedGenerator
from ..viz import plot_losses, save_grid
from . import checkpoint as ckpt
from .build import PROCEDURES, autocast_dtype, build_gan, check_choices, compile_networks, distribute, resolve_device
from .diagnosis import TrainingMonitor, all_finite, diversity
from .distributed import World, world_from_environment
from .interrupts import DeferredInterrupts, ForcedInterrupt
from .optim import linear_decay, set_learning_rate
from .run_state import check_same_experiment, restore_imported_networks, restore_run_state, run_state

SAMPLE_GRID_SIZE = 64


def fixed_noise(config: Config, count: int = SAMPLE_GRID_SIZE) -> torch.Tensor:
    """The same z for every sample grid of a run, so grids show one run's progress frame by frame."""
    return torch.randn(count, config.model.latent_dim, generator=torch.Generator().manual_seed(config.train.seed + 1))


@dataclass
class RunResult:
    run_dir: Path
    step: int
    last_checkpoint: Path | None
    sample_grid: Path | None
    loss_plot: Path | None
    skipped_images: int
    main_process: bool = True  # False in torchrun's other processes: they write nothing


class _TensorBoard:
    """TensorBoard scalars and images when the tensorboard package is installed; nothing otherwise."""

    def __init__(self, log_dir: Path, enabled: bool = True):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.writer = None
            return
        if not enabled:
            self.writer = None
        else:
            self.writer = SummaryWriter(str(log_dir))

    def scalars(self, values: dict, step: int) -> None:
        if self.writer:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step)

    def image(self, tag: str, grid_png: Path, step: int) -> None:
        if self.writer:
            from PIL import Image

            self.writer.add_image(tag, np.asarray(Image.open(grid_png)), step, dataformats="HWC")

    def close(self) -> None:
        if self.writer:
            self.writer.close()


class _LiveChecks:
    """Every `diagnose_every` iterations: sample diversity against real data's and, on `shapes`, mode
    coverage by the shipped classifier. Results go to diagnostics.jsonl and TensorBoard; symptoms to the log."""

    SAMPLES = 256

    def __init__(self, config: Config, images, device, run_dir: Path):
        self.device, self.path = device, run_dir / "diagnostics.jsonl"
        self.monitor = TrainingMonitor()
        real = to_training_tensor(images.pixels[: self.SAMPLES])
        self.real_diversity = diversity(real)
        self.noise = torch.randn(self.SAMPLES, config.model.latent_dim, generator=torch.Generator().manual_seed(config.train.seed + 2))
        self.classifier = None
        if config.data.source == "shapes":
            from ..metrics.modes import confidence_threshold
            from ..metrics.shapes_classifier import load_shapes_classifier

            self.classifier = load_shapes_classifier(device)
            with torch.no_grad():
                self.bar = confidence_threshold(self.classifier(real.to(device))[1].softmax(1).max(1).values.cpu().numpy())

    @torch.no_grad()
    def __call__(self, generator, step: int) -> tuple[dict, list[str]]:
        generator.eval()
        fake = generator(self.noise.to(self.device))
        fake_diversity = diversity(fake.cpu())
        values = {"diversity_ratio": round(fake_diversity / self.real_diversity, 4)}
        warnings = self.monitor.observe_diversity(step, fake_diversity, self.real_diversity)
        if self.classifier is not None:
            from ..data.shapes import NUM_MODES

            probabilities = self.classifier(fake)[1].softmax(1)
            confident = probabilities.max(1).values >= self.bar
            values["modes_covered"] = int(probabilities.argmax(1)[confident].unique().numel())
            warnings += self.monitor.observe_coverage(step, values["modes_covered"], NUM_MODES)
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, **values}) + "\n")
        return values, warnings


def train(config: Config, run_dir: str | Path, *, progress: bool = True, log=print, on_step=None, procedure=None) -> RunResult:
    """Train, or resume the run in run_dir. `on_step(step)` is called after each iteration (tests use it to
    interrupt a run; `procedure` replaces the iteration, to inject faults); Ctrl-C writes a checkpoint first."""
    run_dir = Path(run_dir)
    t, d_steps = config.train, config.remedies.d_steps
    world = world_from_environment(t.device)  # one process, or one of torchrun's
    if not world.is_main:  # only the first process talks and writes
        log, progress = (lambda *_: None), False
    device = resolve_device(t.device, world)
    check_choices(config)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes every iteration: let cuDNN pick its fastest kernels
    images = load_images(config.data, config.model.resolution, log=log)
    if images.skipped:
        log(f"{images.skipped} unreadable file(s) skipped; training on {len(images)} images")
    global_batch = t.batch_size * world.size  # --batch-size is per process
    try:
        sampler = EpochSampler(len(images), global_batch * d_steps, t.seed)
    except ValueError as exc:
        raise GanforgeError(f"{config.data.source}: {exc}; lower --batch-size") from exc

    gan = build_gan(config, device)
    noise = torch.Generator().manual_seed(t.seed)
    step = 0
    # Every process resumes from the checkpoint the first one found and read (a lagging shared file system could
    # show the others another list, or none).
    found_step, state = ckpt.newest_readable(run_dir, log) if world.is_main else (-1, None)
    resume_step = world.first_process_value(found_step)
    resume_from = ckpt.checkpoint_path(run_dir, resume_step) if resume_step >= 0 else None
    if resume_from:
        state = state or ckpt.load_checkpoint(resume_from)
        saved, current = state["config"], config.to_dict()
        if state.get("imported"):  # an imported Keras model fixes the networks only; the rest is this run's
            saved, current = {"model": saved["model"]}, {"model": current["model"]}
        check_same_experiment(saved, current, run_dir)
        step = restore_imported_networks(gan, state) if state.get("imported") else restore_run_state(gan, noise, state)
        log(f"resuming {run_dir} from step {step} ({resume_from.name})")
    world.barrier()  # every process has read its checkpoint before the first writes (and prunes) any
    distribute(gan, world, config.train.sync_bn, device)
    if t.compile:
        compile_networks(gan)
    metrics_path, diagnostics_path = run_dir / "metrics.jsonl", run_dir / "diagnostics.jsonl"
    if world.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        for path in (metrics_path, diagnostics_path):
            _truncate_metrics(path, step)

    def save() -> Path:
        if not all_finite({}, gan.generator, gan.discriminator):  # the periodic saves roll back before this
            raise GanforgeError(f"iteration {step}: NaN or Inf in the weights, not saved; the last good checkpoint is "
                                f"{last_checkpoint}. Try a lower learning rate.")
        if world.is_main:
            ckpt.save_checkpoint(run_dir, run_state(gan, config, step, noise), keep=t.keep_checkpoints)
        world.barrier()  # no process goes on (or rolls back) before the checkpoint exists
        return ckpt.checkpoint_path(run_dir, step)

    def sample() -> Path:
        with torch.no_grad():
            images_out = gan.ema.module.eval()(fixed_noise(config).to(device))
        path = save_grid(images_out, run_dir / "samples" / f"step-{step:08d}.png")
        save_grid(images_out, run_dir / "samples" / "latest.png")
        tensorboard.image("samples", path, step)
        return path

    iteration = procedure or PROCEDURES[t.procedure]
    amp_dtype = autocast_dtype(t.amp, device)
    tensorboard = _TensorBoard(run_dir / "tensorboard", enabled=world.is_main)
    live_checks = _LiveChecks(config, images, device, run_dir) if t.diagnose_every and world.is_main else None
    last_checkpoint = resume_from
    last_checkpoint = last_checkpoint or save()  # a fresh run starts with a step-0 checkpoint to roll back to
    rollbacks = 0
    grid = None
    bar = tqdm(total=t.iterations, initial=step, disable=not progress, unit="it", dynamic_ncols=True, file=sys.stderr,
               mininterval=0.1 if sys.stderr.isatty() else 30)  # a log file gets a line every 30 s, not a flood
    started, started_step = time.perf_counter(), step
    interrupts = DeferredInterrupts()  # Ctrl-C lets the iteration under way finish: no half-stepped checkpoint
    try:
        while step < t.iterations:
            interrupts.check()  # a Ctrl-C during the last iteration stops the run here, between iterations
            # Every process draws the global batch's indices and noise, then keeps its own shard of each.
            indices = world.shard(torch.as_tensor(sampler.indices(step)), d_steps)
            z_fake = world.shard(torch.randn(global_batch * d_steps, config.model.latent_dim, generator=noise), d_steps)
            z_gen = world.shard(torch.randn(global_batch, config.model.latent_dim, generator=noise))
            real = to_training_tensor(images.pixels[indices.numpy()])
            decay = linear_decay(step, t.iterations, config.optim.lr_decay)
            set_learning_rate(gan.opt_g, config.optim.lr_g * decay)
            set_learning_rate(gan.opt_d, config.optim.lr_d * decay)
            if device.type == "cuda":
                real = real.pin_memory()  # so that the copy below overlaps with the GPU's work
            if config.data.flip:
                flip = world.shard(torch.rand(global_batch * d_steps, generator=noise) < 0.5, d_steps)
                real = torch.where(flip[:, None, None, None], real.flip(3), real)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                real = real.to(device, non_blocking=True, memory_format=torch.channels_last)
                stats = iteration(gan, real, z_fake.to(device), z_gen.to(device), step)
            step += 1
            bar.update(1)
            logging_now = step % t.log_every == 0 or step == t.iterations
            checkpointing_now = t.checkpoint_every and step % t.checkpoint_every == 0
            if logging_now or checkpointing_now:
                values = {k: round(v.item(), 6) for k, v in world.mean(stats).items()}
                if not all_finite(values, gan.generator, gan.discriminator):
                    # Never log or save a broken state: go back to the last good checkpoint, with fresh noise
                    # so the same numbers are not replayed into the same NaN.
                    rollbacks += 1
                    if rollbacks > t.max_rollbacks:
                        raise GanforgeError(
                            f"iteration {step}: NaN or Inf again after {t.max_rollbacks} rollbacks in a row; stopped. "
                            f"The last good checkpoint is {last_checkpoint}. Try a lower learning rate."
                        )
                    step = restore_run_state(gan, noise, ckpt.load_checkpoint(last_checkpoint))
                    noise.manual_seed(t.seed + 1_000_003 * rollbacks)
                    for path in (metrics_path, diagnostics_path) if world.is_main else ():
                        _truncate_metrics(path, step)
                    bar.n = step
                    log(f"warning: NaN or Inf in a loss or a weight; rolled back to step {step} ({last_checkpoint.name}), "
                        f"rollback {rollbacks} of at most {t.max_rollbacks}")
                    continue
            if logging_now and world.is_main:
                values["img_per_s"] = round((step - started_step) * global_batch / max(time.perf_counter() - started, 1e-9), 3)
                with open(metrics_path, "a") as metrics_file:
                    metrics_file.write(json.dumps({"step": step, **values}) + "\n")
                tensorboard.scalars(values, step)
                bar.set_postfix(
                    D_real=f"{values['d_loss_real']:.3f}", D_fake=f"{values['d_loss_fake']:.3f}",
                    G=f"{values['g_loss']:.3f}", acc_r=f"{values['d_acc_real']:.2f}",
                    acc_f=f"{values['d_acc_fake']:.2f}", img_s=f"{values['img_per_s']:.1f}", refresh=False,
                )
                if live_checks:
                    for warning in live_checks.monitor.observe_losses(step, values):
                        bar.write(f"warning: {warning}", file=sys.stderr)
            if live_checks and step % t.diagnose_every == 0:
                diagnostics, warnings = live_checks(gan.ema.module, step)
                tensorboard.scalars(diagnostics, step)
                for warning in warnings:
                    bar.write(f"warning: {warning}", file=sys.stderr)
            if t.sample_every and step % t.sample_every == 0 and world.is_main:
                grid = sample()
            if checkpointing_now:
                last_checkpoint = save()
                rollbacks = 0
            if on_step is not None:
                on_step(step)
            if t.max_minutes and _time_is_up(world, step, started, t.max_minutes, device):
                break
    except KeyboardInterrupt as interrupt:
        bar.close()
        if isinstance(interrupt, ForcedInterrupt):
            log(f"stopped at once by a second Ctrl-C: not saved; the last checkpoint is {last_checkpoint}")
        elif not all_finite({}, gan.generator, gan.discriminator):
            log(f"interrupted at step {step} with NaN or Inf in the weights: not saved; the last good checkpoint is {last_checkpoint}")
        else:
            if world.is_main:  # no barrier: under torchrun the other processes may already be gone
                last_checkpoint = ckpt.save_checkpoint(run_dir, run_state(gan, config, step, noise), keep=t.keep_checkpoints)
            log(f"interrupted at step {step}: checkpoint written to {last_checkpoint}; run the same command to resume")
        tensorboard.close()
        raise
    finally:
        interrupts.restore()
    bar.close()
    if step < t.iterations:
        log(f"time limit of {t.max_minutes:g} min reached at step {step} of {t.iterations}; run the same command to go on")
    if not last_checkpoint.name.endswith(f"{step:08d}.pt"):
        last_checkpoint = save()
    if not world.is_main:
        return RunResult(run_dir, step, last_checkpoint, None, None, images.skipped, main_process=False)
    grid = sample() if grid is None or not grid.name.endswith(f"{step:08d}.png") else grid
    tensorboard.close()
    loss_plot = plot_losses(metrics_path, run_dir / "loss_curve.png")
    return RunResult(run_dir, step, last_checkpoint, grid, loss_plot, images.skipped)


def save_imported_run(run_dir: Path, generator: SeedGenerator, discriminator: SeedDiscriminator | None) -> Path:
    """A step-0 checkpoint holding imported networks (and a fresh D if none was given), fresh optimizers."""
    if ckpt.list_checkpoints(run_dir):
        raise GanforgeError(f"{run_dir} already holds a run; import into a new folder")
    base = Config()
    config = base.merged({"model.resolution": generator.resolution, "model.latent_dim": generator.latent_dim}, "import")
    gan = build_gan(config, torch.device("cpu"))
    gan.generator.load_state_dict(generator.state_dict())
    if discriminator is not None:
        if discriminator.resolution != generator.resolution:
            raise GanforgeError(f"the generator makes {generator.resolution} px images but the discriminator takes {discriminator.resolution} px")
        gan.discriminator.load_state_dict(discriminator.state_dict())
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    state = run_state(gan, config, 0, torch.Generator().manual_seed(config.train.seed))
    return ckpt.save_checkpoint(run_dir, {**state, "imported": True}, keep=config.train.keep_checkpoints)


TIME_CHECK_EVERY = 10  # under torchrun: the clock's all-reduce waits for the GPU, so not every iteration


def _time_is_up(world: World, step: int, started: float, minutes: float, device: torch.device) -> bool:
    """Every process stops at the same step: the first process's clock decides (no process waits on a peer that left),
    asked on the same steps by all (they share `step`)."""
    if world.size == 1:  # no tensor, so no wait on the GPU
        return time.perf_counter() - started > 60 * minutes
    if step % TIME_CHECK_EVERY:
        return False
    late = torch.tensor([float(time.perf_counter() - started > 60 * minutes and world.is_main)], device=device)
    return world.mean({"late": late})["late"].item() > 0


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume or rollback, drop log lines past the checkpoint: those iterations are about to be run again."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if _logged_step(line) <= step]
    path.write_text("".join(line + "\n" for line in keep))


def _logged_step(line: str) -> float:
    """A log line's step; a torn line (a kill or a full disk mid-write) counts as past every checkpoint."""
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        return math.inf
