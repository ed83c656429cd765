"""ganforge's `seed` against the seed's own framework: tf.keras 2 on TensorFlow 2.15 (tests/tf_keras_reference.py).

The reference runs in its own environment (.venv-tf, built by `make`) and writes its models as .h5 files, which
ganforge reads with its own importer (`ganforge.interop.keras`): so every case here also tests import-keras on
the files a seed user has. Everything is float64 on both sides, Adam with the seed's epsilon (1e-7).

Cases: fresh weights (iteration 1), after two warm-up iterations (iteration 3, both sides having run 1 and 2
themselves), D certain that fakes are fake (D(G(z)) < 1e-17: the saturated case where a clipped BCE gives G
no gradient) and D certain that reals are real (D(x) > 1 - 1e-7), and the drift over 5 iterations.
"""
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import require_module, tf_python, tf_reference_cases
from ganforge.train.optim import KerasAdam
from ganforge.train.procedure import GAN, seed_iteration

require_module("keras")  # ganforge reads the reference's .h5 files with Keras 3
from ganforge.interop.keras import (  # noqa: E402
    channels_last_to_first,
    discriminator_from_keras,
    generator_from_keras,
    load_keras_model,
)
from ganforge.nets.seed import G_START, SEED_WIDTH  # noqa: E402

pytestmark = pytest.mark.slow  # torchrun or TensorFlow subprocesses: left out by -m "not slow"

LR = 1e-4

# Tensors whose exact gradient is 0 or nearly so, where Adam (epsilon 1e-7) turns rounding noise into steps of
# up to about lr: each conv bias that feeds a BatchNorm (BN removes any per-channel constant), G's Dense bias
# before its BN over 16384 features, and two BN scales followed by another normalization of the same features:
# G's mapping.5 (the BN over the Dense's outputs, then start_norm over the same values reshaped) and blocks.0.1
# (the first block's BN, whose output, after LeakyReLU, is normalised again by blocks.0.3).
NEAR_ZERO_GRADIENT = {
    "G": {"mapping.4.bias", "mapping.5.weight", "blocks.0.0.bias", "blocks.0.1.weight", "blocks.1.0.bias", "blocks.2.0.bias"},
    "D": {f"blocks.{i}.0.bias" for i in range(4)},
}


@pytest.fixture(scope="module")
def cases(request):
    if tf_python() is None:
        message = "the tf.keras 2 reference needs .venv-tf (make test builds it) or GANFORGE_TF_PYTHON"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    out = tf_reference_cases(request.config)
    yield out
    shutil.rmtree(out, ignore_errors=True)  # about 3.7 GB of float64 models


