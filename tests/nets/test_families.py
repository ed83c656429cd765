"""The contract every network family meets (ganforge/nets/registry.py), checked for each registered family:
shapes and ranges, determinism, bitwise resume with its EMA, export to safetensors and ONNX, a two-process gloo
run, `summary`, and a remedy the family cannot take refused by name."""
import os
import subprocess
import sys

import typing

import numpy as np
import pytest
import torch

from conftest import require_module
from ganforge.cli import main
from ganforge import checkpoint as ckpt
from ganforge.config import ModelConfig, load_config
from ganforge.errors import GanforgeError
from ganforge.nets.registry import FAMILIES, build_discriminator, build_generator
from ganforge.nets.seed import count_parameters
from ganforge.sampling.load import load_generator, load_safetensors_generator
from ganforge.train.build import check_choices
from ganforge.train.loop import train

# Each family small, trained by the recipe it is meant for: the seed family by `stable` (the seed's procedure with
# R1 and an EMA), dcgan by `stable` too, r3 by `modern` (the paired procedure, RpGAN, R1 + R2, an EMA).
FAMILY_RUNS = {
    "seed": ("stable", {"model.width": 8}),
    "dcgan": ("stable", {"model.arch": "dcgan", "model.width": 8}),
    "r3": ("modern", {"model.r3.width": 8, "model.r3.group_channels": 8}),
    "fastgan": ("fastgan", {"model.width": 8, "remedies.diffaugment": ""}),  # one random stream per process: not in the gloo test
}
SMALL = {"model.resolution": 32, "model.latent_dim": 8, "train.batch_size": 4, "train.iterations": 4, "train.log_every": 1,
         "train.sample_every": 0, "train.checkpoint_every": 2, "train.diagnose_every": 0, "data.shapes_size": 16,
         "remedies.lazy_interval": 2}  # the lazy penalties' on and off steps both inside the run


def _config(family, **changes):
    preset, sizes = FAMILY_RUNS[family]
    return load_config(preset, overrides={**SMALL, **sizes, **changes})


IMAGE_FAMILIES = [name for name, family in FAMILIES.items() if family.images]


def test_every_registered_family_is_tested_here():
    assert set(FAMILY_RUNS) == set(IMAGE_FAMILIES) == set(FAMILIES) - {"toy2d"}
    assert set(FAMILIES) == set(typing.get_args(typing.get_type_hints(ModelConfig)["arch"]))  # the config's choices


@pytest.mark.parametrize("family", IMAGE_FAMILIES)
@pytest.mark.parametrize("resolution", [32, 64])
def test_shapes_ranges_and_determinism(family, resolution):
    config = _config(family, **{"model.resolution": resolution})
    torch.manual_seed(0)
    generator, discriminator = build_generator(config), build_discriminator(config)
    torch.manual_seed(0)
    again = build_generator(config)
    assert generator.latent_dim == 8 and generator.resolution == discriminator.resolution == resolution
    z = torch.randn(5, 8) * 3  # well outside N(0, 1): the range holds anyway
    with torch.no_grad():
        images = generator.eval()(z)
        assert images.shape == (5, 3, resolution, resolution) and images.abs().max() <= 1
        assert images.std() > 0  # not a constant picture
        torch.testing.assert_close(again.eval()(z), images, rtol=0, atol=0)
        logits = discriminator.eval()(images)
    assert logits.shape == (5, 1) and torch.isfinite(logits).all()
    # the family declares its normalization layers (EMA recalibrates them, SyncBN converts them): the networks hold
    # exactly those, and a family that declares none (r3) holds none
    norms = FAMILIES[family].batch_norm
    found = {type(m) for net in (generator, discriminator) for m in net.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) or "Norm" in type(m).__name__}
    assert found == set(norms)


class Killed(Exception):
    pass


def _stop_at(target):
    def on_step(step):
        if step == target:
            raise Killed
    return on_step


