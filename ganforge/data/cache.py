"""The decoded-image cache: decode a folder once, then memory-map the pixels on every later run."""
import hashlib
import json
import os
from pathlib import Path

import numpy as np

CACHE_FORMAT = 1  # bump when decoding changes, so stale caches are not reused


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ganforge"


def cache_key(description: object) -> str:
    """A stable hash of everything that determines the decoded pixels (paths, sizes, mtimes, resolution)."""
    text = json.dumps([CACHE_FORMAT, description], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load(cache_dir: Path, key: str) -> tuple[np.ndarray, dict] | None:
    pixels_path, meta_path = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    if not (pixels_path.is_file() and meta_path.is_file()):
        return None
    try:
        return np.load(pixels_path, mmap_mode="r"), json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None  # a damaged cache entry is rebuilt, not trusted


def save(cache_dir: Path, key: str, pixels: np.ndarray, meta: dict) -> None:
    """Write atomically: a killed run never leaves a half-written entry under the final name."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for suffix, write in ((".npy", lambda f: np.save(f, pixels)), (".json", lambda f: f.write(json.dumps(meta).encode()))):
        final = cache_dir / f"{key}{suffix}"
        temporary = cache_dir / f".{key}{suffix}.tmp{os.getpid()}"
        with open(temporary, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, final)
