"""Finding and decoding user images: any common format, any mode, into (H, W, 3) uint8 at one resolution."""
import io
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
BACKGROUND = (255, 255, 255)  # transparent pixels are composited onto white


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def list_folder_images(root: Path) -> list[Path]:
    """Image files under root, recursively, sorted. Follows symlinked folders once each (no loops)."""
    found = []
    visited = set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:  # a symlink back to a folder already seen: do not descend again
            subfolders[:] = []
            continue
        visited.add(real)
        subfolders.sort()
        found.extend(Path(folder) / name for name in files if is_image_name(name))
    return sorted(found)


def list_zip_images(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return sorted(info.filename for info in archive.infolist() if not info.is_dir() and is_image_name(info.filename))


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: EXIF orientation applied, transparency composited onto white."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # 16-bit (or wider) greyscale: Pillow's own convert clips at 255, so rescale to 8 bits first.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        if image.mode == "F":
            top = max(float(values.max()), 1.0)
        image = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def fit(image: Image.Image, resolution: int) -> Image.Image:
    """Shorter side to `resolution` with an antialiasing (Lanczos) filter, then a centre crop."""
    width, height = image.size
    scale = resolution / min(width, height)
    new_size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    if new_size != image.size:
        image = image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    left = (new_size[0] - resolution) // 2
    top = (new_size[1] - resolution) // 2
    return image.crop((left, top, left + resolution, top + resolution))


def decode(source, resolution: int) -> np.ndarray:
    """A file path or a file object -> (resolution, resolution, 3) uint8. Raises on anything unusable."""
    with warnings.catch_warnings():
        # Pillow only warns between 1x and 2x its pixel limit; a claim that large is not a training image.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(source) as image:
            if image.format == "JPEG":
                image.draft("RGB", (resolution, resolution))  # let libjpeg decode at a reduced scale
            image.load()
            return np.asarray(fit(to_rgb(image), resolution), dtype=np.uint8)


def decode_item(item: tuple[str, str | None, int]) -> tuple[np.ndarray | None, str | None]:
    """(path, zip member or None, resolution) -> (pixels, None) or (None, why it was skipped). For worker pools."""
    path, member, resolution = item
    try:
        if member is None:
            return decode(path, resolution), None
        with zipfile.ZipFile(path) as archive:
            return decode(io.BytesIO(archive.read(member)), resolution), None
    except Exception as exc:  # any decoder error means: skip this one file, say why
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"{type(exc).__name__}: {reason}"
