"""The run around the procedure: data, resume, logging, sample grids, checkpoints. One iteration is one of
procedure.py's (the seed's or the paired one); this file only feeds it and records what it returns. The NaN
rollback is rollback.py, the clock time_limit.py."""
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..config import Config
from ..data import load_images
from ..determinism import reproducible_mkl
from ..data.sampler import EpochSampler, to_training_tensor
from ..errors import GanforgeError
from ..nets.conditional import attach, draw_labels, with_label_plane
from ..run_folder import METRICS
from ..viz import plot_losses
from .. import checkpoint as ckpt
from .best import BestKeeper
from .build import PROCEDURES, autocast_dtype, build_gan, check_choices, compile_networks, distribute, resolve_device
from .diagnosis import all_finite
from .distributed import World, world_from_environment
from .interrupts import DeferredInterrupts, ForcedInterrupt
from .mode_seeking import same_classes_in_halves
from .optim import DecaySchedule, set_learning_rate
from .recorder import RunRecorder
from .rollback import Rollbacks
from .run_state import check_same_experiment, restore_imported_networks, restore_run_state, run_state, saved_schedule
from .time_limit import FirstEstimate, fit_to_time, steps_within_time, time_is_up

@dataclass
class RunResult:
    run_dir: Path
    step: int
    last_checkpoint: Path | None
    sample_grid: Path | None
    loss_plot: Path | None
    skipped_images: int
    main_process: bool = True  # False in torchrun's other processes: they write nothing

    def text(self, seconds: float) -> str:
        """What the run left, one file a line."""
        lines = [f"done: {self.step} iterations in {seconds:.0f} s; skipped images: {self.skipped_images}",
                 f"checkpoint:  {self.last_checkpoint}", f"sample grid: {self.sample_grid}"]
        return "\n".join(lines + ([f"loss plot:   {self.loss_plot}"] if self.loss_plot else []))


