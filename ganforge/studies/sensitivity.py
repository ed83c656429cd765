"""`ganforge sensitivity`: the seed's third problem, sensitivity to hyperparameters, measured on image networks.

Every recipe, and the seed with each of its own choices switched alone, trains at the same points (lr, beta1, batch)
drawn once at random and stored with the study, on shapes at 32 px for a fixed number of iterations (not minutes, so
that machines of different speed give the same table), one CPU thread per run. Each run is scored by the shipped
classifier at its last checkpoint and succeeds by a rule fixed before anything runs (SUCCESS). Per recipe: the share of
points that succeed with its 95% Wilson interval, and a picture of the points. Each run is stored as it finishes
(cells/sensitivity-shapes/RECIPE/pointN.json), so a rerun goes on.

A point's lr is D's learning rate; G's keeps the ratio its recipe gives it (1 for all but `demo`, whose G runs at 2x D).
"""
import contextlib
import json
import math
import multiprocessing
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..config import load_config
from ..errors import GanforgeError
from .study import CHOICES, _slug, _store


@dataclass(frozen=True)
class Rule:
    """Success, fixed before any run: the run has learned a good part of shapes' diversity at the last checkpoint.

    Sized by a screen at one central point (lr 2e-4, beta1 0.5, batch 32, 1,000 iterations, 2 cores of an Intel Xeon
    with AMX): `seed` 3 modes and fd_shapes 1,463 (its collapse); the seed with the collapse fix 61 and 339; `dcgan` 63
    and 347; `demo` 47 and 448; `stable` 45 and 567. `make demo` reaches 110 modes in about 9,000 iterations: a rule
    of 100 modes is out of reach of 160 runs in a few hours on 2 cores."""

    min_modes: int = 40
    max_fd_shapes: float = 600.0

    def met(self, modes: int, fd_shapes: float) -> bool:
        return modes >= self.min_modes and fd_shapes <= self.max_fd_shapes

    def text(self) -> str:
        return f">= {self.min_modes} of 120 modes and fd_shapes <= {self.max_fd_shapes:g} at the last checkpoint"


SUCCESS = Rule()

LR_RANGE = (3e-5, 1e-3)  # log-uniform
BETA1S = (0.0, 0.05, 0.5, 0.9)
BATCHES = (16, 32, 64)


@dataclass(frozen=True)
class Point:
    lr: float
    beta1: float
    batch: int

    def text(self) -> str:
        return f"lr {self.lr:.2e}, beta1 {self.beta1:g}, batch {self.batch}"


def draw_points(count: int, seed: int = 0) -> list[Point]:
    """`count` points: lr log-uniform in LR_RANGE, beta1 from BETA1S, batch from BATCHES, one random stream."""
    rng = np.random.default_rng(seed)
    low, high = (math.log10(x) for x in LR_RANGE)
    return [Point(float(10 ** rng.uniform(low, high)), float(rng.choice(BETA1S)), int(rng.choice(BATCHES))) for _ in range(count)]


@dataclass(frozen=True)
class Recipe:
    name: str
    preset: str
    settings: dict


SEED_WIDTH = {"model.width": 16}  # the seed's networks scaled down, as in the rest of the study
# r3 scaled down the same way: at its own width (32, full-resolution stage) one run of 1,000 iterations took 651 s
# on one thread of a busy machine (49 img/s), several times a seed-family run's
R3_SMALL = {"model.r3.width": 16, "model.r3.shuffle": True}
_SWITCHED = {c.key: c for c in CHOICES}


def recipes() -> list[Recipe]:
    """The seed; the seed with each of its own choices that is not an axis of the grid switched alone (d_mode is the
    collapse fix); ganforge's recipes."""
    found = [Recipe("seed", "seed", SEED_WIDTH)]
    for key in ("d_mode", "g_mode", "bn_momentum", "double_bn", "dense_head"):
        found.append(Recipe(f"seed, {key} switched", "seed", {**SEED_WIDTH, **_SWITCHED[key].switched}))
    found += [Recipe("dcgan", "dcgan", SEED_WIDTH), Recipe("stable", "stable", SEED_WIDTH), Recipe("demo", "demo", {}),
              Recipe("images", "images", {}), Recipe("modern", "modern", R3_SMALL)]
    return found


