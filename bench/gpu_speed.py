"""The seed preset's training iteration on a GPU: the plain eager port against ganforge's precisions, beside the
card's own bf16 matrix throughput measured in the same run.

    python bench/gpu_speed.py [--batches 64,256] [--iterations 20] [--resolution 128] [--variants plain,fp32,bf16,fp16]
                              [--compile]   (adds bf16 + torch.compile; its compile time is printed apart)

Each variant is timed after warm-up (cuDNN autotuning included), as the median of --iterations iterations,
each ended by reading G's loss (a host synchronisation, as a training loop's logging does). FLOPs are counted
by PyTorch's FlopCounterMode (a multiply-add is 2): "seed maths" is the iteration as the seed's layers are
written, so its TFLOP/s compares variants that do different amounts of work for the same result.
"""
import argparse
import statistics
import time

import torch

from seed_speed import _ganforge_iteration, iteration_flops

VARIANTS = {  # name: (description, fused layers and channels-last, train.amp)
    "plain": ("plain eager port: fp32, layers as written, NCHW", False, "off"),
    "fp32": ("ganforge fp32 (TF32 convolutions, PyTorch's default)", True, "off"),
    "bf16": ("ganforge bf16 autocast", True, "bf16"),
    "fp16": ("ganforge fp16 autocast + loss scaling", True, "fp16"),
}


def bf16_matmul_peak(n: int = 8192, repeats: int = 20) -> float:
    """FLOP/s of a large bf16 matrix product on random data: the card's practical tensor-core ceiling."""
    a, b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16), torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        a @ b
    end.record()
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (start.elapsed_time(end) / 1e3)


def time_variant(batch: int, resolution: int, fused: bool, amp: str, compiled: bool, iterations: int) -> dict:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    run = _ganforge_iteration(batch, resolution, fused, "cuda", amp, compiled)
    for _ in range(3):  # cuDNN autotuning, torch.compile's graphs, the optimizers' state
        run()
    warm_up = time.perf_counter() - started
    times = []
    for _ in range(iterations):
        torch.cuda.synchronize()
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return {"seconds": statistics.median(times), "spread": (max(times) - min(times)) / statistics.median(times),
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30, "warm_up_s": warm_up}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--variants", default="plain,fp32,bf16,fp16")
    parser.add_argument("--compile", action="store_true", help="add bf16 + torch.compile")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/gpu_speed.py needs a CUDA GPU; bench/seed_speed.py is the CPU benchmark")
    torch.backends.cudnn.benchmark = True  # as `ganforge train` sets it on a GPU
    peak = bf16_matmul_peak()
    print(f"{torch.cuda.get_device_name()}, PyTorch {torch.__version__}; bf16 8192^3 matrix product: {peak / 1e12:.0f} TFLOP/s")
    variants = [(name, *VARIANTS[name], False) for name in args.variants.split(",")]
    if args.compile:
        variants.append(("bf16+compile", "ganforge bf16 autocast + torch.compile", True, "bf16", True))
    print(f"seed preset, {args.resolution}x{args.resolution}, median of {args.iterations} iterations after warm-up")
    print("| batch | variant | ms / iteration | img/s | x plain | TFLOP/s executed | % of bf16 peak | seed maths TFLOP/s | peak memory | warm-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for batch in (int(b) for b in args.batches.split(",")):
        written = iteration_flops(batch, args.resolution, fused=False, device="cuda")
        executed = iteration_flops(batch, args.resolution, fused=True, device="cuda")
        plain_seconds = None
        for name, description, fused, amp, compiled in variants:
            try:
                r = time_variant(batch, args.resolution, fused, amp, compiled, args.iterations)
            except Exception as exc:  # one variant failing (memory, compiler) must not hide the others
                print(f"| {batch} | {description} | failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]} | | | | | | | |", flush=True)
                continue
            seconds, flops = r["seconds"], executed if fused else written
            plain_seconds = seconds if name == "plain" else plain_seconds
            ratio = f"{plain_seconds / seconds:.2f}" if plain_seconds else "-"
            print(f"| {batch} | {description} | {seconds * 1e3:.1f} (±{r['spread'] / 2:.0%}) | {batch / seconds:.0f} | {ratio} "
                  f"| {flops / seconds / 1e12:.1f} | {flops / seconds / peak:.1%} | {written / seconds / 1e12:.1f} "
                  f"| {r['peak_gib']:.1f} GiB | {r['warm_up_s']:.0f} s |", flush=True)
        print(f"| {batch} | FLOPs of one iteration | {written / 1e12:.2f} T as written, {executed / 1e12:.2f} T executed | | | | | | | |", flush=True)


if __name__ == "__main__":
    main()