@pytest.mark.parametrize("family", IMAGE_FAMILIES)
def test_a_killed_run_resumes_bitwise_ema_included(family, tmp_path):
    config = _config(family)
    train(config, tmp_path / "straight", progress=False, log=lambda *_: None)
    with pytest.raises(Killed):
        train(config, tmp_path / "resumed", progress=False, log=lambda *_: None, on_step=_stop_at(3))
    train(config, tmp_path / "resumed", progress=False, log=lambda *_: None)
    a, b = ckpt.load_checkpoint(tmp_path / "straight"), ckpt.load_checkpoint(tmp_path / "resumed")
    assert a["step"] == b["step"] == 4 and a["generator_ema"] is not None
    for part in ("generator", "discriminator", "generator_ema"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key}"
    # the average is a real average: neither the live G nor its start
    first = ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path / "straight", 0))
    moved = [k for k in a["generator"] if a["generator"][k].is_floating_point() and not torch.equal(first["generator"][k], a["generator"][k])]
    assert moved and all(not torch.equal(a["generator_ema"][k], a["generator"][k]) for k in moved)


@pytest.mark.parametrize("family", IMAGE_FAMILIES)
def test_export_to_safetensors_and_onnx_gives_the_runs_generator(family, tmp_path):
    ort = require_module("onnxruntime")
    run = tmp_path / "run"
    train(_config(family, **{"train.iterations": 2}), run, progress=False, log=lambda *_: None)
    assert main(["export", str(run), "--format", "safetensors", "--out", str(tmp_path)]) == 0
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path)]) == 0
    ours, config, _ = load_generator(run)
    exported, exported_config, _ = load_safetensors_generator(tmp_path / "generator.safetensors")
    assert exported_config == config
    z = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    with torch.no_grad():
        reference = ours(torch.from_numpy(z))
        torch.testing.assert_close(exported(torch.from_numpy(z)), reference, rtol=0, atol=0)
    session = ort.InferenceSession(str(tmp_path / "generator.onnx"))
    np.testing.assert_allclose(session.run(["images"], {"z": z})[0], reference.numpy(), rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("family, conditional", [(family, False) for family in IMAGE_FAMILIES] + [("dcgan", True)])
def test_two_gloo_processes_train_what_one_process_with_their_global_batch_trains(family, conditional, tmp_path):
    """torchrun, 2 CPU processes of batch 2 against 1 of batch 4 from the same start (SyncBN where the family
    has BatchNorm): the same maths up to summation order; with classes too (each process its shard of the labels)."""
    preset, sizes = FAMILY_RUNS[family]
    settings = {**SMALL, **sizes, "train.iterations": 2, "train.sync_bn": True, "optim.eps": 1e-2,
                **({"data.conditional": True, "data.shapes_size": 240} if conditional else {})}
    train(load_config(preset, overrides=settings), tmp_path / "one", progress=False, log=lambda *_: None)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", "-m", "ganforge", "train",
               "--preset", preset, "--out", str(tmp_path / "two"), "--no-progress"]
    for key, value in {**settings, "train.batch_size": 2}.items():
        command += ["--set", f"{key}={value}"]
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    one, two = ckpt.load_checkpoint(tmp_path / "one"), ckpt.load_checkpoint(tmp_path / "two")
    start = ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path / "one", 0))
    for net in ("generator", "discriminator"):
        update_one = torch.cat([(one[net][k] - start[net][k]).flatten() for k in start[net] if "running" not in k])
        update_two = torch.cat([(two[net][k] - start[net][k]).flatten() for k in start[net] if "running" not in k])
        assert update_one.norm() > 0
        assert ((update_one - update_two).norm() / update_one.norm()).item() < 1e-2, net


@pytest.mark.parametrize("family", IMAGE_FAMILIES)
def test_summary_lists_every_layer_and_the_parameter_totals(family, capsys):
    preset, sizes = FAMILY_RUNS[family]
    args = ["summary", "--preset", preset, "--resolution", "32"]
    for key, value in sizes.items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    config = load_config(preset, overrides={**sizes, "model.resolution": 32})
    for network in (build_generator(config), build_discriminator(config)):
        assert type(network).__name__ in out
        assert f"Total params: {count_parameters(network):,}" in out
    assert "(3, 32, 32)" in out  # G's output layer


