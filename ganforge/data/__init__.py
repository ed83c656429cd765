"""Training data: a folder or .zip of images, or a built-in dataset, as one uint8 array in memory."""
import multiprocessing
import os
import sys
from dataclasses import dataclass
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import DataConfig
from ..errors import GanforgeError
from . import cache
from .images import decode_item, list_folder_images, list_zip_images
from .labels import Classes, keep_decoded, label_files

BUILT_IN = ("shapes", "emoji")


@dataclass
class ImageSet:
    pixels: np.ndarray  # (N, H, W, 3) uint8, possibly memory-mapped
    labels: np.ndarray | None  # (N,) mode labels, for built-in datasets that have them
    name: str
    skipped: int = 0  # files that could not be decoded
    classes: Classes | None = None  # class names and one label per image, when loaded for conditional training

    def __len__(self) -> int:
        return len(self.pixels)


def load_images(config: DataConfig, resolution: int, log=print) -> ImageSet:
    """Decode (or read from the cache) every usable image of config.source at `resolution`."""
    cache_dir = Path(config.cache_dir) if config.cache_dir else cache.default_cache_dir()
    if config.source == "shapes":
        images = _built_in(cache_dir, ["shapes", resolution, config.shapes_size], log, lambda: _make_shapes(config, resolution))
        if config.conditional:  # a class per mode, named as the classifier's table names it
            from .shapes import NUM_MODES, describe_mode

            images.classes = Classes([describe_mode(m) for m in range(NUM_MODES)], images.labels)
        return images
    if config.source == "emoji":
        if config.conditional:  # a class per Unicode emoji group; glyphs in none (keycap parts, letters) left out
            return _built_in(cache_dir, ["emoji-groups", resolution], log, lambda: _make_emoji_groups(resolution))
        return _built_in(cache_dir, ["emoji", resolution], log, lambda: _make_emoji(resolution))
    return _load_files(Path(config.source), resolution, cache_dir, config.workers, log, config.conditional)


def _make_shapes(config: DataConfig, resolution: int):
    from .shapes import make_shapes

    return make_shapes(resolution, config.shapes_size)


def _make_emoji(resolution: int):
    from .emoji import make_emoji

    pixels, _ = make_emoji(resolution)
    return pixels, None


def _make_emoji_groups(resolution: int):
    from .emoji import make_emoji_groups

    return make_emoji_groups(resolution)


def _built_in(cache_dir: Path, description: list, log, make) -> ImageSet:
    """A built-in dataset from the cache, or made and cached: make() -> (pixels, labels or None[, class names])."""
    key = cache.cache_key(description)
    hit = cache.load(cache_dir, key)
    if hit is not None:
        pixels, meta = hit
        labels = np.asarray(meta["labels"], dtype=np.int64) if meta.get("labels") is not None else None
        names = meta.get("class_names")
    else:
        log(f"building the {description[0]} dataset at {description[1]} px (cached afterwards in {cache_dir})")
        pixels, labels, *named = make()
        names = named[0] if named else None
        try:
            cache.save(cache_dir, key, pixels, {"labels": None if labels is None else labels.tolist(), "class_names": names})
        except OSError as exc:
            log(f"warning: could not write the cache in {cache_dir}: {exc}")
    return ImageSet(pixels, labels, description[0], classes=Classes(names, labels) if names else None)


def check_source(source: str) -> None:
    """A data source that is neither built in nor on disk fails here, before anything costly is loaded."""
    if source not in BUILT_IN and not Path(source).exists():
        raise GanforgeError(f"{source}: no such folder or file (use a folder of images, a .zip, or one of {', '.join(BUILT_IN)})")


