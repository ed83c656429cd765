"""Importing a seed user's Keras models. The only place that knows Keras' channels-last order.

Keras layouts: Dense kernel (in, out); Conv2D kernel (kh, kw, in, out); BatchNormalization weights
[gamma, beta, moving_mean, moving_variance]. Keras flattens D's last map as (H, W, C) and reshapes
G's start vector as (H, W, C); ganforge uses (C, H, W), so those two Dense layers (and G's BN over the
start vector) are permuted here.
"""
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import GanforgeError
from ..nets.layers import KerasBatchNorm
from ..nets.seed import D_END, G_START, SEED_WIDTH, SeedDiscriminator, SeedGenerator


def channels_last_to_first(channels: int, height: int, width: int) -> torch.Tensor:
    """perm[j] = the Keras (H, W, C) flat index of ganforge's (C, H, W) flat index j."""
    return torch.arange(height * width * channels).view(height, width, channels).permute(2, 0, 1).flatten()


def _weighted_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    kinds = (nn.Linear, nn.Conv2d, KerasBatchNorm)
    return [(name, m) for name, m in model.named_modules() if isinstance(m, kinds)]


def _convert(module: nn.Module, weights: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """One Keras layer's weights as this module's state dict entries, in ganforge's layout."""
    tensors = [torch.from_numpy(np.array(w)) for w in weights]  # load_state_dict casts to the model's dtype
    if isinstance(module, nn.Linear):
        return {"weight": tensors[0].T, "bias": tensors[1]}
    if isinstance(module, nn.Conv2d):
        return {"weight": tensors[0].permute(3, 2, 0, 1), "bias": tensors[1]}
    gamma, beta, mean, var = tensors
    return {"weight": gamma, "bias": beta, "running_mean": mean, "running_var": var}


def copy_keras_weights(keras_model, model: nn.Module) -> None:
    """Copy a seed-architecture Keras model's weights into the matching ganforge network, in place."""
    keras_layers = [layer for layer in keras_model.layers if layer.get_weights()]
    modules = _weighted_modules(model)
    if len(keras_layers) != len(modules):
        raise GanforgeError(
            f"the Keras model has {len(keras_layers)} layers with weights, the seed architecture "
            f"{type(model).__name__} at {model.resolution} px has {len(modules)}: not the seed's architecture"
        )
    if isinstance(model, SeedGenerator):
        start = channels_last_to_first(SEED_WIDTH, G_START, G_START)
        # The Dense producing the start map, and the BN over its 16384 features, are indexed by Keras' order.
        permuted_outputs = {"mapping.4", "mapping.5"}
    else:
        last_channels = model.classifier[1].in_features // (D_END * D_END)
        flatten = channels_last_to_first(last_channels, D_END, D_END)
        permuted_outputs = set()
    state = {}
    for keras_layer, (name, module) in zip(keras_layers, modules):
        converted = _convert(module, keras_layer.get_weights())
        if name in permuted_outputs:
            converted = {k: (v[start] if v.ndim == 1 else v[start, :]) for k, v in converted.items()}
        if isinstance(model, SeedDiscriminator) and name == "classifier.1":
            converted["weight"] = converted["weight"][:, flatten]
        for key, value in converted.items():
            expected = getattr(module, key).shape
            if value.shape != expected:
                raise GanforgeError(
                    f"Keras layer {keras_layer.name!r} has {key} of shape {tuple(value.shape)}, "
                    f"ganforge's {name} expects {tuple(expected)}: not the seed's architecture"
                )
            state[f"{name}.{key}"] = value.contiguous()
    model.load_state_dict(state, strict=True)


def load_keras_model(path: str | Path):
    """Load a .keras or .h5 model file with Keras (on its torch backend unless the user chose one)."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"{path}: no such file")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as exc:
        raise GanforgeError("importing Keras models needs Keras 3: pip install -e '.[keras]' in a ganforge checkout") from exc
    try:
        # safe_mode: a Lambda layer's Python code in the file is refused, for .h5 too (Keras >= 3.11.3)
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad file
        raise GanforgeError(f"{path}: Keras could not load it as a model ({type(exc).__name__}: {exc})") from exc


def generator_from_keras(keras_model, dtype: torch.dtype = torch.float32) -> SeedGenerator:
    latent_dim = int(keras_model.inputs[0].shape[-1])
    resolution = int(keras_model.outputs[0].shape[1])
    try:
        generator = SeedGenerator(latent_dim=latent_dim, resolution=resolution).to(dtype)
    except ValueError as exc:
        raise GanforgeError(f"the Keras generator's output: {exc}") from exc
    copy_keras_weights(keras_model, generator)
    return generator


def discriminator_from_keras(keras_model, dtype: torch.dtype = torch.float32) -> SeedDiscriminator:
    resolution = int(keras_model.inputs[0].shape[1])
    try:
        discriminator = SeedDiscriminator(resolution=resolution).to(dtype)
    except ValueError as exc:
        raise GanforgeError(f"the Keras discriminator's input: {exc}") from exc
    copy_keras_weights(keras_model, discriminator)
    return discriminator