def test_a_remedy_the_family_cannot_take_is_refused_by_name():
    config = _config("r3", **{"remedies.g_batch_norm": False})
    with pytest.raises(GanforgeError, match=r"remedies.g_batch_norm.*model.arch = 'r3'"):
        check_choices(config)
    with pytest.raises(GanforgeError, match="model.arch = 'nope' is not one of: seed, dcgan, r3, fastgan, toy2d"):
        _config("r3", **{"model.arch": "nope"})
    with pytest.raises(GanforgeError, match="group_channels"):
        check_choices(_config("r3", **{"model.r3.group_channels": 5}))


@pytest.mark.parametrize("family", ["seed", "dcgan"])
def test_d_width_sizes_d_alone_and_a_run_saved_with_it_loads(family, tmp_path):
    narrow = _config(family, **{"model.d_width": 4})
    assert count_parameters(build_generator(narrow)) == count_parameters(build_generator(_config(family)))
    first_conv = next(m for m in build_discriminator(narrow).modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.out_channels == 4  # D's first block has d_width's filters
    assert count_parameters(build_discriminator(narrow)) < count_parameters(build_discriminator(_config(family)))
    train(narrow, tmp_path, progress=False, log=lambda *_: None)
    generator, config, _ = load_generator(tmp_path / "checkpoints" / "checkpoint-00000004.pt")
    assert config.model.d_width == 4
    with pytest.raises(GanforgeError, match="model.d_width must be at least 0"):
        _config(family, **{"model.d_width": -1})
    with pytest.raises(GanforgeError, match="model.d_width is for the seed and dcgan families"):
        check_choices(_config("r3", **{"model.d_width": 4}))


def test_dcgan_nearest_upsampling_is_upsample_then_conv3x3_and_exports(tmp_path):
    """model.dcgan.upsample = nearest: each G doubling is conv3x3(nearest 2x upsampling), computed as one transposed
    convolution with tied taps; checked against F.interpolate + F.conv2d (values and weight gradients), then
    through a run, its export and onnxruntime."""
    import torch.nn.functional as F
    from ganforge.nets.dcgan import NearestUpsampleConv

    torch.manual_seed(0)
    layer = NearestUpsampleConv(5, 7).double()
    torch.nn.init.normal_(layer.weight)
    x = torch.randn(2, 5, 6, 9, dtype=torch.float64)  # not square: rows and columns cannot be swapped unnoticed
    reference_weight = layer.weight.detach().clone().requires_grad_(True)
    reference = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), reference_weight, padding=1)
    ours = layer(x)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)
    grad_out = torch.randn_like(reference)
    (ours_grad,) = torch.autograd.grad(ours, layer.weight, grad_out)
    (reference_grad,) = torch.autograd.grad(reference, reference_weight, grad_out)
    torch.testing.assert_close(ours_grad, reference_grad, rtol=0, atol=1e-10)

    config = _config("dcgan", **{"model.dcgan.upsample": "nearest"})
    generator = build_generator(config)
    upsamplers = [m for m in generator.modules() if isinstance(m, NearestUpsampleConv)]
    assert len(upsamplers) == 3 and not any(isinstance(m, torch.nn.ConvTranspose2d) for m in generator.modules() if m is not generator.net[0])
    with pytest.raises(GanforgeError, match="model.dcgan.upsample = 'bicubic' is not one of: transposed, nearest, bilinear"):
        _config("dcgan", **{"model.dcgan.upsample": "bicubic"})

    ort = require_module("onnxruntime")
    run = tmp_path / "run"
    train(_config("dcgan", **{"model.dcgan.upsample": "nearest", "train.iterations": 2}), run, progress=False, log=lambda *_: None)
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path)]) == 0
    ours_g, _, _ = load_generator(run)
    z = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    with torch.no_grad():
        expected = ours_g(torch.from_numpy(z)).numpy()
    session = ort.InferenceSession(str(tmp_path / "generator.onnx"))
    np.testing.assert_allclose(session.run(["images"], {"z": z})[0], expected, rtol=0, atol=1e-5)