def train(config: Config, run_dir: str | Path, *, progress: bool = True, log=print, on_step=None, procedure=None) -> RunResult:
    """Train, or resume the run in run_dir. `on_step(step)` is called after each iteration (tests use it to
    interrupt a run; `procedure` replaces the iteration, to inject faults); Ctrl-C writes a checkpoint first."""
    # -- Set-up: this process, the data, the networks -------------------------------------------------------------
    run_dir, t = Path(run_dir), config.train
    world = world_from_environment(t.device)  # one process, or one of torchrun's
    if not world.is_main:  # only the first process talks and writes
        log, progress = (lambda *_: None), False
    device = resolve_device(t.device, world)
    check_choices(config)
    reproducible_mkl()  # a no-op after the CLI's call; for callers of train() that have not computed yet
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes every iteration: let cuDNN pick its fastest kernels
    images, sampler, global_batch = _data(config, world, log)
    config = _with_classes(config, images, log)
    gan = build_gan(config, device, world.size)
    if images.classes is not None:  # G keeps the data's class frequencies: it draws classes by them when none is asked
        for generator in filter(None, (gan.generator, gan.ema.average)):
            generator.class_counts.copy_(torch.as_tensor(images.classes.counts()))
    noise = torch.Generator().manual_seed(t.seed)

    # -- Resume: every process from the checkpoint the first one found --------------------------------------------
    step, schedule, resume_from = _resume(gan, noise, config, run_dir, world, log)
    world.barrier()  # every process has read its checkpoint before the first writes (and prunes) any
    distribute(gan, world, config.train.sync_bn, device)
    if t.compile:
        compile_networks(gan)
    recorder = RunRecorder(config, run_dir, images, device, enabled=world.is_main, processes=world.size)  # writes config.json
    recorder.start(step)
    best = BestKeeper(config, images, device, run_dir, log) if t.best_every and world.is_main else None

    checkpoints = _Checkpoints(gan, config, run_dir, noise, world)
    iteration = procedure or PROCEDURES[t.procedure]
    amp_dtype = autocast_dtype(t.amp, device)
    log(f"device {device}" + (f" ({torch.get_num_threads()} threads)" if device.type == "cpu" else "")
        + f", precision {'bfloat16 autocast' if amp_dtype is not None else 'float32'} (train.amp={t.amp})")
    last_checkpoint = resume_from or checkpoints.save(step, schedule)  # a fresh run starts with a step-0 checkpoint to roll back to
    rollbacks = Rollbacks(t.max_rollbacks, t.seed)
    grid = None
    bar = tqdm(total=schedule.end, initial=step, disable=not progress, unit="it", dynamic_ncols=True, file=sys.stderr,
               mininterval=0.1 if sys.stderr.isatty() else 30)  # a log file gets a line every 30 s, not a flood
    recorder.console = lambda text: bar.write(text, file=sys.stderr)
    started, started_step = time.perf_counter(), step
    estimate = FirstEstimate(schedule.end, step, t.max_minutes, recorder.console if progress else log)
    interrupts = DeferredInterrupts()  # Ctrl-C lets the iteration under way finish: no half-stepped checkpoint
    try:
        while step < schedule.end:
            # -- One iteration ----------------------------------------------------------------------------------------
            interrupts.check()  # a Ctrl-C during the last iteration stops the run here, between iterations
            set_learning_rate(gan.opt_g, config.optim.lr_g * schedule.factor(step))
            set_learning_rate(gan.opt_d, config.optim.lr_d * schedule.factor(step))
            gan.conditioning_ramp(step)  # a conditional run's ramp-in of its classes; nothing otherwise
            real, z_fake, z_gen = _batch(step, sampler, images, noise, config, world, device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                stats = iteration(gan, real, z_fake, z_gen, step)
            step += 1
            gan.augment.observe(stats["d_acc_real"], step, world.mean)  # ADA: p follows D's certainty on reals
            bar.update(1)
            estimate.update(step)

            # -- A broken state is never logged or saved: back to the last good checkpoint --------------------------
            logging_now = step % t.log_every == 0 or step == schedule.end
            checkpointing_now = t.checkpoint_every and step % t.checkpoint_every == 0
            if logging_now or checkpointing_now:
                values = {k: round(v.item(), 6) for k, v in world.mean(stats).items()} | gan.augment.logged()
                if not all_finite(values, gan.generator, gan.discriminator):
                    step, message = rollbacks.roll_back(gan, noise, step, last_checkpoint)
                    recorder.start(step)
                    bar.n = step
                    recorder.warn(step, message, console=log, throttled=False)
                    continue

            # -- What the run records, each at its own cadence ------------------------------------------------------
            if logging_now:
                recorder.losses(step, values, gan.opt_g.param_groups[0]["lr"], global_batch, bar)
            if t.diagnose_every and step % t.diagnose_every == 0:
                recorder.diagnose(gan.ema.module, step)
            if t.sample_every and step % t.sample_every == 0:
                grid = recorder.sample(gan.ema.module, step)
            if best and step % t.best_every == 0:
                recorder.scored(step, best(gan.ema.module, step, lambda: run_state(gan, config, step, noise, schedule)))
            if checkpointing_now:
                last_checkpoint = checkpoints.save(step, schedule, last_checkpoint)
                rollbacks.saved()
            if on_step is not None:
                on_step(step)

            # -- The time limit ---------------------------------------------------------------------------------------
            if t.max_minutes and config.optim.lr_decay and not schedule.fitted:
                schedule = fit_to_time(schedule, config, world, step, started_step, started, log)
                bar.total = schedule.end
            if t.max_minutes and logging_now:
                bar.total = steps_within_time(step, started_step, time.perf_counter() - started, t.max_minutes, schedule.end)
            if t.max_minutes and time_is_up(world, step, started, t.max_minutes, device):
                break
    except KeyboardInterrupt as interrupt:
        bar.close()
        checkpoints.save_on_interrupt(interrupt, step, schedule, last_checkpoint, log)
        recorder.close()
        raise
    finally:
        interrupts.restore()
    bar.close()

    # -- The end: a last checkpoint, grid and loss plot (the CLI adds the report) ------------------------------------
    if step < schedule.end:
        log(f"time limit of {t.max_minutes:g} min reached at step {step} of {schedule.end}; run the same command to go on")
    elif schedule.end < t.iterations:
        log(f"finished at step {step} of {t.iterations}: the learning-rate decay was fitted to the time limit and is done")
    if not last_checkpoint.name.endswith(f"{step:08d}.pt"):
        last_checkpoint = checkpoints.save(step, schedule, last_checkpoint)
    if not world.is_main:
        return RunResult(run_dir, step, last_checkpoint, None, None, images.skipped, main_process=False)
    grid = recorder.sample(gan.ema.module, step) if grid is None or not grid.name.endswith(f"{step:08d}.png") else grid
    recorder.close()
    loss_plot = plot_losses(run_dir / METRICS, run_dir / "loss_curve.png")
    return RunResult(run_dir, step, last_checkpoint, grid, loss_plot, images.skipped)


@dataclass
class _Checkpoints:
    """The run's state saved: the first process writes it, every process waits for it, and a broken state is never saved."""
    gan: object
    config: Config
    run_dir: Path
    noise: torch.Generator
    world: World

    def save(self, step: int, schedule: DecaySchedule, last_good: Path | None = None) -> Path:
        if not all_finite({}, self.gan.generator, self.gan.discriminator):  # the periodic saves roll back before this
            raise GanforgeError(f"iteration {step}: NaN or Inf in the weights, not saved; the last good checkpoint is "
                                f"{last_good}. Try a lower learning rate.")
        if self.world.is_main:
            self._write(step, schedule)
        self.world.barrier()  # no process goes on (or rolls back) before the checkpoint exists
        return ckpt.checkpoint_path(self.run_dir, step)

    def save_on_interrupt(self, interrupt: KeyboardInterrupt, step: int, schedule: DecaySchedule, last_good: Path, log) -> None:
        """Ctrl-C saves the state at `step`, unless it is broken or a second Ctrl-C asked to stop at once."""
        if isinstance(interrupt, ForcedInterrupt):
            log(f"stopped at once by a second Ctrl-C: not saved; the last checkpoint is {last_good}")
        elif not all_finite({}, self.gan.generator, self.gan.discriminator):
            log(f"interrupted at step {step} with NaN or Inf in the weights: not saved; the last good checkpoint is {last_good}")
        else:
            if self.world.is_main:  # no barrier: under torchrun the other processes may already be gone
                last_good = self._write(step, schedule)
            log(f"interrupted at step {step}: checkpoint written to {last_good}; run the same command to resume")

    def _write(self, step: int, schedule: DecaySchedule) -> Path:
        state = run_state(self.gan, self.config, step, self.noise, schedule)
        return ckpt.save_checkpoint(self.run_dir, state, keep=self.config.train.keep_checkpoints)


def _data(config: Config, world: World, log):
    """The images, the sampler of each iteration's indices, and the global batch (--batch-size is per process)."""
    images = load_images(config.data, config.model.resolution, log=log)
    if images.skipped:
        log(f"{images.skipped} unreadable file(s) skipped; training on {len(images)} images")
    global_batch = config.train.batch_size * world.size
    try:
        sampler = EpochSampler(len(images), global_batch * config.remedies.d_steps, config.train.seed)
    except ValueError as exc:
        raise GanforgeError(f"{config.data.source}: {exc}; lower --batch-size") from exc
    return images, sampler, global_batch


def _resume(gan, noise: torch.Generator, config: Config, run_dir: Path, world: World, log):
    """(step, schedule, the checkpoint resumed from or None). Every process resumes from the checkpoint the first one
    found and read (a lagging shared file system could show the others another list, or none)."""
    step, schedule = 0, DecaySchedule.fresh(config.train.iterations, config.optim.lr_decay)
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
        if not state.get("imported"):
            schedule = _resumed_schedule(saved_schedule(state), config, state["config"]["train"]["iterations"], step, run_dir, log)
    return step, schedule, resume_from


def _resumed_schedule(saved: DecaySchedule, config: Config, saved_iterations: int, step: int, run_dir: Path, log) -> DecaySchedule:
    """The checkpoint's schedule goes on; with another --iterations it continues from the factor reached, never jumping."""
    if config.train.iterations == saved_iterations:
        return saved
    try:
        schedule = saved.extended_to(config.train.iterations, config.optim.lr_decay, step)
    except ValueError as exc:
        raise GanforgeError(f"{run_dir}: {exc}; train a longer run in a new --out") from exc
    if config.optim.lr_decay:
        log(f"--iterations {saved_iterations} -> {config.train.iterations}: the learning rates go on from "
            f"{schedule.start_factor:g}x at step {step} and reach 0 at step {schedule.end}")
    return schedule


def _with_classes(config: Config, images, log) -> Config:
    """A conditional run's config names its classes (G and D are built for them); its first lines list them."""
    if images.classes is None:
        if config.model.class_names:
            raise GanforgeError("model.class_names is set by a run from its data; train with --conditional (data.conditional)")
        return config
    from ..data.labels import class_line

    log(f"conditional: {class_line(images.classes)}; G's classes drawn "
        + ("with the data's frequencies" if config.data.class_sampling == "data" else "balanced, each class equally often"))
    if config.model.class_names and list(config.model.class_names) != images.classes.names:
        raise GanforgeError(f"model.class_names {list(config.model.class_names)[:5]} differ from the data's classes "
                            f"{images.classes.names[:5]}")
    return config.merged({"model.class_names": list(images.classes.names)}, "the data's classes")


def _batch(step: int, sampler: EpochSampler, images, noise: torch.Generator, config: Config, world: World, device: torch.device):
    """Iteration `step`'s real images (flipped where drawn) and noise on `device`. Every process draws the global
    batch's indices and noise, then keeps its own shard of each. In a conditional run each real image carries its
    class as a fourth plane and each z its class as a last column (nets/conditional.py)."""
    d_steps, global_batch = config.remedies.d_steps, config.train.batch_size * world.size
    indices = world.shard(torch.as_tensor(sampler.indices(step)), d_steps)
    z_fake = world.shard(torch.randn(global_batch * d_steps, config.model.latent_dim, generator=noise), d_steps)
    z_gen = world.shard(torch.randn(global_batch, config.model.latent_dim, generator=noise))
    real = to_training_tensor(images.pixels[indices.numpy()])
    if device.type == "cuda":
        real = real.pin_memory()  # so that the copy below overlaps with the GPU's work
    if config.data.flip:
        flip = world.shard(torch.rand(global_batch * d_steps, generator=noise) < 0.5, d_steps)
        real = torch.where(flip[:, None, None, None], real.flip(3), real)
    if images.classes is not None:
        weights = torch.as_tensor(images.classes.counts() if config.data.class_sampling == "data" else [1] * len(images.classes.names))
        fake_labels = world.shard(draw_labels(global_batch * d_steps, weights, noise), d_steps)
        gen_labels = world.shard(draw_labels(global_batch, weights, noise))
        if config.remedies.mode_seeking:  # its pairs, sample i and i + B/2, share a class
            gen_labels = same_classes_in_halves(gen_labels)
        real = with_label_plane(real, torch.as_tensor(images.classes.labels[indices.numpy()]))
        z_fake, z_gen = attach(z_fake, fake_labels), attach(z_gen, gen_labels)
    real = real.to(device, non_blocking=True, memory_format=torch.channels_last)
    return real, z_fake.to(device), z_gen.to(device)
