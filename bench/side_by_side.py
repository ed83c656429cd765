"""Recipes side by side: each trains at the same time as the others, one CPU thread each, for the same minutes on the
same data, so that every recipe gets the same machine under the same load. On `shapes` each run is scored by the
shipped classifier; elsewhere (a folder, emoji) FID needs Inception's weights, so the table names the sample grids
to look at instead.

    python bench/side_by_side.py --data shapes --resolution 64 --minutes 30 \\
        --recipe stable-w16 stable model.width=16 --recipe demo demo [--seed 0] [--samples 10000] [--out runs/side]

A recipe is NAME PRESET [KEY=VALUE ...]: a preset and the settings laid over it. Use as many recipes as the machine
has cores.
"""
import argparse
import multiprocessing
import os
import time
from pathlib import Path

from ganforge.bench.machine import cpu_name


def run_one(name: str, preset: str, settings: dict, data: str, resolution: int, minutes: float, batch: int, seed: int,
            samples: int, out: Path) -> dict:
    import torch

    torch.set_num_threads(1)
    from ganforge.config import load_config
    from ganforge.metrics.evaluate import evaluate
    from ganforge.train.loop import train

    overrides = {"data.source": data, "model.resolution": resolution, "train.batch_size": batch, "train.iterations": 10**9,
                 "train.max_minutes": minutes, "train.seed": seed, "train.amp": "auto", "train.sample_every": 1000,
                 "train.checkpoint_every": 2000, **settings}
    started = time.perf_counter()
    run = train(load_config(preset, overrides=overrides), out / name, progress=False, log=lambda *_: None)
    row = {"recipe": name, "preset": preset, "settings": settings, "iterations": run.step,
           "minutes": round((time.perf_counter() - started) / 60, 1), "grid": str(run.sample_grid)}
    if data == "shapes":
        scores = evaluate(run.last_checkpoint, "shapes", ["modes", "fd"], samples, log=lambda *_: None)
        row.update(modes=scores["modes_covered"], high_quality=scores["high_quality"], reverse_kl=scores["reverse_kl"],
                   fd=scores["fd_shapes"], by_shape=scores.get("shape_modes_covered"))
    return row


def table(rows: list[dict], shapes: bool) -> str:
    head = "| recipe | preset + settings | iterations |" + (" modes | high quality | reverse KL | fd_shapes | modes by shape |" if shapes else " grid |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        what = r["preset"] + "".join(f", {k}={v}" for k, v in r["settings"].items())
        line = f"| {r['recipe']} | {what} | {r['iterations']:,} |"
        if shapes:
            by_shape = ", ".join(f"{shape} {n}" for shape, n in (r["by_shape"] or {}).items())
            line += f" {r['modes']}/120 | {100 * r['high_quality']:.1f}% | {r['reverse_kl']:.3f} | {r['fd']:.0f} | {by_shape} |"
        else:
            line += f" {r['grid']} |"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", nargs="+", action="append", required=True, metavar="NAME PRESET [KEY=VALUE]")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=10000, help="samples scored per run (shapes)")
    parser.add_argument("--out", default="runs/side-by-side")
    args = parser.parse_args()
    jobs = []
    for recipe in args.recipe:
        if len(recipe) < 2 or any("=" not in s for s in recipe[2:]):
            parser.error(f"--recipe {' '.join(recipe)}: give NAME PRESET [KEY=VALUE ...]")
        settings = dict(s.split("=", 1) for s in recipe[2:])
        jobs.append((recipe[0], recipe[1], settings, args.data, args.resolution, args.minutes, args.batch_size, args.seed,
                     args.samples, Path(args.out)))
    print(f"{args.data} at {args.resolution} px, {args.minutes:g} minutes of training each, {len(jobs)} recipes at once, one thread "
          f"each, seed {args.seed}; {cpu_name()}, {os.cpu_count()} cores", flush=True)
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        rows = pool.starmap(run_one, jobs)
    for row in rows:
        print(row, flush=True)
    print(table(rows, args.data == "shapes"))


if __name__ == "__main__":
    main()