@dataclass(frozen=True)
class SensitivityBudget:
    points: int = 16
    iterations: int = 1000
    samples: int = 1000  # generated (and real) samples scored per run
    shapes_size: int = 10000
    point_seed: int = 0  # the random stream the points are drawn from


def points_path(out: Path) -> Path:
    return out / "sensitivity-points.json"


def stored_points(out: Path, budget: SensitivityBudget) -> list[Point]:
    """The study's points: drawn once and stored, so that every recipe, and every rerun, meets the same ones."""
    path = points_path(out)
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved["budget"] != asdict(budget) or saved["rule"] != asdict(SUCCESS):
            raise GanforgeError(f"{path}: this study was drawn with another budget or success rule ({saved['budget']}, "
                                f"{saved['rule']}); use its own or a new --out")
        return [Point(**p) for p in saved["points"]]
    points = draw_points(budget.points, budget.point_seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    _store(path, {"budget": asdict(budget), "rule": asdict(SUCCESS), "points": [asdict(p) for p in points]})
    return points


def cell_path(out: Path, recipe: Recipe, index: int) -> Path:
    return out / "cells" / "sensitivity-shapes" / _slug(recipe.name) / f"point{index}.json"


def point_config(recipe: Recipe, point: Point, budget: SensitivityBudget):
    """The recipe's settings at the point, with the run's fixed budget."""
    base = load_config(recipe.preset, overrides=recipe.settings or None)
    ratio = base.optim.lr_g / base.optim.lr_d
    n = budget.iterations
    return load_config(recipe.preset, overrides={
        **recipe.settings, "model.resolution": 32, "optim.lr_d": point.lr, "optim.lr_g": point.lr * ratio,
        "optim.beta1": point.beta1, "train.batch_size": point.batch, "train.iterations": n, "train.seed": 0,
        "optim.lr_decay": 0.0, "train.max_minutes": 0.0, "train.sample_every": 0, "train.checkpoint_every": n,
        "train.best_every": 0, "train.diagnose_every": 0, "data.shapes_size": budget.shapes_size, "train.amp": "off",
        "train.device": "cpu"})


def run_point(job: tuple) -> tuple:
    """Trains one recipe at one point on one CPU thread; returns what is stored for it."""
    import torch

    from ..metrics.evaluate import evaluate
    from ..train.loop import train

    recipe, index, point, budget, out = job
    torch.set_num_threads(1)
    folder = out / "runs" / "sensitivity" / _slug(recipe.name) / f"point{index}"
    run = train(point_config(recipe, point, budget), folder, progress=False, log=lambda *_: None)
    scores = evaluate(run.last_checkpoint, "shapes", ["modes", "fd"], budget.samples, log=lambda *_: None)
    finite = bool(np.isfinite(scores["fd_shapes"]))
    result = {"point": asdict(point), "modes": scores["modes_covered"], "high_quality": scores["high_quality"],
              "fd_shapes": scores["fd_shapes"] if finite else None,
              "success": finite and SUCCESS.met(scores["modes_covered"], scores["fd_shapes"])}
    if point_config(recipe, point, budget).remedies.ema_half_life > 0:
        # The rule judges the G a user samples, the EMA. Its half-life is in images (10k), so at batch 16 it averages
        # over the last few hundred of 1,000 iterations; the live G's scores say what that lag costs.
        live = evaluate(run.last_checkpoint, "shapes", ["modes", "fd"], budget.samples, log=lambda *_: None, average=False)
        live_finite = bool(np.isfinite(live["fd_shapes"]))
        result["live_g"] = {"modes": live["modes_covered"], "fd_shapes": live["fd_shapes"] if live_finite else None,
                            "success": live_finite and SUCCESS.met(live["modes_covered"], live["fd_shapes"])}
    return recipe, index, result


def run_sensitivity(out: Path, budget: SensitivityBudget = SensitivityBudget(), jobs: int = 1, only: list[str] | None = None,
                    log=print) -> dict[str, list[dict]]:
    """Every (recipe, point) not stored yet, in `jobs` worker processes; returns {recipe name: results in point order}."""
    if jobs < 1:
        raise GanforgeError("jobs must be at least 1")
    known = {r.name: r for r in recipes()}
    if only and not set(only) <= set(known):
        raise GanforgeError(f"unknown recipe(s) {'; '.join(sorted(set(only) - set(known)))}; known: {'; '.join(known)}")
    chosen = [known[name] for name in (only or known)]
    points = stored_points(out, budget)
    for recipe in chosen:  # a setting that does not exist fails before any work
        point_config(recipe, points[0], budget)
    todo = [(r, i, p, budget, out) for r in chosen for i, p in enumerate(points) if not cell_path(out, r, i).exists()]
    if todo:
        log(f"{len(todo)} runs to train on {jobs} process{'es' if jobs > 1 else ''}")
        with multiprocessing.get_context("spawn").Pool(min(jobs, len(todo))) if jobs > 1 else contextlib.nullcontext() as pool:
            outcomes = pool.imap_unordered(run_point, todo) if pool else map(run_point, todo)
            for done, (recipe, index, result) in enumerate(outcomes, 1):
                _store(cell_path(out, recipe, index), result)
                log(f"[{done}/{len(todo)}] {recipe.name} | point {index} ({points[index].text()}): {result['modes']}/120 modes, "
                    f"fd_shapes {result['fd_shapes'] if result['fd_shapes'] is None else round(result['fd_shapes'])}"
                    f"{', success' if result['success'] else ''}")
    return load_sensitivity(out, chosen, len(points))


def stored_sensitivity(out: Path) -> dict[str, list[dict]]:
    """Whatever sensitivity runs the study folder holds (none: {}), for the study's page."""
    path = points_path(out)
    if not path.is_file():
        return {}
    return load_sensitivity(out, recipes(), len(json.loads(path.read_text())["points"]))


def load_sensitivity(out: Path, chosen: list[Recipe], count: int) -> dict[str, list[dict]]:
    found = {}
    for recipe in chosen:
        rows = [json.loads(cell_path(out, recipe, i).read_text()) for i in range(count) if cell_path(out, recipe, i).exists()]
        if rows:
            found[recipe.name] = rows
    return found


# Statistics ------------------------------------------------------------------------------------------------------------

Z_95 = 1.959963984540054  # the standard normal's 97.5% point


@dataclass(frozen=True)
class Share:
    """k successes of n points, with the 95% Wilson score interval of the success probability."""

    k: int
    n: int
    low: float
    high: float

    def overlaps(self, other: "Share") -> bool:
        return self.low <= other.high and other.low <= self.high

    def text(self) -> str:
        return f"{self.k}/{self.n} ({100 * self.low:.0f}-{100 * self.high:.0f}%)"


def wilson(k: int, n: int, z: float = Z_95) -> Share:
    """Wilson (1927): the interval of p whose normal test does not reject k/n; unlike k/n +- z se, it stays inside
    [0, 1] and is not empty at k = 0 or k = n."""
    if n == 0:
        return Share(0, 0, 0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Share(k, n, max(0.0, centre - half), min(1.0, centre + half))


def shares(results: dict[str, list[dict]]) -> dict[str, Share]:
    return {name: wilson(sum(bool(r["success"]) for r in rows), len(rows)) for name, rows in results.items()}


def live_g_share(rows: list[dict]) -> Share | None:
    """The share of points at which the live G (not its EMA) meets the rule; None for a recipe without an EMA."""
    live = [r["live_g"] for r in rows if "live_g" in r]
    return wilson(sum(bool(r["success"]) for r in live), len(live)) if live else None


LR_BANDS = ((LR_RANGE[0], 1e-4), (1e-4, 3e-4), (3e-4, LR_RANGE[1]))  # lr (D's): low, central, high


def regions(rows: list[dict]) -> dict[str, tuple[int, int]]:
    """Successes by region of the grid: {"beta1 0.9": (won, points there), "batch 16": ..., "lr 1e-04-3e-04": ...},
    each axis alone, so that a recipe's failures can be placed (all in one beta1, at small batches, at high lr)."""
    found = {}
    for key, values in (("beta1", BETA1S), ("batch", BATCHES)):
        for value in values:
            there = [r for r in rows if r["point"][key] == value]
            found[f"{key} {value:g}"] = (sum(bool(r["success"]) for r in there), len(there))
    for low, high in LR_BANDS:
        there = [r for r in rows if low <= r["point"]["lr"] < high or (high == LR_RANGE[1] and r["point"]["lr"] == high)]
        found[f"lr {low:.0e} to {high:.0e}"] = (sum(bool(r["success"]) for r in there), len(there))
    return found


def weakest_region(rows: list[dict], at_least: int = 3) -> tuple[str, int, int] | None:
    """The region (one axis value, with at least `at_least` points) where the fewest of a recipe's points succeed:
    (region, successes, points); the larger region wins a tie. None when no region has that many points."""
    found = [(k / n, -n, name, k, n) for name, (k, n) in regions(rows).items() if n >= at_least]
    return min(found)[2:] if found else None


GOAL = 0.8  # the share of points a robust recipe succeeds at


def picture_data(rows: list[dict]) -> list[tuple[float, float, int, bool]]:
    """Each point of one recipe as (lr, beta1, batch, success): what its panel of the picture draws."""
    return [(r["point"]["lr"], r["point"]["beta1"], r["point"]["batch"], bool(r["success"])) for r in rows]


MARKERS = {16: "o", 32: "s", 64: "^"}  # batch -> marker


def picture(results: dict[str, list[dict]], path: Path) -> Path:
    """One panel per recipe: each point at (lr, beta1), its marker the batch, green where it succeeds, red elsewhere."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    columns = min(5, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.8 * rows), squeeze=False, sharex=True, sharey=True)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names):
        for lr, beta1, batch, success in picture_data(results[name]):
            ax.scatter(lr, BETA1S.index(beta1) if beta1 in BETA1S else beta1, marker=MARKERS.get(batch, "x"), s=40,
                       c="tab:green" if success else "tab:red", alpha=0.8)
        share = shares({name: results[name]})[name]
        ax.set_title(f"{name}: {share.text()}", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlim(LR_RANGE[0] / 1.3, LR_RANGE[1] * 1.3)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # 1e-4 and 1e-3 alone: minor labels collide
        ax.set_yticks(range(len(BETA1S)), [f"{b:g}" for b in BETA1S])
    for ax in axes[-1]:
        ax.set_xlabel("lr (D's)")
    for ax in axes[:, 0]:
        ax.set_ylabel("beta1")
    fig.suptitle("green: success; marker: batch 16 (circle), 32 (square), 64 (triangle)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def answer(results: dict[str, list[dict]]) -> str:
    """The study's third answer, in the form of the other two: which of the seed's choices makes it sensitive, by how
    much, with intervals; a choice is named only where its interval does not overlap the seed's."""
    found = shares(results)
    if "seed" not in found:
        return "sensitivity: no shapes sensitivity runs stored yet (ganforge sensitivity)."
    seed = found["seed"]
    text = f"sensitivity: `seed` succeeds at {seed.text()} of the points ({SUCCESS.text()}; Wilson 95% intervals)"
    switches = {name: s for name, s in found.items() if name.startswith("seed, ")}
    helping = sorted(((s.k - seed.k, name, s) for name, s in switches.items() if not s.overlaps(seed) and s.k > seed.k), reverse=True)
    if helping:
        text += "; " + ", ".join(f"switching {name[len('seed, '):-len(' switched')]} alone -> {s.text()}" for _, name, s in helping)
        text += " (each beyond the intervals)"
    elif switches:
        text += "; no single switch of the seed's choices moves it beyond the intervals (" + ", ".join(
            f"{name[len('seed, '):-len(' switched')]} {s.text()}" for name, s in switches.items()) + ")"
    others = {name: s for name, s in found.items() if not name.startswith("seed")}
    if others:
        text += ". ganforge's recipes: " + ", ".join(f"`{name}` {s.text()}" for name, s in others.items())
        best = max(others, key=lambda name: (others[name].k / max(1, others[name].n), others[name].n))
        weakest = weakest_region(results[best]) if others[best].k < GOAL * others[best].n else None
        if weakest:
            text += (f"; none reaches {GOAL:.0%} of the points: the best, `{best}`, fails most at {weakest[0]} "
                     f"({weakest[1]}/{weakest[2]} succeed there)")
    return text + "."


def shares_table(results: dict[str, list[dict]]) -> list[str]:
    """Markdown lines: per recipe, its successes with their interval, which points succeed, and its live G's share."""
    table = ["| recipe | successes (Wilson 95%) | points that succeed | its live G, not the EMA |", "|---|---|---|---|"]
    for name, share in shares(results).items():
        won = [str(i) for i, r in enumerate(results[name]) if r["success"]]
        live = live_g_share(results[name])
        table.append(f"| {name} | {share.text()} | {', '.join(won) or '-'} | {live.text() if live else '-'} |")
    return table


def write_page(out: Path, budget: SensitivityBudget, results: dict[str, list[dict]]) -> Path:
    """sensitivity.md and sensitivity.html (self-contained: the picture inlined), beside the study's own page."""
    import base64
    import html

    from .machine import cpu_name

    points = stored_points(out, budget)
    image = picture(results, out / "sensitivity.png") if results else None
    head = (f"{budget.points} points drawn once (lr log-uniform in [{LR_RANGE[0]:g}, {LR_RANGE[1]:g}], beta1 in "
            f"{{{', '.join(f'{b:g}' for b in BETA1S)}}}, batch in {{{', '.join(map(str, BATCHES))}}}; a point's lr is D's, G's keeps "
            f"its recipe's ratio); shapes at 32 px, {budget.iterations:,} iterations per run, {budget.samples:,} samples scored, "
            f"one CPU thread per run; {cpu_name()}. Success, fixed before any run: {SUCCESS.text()}.")
    table = shares_table(results)
    axes = list(regions(next(iter(results.values())))) if results else []
    by_region = ["| recipe | " + " | ".join(axes) + " |", "|---" * (len(axes) + 1) + "|"]
    by_region += [f"| {name} | " + " | ".join(f"{k}/{n}" for k, n in regions(rows).values()) + " |" for name, rows in results.items()]
    short = [name.replace("seed, ", "") for name in results]  # "d_mode switched": a narrower column
    listing = ["| point | lr (D's) | beta1 | batch | " + " | ".join(short) + " |", "|---" * (4 + len(results)) + "|"]
    for i, p in enumerate(points):
        scored = [next((r for r in rows if r["point"] == asdict(p)), None) for rows in results.values()]
        listing.append(f"| {i} | {p.lr:.2e} | {p.beta1:g} | {p.batch} | " + " | ".join(
            "-" if r is None else f"{r['modes']} / {'inf' if r['fd_shapes'] is None else round(r['fd_shapes'])}" for r in scored) + " |")
    md = ["# Sensitivity on shapes", "", head, "", f"- **{answer(results)}**", "", *table, "",
          "![each recipe's points](sensitivity.png)" if image else "", "", "## Successes by region of the grid", "",
          "Each axis alone: successes / points there.", "", *by_region, "", "## The points",
          "", "Each run's modes (of 120) / fd_shapes at its last checkpoint.", "", *listing, ""]
    (out / "sensitivity.md").write_text("\n".join(md))
    uri = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode() if image else ""

    def html_table(lines: list[str]) -> str:
        rows = [[html.escape(c.strip()) for c in line.strip("|").split("|")] for line in lines if not line.startswith("|---")]
        return ("<table><tr>" + "".join(f"<th>{c}</th>" for c in rows[0]) + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:]) + "</table>")

    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Sensitivity on shapes</title><style>"
            "body{font:14px sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 8px}td{white-space:nowrap}img{max-width:100%}</style></head><body>"
            f"<h1>Sensitivity on shapes</h1><p>{html.escape(head)}</p><p><b>{html.escape(answer(results))}</b></p>"
            f"{html_table(table)}" + (f"<p><img alt='each recipe&#39;s points' src='{uri}'></p>" if uri else "")
            + f"<h2>Successes by region of the grid</h2><p>Each axis alone: successes / points there.</p>{html_table(by_region)}"
            + f"<h2>The points</h2><p>Each run's modes (of 120) / fd_shapes at its last checkpoint.</p>{html_table(listing)}"
            + "</body></html>")
    path = out / "sensitivity.html"
    path.write_text(page)
    return path
