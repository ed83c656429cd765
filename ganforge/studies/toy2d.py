"""The 2-D mode-collapse benchmark with PacGAN's protocol (Lin et al. 2018, Table 1).

ring: 8 Gaussians, means (cos 2 pi i / 8, sin 2 pi i / 8), std 0.01. grid: 25 Gaussians, means
{-4, -2, 0, 2, 4}^2, std 0.05. 2,500 samples are each assigned to the nearest mean; a sample is high
quality within 3 standard deviations of it; a mode is covered by at least one high-quality sample;
reverse KL over the modes as in ganforge.metrics.modes. Networks, Adam(1e-4, beta1 0.8) and batch 100
are PacGAN's; the iteration, the loss and the remedies come from the chosen preset, and so does the ratio
of D's learning rate to G's (two time-scale updates): G learns at PacGAN's rate, D at that times the ratio.
"""
import contextlib
import math
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import Config
from ..metrics.modes import ModeCoverage, mode_coverage
from ..errors import GanforgeError
from ..train.build import PROCEDURES, build_gan
from ..train.optim import DecaySchedule, set_learning_rate
from ..train.procedure import GAN
from .toy2d_frames import Toy2DRecorder

FRAME_LOG_EVERY = 50  # iterations between metrics.jsonl lines of a run that records frames

EVAL_SAMPLES = 2500
BATCH = 100
LR, BETA1 = 1e-4, 0.8

DATASETS = ("ring", "grid")

# PacGAN Table 1 (their numbers, 400k iterations): modes, % high quality, reverse KL
PUBLISHED = {
    "ring": {"GAN": (6.3, 98.2, 0.45), "PacGAN4": (7.8, 95.9, 0.07)},
    "grid": {"GAN": (17.3, 94.8, 0.70), "PacGAN4": (24.8, 93.6, 0.04)},
}


@dataclass(frozen=True)
class Mixture:
    means: np.ndarray  # (modes, 2)
    std: float

    def sample(self, count: int, generator: torch.Generator) -> torch.Tensor:
        means = torch.as_tensor(self.means, dtype=torch.float32)
        which = torch.randint(len(means), (count,), generator=generator)
        return means[which] + self.std * torch.randn(count, 2, generator=generator)

    def coverage(self, points: np.ndarray) -> ModeCoverage:
        """Each point's mode is its nearest mean; it is high quality within 3 standard deviations of it."""
        distances = np.linalg.norm(points[:, None, :] - self.means[None], axis=2)  # (N, modes)
        return mode_coverage(distances.argmin(1), distances.min(1) < 3 * self.std, len(self.means))


def mixture(name: str) -> Mixture:
    if name == "ring":
        angles = 2 * math.pi * np.arange(8) / 8
        return Mixture(np.stack([np.cos(angles), np.sin(angles)], 1), 0.01)
    if name == "grid":
        return Mixture(np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], dtype=np.float64), 0.05)
    raise ValueError(f"unknown toy dataset {name!r}; choose ring or grid")


def score(points: np.ndarray, data: Mixture) -> ModeCoverage:
    return data.coverage(points)


@contextlib.contextmanager
def one_cpu_thread():
    """A sum split over two threads rounds differently from one, and a GAN amplifies the difference: the same
    sweep trial (seed, lr 3.6e-4, batch 32, 30k iterations) covered 7 modes at 2 threads and 9 at 1. So every
    toy2d run uses one thread, and its result does not depend on the machine's cores or on --jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_one(config: Config, dataset: str, seed: int, iterations: int, lr: float = LR, beta1: float = BETA1, batch: int = BATCH,
              frames: Path | None = None, frame_every: int = 500) -> ModeCoverage:
    """PacGAN's networks and optimizer settings (a sweep may change lr, beta1 and batch) with the preset's iteration,
    on one CPU thread. `frames`: a run folder for GAN Lab-style frames every `frame_every` iterations
    (toy2d_frames.py); `ganforge bench toy2d --record` writes its report."""
    with one_cpu_thread():
        return _train_one(config, dataset, seed, iterations, lr, beta1, batch, frames, frame_every)


def _train_one(config: Config, dataset: str, seed: int, iterations: int, lr: float, beta1: float, batch: int,
               frames: Path | None, frame_every: int) -> ModeCoverage:
    data = mixture(dataset)
    config = config.merged({"train.batch_size": batch, "train.seed": seed}, "toy2d")  # the seed initialises the networks
    gan = toy_gan(config, lr, beta1)
    iteration = PROCEDURES[config.train.procedure]
    rates = [(optimizer, optimizer.param_groups[0]["lr"]) for optimizer in (gan.opt_g, gan.opt_d)]
    rng = torch.Generator().manual_seed(seed)
    d_batch = batch * gan.d_steps
    schedule = DecaySchedule.fresh(iterations, config.optim.lr_decay)
    recorder = Toy2DRecorder(frames, config, data, dataset, seed, EVAL_SAMPLES) if frames else None
    if recorder:
        recorder(gan, 0)
    for step in range(iterations):
        for optimizer, rate in rates:
            set_learning_rate(optimizer, rate * schedule.factor(step))
        stats = iteration(gan, data.sample(d_batch, rng), torch.randn(d_batch, 2, generator=rng), torch.randn(batch, 2, generator=rng), step)
        if recorder and (step + 1) % FRAME_LOG_EVERY == 0:
            recorder.losses(step + 1, stats)
        if recorder and ((step + 1) % frame_every == 0 or step + 1 == iterations):
            recorder(gan, step + 1)
    with torch.no_grad():
        points = gan.ema.module.eval()(torch.randn(EVAL_SAMPLES, 2, generator=rng)).numpy()
    return score(points, data)


def toy_gan(config: Config, lr: float, beta1: float) -> GAN:
    """PacGAN's networks with the preset's network remedies (packing, G without BatchNorm, spectral norm), built as
    every run's are; G learns at `lr`, D at lr times the preset's lr_d / lr_g (its two time-scale ratio)."""
    rates = {"optim.lr_g": lr, "optim.lr_d": lr * config.optim.lr_d / config.optim.lr_g, "optim.beta1": beta1}
    return build_gan(config.merged({**rates, "model.arch": "toy2d"}, "toy2d"), torch.device("cpu"))


def real_floor(dataset: str, seed: int = 0) -> ModeCoverage:
    data = mixture(dataset)
    return score(data.sample(EVAL_SAMPLES, torch.Generator().manual_seed(seed)).numpy(), data)


def _timed_run(run: tuple) -> tuple[ModeCoverage, float]:
    config, dataset, seed, iterations, frames, frame_every = run
    started = time.perf_counter()
    folder = frame_folder(frames, dataset, seed) if frames else None
    return train_one(config, dataset, seed, iterations, frames=folder, frame_every=frame_every), time.perf_counter() - started


def frame_folder(frames: Path, dataset: str, seed: int) -> Path:
    """The run folder of one dataset and seed's frames under `bench toy2d --record DIR`."""
    return Path(frames) / f"{dataset}-seed{seed}"


