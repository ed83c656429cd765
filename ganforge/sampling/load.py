"""One loader for every kind of trained G: a run folder or checkpoint (its EMA when the run kept one), or a
generator exported as .safetensors (rebuilt from the config in its metadata; nothing is unpickled)."""
import json
from pathlib import Path

import torch

from ..config import Config
from ..errors import GanforgeError
from ..nets.registry import build_generator
from ..checkpoint import load_checkpoint

MARKER = "ganforge-generator-1"  # an exported generator's format, in its metadata


def load_generator(checkpoint: str | Path, device: torch.device | str = "cpu", average: bool = True):
    """The checkpoint's G in inference mode: its weight average (EMA) when the run kept one and `average`, else G itself."""
    state = load_checkpoint(checkpoint)
    config = Config.from_dict(state["config"], "checkpoint config")
    generator = build_generator(config)
    generator.load_state_dict((average and state.get("generator_ema")) or state["generator"])
    return generator.to(device).eval(), config, state["step"]


def load_any_generator(source: str | Path, device: torch.device | str = "cpu"):
    """G from a run folder or checkpoint, or from a generator exported as .safetensors."""
    if Path(source).suffix == ".safetensors":
        generator, config, step = load_safetensors_generator(source)
        return generator.to(device), config, step
    return load_generator(source, device)


def load_safetensors_generator(path: str | Path) -> tuple[torch.nn.Module, Config, int]:
    """G from an exported .safetensors file, rebuilt from the config in its metadata; nothing is unpickled."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as f:
            info = f.metadata() or {}
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise GanforgeError(f"{path}: not a readable safetensors file ({exc})") from exc
    if info.get("format") != MARKER:
        raise GanforgeError(f"{path}: a safetensors file, but not a ganforge generator (no '{MARKER}' in its metadata)")
    config = Config.from_dict(json.loads(info["config"]), f"{path} metadata")
    generator = build_generator(config)
    try:
        generator.load_state_dict(weights)
    except RuntimeError as exc:
        raise GanforgeError(f"{path}: its weights do not fit the generator its metadata describes ({str(exc).splitlines()[0]})") from exc
    return generator.eval(), config, int(info["step"])
