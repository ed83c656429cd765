"""The seed preset's training iteration, ganforge against the seed's own Keras code on TensorFlow, side by side.

    python bench/seed_speed.py [--batches 8,32,64] [--rounds 5] [--resolution 128]     (or: make bench)

Each side runs in its own worker process (so each has its own peak memory), warmed up, then the workers take
turns, one iteration each per round; the table gives medians. Also printed: the FLOPs of one iteration
(a multiply-add is 2) as the seed's layers are written and as ganforge executes them, the machine's own
throughput on a large 5x5 convolution (forward and backward) measured in the same run, the fraction of it
ganforge reaches, and the data path at 128x128 from a folder of JPEGs, cold and warm. A fourth side runs
ganforge under bf16 autocast: faster where the CPU computes bf16 natively, but no longer the seed's exact numbers.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDES = {
    "keras": "the seed's networks in Keras 3, TensorFlow 2.21",
    "ganforge": "ganforge",
    "ganforge-plain": "ganforge, layers as written, NCHW",
    "ganforge-bf16": "ganforge, bf16 autocast (not the seed's exact numbers)",
}


# --- workers -------------------------------------------------------------------------------------------

def _ganforge_iteration(batch: int, resolution: int, fused: bool, device: str = "cpu", amp: str = "off", compiled: bool = False):
    """One seed iteration as a function. fused: ganforge as it trains (phase-decomposed upsampling convolutions,
    channels-last); otherwise the layers as written in PyTorch's default layout, a plain eager port."""
    import torch

    from ganforge.config import load_config
    from ganforge.train.build import autocast_dtype, build_gan, compile_networks as _compile
    from ganforge.train.procedure import seed_iteration

    device = torch.device(device)
    config = load_config("seed", overrides={"model.resolution": resolution, "train.batch_size": batch, "train.amp": amp})
    gan = build_gan(config, device)
    real = torch.rand(batch, 3, resolution, resolution, device=device) * 2 - 1
    if fused:
        real = real.contiguous(memory_format=torch.channels_last)
    else:
        gan.generator.fused_upsampling = False
        gan.generator.to(memory_format=torch.contiguous_format)
        gan.discriminator.to(memory_format=torch.contiguous_format)
    if compiled:
        _compile(gan)
    dtype = autocast_dtype(amp, device)
    z_fake, z_gen = torch.randn(batch, 100, device=device), torch.randn(batch, 100, device=device)

    def run():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            stats = seed_iteration(gan, real, z_fake, z_gen)
        return stats["g_loss"].item()  # wait for the work, as a training loop's logging does

    return run


def _keras_iteration(batch: int, resolution: int):
    os.environ["KERAS_BACKEND"] = "tensorflow"
    sys.path.insert(0, str(ROOT / "tests"))
    import numpy as np
    import keras_reference as ref

    n_blocks = {32: 2, 64: 3, 128: 4, 256: 5}[resolution]
    if resolution != 128:
        raise SystemExit("the Keras reference is the seed's 128 px model only")
    d = ref.define_discriminator((resolution, resolution, 3), n_blocks)
    g = ref.define_generator(100)
    gan = ref.define_gan(g, d)
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch, resolution, resolution, 3)).astype("float32")

    def run():
        return ref.train_iteration(g, d, gan, real, rng.standard_normal((batch, 100), "float32"), rng.standard_normal((batch, 100), "float32"))

    return run


def worker(side: str, batch: int, resolution: int) -> None:
    if side == "keras":
        run = _keras_iteration(batch, resolution)
    else:
        run = _ganforge_iteration(batch, resolution, side != "ganforge-plain", amp="bf16" if side == "ganforge-bf16" else "off")
    print("ready", flush=True)
    for line in sys.stdin:
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"seconds": elapsed, "peak_mib": peak_mib}), flush=True)


