"""`ganforge study`: which of the seed's choices causes which of its three problems (instability, mode collapse,
sensitivity to hyperparameters)?

Each of the seed's choices is switched one at a time from `seed`, and put back one at a time into "all switched"
(close to `dcgan`): a choice that hurts alone and one that hurts only with the others are different findings. Each
variant trains on toy2d's grid and ring (PacGAN's MLPs: only the choices of the procedure, the optimizer and the
loss apply there) and on shapes at 32 px (the seed's networks at width 16), a fixed number of iterations on one CPU
thread each, several seeds. Each cell is stored as it finishes (cells/DATA/VARIANT/seedN.json), so a rerun goes on
where the last one stopped. The report: a markdown table and one self-contained HTML page, each variant's mean and 95%
confidence interval over seeds, and a few sentences per problem written from the numbers. The third problem's runs
are `ganforge sensitivity`'s (sensitivity.py): the page reads them where they are stored in the same folder.
"""
import contextlib
import json
import math
import multiprocessing
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import load_config
from ..errors import GanforgeError


@dataclass(frozen=True)
class Choice:
    key: str
    what: str  # the seed's choice, in words
    seed: dict  # its settings as the seed has them
    switched: dict  # its settings switched (DCGAN's or Keras' default)
    networks: bool = False  # a choice of the seed's networks: shapes only (toy2d has PacGAN's MLPs)


CHOICES = [
    Choice("g_mode", "D's fakes from G in inference mode (G.predict)", {"train.fakes_g_mode": "inference"}, {"train.fakes_g_mode": "training"}),
    Choice("d_mode", "the frozen D in inference mode in G's step", {"train.frozen_d_mode": "inference"}, {"train.frozen_d_mode": "training"}),
    Choice("beta1", "Adam's beta1 0.05 (DCGAN: 0.5)", {"optim.beta1": 0.05}, {"optim.beta1": 0.5}),
    Choice("lr", "the learning rate 1e-4 (DCGAN: 2e-4)", {"optim.lr_d": 1e-4, "optim.lr_g": 1e-4}, {"optim.lr_d": 2e-4, "optim.lr_g": 2e-4}),
    Choice("bn_momentum", "BatchNorm momentum 0.8 (Keras' default: 0.99)", {"model.seed.bn_momentum": 0.8},
           {"model.seed.bn_momentum": 0.99}, networks=True),
    Choice("double_bn", "G's doubled BatchNorm", {"model.seed.double_bn": True}, {"model.seed.double_bn": False}, networks=True),
    Choice("dense_head", "D's dense head 1024-512-128 (against one linear layer)", {"model.seed.dense_head": True},
           {"model.seed.dense_head": False}, networks=True),
]
# Not part of "all switched": the rate TF 2.11-2.15's Adam runs when given the seed's Adam(lr=...), and the clipped BCE.
EXTRA_SWITCHES = [
    Choice("lr_1e-3", "the learning rate 1e-3 (what tf.keras' new Adam runs)", {}, {"optim.lr_d": 1e-3, "optim.lr_g": 1e-3}),
    Choice("loss", "tf.keras' BCE from logits (against the clipped BCE)", {"train.loss": "logistic"}, {"train.loss": "keras_torch_bce"}),
]


@dataclass(frozen=True)
class Variant:
    name: str
    settings: dict
    base: str  # "seed" or "all switched"
    choice: str = ""  # the choice it differs from its base in
    networks: bool = False


def variants() -> list[Variant]:
    all_switched = {k: v for c in CHOICES for k, v in c.switched.items()}
    found = [Variant("seed", {}, "seed")]
    found += [Variant(f"seed, {c.key} switched", c.switched, "seed", c.key, c.networks) for c in CHOICES + EXTRA_SWITCHES]
    found.append(Variant("all switched", all_switched, "all switched"))
    found += [Variant(f"all switched, {c.key} put back", {**all_switched, **c.seed}, "all switched", c.key, c.networks) for c in CHOICES]
    return found


