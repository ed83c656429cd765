"""A trained generator out of ganforge: safetensors (its weights and config, loaded without running any code) or
ONNX (runs wherever onnxruntime does, with no ganforge and no PyTorch). G only, in inference mode: its weight
average (EMA) when the run kept one.

Both files carry the same metadata: what a sampler needs (latent size, resolution, output range and layout) and
where the weights came from (step, the run's config, ganforge's version)."""
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from ..nets.conditional import images_of

from ..config import Config
from ..errors import GanforgeError, output_folder
from ..checkpoint import resolve_checkpoint
from .load import MARKER, load_generator

FORMATS = ("safetensors", "onnx")
ONNX_OPSET = 18


def _ganforge_version() -> str:
    try:
        return version("ganforge")
    except PackageNotFoundError:
        return "unknown"


def metadata(config: Config, step: int) -> dict[str, str]:
    """String keys and values: what safetensors' header and ONNX's metadata_props hold."""
    return {
        "format": MARKER,
        "latent_dim": str(config.model.latent_dim),
        "resolution": str(config.model.resolution),
        "output": "images (batch, 3, resolution, resolution), RGB in [-1, 1]; z ~ N(0, 1) of shape (batch, latent_dim)"
                  + ("; label: int64 class indices of shape (batch,), into class_names" if config.model.num_classes else ""),
        "class_names": json.dumps(list(config.model.class_names)),
        "step": str(step),
        "ganforge_version": _ganforge_version(),
        "config": json.dumps(config.to_dict()),
    }


def export(run: str | Path, fmt: str, out_dir: str | Path) -> Path:
    """Write the run's G (its latest checkpoint) as OUT/generator.safetensors or OUT/generator.onnx."""
    if fmt not in FORMATS:
        raise GanforgeError(f"export format {fmt!r} is not one of: {', '.join(FORMATS)}")
    generator, config, step = load_generator(resolve_checkpoint(run))
    out_dir = output_folder(out_dir)
    path = out_dir / f"generator.{fmt}"
    info = metadata(config, step)
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in generator.state_dict().items()}, str(path), metadata=info)
    else:
        _export_onnx(generator, config, info, path)
    return path


class _Labelled(torch.nn.Module):
    """A conditional G as (z, label) -> images, the form an ONNX user calls."""

    def __init__(self, generator: torch.nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return images_of(self.generator, z, label)


def _export_onnx(generator: torch.nn.Module, config: Config, info: dict, path: Path) -> None:
    try:
        import onnx
    except ImportError as exc:
        raise GanforgeError("ONNX export needs onnx and onnxscript: pip install -e '.[export]' in a ganforge checkout") from exc
    z = torch.zeros(2, config.model.latent_dim)
    batch = torch.export.Dim("batch", min=1)
    # PyTorch's exporter from torch.export; the batch dimension stays free, so one file serves any batch size
    if config.model.num_classes:  # inputs (z, label)
        torch.onnx.export(_Labelled(generator), (z, torch.zeros(2, dtype=torch.int64)), str(path), input_names=["z", "label"],
                          output_names=["images"], dynamic_shapes=({0: batch}, {0: batch}), opset_version=ONNX_OPSET,
                          dynamo=True, verbose=False)
    else:
        torch.onnx.export(generator, (z,), str(path), input_names=["z"], output_names=["images"],
                          dynamic_shapes=({0: batch},), opset_version=ONNX_OPSET, dynamo=True, verbose=False)
    model = onnx.load(str(path))
    for key, value in info.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
