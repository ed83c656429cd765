"""Recipes side by side: each trains at the same time as the others, one CPU thread each, for the same minutes on the
same data, so that every recipe gets the same machine under the same load. On `shapes` each run is scored by the
shipped classifier. Elsewhere (a folder, emoji) each run is scored after all have trained, with every core, by FID and
KID on Inception's features (StyleGAN2-ADA's convention), with precision and recall beside them (a generator that
copies its training images scores high precision and low recall) and the samples' 2-pixel period (metrics/spectrum.py:
the dotted texture, measured; the real images' own is printed with the floor); the real images' two halves against
each other give the floor. A conditional recipe (data.conditional=true) adds its classes' scores: on shapes the share
of samples the classifier reads as the mode asked for, elsewhere a FID and KID per class.

    python bench/side_by_side.py --data shapes --resolution 64 --minutes 30 \\
        --recipe stable-w16 stable model.width=16 --recipe demo demo [--seed 0] [--samples 10000] [--out runs/side]
    python bench/side_by_side.py --data emoji --resolution 64 --minutes 10 --samples 3926 \\
        --recipe demo demo --recipe stable-w16 stable model.width=16

A recipe is NAME PRESET [KEY=VALUE ...]: a preset and the settings laid over it. Use as many recipes as the machine
has cores.
"""
import argparse
import multiprocessing
import os
import time
from pathlib import Path

from ganforge.studies.machine import cpu_name


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
           "minutes": round((time.perf_counter() - started) / 60, 1), "grid": str(run.sample_grid),
           "checkpoint": str(run.last_checkpoint)}
    if data == "shapes":
        scores = evaluate(run.last_checkpoint, "shapes", ["modes", "fd"], samples, log=lambda *_: None)
        row.update(modes=scores["modes_covered"], high_quality=scores["high_quality"], reverse_kl=scores["reverse_kl"],
                   fd=scores["fd_shapes"], by_shape=scores.get("shape_modes_covered"), accuracy=scores.get("conditional_accuracy"))
    return row


def two_pixel_period(checkpoint: str, count: int = 512) -> float:
    """The dotted texture, measured: the samples' spectrum at the 2-pixel period over its neighbours (metrics/spectrum.py)."""
    import torch

    from ganforge.metrics.spectrum import lattice_peaks
    from ganforge.nets.conditional import rgb, with_drawn_labels
    from ganforge.sampling.load import load_generator
    from ganforge.viz import to_uint8

    generator, config, _ = load_generator(checkpoint)
    noise = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a conditional G: its classes drawn with the data's frequencies
        samples = to_uint8(rgb(generator(with_drawn_labels(generator, torch.randn(count, config.model.latent_dim, generator=noise), noise))))
    return lattice_peaks(samples)[2]


def score_on_inception(rows: list[dict], data: str, resolution: int, samples: int) -> dict:
    """FID, KID, precision and recall of each run's last checkpoint, and the real images' halves against each other."""
    import numpy as np

    from ganforge.config import DataConfig
    from ganforge.data import load_images
    from ganforge.data.sampler import to_training_tensor
    from ganforge.metrics import frechet_distance_from_features, kernel_inception_distance
    from ganforge.metrics.evaluate import evaluate
    from ganforge.metrics.features import INCEPTION, load_space
    from ganforge.metrics.spectrum import lattice_peaks

    quiet = lambda *_: None  # noqa: E731
    for row in rows:
        scores = evaluate(row["checkpoint"], data, ["fid", "kid", "pr"], samples, log=quiet)
        row.update(fid=scores["fid"], kid=scores["kid"], precision=scores["precision"], recall=scores["recall"],
                   samples=scores["samples"], real_samples=scores["real_samples"], dots=two_pixel_period(row["checkpoint"]),
                   per_class=scores.get("per_class"))
    real = np.asarray(load_images(DataConfig(source=data), resolution, log=quiet).pixels)
    half = len(real) // 2
    shuffled = real[np.random.default_rng(0).permutation(len(real))]
    space = load_space(INCEPTION, "cpu", progress=True)
    # real pixels: their features are cached, so every later screen on the same data skips this
    first, second = (space.embed_real(part, to_training_tensor(part), log=quiet)[0] for part in (shuffled[:half], shuffled[half:2 * half]))
    return {"fid": frechet_distance_from_features(first, second), "samples": half, "dots": lattice_peaks(real[:512])[2],
            "kid": kernel_inception_distance(first, second, subsets=50, subset_size=min(1000, half))[0]}


def table(rows: list[dict], shapes: bool) -> str:
    inception = "fid" in rows[0]
    head = "| recipe | preset + settings | iterations |" + (" modes | high quality | reverse KL | fd_shapes | conditional accuracy | modes by shape |" if shapes else
                                                          " FID | KID x 1000 | precision | recall | 2-px period | grid |" if inception else " grid |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        what = r["preset"] + "".join(f", {k}={v}" for k, v in r["settings"].items())
        line = f"| {r['recipe']} | {what} | {r['iterations']:,} |"
        if shapes:
            by_shape = ", ".join(f"{shape} {n}" for shape, n in (r["by_shape"] or {}).items())
            accuracy = "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.1f}%"
            line += f" {r['modes']}/120 | {100 * r['high_quality']:.1f}% | {r['reverse_kl']:.3f} | {r['fd']:.0f} | {accuracy} | {by_shape} |"
        elif inception:
            line += f" {r['fid']:.1f} | {1000 * r['kid']:.1f} | {r['precision']:.3f} | {r['recall']:.3f} | {r['dots']:.2f} | {r['grid']} |"
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
    parser.add_argument("--samples", type=int, default=10000, help="samples scored per run, against as many real images")
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
    if args.data != "shapes":
        floor = score_on_inception(rows, args.data, args.resolution, args.samples)
    for row in rows:
        print(row, flush=True)
    print(table(rows, args.data == "shapes"))
    for row in rows:
        if row.get("per_class"):
            print(f"\n{row['recipe']}, per class (intra-class FID, KID x 1000: each class's samples against its real images)\n"
                  "| class | real | samples | FID | KID x 1000 |\n|---|---|---|---|---|")
            for name, c in row["per_class"].items():
                print(f"| {name} | {c['real']} | {c['samples']} | " + (f"{c['fid']:.1f} | {1000 * c['kid']:.1f} |" if "fid" in c else "- | - |"))
    if args.data != "shapes":
        print(f"\nreal floor: the real images' two halves, {floor['samples']} against {floor['samples']}: FID {floor['fid']:.1f}, "
              f"KID x 1000 {1000 * floor['kid']:.1f}, 2-px period {floor['dots']:.2f}. FID: Inception-v3 2015-12-05, StyleGAN2-ADA's convention; "
              f"each run's {rows[0]['samples']} samples against {rows[0]['real_samples']} real images")


if __name__ == "__main__":
    main()