class Worker:
    def __init__(self, side: str, batch: int, resolution: int):
        self.side = side
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", side, "--batches", str(batch), "--resolution", str(resolution)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()
        self.ok = line == "ready"
        self.times, self.peak = [], 0.0

    def step(self, record: bool = True) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        result = json.loads(self.process.stdout.readline())
        if record:
            self.times.append(result["seconds"])
        self.peak = result["peak_mib"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


# --- FLOPs and the machine's throughput ----------------------------------------------------------------

def iteration_flops(batch: int, resolution: int, fused: bool, device: str = "cpu") -> float:
    from torch.utils.flop_counter import FlopCounterMode

    run = _ganforge_iteration(batch, resolution, fused, device)
    with FlopCounterMode(display=False) as counter:
        run()
    return float(counter.get_total_flops())


def conv_throughput(seconds: float = 3.0) -> float:
    """FLOP/s of a large 5x5 convolution, forward and backward (input and weight gradients)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    conv = torch.nn.Conv2d(128, 128, 5, padding=2)
    x = torch.randn(16, 128, 64, 64, requires_grad=True)

    def once():
        conv(x).sum().backward()

    with FlopCounterMode(display=False) as counter:
        once()
    flops = counter.get_total_flops()
    once()
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 3:
        started = time.perf_counter()
        once()
        times.append(time.perf_counter() - started)
    return flops / statistics.median(times)


# --- the data path -------------------------------------------------------------------------------------

def loader_throughput(count: int = 512) -> dict:
    import numpy as np
    from PIL import Image

    from ganforge.config import DataConfig
    from ganforge.data import load_images
    from ganforge.data.sampler import EpochSampler, to_training_tensor

    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        for i in range(count):  # photo-sized JPEGs with some structure, so decoding costs what it costs
            base = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
            Image.fromarray(base).resize((400, 300), Image.BICUBIC).save(Path(folder) / f"{i:05d}.jpg", quality=90)
        config = DataConfig(source=folder, cache_dir=str(Path(folder) / "cache"))
        started = time.perf_counter()
        images = load_images(config, 128, log=lambda *_: None)
        cold = count / (time.perf_counter() - started)
        started = time.perf_counter()
        images = load_images(config, 128, log=lambda *_: None)
        warm_load = count / (time.perf_counter() - started)
        sampler = EpochSampler(len(images), 32, 0)
        started = time.perf_counter()
        for step in range(200):
            to_training_tensor(images.pixels[sampler.indices(step)])
        batches = 200 * 32 / (time.perf_counter() - started)
    return {"cold_img_s": cold, "warm_load_img_s": warm_load, "warm_batches_img_s": batches, "cores": os.cpu_count()}


# --- the table -----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="8,32,64")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, int(args.batches), args.resolution)

    batches = [int(b) for b in args.batches.split(",")]
    print(f"seed preset, {args.resolution}x{args.resolution}, one iteration = D on real + D on fakes + G through frozen D; "
          f"medians of {args.rounds} alternating rounds after one warm-up; {os.cpu_count()} cores")
    print("| batch | side | s / iteration | img/s | x Keras | peak memory |")
    print("|---|---|---|---|---|---|")
    results = {}
    for batch in batches:
        workers = [Worker(side, batch, args.resolution) for side in args.sides.split(",")]
        live = [w for w in workers if w.ok]
        for w in live:
            w.step(record=False)  # warm-up
        for _ in range(args.rounds):
            for w in live:
                w.step()
        keras = next((w for w in live if w.side == "keras"), None)
        for w in workers:
            if not w.ok:
                print(f"| {batch} | {SIDES[w.side]} | not available (make bench installs tensorflow-cpu) | | | |")
                continue
            seconds = statistics.median(w.times)
            ratio = f"{statistics.median(keras.times) / seconds:.2f}" if keras else "-"
            results[(batch, w.side)] = seconds
            print(f"| {batch} | {SIDES[w.side]} | {seconds:.2f} | {batch / seconds:.2f} | {ratio} | {w.peak / 1024:.2f} GiB |")
        for w in workers:
            w.close()

    batch = 32 if 32 in batches else batches[0]
    machine = conv_throughput()
    written, executed = iteration_flops(batch, args.resolution, fused=False), iteration_flops(batch, args.resolution, fused=True)
    print(f"\nFLOPs of one iteration at batch {batch}: {written / 1e12:.2f} T as the seed's layers are written, "
          f"{executed / 1e12:.2f} T as ganforge executes them (phase-decomposed upsampling convolutions)")
    print(f"machine: a 5x5 convolution 128->128 at 64x64, batch 16, forward and backward: {machine / 1e9:.0f} GFLOP/s")
    if (batch, "ganforge") in results:
        seconds = results[(batch, "ganforge")]
        print(f"ganforge at batch {batch}: {executed / seconds / 1e9:.0f} GFLOP/s executed = {executed / seconds / machine:.0%} of the machine's; "
              f"{written / seconds / 1e9:.0f} GFLOP/s of the seed's maths = {written / seconds / machine:.0%}")

    loader = loader_throughput()
    training = batch / results[(batch, "ganforge")] if (batch, "ganforge") in results else float("nan")
    print(f"\ndata path, 512 JPEGs of 400x300 -> 128x128, {loader['cores']} cores: cold (decode, resize, cache) "
          f"{loader['cold_img_s']:.0f} img/s; warm load {loader['warm_load_img_s']:.0f} img/s; warm batches "
          f"{loader['warm_batches_img_s']:.0f} img/s = {loader['warm_batches_img_s'] / training:.0f}x ganforge's training img/s")


if __name__ == "__main__":
    main()