def _load(case: Path, step: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    g = generator_from_keras(load_keras_model(case / f"g_{step}.h5"), torch.float64)
    d = discriminator_from_keras(load_keras_model(case / f"d_{step}.h5"), torch.float64)
    for module in [*g.modules(), *d.modules()]:
        if isinstance(module, torch.nn.LeakyReLU):
            # TensorFlow's LeakyRelu op holds its slope as a float32 attribute, also in float64 models:
            # float32(0.2) = 0.2 + 3e-9. In float32 the two slopes are the same number.
            module.negative_slope = float(np.float32(module.negative_slope))
    return g, d


def _nchw(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def _relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return ((ours - theirs).norm() / theirs.norm()).item()


def _run_ganforge(case: Path) -> dict:
    """ganforge's seed iterations from the reference's starting weights, on its inputs, compared after each
    iteration with the reference's weights. Keeps only the deviations (the models are ~390 MB each)."""
    info = json.loads((case / "case.json").read_text())
    g, d = _load(case, 0)
    gan = GAN(g, d, _seed_adam(g), _seed_adam(d))
    iterations = []
    for step in range(info["iterations"]):
        before = {"G": _state(g), "D": _state(d)}
        real, z_fake, z_gen = (np.load(case / f"{name}_{step}.npy") for name in ("real", "z_fake", "z_gen"))
        stats = seed_iteration(gan, _nchw(real), torch.from_numpy(z_fake), torch.from_numpy(z_gen))
        tf_g, tf_d = _load(case, step + 1)
        updates, moving, weights = {}, {}, {}
        for net, ours, theirs in (("G", g, tf_g), ("D", d, tf_d)):
            for key, theirs_value in theirs.state_dict().items():
                our_value = ours.state_dict()[key]
                if "running" in key:
                    moving[f"{net} {key}"] = {"relative": _relative(our_value, theirs_value),
                                              "absolute": (our_value - theirs_value).norm().item(), "norm": theirs_value.norm().item()}
                    continue
                their_update, our_update = theirs_value - before[net][key], our_value - before[net][key]
                updates[f"{net} {key}"] = {
                    "relative": _relative(our_update, their_update),
                    "largest_step": max(our_update.abs().max().item(), their_update.abs().max().item()),
                }
                weights[f"{net} {key}"] = _relative(our_value, theirs_value)
        iterations.append({
            "ours": {k: v.item() for k, v in stats.items()}, "theirs": info["losses"][step],
            "updates": updates, "moving": moving, "weights": weights,
        })
    return {"iterations": iterations, "versions": info["versions"]}


def _seed_adam(model: torch.nn.Module) -> KerasAdam:
    """The seed's Adam(lr=1e-4, beta_1=0.05), epsilon 1e-7. tf.keras 2's optimizer keeps its learning rate and
    betas in float32 variables, also for float64 weights: float32(0.999) = 0.999 + 1.3e-8 makes 1 - beta_2
    1.3e-5 smaller. Here they are the same float32 numbers; in float32 training they are the same anyway."""
    lr, beta1, beta2 = (float(np.float32(x)) for x in (LR, 0.05, 0.999))
    return KerasAdam(model.parameters(), lr, beta1, beta2, eps=1e-7)


def _state(model: torch.nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def runs(cases):
    return {case.name: _run_ganforge(case) for case in sorted(cases.iterdir())}


# (case, iteration index): the fresh and warmed-up iterations of the main trajectory, and the two saturated cases
COMPARED = [("fresh", 0), ("fresh", 2), ("d_certain_fakes_are_fake", 0), ("d_certain_reals_are_real", 0)]


def test_reference_is_tf_keras_2(runs):
    for run in runs.values():
        assert run["versions"]["tensorflow"] == "2.15.1" and run["versions"]["keras"].startswith("2.")


def test_saturated_cases_are_saturated(cases):
    """The cases test what they say: the reference's D is certain, beyond Keras' clipping at 1e-7."""
    fakes = json.loads((cases / "d_certain_fakes_are_fake" / "case.json").read_text())["losses"][0]
    reals = json.loads((cases / "d_certain_reals_are_real" / "case.json").read_text())["losses"][0]
    clipped = -math.log(1e-7)  # 16.12: the largest loss a clipped BCE can give
    assert fakes["g_loss"] > 2 * clipped and fakes["d_loss_real"] > 2 * clipped  # D(x) < 1e-14 for every input
    assert reals["d_loss_fake"] > 2 * clipped and reals["d_loss_real"] < 1e-7


@pytest.mark.parametrize("case,tag", [("fresh", "forward_0"), ("fresh", "forward_2"), ("d_certain_fakes_are_fake", "forward_0"), ("d_certain_reals_are_real", "forward_0")])
def test_forward_passes_and_moving_statistics_match_tf_keras(cases, case, tag):
    folder = cases / case
    g, d = _load(folder, int(tag[-1]))
    z, images = torch.from_numpy(np.load(folder / "z_probe.npy")), _nchw(np.load(folder / "images_probe.npy"))
    for mode in ("inference", "training"):  # inference first: a training-mode pass moves the BN statistics
        g.train(mode == "training")
        d.train(mode == "training")
        with torch.no_grad():
            ours_g = g(z).permute(0, 2, 3, 1).numpy()
            ours_d = torch.sigmoid(d(images)).numpy()
        theirs_g, theirs_d = np.load(folder / f"{tag}_g_{mode}.npy"), np.load(folder / f"{tag}_d_{mode}.npy")
        np.testing.assert_allclose(ours_g, theirs_g, rtol=0, atol=1e-8 * np.abs(theirs_g).max())
        np.testing.assert_allclose(ours_d, theirs_d, rtol=1e-6, atol=0)
    # one training-mode call moved every moving mean and variance the same way on both sides
    for name, model in (("g", g), ("d", d)):
        theirs = np.load(folder / f"{tag}_{name}_moving_after_training_call.npz")
        ours = [v for k, v in model.state_dict().items() if "running" in k]
        assert len(ours) == len(theirs.files)
        for index, value in enumerate(ours):
            expected = torch.from_numpy(theirs[f"arr_{index}"])
            if name == "g" and index < 2:  # G's BN over the Dense's 16384 outputs: Keras orders them (H, W, C)
                expected = expected[channels_last_to_first(SEED_WIDTH, G_START, G_START)]
            assert _relative(value, expected) < 1e-6 or (value - expected).norm() < 1e-12, (name, index)


@pytest.mark.parametrize("case,index", COMPARED)
def test_losses_and_accuracies_match_tf_keras(runs, case, index):
    iteration = runs[case]["iterations"][index]
    ours, theirs = iteration["ours"], iteration["theirs"]
    for key in ("d_loss_real", "d_loss_fake", "g_loss"):
        assert ours[key] == pytest.approx(theirs[key], rel=1e-6, abs=0), key  # relative also for losses of 1e-17
    assert ours["d_acc_real"] == theirs["d_acc_real"] and ours["d_acc_fake"] == theirs["d_acc_fake"]


@pytest.mark.parametrize("case,index", COMPARED)
def test_every_update_matches_tf_keras(runs, case, index):
    """Each weight's change over one iteration (D's two train_on_batch steps, then G's), relative in norm."""
    updates = runs[case]["iterations"][index]["updates"]
    assert len(updates) == 26 + 24  # every weight, bias, BN scale and shift of G and D
    compared, unmoved = {}, set()
    for name, update in updates.items():
        net, key = name.split(" ")
        if key in NEAR_ZERO_GRADIENT[net]:
            # Rounding noise through Adam: bounded by Adam's step size, never the weights' own scale.
            assert update["largest_step"] < 2 * LR, name
        elif update["largest_step"] < 1e-12:
            unmoved.add(net)  # no learning signal: both sides moved it by less than float64 can resolve
        else:
            compared[name] = update["relative"]
    # Only a G whose D already takes its fakes for real (loss ~1e-17) has nothing to learn, on both sides.
    assert unmoved == ({"G"} if case == "d_certain_reals_are_real" else set())
    assert np.median(list(compared.values())) < 1e-5, compared
    assert max(compared.values()) < 1e-3, compared


@pytest.mark.parametrize("case,index", COMPARED)
def test_moving_statistics_after_an_iteration_match_tf_keras(runs, case, index):
    moving = runs[case]["iterations"][index]["moving"]
    assert len(moving) == 2 * (6 + 4)  # mean and variance of G's 6 and D's 4 BatchNorms
    for name, deviation in moving.items():
        # G's start_norm and blocks.0.1 means are 0 in exact arithmetic at first (they follow a normalization):
        # both sides hold rounding noise of ~1e-17 there
        assert deviation["relative"] < 1e-6 or deviation["absolute"] < 1e-12, (name, deviation)


def test_five_iterations_drift_apart_no_faster_than_rounding(runs):
    """The runs are two float64 programs, so they part only by rounding, amplified by Adam where a gradient is
    near zero. Bound: after 5 iterations every weight tensor (but the near-zero-gradient ones) within 1e-6 of
    tf.keras' in norm, relative to the tensor itself, and every loss within 1e-6."""
    run = runs["fresh"]["iterations"]
    assert len(run) == 5
    for iteration in run:
        for key in ("d_loss_real", "d_loss_fake", "g_loss"):
            assert iteration["ours"][key] == pytest.approx(iteration["theirs"][key], rel=1e-6, abs=0)
    last = {name: value for name, value in run[-1]["weights"].items() if name.split(" ")[1] not in NEAR_ZERO_GRADIENT[name.split(" ")[0]]}
    assert max(last.values()) < 1e-6, last


def test_import_keras_command_on_files_written_by_tf_keras_2(cases, tmp_path, capsys):
    """`ganforge import-keras` on the .h5 files a seed user has (written by tf.keras 2.15): the run's G makes
    tf.keras' images in inference mode, to float32 rounding."""
    from ganforge.cli import main
    from ganforge.sampling.load import load_generator

    folder = cases / "fresh"
    run = tmp_path / "imported"
    code = main(["import-keras", "--generator", str(folder / "g_2.h5"), "--discriminator", str(folder / "d_2.h5"), "--out", str(run)])
    assert code == 0, capsys.readouterr().err
    generator, config, step = load_generator(run)
    assert (config.model.resolution, config.model.latent_dim, step) == (128, 100, 0)
    with torch.no_grad():
        ours = generator(torch.from_numpy(np.load(folder / "z_probe.npy")).float()).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours, np.load(folder / "forward_2_g_inference.npy"), rtol=0, atol=1e-5)