def test_dcgan_full_res_channels_adds_one_conv3x3_at_the_images_resolution(tmp_path):
    """model.dcgan.full_res_channels = N: G's last doubling makes N channels (BN, ReLU) at the image's resolution and one
    3x3 convolution makes RGB from them; 0 is the paper's G, unchanged; a run saved with it loads and exports."""
    seen = {}
    paper = build_generator(_config("dcgan", **{"model.dcgan.upsample": "nearest"}))
    config = _config("dcgan", **{"model.dcgan.upsample": "nearest", "model.dcgan.full_res_channels": 5})
    generator = build_generator(config)
    assert not any(type(m) is torch.nn.Conv2d for m in paper.modules())
    (to_rgb,) = [m for m in generator.modules() if type(m) is torch.nn.Conv2d]
    assert (to_rgb.in_channels, to_rgb.out_channels, to_rgb.kernel_size, to_rgb.padding) == (5, 3, (3, 3), (1, 1))
    to_rgb.register_forward_hook(lambda module, inputs, output: seen.update(inputs=inputs[0].shape))
    images = generator(torch.randn(4, 8))
    assert seen["inputs"] == (4, 5, 32, 32) and images.shape == (4, 3, 32, 32) and images.abs().max() <= 1
    # the last doubling's 8 -> 5 taps instead of 8 -> 3, one BN (scale, offset, two moving statistics), the 3x3 to RGB
    assert count_parameters(generator) - count_parameters(paper) == (5 - 3) * 8 * 9 + 4 * 5 + 5 * 3 * 9
    with pytest.raises(GanforgeError, match="model.dcgan.full_res_channels must be at least 0"):
        _config("dcgan", **{"model.dcgan.full_res_channels": -1})

    ort = require_module("onnxruntime")
    run = tmp_path / "run"
    train(_config("dcgan", **{"model.dcgan.full_res_channels": 5, "train.iterations": 2}), run, progress=False, log=lambda *_: None)
    ours_g, saved, _ = load_generator(run)
    assert saved.model.dcgan.full_res_channels == 5
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path)]) == 0
    z = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    with torch.no_grad():
        expected = ours_g(torch.from_numpy(z)).numpy()
    session = ort.InferenceSession(str(tmp_path / "generator.onnx"))
    np.testing.assert_allclose(session.run(["images"], {"z": z})[0], expected, rtol=0, atol=1e-5)


def test_fastgan_gates_channels_by_a_map_three_doublings_below_and_its_d_reconstructs_reals():
    """Skip-layer excitation multiplies each channel of the 32 px map by a gate in (0, 1) computed from the 4x4 map;
    D's loss of its own on reals is its decoder's mean absolute error against the image average-pooled to 32 px, and
    D's step on reals trains the decoder by it (and only then)."""
    import torch.nn.functional as F
    from ganforge.nets.fastgan import FastGANDiscriminator, FastGANGenerator
    from ganforge.train.build import build_gan
    from ganforge.train.procedure import seed_iteration

    torch.manual_seed(0)
    generator = FastGANGenerator(8, 64, 8)
    assert sorted(map(int, generator.excitations)) == [32, 64]
    seen = {}
    sle = generator.excitations["32"]
    sle.gate.register_forward_hook(lambda module, inputs, output: seen.update(gate=output))
    sle.register_forward_hook(lambda module, inputs, output: seen.update(small=inputs[0], large=inputs[1], out=output))
    generator(torch.randn(3, 8))
    assert seen["small"].shape[-1] == 4 and seen["large"].shape[-1] == 32
    assert seen["gate"].shape == (3, seen["large"].shape[1], 1, 1) and 0 < seen["gate"].min() and seen["gate"].max() < 1
    torch.testing.assert_close(seen["out"], seen["large"] * seen["gate"])

    discriminator = FastGANDiscriminator(64, width=8)
    images = torch.rand(4, 3, 64, 64) * 2 - 1
    decoded = {}
    discriminator.decoder.register_forward_hook(lambda module, inputs, output: decoded.update(image=output, features=inputs[0]))
    logits, error = discriminator(images, reconstruct=True)
    assert decoded["features"].shape[-1] == 8 and decoded["image"].shape == (4, 3, 32, 32)
    torch.testing.assert_close(error, (decoded["image"] - F.avg_pool2d(images, 2)).abs().mean())
    torch.testing.assert_close(logits, discriminator(images))

    for weight, trains in ((1.0, True), (0.0, False)):
        config = _config("fastgan", **{"model.fastgan.reconstruction": weight})
        gan = build_gan(config, torch.device("cpu"))
        before = [p.detach().clone() for p in gan.discriminator.decoder.parameters()]
        seed_iteration(gan, torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 8), torch.randn(4, 8))
        changed = any(not torch.equal(a, b) for a, b in zip(before, gan.discriminator.decoder.parameters()))
        assert changed == trains


