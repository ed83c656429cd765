"""Sampling images from a trained checkpoint."""
import io
import shutil
from pathlib import Path

import torch

from ..errors import GanforgeError, output_folder
from ..viz import save_grid, to_uint8
from ..nets.conditional import images_of
from .classes import ALL, class_index, labels_for
from .load import load_any_generator

CHUNK = 256  # z is drawn and G run this many at a time: memory stays flat in n, and the first k images of any n agree
MAX_GRID = 4096  # one picture of more tiles than this is unreadable (and large): write files instead
DISK_MARGIN = 1.1  # PNG sizes vary between samples: refuse unless the estimate has 10% to spare


def sample_name(index: int, count: int) -> str:
    """sample-00000.png ...: zero-padded to the widest index, so that names sort as numbers for any count."""
    return f"sample-{index:0{max(5, len(str(count - 1)))}d}.png"


def _png(pixels) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@torch.no_grad()
def generate(source: str | Path, count: int, out_dir: str | Path, seed: int = 0, grid: bool = False, device="cpu",
             class_name: str | None = None, log=print) -> Path:
    """Write `count` samples as PNGs (or one grid.png) from a run, a checkpoint or an exported .safetensors G.
    G runs in inference mode, as the seed's G.predict. Files are written a chunk at a time; before the first, the
    first chunk's PNG sizes estimate the whole, and a count that would not fit on the disk is refused.
    A conditional G makes `class_name` (a name or index; "all": a grid with a row of `count` per class; none: classes
    drawn with the data's frequencies). Returns grid.png, or the first sample's file."""
    if count < 1:
        raise GanforgeError(f"-n must be at least 1, not {count}")
    if grid and count > MAX_GRID:
        raise GanforgeError(f"-n {count} with --grid: a grid holds at most {MAX_GRID} images; leave out --grid for files")
    generator, config, _ = load_any_generator(source, device)
    chosen = class_index(config.model.class_names, class_name)
    if chosen == ALL:
        grid, columns, count = True, count, count * config.model.num_classes
        if count > MAX_GRID:
            raise GanforgeError(f"--class all -n {columns}: {count} images, more than a grid holds ({MAX_GRID}); give a smaller -n, e.g. 8")
    out_dir = output_folder(out_dir)
    noise = torch.Generator().manual_seed(seed)
    labels = labels_for(generator, chosen, count, torch.Generator().manual_seed(seed + 1), log)

    def chunks():
        for start in range(0, count, CHUNK):
            # always a whole chunk of z, then cut: torch draws small and large normal tensors differently
            z = torch.randn(CHUNK, config.model.latent_dim, generator=noise)[: count - start]
            yield start, images_of(generator, z.to(device), None if labels is None else labels[start: start + len(z)]).cpu()

    if grid:
        return save_grid(torch.cat([images for _, images in chunks()]), out_dir / "grid.png", columns if chosen == ALL else None)
    for start, images in chunks():
        encoded = [_png(pixels) for pixels in to_uint8(images)]
        if start == 0:
            needed = DISK_MARGIN * count * sum(map(len, encoded)) / len(encoded)
            free = shutil.disk_usage(out_dir).free
            if needed > free:
                raise GanforgeError(f"-n {count}: about {needed / 2**30:.1f} GiB of PNGs (measured on the first {len(encoded)}), "
                                    f"but {out_dir} has {free / 2**30:.1f} GiB free")
        for offset, data in enumerate(encoded):
            (out_dir / sample_name(start + offset, count)).write_bytes(data)
    return out_dir / sample_name(0, count)
