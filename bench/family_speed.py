"""Training speed of each network family, in images per second (real images D sees per second), with the recipe it
is trained by: the seed family by `stable` (the seed's three steps, lazy R1, EMA) at width 16, the dcgan family by
`demo` (the seed's three steps, DiffAugment, EMA; `make demo`'s recipe), fastgan by `fastgan` (demo's recipe and D's
reconstruction of reals), r3 by `modern` (the paired procedure, RpGAN, lazy R1 + R2, EMA), at 32, 64 and 128 px, fp32 and bf16, side by side in one process on this machine.

    python bench/family_speed.py [--resolutions 32,64,128] [--amp off,bf16] [--batch 32] [--seconds 10] [--device cpu]
                                 [--recipe NAME=PRESET:KEY=VALUE,...]   # more rows, e.g. modern-seed=modern:model.arch=seed,model.width=16
"""
import argparse
import multiprocessing
import time

import torch

from ganforge.studies.machine import cpu_name
from ganforge.config import load_config
from ganforge.train.build import PROCEDURES, build_gan, resolve_device

RECIPES = {
    "seed family (stable, width 16)": ("stable", {"model.width": 16}),
    "dcgan family (demo, width 32)": ("demo", {}),
    "fastgan family (fastgan, width 32)": ("fastgan", {}),
    "r3 (modern)": ("modern", {}),
}


def images_per_second(preset: str, settings: dict, resolution: int, amp: str, batch: int, seconds: float, device: torch.device) -> float:
    config = load_config(preset, overrides={**settings, "model.resolution": resolution, "train.batch_size": batch})
    gan = build_gan(config, device)
    iteration = PROCEDURES[config.train.procedure]
    dtype = {"off": None, "bf16": torch.bfloat16}[amp]
    latent = config.model.latent_dim
    real = torch.rand(batch, 3, resolution, resolution, device=device) * 2 - 1

    def step(i: int) -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            stats = iteration(gan, real, torch.randn(batch, latent, device=device), torch.randn(batch, latent, device=device), i)
        stats["g_loss"].item()  # wait for the device

    for i in range(3):  # warm-up: allocator, oneDNN/cuDNN kernel choice
        step(i)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or done < 4:  # at least one lazy-penalty step (every 4th)
        step(3 + done)
        done += 1
    return done * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", default="32,64,128")
    parser.add_argument("--amp", default="off,bf16")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per cell")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--recipe", action="append", default=[], metavar="NAME=PRESET:KEY=VALUE,...")
    args = parser.parse_args()
    recipes = dict(RECIPES)
    for item in args.recipe:
        name, spec = item.split("=", 1)
        preset, _, sets = spec.partition(":")
        recipes[name] = (preset, dict(s.split("=", 1) for s in sets.split(",") if s))
    device = resolve_device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_name()}, {torch.get_num_threads()} threads of {multiprocessing.cpu_count()} cores"
    print(f"images/s at batch {args.batch}, {args.seconds:g} s per cell, on {where}")
    amps = args.amp.split(",")
    print("| recipe | resolution | " + " | ".join(amps) + " |\n|---|---|" + "---|" * len(amps))
    for name, (preset, settings) in recipes.items():
        for resolution in (int(r) for r in args.resolutions.split(",")):
            cells = [f"{images_per_second(preset, settings, resolution, amp, args.batch, args.seconds, device):,.0f}" for amp in amps]
            print(f"| {name} | {resolution} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