def _load_files(source: Path, resolution: int, cache_dir: Path, workers: int, log, conditional: bool = False) -> ImageSet:
    check_source(str(source))
    if source.is_dir():
        files = list_folder_images(source)
        items = [(str(p), None, resolution) for p in files]
        names = [p.relative_to(source).as_posix() for p in files]
        fingerprint = []
        for p in files:
            try:
                stat = p.stat()
            except OSError:  # a dangling symlink: decoding will skip it with a warning
                stat = None
            fingerprint.append((str(p.relative_to(source)), stat and stat.st_size, stat and stat.st_mtime_ns))
    elif source.suffix.lower() == ".zip":
        try:
            members = list_zip_images(source)
        except Exception as exc:
            raise GanforgeError(f"{source}: not a readable zip file ({exc})") from exc
        items = [(str(source), m, resolution) for m in members]
        names = members
        stat = source.stat()
        fingerprint = [stat.st_size, stat.st_mtime_ns, members]
    else:
        raise GanforgeError(f"{source}: not a folder or a .zip file")
    if not items:
        raise GanforgeError(f"{source}: no image files found (looked for jpg, jpeg, png, webp, bmp, gif, tif, tiff)")
    classes = label_files(source, names) if conditional else None  # before decoding: a wrong label fails at once

    key = cache.cache_key([str(source.resolve()), resolution, fingerprint])
    hit = cache.load(cache_dir, key)
    if hit is not None:
        pixels, meta = hit
        if meta["skipped"]:
            log(f"{len(meta['skipped'])} file(s) of {source} were skipped when first decoded (unreadable)")
        return ImageSet(pixels, None, source.name, skipped=len(meta["skipped"]),
                        classes=classes and keep_decoded(classes, _decoded(items, meta["skipped"]), source))

    pixels, skipped = _decode_all(items, workers, source)
    for name, reason in skipped:
        log(f"warning: skipping {name}: {reason}")
    if len(pixels) == 0:
        raise GanforgeError(f"{source}: none of its {len(items)} image files could be decoded")
    classes = classes and keep_decoded(classes, _decoded(items, skipped), source)
    array = np.stack(pixels)
    try:
        cache.save(cache_dir, key, array, {"source": str(source), "skipped": skipped})
    except OSError as exc:
        log(f"warning: could not write the cache in {cache_dir}: {exc}")
    return ImageSet(array, None, source.name, skipped=len(skipped), classes=classes)


def _display_name(item: tuple) -> str:
    path, member, _ = item
    return f"{path}:{member}" if member else path


def _decoded(items: list, skipped: list) -> np.ndarray:
    """The indices of the items that decoded, in order: those not named among the skipped."""
    gone = {name for name, _ in skipped}
    return np.array([i for i, item in enumerate(items) if _display_name(item) not in gone], dtype=np.int64)


def _decode_all(items: list, workers: int, source: Path) -> tuple[list[np.ndarray], list[tuple[str, str]]]:
    """Decode in parallel worker processes; keep the input order so a dataset is the same on every run."""
    workers = workers or os.cpu_count() or 1
    if multiprocessing.current_process().daemon:
        workers = 1  # a daemonic process (a multiprocessing.Pool's worker) may not start processes of its own
    progress = dict(total=len(items), desc="decoding", unit="img", disable=not sys.stderr.isatty() or len(items) < 64)
    if workers > 1 and len(items) >= 64:
        # An executor, not multiprocessing.Pool: a worker that dies (the out-of-memory killer) breaks it with an
        # error, where a Pool waits forever for the lost task.
        context = get_context("spawn" if sys.platform == "darwin" else "fork")
        try:
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                results = list(tqdm(pool.map(decode_item, items, chunksize=16), **progress))
        except BrokenProcessPool as exc:
            raise GanforgeError(
                f"{source}: a process decoding its images died (killed, perhaps by the out-of-memory killer); "
                "try fewer at once with --set data.workers=1") from exc
    else:
        results = [decode_item(item) for item in tqdm(items, **progress)]
    pixels, skipped = [], []
    for item, (image, reason) in zip(items, results):
        if image is None:
            skipped.append((_display_name(item), reason))
        else:
            pixels.append(image)
    return pixels, skipped