@dataclass(frozen=True)
class Budget:
    """The full study's budget: 174 cells, 56 minutes on 2 cores with --jobs 2 (docs/seed-study/). The seed's collapse
    is over within its first 100 iterations on shapes. Sensitivity is its own grid of runs (sensitivity.py)."""
    toy_iterations: int = 2500
    toy_seeds: int = 5
    shapes_iterations: int = 500
    shapes_seeds: int = 3
    shapes_size: int = 10000
    samples: int = 1000  # generated (and real) samples scored per shapes run
    datasets: tuple = ("grid", "ring", "shapes")


@dataclass(frozen=True)
class Cell:
    data: str  # grid, ring or shapes
    variant: str
    seed: int
    settings: dict = field(default_factory=dict)

    def path(self, out: Path) -> Path:
        return out / "cells" / self.data / _slug(self.variant) / f"seed{self.seed}.json"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text).strip("-")


def cells(budget: Budget, chosen: list[Variant]) -> list[Cell]:
    found = []
    for v in chosen:
        for data in budget.datasets:
            if data != "shapes" and v.networks:
                continue
            seeds = budget.shapes_seeds if data == "shapes" else budget.toy_seeds
            found += [Cell(data, v.name, s, v.settings) for s in range(seeds)]
    return found


# One cell --------------------------------------------------------------------------------------------------------------

def run_cell(cell: Cell, budget: Budget, out: Path) -> dict:
    """Trains one cell on one CPU thread and returns what is stored for it."""
    import torch

    from .sweep import SUCCESS
    from .toy2d import train_one

    torch.set_num_threads(1)
    if cell.data in ("grid", "ring"):
        config = load_config("seed", overrides={**cell.settings, "model.arch": "toy2d"})
        r = train_one(config, cell.data, seed=cell.seed, iterations=budget.toy_iterations, lr=config.optim.lr_g,
                      beta1=config.optim.beta1, batch=config.train.batch_size)
        rule = SUCCESS[cell.data]
        return {"modes": r.modes_covered, "num_modes": r.num_modes, "high_quality": r.high_quality, "reverse_kl": r.reverse_kl,
                "success": r.modes_covered >= rule.min_modes and r.high_quality >= rule.min_quality}
    return _run_shapes(cell, budget, out)