def test_dcgan_bilinear_upsampling_is_bilinear_then_conv3x3_inside_the_border():
    import torch.nn.functional as F
    from ganforge.nets.dcgan import BilinearUpsampleConv

    torch.manual_seed(0)
    layer = BilinearUpsampleConv(5, 7).double()
    torch.nn.init.normal_(layer.weight)
    x = torch.randn(2, 5, 6, 9, dtype=torch.float64)
    reference = F.conv2d(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), layer.weight, padding=1)
    ours = layer(x)
    assert ours.shape == reference.shape == (2, 7, 12, 18)
    torch.testing.assert_close(ours[..., 2:-2, 2:-2], reference[..., 2:-2, 2:-2], rtol=0, atol=1e-12)
    # nearest's output has the 2-pixel period bilinear's lacks: a constant input gives a constant inside either way,
    # but a one-pixel impulse spreads over 4x4 output pixels with nearest and 6x6 with bilinear
    impulse = torch.zeros(1, 5, 6, 9, dtype=torch.float64)
    impulse[..., 3, 4] = 1
    assert (layer(impulse)[0, 0].abs() > 1e-12).sum() > (super(BilinearUpsampleConv, layer).forward(impulse)[0, 0].abs() > 1e-12).sum()
    generator = build_generator(_config("dcgan", **{"model.dcgan.upsample": "bilinear"}))
    assert sum(isinstance(m, BilinearUpsampleConv) for m in generator.modules()) == 3


