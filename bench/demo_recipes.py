"""The demo's budget, recipe against recipe: `shapes` at 32 px for the same minutes of training on this machine,
each run scored by the shipped classifier at its last checkpoint and at best.pt, with the diagnosis's warnings
counted. Runs one after another in one process, so every recipe gets the same machine.

    python bench/demo_recipes.py [--recipes demo,dcgan-demo] [--minutes 4.5] [--amp auto,off] [--busy 0,1]
                                 [--seeds 0] [--samples 2000] [--out runs/bench-demo]

--busy 1 keeps one core busy with a spinning process during each run (a user's other work). Goal (docs/results.md, the demo's benchmark):
>= 110/120 modes, >= 85% high quality, fd_shapes <= 100, no warning, last within 10% of best's fd_shapes.
"""
import argparse
import json
import multiprocessing
import time
from pathlib import Path

from ganforge.studies.machine import cpu_name
from ganforge.config import load_config
from ganforge.metrics.evaluate import evaluate
from ganforge.train.loop import train

# What every row shares (the Makefile's `demo` run), then each recipe's own settings.
DEMO = {"model.resolution": 32, "train.batch_size": 64, "train.iterations": 30000, "optim.lr_decay": 0.3, "train.sample_every": 500,
        "train.checkpoint_every": 2000, "train.best_every": 1000}
# Recipes named after an earlier preset keep the settings it had then (beta2 0.999 before it took 0.99, no full-resolution
# layer in G before it took one: docs/results.md, the demo's benchmark).
BEFORE_X = {"model.dcgan.full_res_channels": 0}
RECIPES = {
    "demo": ("demo", {"train.batch_size": 32, "optim.lr_decay": 0.0}),  # the Makefile's: the demo preset
    # the preset before G's full-resolution layer (docs/results.md): G's last doubling makes RGB itself, no layer at full resolution
    "demo-no-full-res": ("demo", {"train.batch_size": 32, "optim.lr_decay": 0.0, **BEFORE_X}),
    # a wider full-resolution layer: 32 channels instead of the preset's 16
    "demo-full-res-32": ("demo", {"train.batch_size": 32, "optim.lr_decay": 0.0, "model.dcgan.full_res_channels": 32}),
    # the preset before its rates doubled (docs/results.md): G 2e-4, D 1e-4
    "demo-slow": ("demo", {"train.batch_size": 32, "optim.lr_decay": 0.0, "optim.lr_g": 2e-4, "optim.lr_d": 1e-4, "optim.beta2": 0.999,
                           **BEFORE_X}),
    # the preset before beta2 0.99 (docs/results.md): Adam's beta2 at 0.999 instead of StyleGAN's 0.99
    "demo-beta2-0.999": ("demo", {"train.batch_size": 32, "optim.lr_decay": 0.0, "optim.beta2": 0.999, **BEFORE_X}),
    # the preset's rates tripled instead (docs/results.md, the demo's benchmark: past the edge at this budget)
    "demo-faster": ("demo", {"optim.beta2": 0.999, "train.batch_size": 32, "optim.lr_decay": 0.0, "optim.lr_g": 6e-4, "optim.lr_d": 3e-4,
                             **BEFORE_X}),
    # the preset before nearest upsampling: G's doublings as Radford et al.'s transposed convolutions, G 2e-4, D 1e-4
    "demo-transposed": ("demo", {"optim.beta2": 0.999, "train.batch_size": 32, "optim.lr_decay": 0.0, "model.dcgan.upsample": "transposed",
                                 "optim.lr_g": 2e-4, "optim.lr_d": 1e-4, **BEFORE_X}),
    # G's rate doubled alone, D at 1e-4 (docs/results.md, the demo's benchmark)
    "demo-fast-g": ("demo", {"optim.beta2": 0.999, "train.batch_size": 32, "optim.lr_decay": 0.0, "optim.lr_g": 4e-4, "optim.lr_d": 1e-4,
                             **BEFORE_X}),
    # D at half G's width, G 4e-4, D 1e-4, transposed convolutions (screens H and I in docs/results.md)
    "demo-narrow-d": ("demo", {"optim.beta2": 0.999, "train.batch_size": 32, "optim.lr_decay": 0.0, "model.d_width": 16, "optim.lr_g": 4e-4,
                               "optim.lr_d": 1e-4, "model.dcgan.upsample": "transposed", **BEFORE_X}),
    # `make demo` before the demo preset: the seed family at width 16
    "demo-before": ("dcgan", {"model.width": 16, "optim.lr_d": 5e-4, "optim.lr_g": 5e-4, "train.batch_size": 32, "optim.lr_decay": 0.0,
                              "remedies.diffaugment": "translation", "remedies.ema_half_life": 10000.0}),
    "modern": ("modern", {}),  # as the preset is, R3GAN's sizes and rates
    # The modern objective (RpGAN + R1 + R2, EMA) at the settings that screened best for each family at this budget:
    "modern-r3": ("modern", {"model.r3.shuffle": True, "model.r3.width": 16, "optim.lr_d": 5e-4, "optim.lr_g": 5e-4,
                             "train.batch_size": 32, "optim.lr_decay": 0.0, "remedies.diffaugment": "translation"}),
    "modern-seed-family": ("modern", {"model.arch": "seed", "model.width": 16, "model.latent_dim": 100, "optim.lr_d": 5e-4,
                                      "optim.lr_g": 5e-4, "optim.beta1": 0.5, "train.batch_size": 32, "optim.lr_decay": 0.0,
                                      "remedies.r1_gamma": 1.0, "remedies.r2_gamma": 1.0, "remedies.lazy_interval": 8,
                                      "remedies.diffaugment": "translation"}),
    "dcgan-demo": ("dcgan", {"model.width": 16, "optim.lr_d": 5e-4, "optim.lr_g": 5e-4}),  # `make demo` before the dcgan family's demo preset
    "stable": ("stable", {"model.width": 16}),
}


