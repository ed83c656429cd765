"""ganforge export: G as safetensors and ONNX, checked against the run's own G; docs/sampling.md's onnxruntime snippet
runs with ganforge and PyTorch blocked from import."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import require_module
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.sampling.load import load_safetensors_generator
from ganforge.sampling.load import load_generator
from ganforge.train.loop import train

README = Path(__file__).resolve().parents[2] / "docs" / "sampling.md"  # the onnxruntime snippet users copy


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short `stable` run: its G has an EMA, which is what an export must hold."""
    folder = tmp_path_factory.mktemp("run")
    settings = {"model.resolution": 32, "model.latent_dim": 8, "model.width": 16, "train.batch_size": 4,
                "train.iterations": 3, "data.shapes_size": 8, "train.diagnose_every": 0, "train.sample_every": 0}
    train(load_config("stable", overrides=settings), folder, progress=False, log=lambda *_: None)
    return folder


def _run_cli(args, capsys):
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_safetensors_export_is_the_runs_ema_generator_and_generate_reads_it(run, tmp_path, capsys):
    code, out, err = _run_cli(["export", run, "--format", "safetensors", "--out", tmp_path], capsys)
    assert code == 0, err
    exported, config, step = load_safetensors_generator(tmp_path / "generator.safetensors")
    ours, _, _ = load_generator(run)
    state = torch.load(sorted((run / "checkpoints").glob("*.pt"))[-1], weights_only=True)
    assert step == 3 and config.model.latent_dim == 8 and not exported.training
    for key, value in exported.state_dict().items():
        assert torch.equal(value, state["generator_ema"][key]), key  # the average, not the last iterate
    assert any(not torch.equal(state["generator_ema"][k], state["generator"][k]) for k in state["generator"])
    z = torch.randn(5, 8)
    with torch.no_grad():
        torch.testing.assert_close(exported(z), ours(z), rtol=0, atol=0)
    live, _, _ = load_generator(run, average=False)  # what the sensitivity study scores beside the average
    for key, value in live.state_dict().items():
        assert torch.equal(value, state["generator"][key]), key
    code, _, err = _run_cli(["generate", "--model", tmp_path / "generator.safetensors", "-n", 3, "--out", tmp_path / "png"], capsys)
    assert code == 0 and len(list((tmp_path / "png").glob("*.png"))) == 3, err


@pytest.fixture(scope="module")
def onnx_file(run, tmp_path_factory):
    require_module("onnxruntime")
    out = tmp_path_factory.mktemp("onnx")
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 0
    return out / "generator.onnx"


@pytest.mark.parametrize("batch", [1, 7])
def test_onnx_export_matches_pytorch_at_any_batch_size(run, onnx_file, batch):
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_file))
    info = session.get_modelmeta().custom_metadata_map
    assert info["format"] == "ganforge-generator-1" and info["latent_dim"] == "8" and info["resolution"] == "32" and info["step"] == "3"
    generator, _, _ = load_generator(run)
    z = np.random.default_rng(batch).standard_normal((batch, 8)).astype(np.float32)
    ours = session.run(["images"], {"z": z})[0]
    with torch.no_grad():
        reference = generator(torch.from_numpy(z)).numpy()
    assert ours.shape == (batch, 3, 32, 32)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


def test_the_readmes_onnx_snippet_runs_without_ganforge_or_torch(onnx_file, tmp_path):
    snippet = re.search(r"```python\n(# sample\.py.*?)```", README.read_text(), re.S).group(1)
    (tmp_path / "exported").mkdir()
    (tmp_path / "exported" / "generator.onnx").write_bytes(onnx_file.read_bytes())
    blocked = "import sys; sys.modules.update(ganforge=None, torch=None)\n"  # importing either now fails
    result = subprocess.run([sys.executable, "-c", blocked + snippet], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    header, pixels = (tmp_path / "samples.ppm").read_bytes().split(b"\n", 1)
    assert header == b"P6 128 128 255" and len(pixels) == 128 * 128 * 3
    assert np.frombuffer(pixels, np.uint8).std() > 0  # an image, not a blank


def test_bad_exports_are_one_clear_line_and_exit_code_2(run, tmp_path, capsys):
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(2)}, str(tmp_path / "other.safetensors"), metadata={"format": "something else"})
    (tmp_path / "empty").mkdir()
    cases = [
        (["export", tmp_path / "empty", "--format", "onnx", "--out", tmp_path / "o"], "no checkpoint in this folder"),
        (["export", run, "--format", "tflite", "--out", tmp_path / "o"], "argument --format: invalid choice: 'tflite'"),
        (["generate", "--model", tmp_path / "other.safetensors", "--out", tmp_path / "o"], "not a ganforge generator"),
        (["generate", "--model", tmp_path / "missing.safetensors", "--out", tmp_path / "o"], "no such file"),
    ]
    for args, message in cases:
        code, _, err = _run_cli(args, capsys)
        assert code == 2 and err.count("\n") == 1 and message in err, (args, err)