@pytest.mark.parametrize("family", IMAGE_FAMILIES)
def test_every_family_trains_with_classes_resumes_bitwise_and_exports_z_and_label(family, tmp_path):
    """The conditional form of each family: the run names its classes (config, checkpoint, safetensors), a killed
    run resumes bitwise, and ONNX's (z, label) -> images agrees with PyTorch for every class."""
    ort = require_module("onnxruntime")
    config = _config(family, **{"data.conditional": True, "data.shapes_size": 240})
    train(config, tmp_path / "straight", progress=False, log=lambda *_: None)
    with pytest.raises(Killed):
        train(config, tmp_path / "resumed", progress=False, log=lambda *_: None, on_step=_stop_at(3))
    train(config, tmp_path / "resumed", progress=False, log=lambda *_: None)
    a, b = ckpt.load_checkpoint(tmp_path / "straight"), ckpt.load_checkpoint(tmp_path / "resumed")
    for part in ("generator", "discriminator", "generator_ema"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key}"
    assert len(a["config"]["model"]["class_names"]) == 120 and a["config"]["model"]["class_names"][0] == "red circle on black"
    assert a["generator"]["class_counts"].tolist() == [2.0] * 120  # shapes: every mode equally often

    run = tmp_path / "straight"
    assert main(["export", str(run), "--format", "safetensors", "--out", str(tmp_path)]) == 0
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path)]) == 0
    ours, config, _ = load_generator(run)
    exported, exported_config, _ = load_safetensors_generator(tmp_path / "generator.safetensors")
    assert exported_config == config and exported_config.model.class_names == config.model.class_names
    z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    label = np.array([0, 7, 7, 119])
    from ganforge.nets.conditional import images_of

    with torch.no_grad():
        reference = images_of(ours, torch.from_numpy(z), torch.from_numpy(label))
        torch.testing.assert_close(images_of(exported, torch.from_numpy(z), torch.from_numpy(label)), reference, rtol=0, atol=0)
        # the class matters (conditional BatchNorm's gains start at zero and move only for the classes trained on)
        every_class = images_of(ours, torch.from_numpy(z[1:2]).repeat(120, 1), torch.arange(120))
        assert any(not torch.equal(reference[1], picture) for picture in every_class)
    session = ort.InferenceSession(str(tmp_path / "generator.onnx"))
    assert [i.name for i in session.get_inputs()] == ["z", "label"]
    np.testing.assert_allclose(session.run(["images"], {"z": z, "label": label})[0], reference.numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("family", IMAGE_FAMILIES)
def test_the_projection_discriminator_adds_the_class_embeddings_dot_product_with_ds_last_features(family):
    """Miyato & Koyama's projection: D(x, y) = D's logit + <embed(y), phi(x)>, phi(x) what D's logit layer reads;
    with the embedding at its start (zero) it is the unconditional D, bitwise."""
    from ganforge.nets.conditional import logit_layer, with_label_plane

    config = _config(family, **{"model.class_names": ["a", "b", "c"]})
    torch.manual_seed(0)
    discriminator = build_discriminator(config).eval()
    inner = discriminator.inner
    images, labels = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 1])
    seen = {}
    logit_layer(inner).register_forward_pre_hook(lambda _, inputs: seen.update(phi=inputs[0].flatten(1)))
    with torch.no_grad():
        plain = inner(images)
        torch.testing.assert_close(discriminator(with_label_plane(images, labels)), plain, rtol=0, atol=0)
        discriminator.embed.weight.normal_()
        expected = plain + (discriminator.embed.weight[labels] * seen["phi"]).sum(1, keepdim=True)
        torch.testing.assert_close(discriminator(with_label_plane(images, labels)), expected)
    assert seen["phi"].shape[1] == discriminator.embed.weight.shape[1]
    with pytest.raises(GanforgeError, match="pack"):
        build_generator(_config(family, **{"model.class_names": ["a", "b"], "remedies.pack": 2}))


@pytest.mark.parametrize("family", IMAGE_FAMILIES)
def test_conditional_batchnorm_starts_as_the_familys_g_and_takes_the_class_after_every_batchnorm(family):
    """model.conditioning = batchnorm: a per-class gain and shift after each of G's BatchNorms (zero at the start: the
    family's own G, bitwise); a family without BatchNorm (r3) is refused by name."""
    from ganforge.nets.conditional import attach

    config = _config(family, **{"model.class_names": ["a", "b", "c"], "model.conditioning": "batchnorm"})
    if not FAMILIES[family].batch_norm:
        with pytest.raises(GanforgeError, match="needs a G with BatchNorm"):
            build_generator(config)
        return
    generator = build_generator(config).eval()
    z, labels = torch.randn(3, 8), torch.tensor([0, 1, 2])
    norms = [m for m in generator.inner.modules() if isinstance(m, FAMILIES[family].batch_norm)]
    assert len(generator.gains) == len(norms) > 0 and generator.inner.latent_dim == 8  # z alone goes in
    with torch.no_grad():
        torch.testing.assert_close(generator(attach(z, labels))[:, :3], generator.inner(z), rtol=0, atol=0)
        generator.shifts[-1].weight.normal_()
        moved = generator(attach(z.repeat(3, 1)[:3] * 0 + z[:1], labels))[:, :3]  # one z, three classes
    assert not torch.equal(moved[0], moved[1]) and not torch.equal(moved[1], moved[2])
