"""Sampling images from a trained checkpoint."""
from pathlib import Path

import torch

from ..errors import output_folder
from ..viz import save_grid, to_uint8
from .load import load_any_generator


@torch.no_grad()
def generate(source: str | Path, count: int, out_dir: str | Path, seed: int = 0, grid: bool = False, device="cpu") -> list[Path]:
    """Write `count` samples as PNGs (or one grid.png) from a run, a checkpoint or an exported .safetensors G.
    G runs in inference mode, as the seed's G.predict."""
    generator, config, _ = load_any_generator(source, device)
    z = torch.randn(count, config.model.latent_dim, generator=torch.Generator().manual_seed(seed))
    images = torch.cat([generator(chunk.to(device)).cpu() for chunk in z.split(256)])
    out_dir = output_folder(out_dir)
    if grid:
        return [save_grid(images, out_dir / "grid.png")]
    from PIL import Image

    paths = []
    for i, pixels in enumerate(to_uint8(images)):
        path = out_dir / f"sample-{i:05d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths
