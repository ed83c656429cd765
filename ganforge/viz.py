"""Pictures: sample grids and loss curves."""
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .run_folder import read_log


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    pixels = (images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5
    return pixels.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def grid_image(images: torch.Tensor, columns: int | None = None, padding: int = 2) -> Image.Image:
    pixels = to_uint8(images)
    count, height, width, _ = pixels.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    canvas = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, 3), 255, np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        top, left = padding + r * (height + padding), padding + c * (width + padding)
        canvas[top : top + height, left : left + width] = image
    return Image.fromarray(canvas)


MIN_TILE = 64  # pixels: smaller samples are enlarged in grids, by an integer factor, so that people can see them


def save_grid(images: torch.Tensor, path: Path, columns: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    factor = max(1, MIN_TILE // images.shape[-1])
    if factor > 1:  # nearest neighbour: every generated pixel stays visible as it is
        images = torch.nn.functional.interpolate(images.detach().float().cpu(), scale_factor=factor, mode="nearest")
    grid_image(images, columns).save(path)
    return path


def plot_losses(metrics_path: Path, out_path: Path) -> Path | None:
    """D's losses on real and fake, G's loss, and D's accuracies over iterations, from metrics.jsonl."""
    rows = read_log(Path(metrics_path))
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for key, label in (("d_loss_real", "D loss, real"), ("d_loss_fake", "D loss, fake"), ("g_loss", "G loss")):
        top.plot(steps, [r[key] for r in rows], label=label, linewidth=1)
    top.set_ylabel("loss")
    top.legend(loc="upper right")
    for key, label in (("d_acc_real", "D accuracy, real"), ("d_acc_fake", "D accuracy, fake")):
        bottom.plot(steps, [r[key] for r in rows], label=label, linewidth=1)
    bottom.set_ylabel("accuracy")
    bottom.set_xlabel("iteration")
    bottom.set_ylim(-0.05, 1.05)
    bottom.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return Path(out_path)
