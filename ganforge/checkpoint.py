"""Checkpoints: state dicts plus config, step and RNG states. Written atomically; loaded without running code."""
import os
import pickle
from pathlib import Path

import torch

from .errors import GanforgeError
from .run_folder import BEST, CHECKPOINT_NAME, checkpoint_dir, checkpoint_path

FORMAT = "ganforge-checkpoint-1"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first. Temporary files of an interrupted write are ignored."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if CHECKPOINT_NAME.match(p.name))


def checkpoint_step(path: Path) -> int:
    return int(CHECKPOINT_NAME.match(Path(path).name).group(1))


def save_checkpoint(run_dir: Path, state: dict, keep: int, name: str | None = None) -> Path:
    """Write to a temporary file, flush it to disk, then rename: a kill at any moment leaves the last good one.
    `name`: another file in the checkpoint folder (best.pt) in place of checkpoint-STEP.pt."""
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name if name else checkpoint_path(run_dir, state["step"])
    temporary = folder / f".{final.name}.tmp{os.getpid()}"
    try:
        with open(temporary, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
    except (OSError, RuntimeError) as exc:  # a full disk or a file-size limit; torch.save wraps some as RuntimeError
        temporary.unlink(missing_ok=True)
        previous = list_checkpoints(run_dir)
        kept = f"the last checkpoint, {previous[-1]}, is intact" if previous else "no earlier checkpoint exists"
        raise GanforgeError(f"{final}: could not be written ({_first_line(exc)}); {kept}. "
                            "Free some space and run the same command to resume") from exc
    os.replace(temporary, final)
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return final


def newest_readable(run_dir: Path, log) -> tuple[int, dict | None]:
    """The newest checkpoint that loads, as (step, state); (-1, None) for a run with none. A damaged one (a
    truncated file, a disk error) is passed over with a warning naming it. Checkpoints that all fail to load
    are an error, not a fresh start that would overwrite them."""
    found = list_checkpoints(run_dir)
    for path in reversed(found):
        try:
            return checkpoint_step(path), load_checkpoint(path)
        except GanforgeError as exc:
            log(f"warning: {exc}; trying the checkpoint before it")
    if found:
        raise GanforgeError(f"{checkpoint_dir(run_dir)}: none of its {len(found)} checkpoints can be read; "
                            "move them aside to start afresh, or use another --out")
    return -1, None


def resolve_checkpoint(path: str | Path, which: str = "last") -> Path:
    """A checkpoint file, or a run folder: its latest checkpoint, or with which="best" its best.pt."""
    path = Path(path)
    if which not in ("last", "best"):
        raise GanforgeError(f"which checkpoint: best or last, not {which!r}")
    if path.is_dir() and which == "best":
        best = checkpoint_dir(path) / BEST
        if not best.is_file():
            raise GanforgeError(f"{path}: no best checkpoint ({best}); runs keep one when trained with --set train.best_every=N")
        return best
    if path.is_dir():
        found = list_checkpoints(path)
        if not found:
            raise GanforgeError(f"{path}: no checkpoint in this folder (expected {checkpoint_dir(path)}/checkpoint-*.pt)")
        return found[-1]
    if not path.is_file():
        raise GanforgeError(f"{path}: no such checkpoint file or run folder")
    return path


def load_checkpoint(path: str | Path, map_location="cpu", which: str = "last") -> dict:
    """Load with weights_only=True: tensors and plain containers only, so a file that would run code is refused."""
    path = resolve_checkpoint(path, which)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise GanforgeError(f"{path}: refused: loading it would run code or it is not a ganforge checkpoint ({_first_line(exc)})") from exc
    except (RuntimeError, EOFError, OSError, ValueError, IndexError, KeyError) as exc:  # what a text file or a torn one raises
        raise GanforgeError(f"{path}: not a readable checkpoint, damaged or truncated ({_first_line(exc)})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GanforgeError(f"{path}: not a ganforge checkpoint (no '{FORMAT}' marker)")
    return state


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