def run_benchmark(config: Config, preset: str, datasets: list[str], seeds: int, iterations: int, log=print, jobs: int = 1,
                  frames: Path | None = None, frame_every: int = 500) -> str:
    """Each dataset's seeds 0..seeds-1, in `jobs` worker processes (every run is seeded by itself and uses one CPU
    thread, so which worker takes it does not matter). `frames`: a folder that gets one
    run folder of GAN Lab-style frames per dataset and seed (frame_folder)."""
    if jobs < 1:
        raise GanforgeError("jobs must be at least 1")
    if frame_every < 1:
        raise GanforgeError("frame_every must be at least 1")
    if not datasets or any(d not in DATASETS for d in datasets):
        raise GanforgeError(f"toy2d datasets: {', '.join(DATASETS)} or both, not {','.join(datasets) or 'none'}")
    runs = [(config, dataset, seed, iterations, frames, frame_every) for dataset in datasets for seed in range(seeds)]
    results = {dataset: [] for dataset in datasets}
    with multiprocessing.get_context("spawn").Pool(min(jobs, len(runs))) if jobs > 1 else contextlib.nullcontext() as pool:
        outcomes = pool.imap(_timed_run, runs) if pool else map(_timed_run, runs)  # in order, as they finish
        for (_, dataset, seed, *_), (result, seconds) in zip(runs, outcomes):
            log(f"{dataset} seed {seed}: {result.modes_covered}/{result.num_modes} modes, {100 * result.high_quality:.1f}% high quality, "
                f"reverse KL {result.reverse_kl:.3f} ({seconds:.0f} s)")
            results[dataset].append(result)
    if frames:  # each recorded run as a page that opens offline
        from ..web.report import write_report

        for dataset in datasets:
            for seed in range(seeds):
                write_report(frame_folder(frames, dataset, seed))
    rows = []
    for dataset in datasets:
        rows.append(_row(f"ganforge {preset} ({iterations:,} it)", dataset, results[dataset]))
        for name, (modes, quality, kl) in PUBLISHED[dataset].items():
            rows.append(f"| {dataset} | {name} (PacGAN Table 1, 400k it) | {modes} | {quality}% | {kl} |")
        floor = real_floor(dataset)
        rows.append(f"| {dataset} | real data (floor) | {floor.modes_covered} | {100 * floor.high_quality:.1f}% | {floor.reverse_kl:.4f} |")
    header = f"| data | model | modes (mean ± s.e. over {seeds} seeds) | high quality | reverse KL |\n|---|---|---|---|---|"
    return "\n".join([header, *rows])


def _row(name: str, dataset: str, results: list[ModeCoverage]) -> str:
    def mean_se(values):
        values = np.asarray(values, dtype=np.float64)
        se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else 0.0
        return values.mean(), se

    modes, quality, kl = (mean_se([getattr(r, f) for r in results]) for f in ("modes_covered", "high_quality", "reverse_kl"))
    return f"| {dataset} | {name} | {modes[0]:.1f} ± {modes[1]:.1f} | {100 * quality[0]:.1f} ± {100 * quality[1]:.1f}% | {kl[0]:.3f} ± {kl[1]:.3f} |"