def _spin() -> None:
    while True:
        pass


def run_row(recipe: str, amp: str, busy: int, seed: int, minutes: float, samples: int, out: Path, extra: dict) -> dict:
    preset, settings = RECIPES[recipe]
    folder = out / f"{recipe}-{amp}-busy{busy}-seed{seed}"
    config = load_config(preset, overrides={**DEMO, **settings, "train.amp": amp, "train.max_minutes": minutes, "train.seed": seed, **extra})
    spinners = [multiprocessing.get_context("spawn").Process(target=_spin, daemon=True) for _ in range(busy)]
    for spinner in spinners:
        spinner.start()
    started = time.perf_counter()
    try:
        run = train(config, folder, progress=False, log=lambda *_: None)
    finally:
        for spinner in spinners:
            spinner.terminate()
    took = time.perf_counter() - started
    last = evaluate(run.last_checkpoint, "shapes", ["modes", "fd"], samples, log=lambda *_: None)
    best = evaluate(folder / "checkpoints" / "best.pt", "shapes", ["modes", "fd"], samples, log=lambda *_: None)
    warnings = [json.loads(line)["message"] for line in (folder / "warnings.jsonl").read_text().splitlines()] \
        if (folder / "warnings.jsonl").exists() else []
    return {"recipe": recipe, "amp": amp, "busy": busy, "seed": seed, "iterations": run.step, "seconds": round(took),
            "modes": last["modes_covered"], "high_quality": last["high_quality"], "reverse_kl": last["reverse_kl"],
            "fd_last": last["fd_shapes"], "fd_best": best["fd_shapes"], "best_step": best["checkpoint_step"],
            "warnings": len(warnings), "d_wins": sum("D wins" in w for w in warnings), "grid": str(run.sample_grid)}


def table(rows: list[dict]) -> str:
    lines = ["| recipe | amp | busy cores | seed | iterations | modes | high quality | reverse KL | fd_shapes last | best (step) | warnings (D wins) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['recipe']} | {r['amp']} | {r['busy']} | {r['seed']} | {r['iterations']:,} | {r['modes']}/120 | {100 * r['high_quality']:.1f}% "
                     f"| {r['reverse_kl']:.3f} | {r['fd_last']:.0f} | {r['fd_best']:.0f} ({r['best_step']:,}) | {r['warnings']} ({r['d_wins']}) |")
    return "\n".join(lines)


def _recipe_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in RECIPES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown recipe(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(RECIPES)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default="demo,demo-before", type=_recipe_names, help=f"comma-separated: {', '.join(RECIPES)}")
    parser.add_argument("--minutes", type=float, default=4.5)
    parser.add_argument("--amp", default="auto", help="comma-separated train.amp values, e.g. auto,off")
    parser.add_argument("--busy", default="0", help="comma-separated counts of busy cores, e.g. 0,1")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--out", default="runs/bench-demo")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting laid over every recipe")
    args = parser.parse_args()
    out = Path(args.out)
    extra = dict(item.split("=", 1) for item in args.set)
    print(f"shapes 32 px, {args.minutes:g} min of training per run, {args.samples} samples scored; {cpu_name()}, "
          f"{multiprocessing.cpu_count()} cores" + (f"; with {', '.join(args.set)}" if args.set else ""), flush=True)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for busy in (int(b) for b in args.busy.split(",")):
            for amp in args.amp.split(","):
                for recipe in args.recipes:
                    rows.append(run_row(recipe.strip(), amp.strip(), busy, seed, args.minutes, args.samples, out, extra))
                    print(json.dumps(rows[-1]), flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
