"""The torch device a command runs on, from --device (auto, cpu, cuda, cuda:N)."""
import torch

from .errors import GanforgeError


def resolve_device(name: str, local_rank: int = 0, processes: int = 1) -> torch.device:
    """auto: this process's GPU (under torchrun, the one of its local rank), else the CPU."""
    if name == "auto" or (name == "cuda" and processes > 1):
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GanforgeError(f"device {name!r} asked for, but PyTorch sees no CUDA GPU here (use --device cpu)")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise GanforgeError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from exc
