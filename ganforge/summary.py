"""A layer table like Keras' model.summary(): each layer's output shape and parameter count."""
import torch
from torch import nn

from .nets.layers import KerasBatchNorm
from .nets.seed import count_parameters


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if n and (not list(m.children()) or isinstance(m, KerasBatchNorm))]


def layer_table(model: nn.Module, example: torch.Tensor) -> str:
    rows = []
    hooks = [
        module.register_forward_hook(lambda m, i, o, name=name: rows.append((name, type(m).__name__, tuple(o.shape[1:]), count_parameters(m))))
        for name, module in _leaves(model)
    ]
    model.eval()
    if hasattr(model, "fused_upsampling"):
        model.fused_upsampling = False  # run layer by layer so that every layer reports its output shape
    with torch.no_grad():
        model(example)
    for hook in hooks:
        hook.remove()
    width = max(len(f"{name} ({kind})") for name, kind, _, _ in rows) + 2
    lines = [f"{type(model).__name__}", f"{'Layer (type)':<{width}}{'Output shape (C, H, W)':<26}{'Param #':>12}", "-" * (width + 38)]
    for name, kind, shape, params in rows:
        lines.append(f"{f'{name} ({kind})':<{width}}{str(shape):<26}{params:>12,}")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = count_parameters(model)
    lines += ["-" * (width + 38), f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params (BN moving statistics): {total - trainable:,}"]
    return "\n".join(lines)
