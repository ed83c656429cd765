"""Sampling images from a trained checkpoint."""
from pathlib import Path

import torch

from .errors import output_folder

from .config import Config
from .train.checkpoint import load_checkpoint
from .train.build import build_generator
from .viz import save_grid, to_uint8


def load_generator(checkpoint: str | Path, device: torch.device | str = "cpu"):
    """The checkpoint's G in inference mode: its weight average (EMA) when the run kept one, else G itself."""
    state = load_checkpoint(checkpoint)
    config = Config.from_dict(state["config"], "checkpoint config")
    generator = build_generator(config)
    generator.load_state_dict(state.get("generator_ema") or state["generator"])
    return generator.to(device).eval(), config, state["step"]


def load_any_generator(source: str | Path, device: torch.device | str = "cpu"):
    """G from a run folder or checkpoint, or from a generator exported as .safetensors."""
    if Path(source).suffix == ".safetensors":
        from .export import load_safetensors_generator

        generator, config, step = load_safetensors_generator(source)
        return generator.to(device), config, step
    return load_generator(source, device)


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