def _run_shapes(cell: Cell, budget: Budget, out: Path) -> dict:
    from ..metrics.evaluate import evaluate
    from ..run_folder import BEST, METRICS, checkpoint_dir, read_log
    from ..train.loop import train

    folder = out / "runs" / _slug(cell.variant) / f"seed{cell.seed}"
    n = budget.shapes_iterations
    config = load_config("seed", overrides={**cell.settings, "model.resolution": 32, "model.width": 16, "train.iterations": n,
                                            "train.seed": cell.seed, "train.sample_every": 0, "train.checkpoint_every": n,
                                            "train.best_every": max(1, n // 4), "train.best_samples": budget.samples,
                                            "data.shapes_size": budget.shapes_size, "train.amp": "off", "train.device": "cpu"})
    run = train(config, folder, progress=False, log=lambda *_: None)
    last = evaluate(run.last_checkpoint, "shapes", ["modes", "fd"], budget.samples, log=lambda *_: None)
    best = evaluate(checkpoint_dir(folder) / BEST, "shapes", ["fd"], budget.samples, log=lambda *_: None)
    log = read_log(folder / METRICS)
    return {"modes": last["modes_covered"], "num_modes": last["num_modes"], "high_quality": last["high_quality"],
            "reverse_kl": last["reverse_kl"], "fd_shapes": last["fd_shapes"], "fd_best": best["fd_shapes"],
            "ends_worse": bool(last["fd_shapes"] > 1.1 * best["fd_shapes"]), **instability(log, n),
            "grid": str(run.sample_grid.relative_to(out)) if run.sample_grid else "",
            "curve": [[row["step"], row["g_loss"], row["d_acc_real"], row["d_acc_fake"]] for row in log]}


def instability(log: list[dict], iterations: int, lines: int = 5, level: float = 0.99) -> dict:
    """The iteration at which D's accuracy first pins (>= level on real and fake for `lines` log lines in a row; the
    diagnosis's rule), or None; and the spread (standard deviation) of G's loss over the run's second half."""
    pinned, streak = None, 0
    for row in log:
        streak = streak + 1 if row["d_acc_real"] >= level and row["d_acc_fake"] >= level else 0
        if streak == lines:
            pinned = row["step"]
            break
    second_half = [row["g_loss"] for row in log if row["step"] > iterations / 2]
    return {"pinned_at": pinned, "g_loss_spread": float(np.std(second_half)) if second_half else 0.0}


def _run_cell_star(job: tuple) -> tuple[Cell, dict]:
    cell, budget, out = job
    return cell, run_cell(cell, budget, out)


def _store(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(result))
    os.replace(partial, path)  # a kill leaves no half-written cell


def run_study(out: Path, budget: Budget = Budget(), jobs: int = 1, only: list[str] | None = None, log=print) -> tuple[list, dict]:
    """Runs every cell not stored yet in `jobs` worker processes; returns the variants run and every stored result
    (study_report.write_study makes the page)."""
    if jobs < 1:
        raise GanforgeError("jobs must be at least 1")
    unknown = set(budget.datasets) - {"grid", "ring", "shapes"}
    if unknown:
        raise GanforgeError(f"study data {', '.join(sorted(unknown))}: choose from grid, ring, shapes")
    known = {v.name: v for v in variants()}
    if only and not set(only) <= set(known):
        raise GanforgeError(f"unknown variant(s) {'; '.join(sorted(set(only) - set(known)))}; known: {'; '.join(known)}")
    wanted = set(only or known) | {known[name].base for name in only or known}  # a switch is read against its base
    chosen = [v for v in known.values() if v.name in wanted]
    for v in chosen:
        load_config("seed", overrides=v.settings or None)  # a setting that does not exist fails before any work
    todo = [c for c in cells(budget, chosen) if not c.path(out).exists()]
    _run_cells(todo, budget, out, jobs, log)
    return chosen, load_results(out, budget, chosen)


def _run_cells(todo: list[Cell], budget: Budget, out: Path, jobs: int, log) -> None:
    if not todo:
        return
    log(f"{len(todo)} cells to run on {jobs} process{'es' if jobs > 1 else ''}")
    jobs_list = [(c, budget, out) for c in sorted(todo, key=lambda c: c.data != "shapes")]  # the long ones first
    with multiprocessing.get_context("spawn").Pool(min(jobs, len(todo))) if jobs > 1 else contextlib.nullcontext() as pool:
        outcomes = pool.imap_unordered(_run_cell_star, jobs_list) if pool else map(_run_cell_star, jobs_list)
        for done, (cell, result) in enumerate(outcomes, 1):
            _store(cell.path(out), result)
            log(f"[{done}/{len(todo)}] {cell.data} | {cell.variant} | seed {cell.seed}: {result['modes']}/{result['num_modes']} modes, "
                f"{100 * result['high_quality']:.1f}% high quality")


def load_results(out: Path, budget: Budget, chosen: list[Variant]) -> dict:
    """{(data, variant name): [cell results]} of the cells stored so far."""
    results = {}
    for cell in cells(budget, chosen):
        if cell.path(out).exists():
            results.setdefault((cell.data, cell.variant), []).append(json.loads(cell.path(out).read_text()))
    return results


# Statistics ------------------------------------------------------------------------------------------------------------

T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]  # Student's t, 97.5%, 1..10 degrees of freedom


@dataclass(frozen=True)
class Interval:
    mean: float
    half: float  # half-width of the 95% confidence interval; inf with one seed
    n: int

    def overlaps(self, other: "Interval") -> bool:
        return abs(self.mean - other.mean) <= self.half + other.half

    def text(self, digits: int = 1, scale: float = 1.0) -> str:
        if self.n == 0:
            return "-"
        half = "?" if math.isinf(self.half) else f"{self.half * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {half}"


def interval(values: list[float]) -> Interval:
    """Mean and the 95% t-interval over seeds."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        return Interval(float("nan"), float("inf"), 0)
    if n == 1:
        return Interval(float(values[0]), float("inf"), 1)
    t = T_975[n - 2] if n - 1 <= len(T_975) else 1.96
    return Interval(float(values.mean()), float(t * values.std(ddof=1) / math.sqrt(n)), n)
