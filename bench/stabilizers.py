"""Issue 4's goals, side by side for the presets: toy2d grid and ring (mean over seeds), and `shapes` at 64x64
trained for a fixed wall-clock budget on this machine, scored by mode coverage.

    python bench/stabilizers.py [--presets seed,dcgan,stable] [--seeds 5] [--toy-iterations 20000] [--jobs 2] [--minutes 30]
                                [--set model.width=16 ...]   # settings laid over each preset (and the bench's own)
                                                             # for the shapes rows

Long: about (presets x (2 x seeds x toy time + minutes)). Prints one Markdown table per benchmark.
"""
import argparse
import tempfile
import time
from pathlib import Path

from ganforge.config import load_config
from ganforge.metrics.evaluate import evaluate
from ganforge.studies.toy2d import run_benchmark
from ganforge.train.build import resolve_device as run_device
from ganforge.train.loop import train


def shapes_row(preset: str, minutes: float, resolution: int, samples: int, device: str = "auto", extra: dict | None = None) -> str:
    """Train for `minutes` of wall clock (train.max_minutes stops the run; set-up and data are not counted).
    `extra` comes last: e.g. train.iterations=N with optim.lr_decay, a schedule that ends within the minutes."""
    settings = {"model.resolution": resolution, "train.batch_size": 32, "train.sample_every": 0, "train.diagnose_every": 0,
                "train.log_every": 50, "train.iterations": 10**9, "train.checkpoint_every": 0, "train.max_minutes": minutes,
                "train.device": device, **(extra or {})}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        run = train(load_config(preset, overrides=settings), Path(folder) / "run", progress=False, log=lambda *_: None)
        took = (time.perf_counter() - started) / 60
        r = evaluate(run.last_checkpoint, "shapes", ["modes"], samples, device=str(run_device(device)), log=lambda *_: None)
    return (f"| {preset} | {run.step} it in {took:.0f} min | {r['modes_covered']}/{r['num_modes']} = {r['modes_covered'] / r['num_modes']:.0%} "
            f"| {100 * r['high_quality']:.1f}% | {r['reverse_kl']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="seed,dcgan,stable")
    parser.add_argument("--seeds", type=int, default=5, help="toy2d seeds per dataset; 0 skips toy2d")
    parser.add_argument("--toy-iterations", type=int, default=20000)
    parser.add_argument("--jobs", type=int, default=1, help="toy2d runs at once, one CPU thread each")
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock training budget per preset on shapes")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (the shapes rows)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting for the shapes rows, e.g. model.width=16")
    args = parser.parse_args()
    presets = [p.strip() for p in args.presets.split(",")]
    for preset in presets if args.seeds else []:  # --seeds 0: the shapes rows alone
        print(run_benchmark(load_config(preset, overrides={"model.arch": "toy2d"}), preset, ["grid", "ring"], args.seeds, args.toy_iterations, log=lambda *_: None, jobs=args.jobs), flush=True)
    print(f"\nshapes at {args.resolution}x{args.resolution}, {args.minutes:g} minutes of training each on {run_device(args.device)}, {args.samples} samples scored")
    extra = dict(item.split("=", 1) for item in args.set)
    if extra:
        print("with " + ", ".join(args.set))
    print("| preset | training | modes covered | high quality | reverse KL |\n|---|---|---|---|---|")
    for preset in presets:
        print(shapes_row(preset, args.minutes, args.resolution, args.samples, args.device, extra), flush=True)


if __name__ == "__main__":
    main()
