"""Pictures that move: latent walks (spherical interpolation between random z) and a run's time-lapse, as animated
GIFs written by Pillow (no video dependency) beside a still grid."""
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import GanforgeError, output_folder
from ..nets.conditional import images_of
from .classes import ALL, class_index
from .load import load_any_generator
from ..run_folder import sample_grids
from ..viz import grid_image, to_uint8

MIN_FRAME = 128  # pixels: a walk's frames are enlarged to at least this, by an integer factor


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from a (t=0) to b (t=1) along the great circle through them (White, 2016): a
    Gaussian z keeps a typical norm along it, where a straight line passes through improbable, shorter z.
    a, b: (D,); t: (T,) -> (T, D). Falls back to the straight line when a and b are (nearly) parallel."""
    cos = torch.dot(a, b) / (a.norm() * b.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    t = t[:, None].to(a.dtype)
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def walk_latents(latent_dim: int, stops: int, frames_per_leg: int, seed: int = 0) -> torch.Tensor:
    """`stops` random z, visited in turn and back to the first (a loop): (stops * frames_per_leg, latent_dim)."""
    if stops < 2 or frames_per_leg < 2:
        raise GanforgeError("an interpolation needs at least 2 latents and at least 2 frames between them")
    z = torch.randn(stops, latent_dim, generator=torch.Generator().manual_seed(seed))
    t = torch.arange(frames_per_leg) / frames_per_leg  # the leg's end is the next leg's start
    return torch.cat([slerp(z[i], z[(i + 1) % stops], t) for i in range(stops)])


@torch.no_grad()
def interpolate(source: str | Path, stops: int, out_dir: str | Path, frames_per_leg: int = 16, seed: int = 0,
                device="cpu", class_name: str | None = None) -> tuple[Path, Path]:
    """interpolation.png (one row per leg) and interpolation.gif (the loop, frame by frame). A conditional G walks
    within one class: `class_name` (a name or an index), the first class when none is given."""
    generator, config, _ = load_any_generator(source, device)
    chosen = class_index(config.model.class_names, class_name)
    if chosen == ALL:
        raise GanforgeError("--interpolate walks within one class: give --class NAME, not all")
    z = walk_latents(config.model.latent_dim, stops, frames_per_leg, seed)
    labels = torch.full((len(z),), chosen or 0, dtype=torch.int64) if config.model.num_classes else None
    images = torch.cat([images_of(generator, chunk.to(device), None if labels is None else labels[:len(chunk)]).cpu()
                        for chunk in z.split(256)])
    out_dir = output_folder(out_dir)
    grid = out_dir / "interpolation.png"
    grid_image(images, columns=frames_per_leg).save(grid)
    factor = max(1, MIN_FRAME // images.shape[-1])
    pictures = [Image.fromarray(np.repeat(np.repeat(p, factor, 0), factor, 1)) for p in to_uint8(images)]
    gif = out_dir / "interpolation.gif"
    pictures[0].save(gif, save_all=True, append_images=pictures[1:], duration=80, loop=0)
    return grid, gif


def timelapse(run_dir: str | Path, out: str | Path | None = None, frame_ms: int = 300) -> Path:
    """The run's fixed-noise grids, in step order, as one GIF (the last grid held for 2 s)."""
    run_dir = Path(run_dir)
    grids = sample_grids(run_dir)
    if not grids:
        raise GanforgeError(f"{run_dir}: no sample grids (samples/step-*.png) to make a time-lapse from")
    pictures = [Image.open(path).convert("RGB") for path in grids]
    out = Path(out) if out else run_dir / "timelapse.gif"
    output_folder(out.parent)
    durations = [frame_ms] * (len(pictures) - 1) + [2000]
    pictures[0].save(out, save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return out
