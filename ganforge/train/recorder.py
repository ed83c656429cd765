"""What a run leaves for people to read: its log files, sample grids, TensorBoard scalars and the live checks'
warnings. The first process records; every other process gets a recorder that does nothing, so the loop never
asks which process it is in.

Files (appended one JSON line at a time, so a reader such as `ganforge watch` sees whole lines or nothing new):
metrics.jsonl (losses, accuracies, lr_g, img_per_s, time_s), diagnostics.jsonl (diversity, mode coverage),
warnings.jsonl (each diagnosis or rollback message with its step), samples/step-NNNNNNNN.png and latest.png,
config.json and run.json (device, processes, MKL's strict branch: None where its CPU results may vary by process)
at every start."""
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..config import Config
from .. import run_folder as folder
from ..run_folder import append_row, read_log
from ..data.sampler import to_training_tensor
from ..determinism import strict_mkl_branch
from ..nets.conditional import attach, rgb, with_drawn_labels
from ..metrics.features import SHAPES, load_space, space_of
from ..viz import save_grid
from .diagnosis import ConsoleThrottle, TrainingMonitor, diversity

SAMPLE_GRID_SIZE = 64
GRID_COLUMNS = 8


GRID_CLASSES = 16  # a conditional run's grid: a row of 8 for each of its first 16 classes


def fixed_noise(config: Config, count: int = SAMPLE_GRID_SIZE) -> torch.Tensor:
    """The same z for every sample grid of a run, so grids show one run's progress frame by frame; a conditional
    run's holds a row per class, its class in z's last column."""
    if not config.model.num_classes:
        return torch.randn(count, config.model.latent_dim, generator=torch.Generator().manual_seed(config.train.seed + 1))
    rows = min(config.model.num_classes, GRID_CLASSES)
    z = torch.randn(rows * GRID_COLUMNS, config.model.latent_dim, generator=torch.Generator().manual_seed(config.train.seed + 1))
    return attach(z, torch.arange(rows).repeat_interleave(GRID_COLUMNS))


