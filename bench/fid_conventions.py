"""What FID's input convention does to the number: the same images scored by each of ganforge's conventions
(metrics/inception.py: StyleGAN2-ADA's, pytorch-fid's, clean-fid's), on emoji at 32, 64 and 128 px.

    python bench/fid_conventions.py [--half 500] [--checkpoint RUN ...]

Each row: emoji's two disjoint halves against each other (the real floor); and, for each --checkpoint (trained at
one of the resolutions), --half of its samples against --half real glyphs.
"""
import argparse

import numpy as np
import torch

from ganforge.studies.machine import cpu_name
from ganforge.config import DataConfig
from ganforge.data import load_images
from ganforge.data.sampler import to_training_tensor
from ganforge.metrics import frechet_distance_from_features
from ganforge.metrics.inception import CONVENTIONS, inception_features, load_inception
from ganforge.sampling.load import load_generator
from ganforge.viz import to_uint8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", type=int, default=500)
    parser.add_argument("--resolutions", default="32,64,128")
    parser.add_argument("--checkpoint", action="append", default=[])
    args = parser.parse_args()
    network = load_inception()
    rows = []
    for resolution in map(int, args.resolutions.split(",")):
        pixels = np.asarray(load_images(DataConfig(source="emoji"), resolution, log=lambda *_: None).pixels)
        order = np.random.default_rng(0).permutation(len(pixels))
        first, second = (pixels[order[i * args.half:(i + 1) * args.half]] for i in (0, 1))
        rows.append((f"emoji's halves at {resolution} px", first, second))
        for checkpoint in args.checkpoint:
            generator, config, step = load_generator(checkpoint, "cpu")
            if config.model.resolution != resolution:
                continue
            with torch.no_grad():
                z = torch.randn(args.half, config.model.latent_dim, generator=torch.Generator().manual_seed(0))
                fake = np.concatenate([to_uint8(generator(chunk)) for chunk in z.split(250)])
            rows.append((f"{checkpoint} (step {step}) against real, {resolution} px", fake, first))
    print(f"FID, {args.half} against {args.half} images; {cpu_name()}")
    print("| images | " + " | ".join(CONVENTIONS) + " |\n|---|" + "---|" * len(CONVENTIONS))
    for name, a, b in rows:
        values = [frechet_distance_from_features(*(inception_features(network, to_training_tensor(p), convention=c).numpy()
                                                   for p in (a, b))) for c in CONVENTIONS]
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + " |", flush=True)


if __name__ == "__main__":
    main()
