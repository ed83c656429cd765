"""MKL's modes side by side: how many different runs one command gives in fresh processes beside a busy core, and
how fast training goes in each mode. ganforge sets AVX2,STRICT (ganforge/determinism.py); this is the table
behind that choice.

    python bench/mkl_modes.py [--runs 10] [--modes default,AUTO,AVX512,AVX2,one-thread]
    python bench/mkl_modes.py --runs 1 --modes default,AVX2,default,AVX2   # speed alone, alternated

Each run is a fresh process, as a resumed or repeated command is. "default" is MKL as PyTorch ships it: the
child runs a matrix product before ganforge can set a mode. Speed: `demo` at 32 px and `seed` at 64 px, the
images per second of each run's last logged iteration.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = {  # name -> (environment, whether MKL runs before ganforge sets its mode)
    "default": ({}, True),
    "AUTO": ({"MKL_CBWR": "AUTO"}, False),
    "AVX512": ({"MKL_CBWR": "AVX512,STRICT"}, False),
    "AVX2": ({}, False),  # ganforge's own choice
    "one-thread": ({"MKL_NUM_THREADS": "1"}, True),
}
CHILD = """
import sys, torch
if {mkl_first}:
    torch.ones(8, 8) @ torch.ones(8, 8)  # MKL runs first: the mode is fixed before ganforge could set one
from ganforge.config import load_config
from ganforge.train.loop import train
train(load_config(sys.argv[1], overrides=dict(a.split("=", 1) for a in sys.argv[3:])), sys.argv[2], progress=False, log=lambda *_: None)
"""
TINY = ["model.resolution=32", "model.latent_dim=8", "train.batch_size=4", "train.iterations=3", "train.sample_every=0",
        "model.width=16", "data.shapes_size=24", "train.log_every=1", "train.diagnose_every=0"]
SPEED = {"demo 32 px": ("demo", ["model.resolution=32", "train.iterations=300", "train.log_every=100"]),
         "seed 64 px": ("seed", ["model.resolution=64", "train.iterations=30", "train.log_every=10"])}
QUIET = ["train.sample_every=0", "train.diagnose_every=0", "train.checkpoint_every=0", "train.best_every=0"]


def run(mode: str, preset: str, settings: list[str], out: Path) -> Path:
    extra, mkl_first = MODES[mode]
    env = {**{k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "MKL_NUM_THREADS")}, **extra}
    subprocess.run([sys.executable, "-c", CHILD.format(mkl_first=mkl_first), preset, str(out), *settings], env=env, check=True)
    return out


def result_of(out: Path) -> str:
    losses = [{k: v for k, v in json.loads(line).items() if k not in ("img_per_s", "time_s")}
              for line in (out / "metrics.jsonl").read_text().splitlines()]
    return hashlib.md5(json.dumps(losses).encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    print(f"{'MKL mode':<12} {'different runs':>15} " + " ".join(f"{name + ' img/s':>17}" for name in SPEED))
    with tempfile.TemporaryDirectory() as folder:
        for row, mode in enumerate(args.modes.split(",")):  # a mode may come back: each row has its own runs
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                results = {result_of(run(mode, "seed", TINY, Path(folder) / f"{row}-{i}")) for i in range(args.runs)}
            finally:
                busy.kill()
            speeds = []
            for name, (preset, settings) in SPEED.items():
                out = run(mode, preset, settings + QUIET, Path(folder) / f"{row}-{preset}")
                speeds.append(json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["img_per_s"])
            print(f"{mode:<12} {f'{len(results)} in {args.runs}':>15} " + " ".join(f"{s:>17.1f}" for s in speeds), flush=True)


if __name__ == "__main__":
    main()