class RunRecorder:
    def __init__(self, config: Config, run_dir: Path, images, device: torch.device, enabled: bool = True, processes: int = 1):
        self.enabled, self.run_dir, self.config, self.device = enabled, Path(run_dir), config, device
        self.console = lambda text: print(text, file=sys.stderr)  # the loop points it at its progress bar
        if not enabled:
            return
        folder.write_config(self.run_dir, config)
        info = {"device": str(device), "processes": processes, "mkl_strict_branch": strict_mkl_branch()}
        (self.run_dir / folder.RUN_INFO).write_text(json.dumps(info) + "\n")
        self.tensorboard = _TensorBoard(self.run_dir / "tensorboard")
        self.live_checks = _LiveChecks(config, images, device) if config.train.diagnose_every else None
        self.monitor = TrainingMonitor(config=config)
        self.throttle = ConsoleThrottle()
        self.started, self.started_step, self.seconds_before = time.perf_counter(), 0, 0.0

    def start(self, step: int) -> None:
        """The run (re)starts at `step`: drop log lines past it (those iterations are about to be run again)."""
        if not self.enabled:
            return
        for name in folder.LOGS:
            _truncate_log(self.run_dir / name, step)
        rows = read_log(self.run_dir / folder.METRICS)
        self.seconds_before = rows[-1].get("time_s", 0.0) if rows else 0.0  # training time before this resume
        self.started, self.started_step = time.perf_counter(), step

    def losses(self, step: int, values: dict, lr_g: float, images_per_step: int, bar=None) -> None:
        if not self.enabled:
            return
        seconds = time.perf_counter() - self.started
        values = {**values, "lr_g": lr_g,  # the rate the iteration just run used
                  "img_per_s": round((step - self.started_step) * images_per_step / max(seconds, 1e-9), 3),
                  "time_s": round(self.seconds_before + seconds, 3)}
        append_row(self.run_dir / folder.METRICS, {"step": step, **values})
        self.tensorboard.scalars(values, step)
        if bar is not None:
            bar.set_postfix(
                D_real=f"{values['d_loss_real']:.3f}", D_fake=f"{values['d_loss_fake']:.3f}", G=f"{values['g_loss']:.3f}",
                acc_r=f"{values['d_acc_real']:.2f}", acc_f=f"{values['d_acc_fake']:.2f}", img_s=f"{values['img_per_s']:.1f}",
                **({"p": f"{values['augment_p']:.3f}"} if "augment_p" in values else {}), refresh=False,
            )
        if self.live_checks:
            for message in self.monitor.observe_losses(step, values):
                self.warn(step, message)

    def diagnose(self, generator: torch.nn.Module, step: int) -> None:
        if not (self.enabled and self.live_checks):
            return
        values = self.live_checks(generator, self.device)
        append_row(self.run_dir / folder.DIAGNOSTICS, {"step": step, **values})
        self.tensorboard.scalars(values, step)
        messages = self.monitor.observe_diversity(step, values.pop("_fake_diversity"), self.live_checks.real_diversity)
        if "modes_covered" in values:
            from ..data.shapes import NUM_MODES

            messages += self.monitor.observe_coverage(step, values["modes_covered"], NUM_MODES)
        for message in messages:
            self.warn(step, message)

    def scored(self, step: int, row: dict | None) -> None:
        """A best-checkpoint score (see best.py): a diagnostics line, and a console line when best.pt was replaced."""
        if not (self.enabled and row):
            return
        append_row(self.run_dir / folder.DIAGNOSTICS, {"step": step, **row})
        metric, value = next(iter(row.items()))
        self.tensorboard.scalars({metric: value}, step)
        if row["best"]:
            self.console(f"iteration {step}: {metric} {value:g}, the best so far: checkpoints/best.pt")
        for message in self.monitor.observe_score(step, metric, value, row["best_score"], row["best_step"]):
            self.warn(step, message)

    def warn(self, step: int, message: str, console=None, throttled: bool = True) -> None:
        if self.enabled:
            append_row(self.run_dir / folder.WARNINGS, {"step": step, "message": message})
            line = self.throttle.line(step, message) if throttled else message
            if line:
                (console or self.console)(f"warning: {line}")

    @torch.no_grad()
    def sample(self, generator: torch.nn.Module, step: int) -> Path | None:
        if not self.enabled:
            return None
        images = rgb(generator.eval()(fixed_noise(self.config).to(self.device)))
        path = save_grid(images, folder.sample_grid(self.run_dir, step), GRID_COLUMNS)
        save_grid(images, folder.sample_grid(self.run_dir), GRID_COLUMNS)
        self.tensorboard.image("samples", path, step)
        return path

    def close(self) -> None:
        if self.enabled:
            self.tensorboard.close()


class _LiveChecks:
    """Sample diversity against real data's and, on `shapes`, mode coverage by the shipped classifier."""

    SAMPLES = 256

    def __init__(self, config: Config, images, device: torch.device):
        real = to_training_tensor(images.pixels[: self.SAMPLES])
        self.real_diversity = diversity(real)
        self.noise = torch.randn(self.SAMPLES, config.model.latent_dim, generator=torch.Generator().manual_seed(config.train.seed + 2))
        self.seed = config.train.seed + 2
        self.classes = None  # the shapes classifier's feature space: its class probabilities
        if space_of(config.data.source) == SHAPES:
            from ..metrics.modes import confidence_threshold

            self.classes = load_space(SHAPES, device)
            self.bar = confidence_threshold(self.classes.embed(real)[1].max(1))

    @torch.no_grad()
    def __call__(self, generator: torch.nn.Module, device: torch.device) -> dict:
        generator.eval()
        fake = rgb(generator(with_drawn_labels(generator, self.noise, torch.Generator().manual_seed(self.seed)).to(device)))
        fake_diversity = diversity(fake.cpu())
        values = {"diversity_ratio": round(fake_diversity / self.real_diversity, 4), "_fake_diversity": fake_diversity}
        if self.classes is not None:
            probabilities = self.classes.embed(fake)[1]
            values["modes_covered"] = len(np.unique(probabilities.argmax(1)[probabilities.max(1) >= self.bar]))
        return values


class _TensorBoard:
    """TensorBoard scalars and images when the tensorboard package is installed; nothing otherwise."""

    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.writer = None
            return
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


def _truncate_log(path: Path, step: int) -> None:
    """Keep the lines up to `step`; a torn line (a kill or a full disk mid-write) counts as past every step."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if _logged_step(line) <= step]
    path.write_text("".join(line + "\n" for line in keep))


def _logged_step(line: str) -> float:
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        return math.inf
