"""ganforge against the seed's code on Keras 3's torch backend (tests/keras_reference.py).

Not the seed's framework (that is tf.keras 2: tests/interop/test_tf_keras_parity.py), but the Keras a ganforge user
has for import-keras, and the reference for `keras_torch_bce`, the clipped BCE that backend computes.
"""
import numpy as np
import pytest
import torch

from conftest import require_module  # noqa: E402

keras = require_module("keras")
import keras_reference as ref  # noqa: E402

from ganforge.interop.keras import copy_keras_weights, discriminator_from_keras, generator_from_keras  # noqa: E402
from ganforge.nets import SeedDiscriminator, SeedGenerator  # noqa: E402
from ganforge.train.objectives import keras_torch_bce, make_objective  # noqa: E402
from ganforge.train.optim import KerasAdam  # noqa: E402
from ganforge.train.procedure import GAN, seed_iteration  # noqa: E402

LATENT = 100
BATCH = 4


@pytest.fixture
def float64_keras():
    # The layers' dtype policy is created once from floatx and then cached: set both.
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")


def _nhwc_to_nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)


def _keras_out(model, x, training):
    return np.asarray(model(x, training=training).detach().cpu())


def test_forward_passes_match_keras_in_training_and_inference():
    keras.utils.set_random_seed(1)
    kd, kg = ref.define_discriminator(), ref.define_generator(LATENT)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((BATCH, LATENT)).astype(np.float32)
    images = rng.uniform(-1, 1, (BATCH, 128, 128, 3)).astype(np.float32)
    for _ in range(3):  # give the moving statistics values other than their initial 0 and 1
        kg(rng.standard_normal((BATCH, LATENT)).astype(np.float32), training=True)
        kd(rng.uniform(-1, 1, (BATCH, 128, 128, 3)).astype(np.float32), training=True)
    g, d = generator_from_keras(kg), discriminator_from_keras(kd)
    for training in (False, True):
        g.train(training)
        d.train(training)
        with torch.no_grad():
            ours_g = g(torch.from_numpy(z)).permute(0, 2, 3, 1).numpy()
            ours_d = torch.sigmoid(d(_nhwc_to_nchw(images))).numpy()
        np.testing.assert_allclose(ours_g, _keras_out(kg, z, training), atol=1e-4, rtol=0)
        np.testing.assert_allclose(ours_d, _keras_out(kd, images, training), atol=1e-4, rtol=0)
    # training mode moved the BN statistics the same way on both sides
    copy = generator_from_keras(kg)
    for key, value in copy.state_dict().items():
        if "running" in key:
            assert _close_in_norm(g.state_dict()[key], value), key


@pytest.mark.slow  # a full float64 iteration of the seed's networks at 128 px on both sides
def test_one_full_iteration_matches_keras_train_on_batch(float64_keras):
    """The three train_on_batch calls against seed_iteration, from identical weights, batches and noise.

    Both sides run in float64, with Adam's epsilon raised to 1e-2 for this comparison only. Why: on its
    first steps Adam moves each weight by about lr * sign(g) wherever |g| >> epsilon, so with the seed's
    epsilon of 1e-7 rounding-level differences flip the sign of the smallest gradients. Keras computes
    its loss in float32 even under a float64 policy, and a conv bias followed by BN has an exact gradient
    of 0, so it is moved by rounding noise alone. Those flips make update norms differ by a few percent
    (in float32: up to 4% for D, 8% for G) without any difference in the maths. A larger epsilon makes
    the update a smooth function of the gradient, so what is compared is the procedure; the optimizer
    itself, with the seed's epsilon, is checked exactly against Keras' Adam below.
    """
    keras.utils.set_random_seed(2)
    kd, kg = ref.define_discriminator(), ref.define_generator(LATENT)
    kgan = ref.define_gan(kg, kd)
    kd.optimizer.epsilon = kgan.optimizer.epsilon = 1e-2
    rng = np.random.default_rng(2)
    real = rng.uniform(-1, 1, (BATCH, 128, 128, 3))
    z_fake, z_gen = rng.standard_normal((BATCH, LATENT)), rng.standard_normal((BATCH, LATENT))

    g, d = generator_from_keras(kg, torch.float64), discriminator_from_keras(kd, torch.float64)
    before = {"G": {k: v.clone() for k, v in g.state_dict().items()}, "D": {k: v.clone() for k, v in d.state_dict().items()}}
    (k_real_loss, k_real_acc), (k_fake_loss, k_fake_acc), k_g_loss = ref.train_iteration(kg, kd, kgan, real, z_fake, z_gen)
    gan = GAN(g, d, KerasAdam(g.parameters(), 1e-4, 0.05, eps=1e-2), KerasAdam(d.parameters(), 1e-4, 0.05, eps=1e-2),
              objective=make_objective("keras_torch_bce"))  # Keras 3 on torch clips
    stats = seed_iteration(gan, _nhwc_to_nchw(real), torch.from_numpy(z_fake), torch.from_numpy(z_gen))

    assert stats["d_loss_real"].item() == pytest.approx(k_real_loss, rel=1e-5)
    assert stats["d_loss_fake"].item() == pytest.approx(k_fake_loss, rel=1e-5)
    assert stats["g_loss"].item() == pytest.approx(k_g_loss, rel=1e-5)
    assert stats["d_acc_real"].item() == k_real_acc and stats["d_acc_fake"].item() == k_fake_acc

    after = {"G": generator_from_keras(kg, torch.float64).state_dict(), "D": discriminator_from_keras(kd, torch.float64).state_dict()}
    ours = {"G": g.state_dict(), "D": d.state_dict()}
    worst = {}
    for net in ("G", "D"):
        for key, start in before[net].items():
            if "running" in key:  # BN moving statistics: compare the values, relative in norm
                assert _close_in_norm(ours[net][key], after[net][key]), f"{net} {key}"
                continue
            keras_update, our_update = after[net][key] - start, ours[net][key] - start
            if _is_bias_before_batchnorm(net, key):
                # BN removes any per-channel constant, so this bias's exact gradient is 0: both sides move it by
                # rounding noise only. It must stay negligible next to the weights it sits beside.
                assert our_update.abs().max() < 1e-6
                continue
            worst[f"{net} {key}"] = ((our_update - keras_update).norm() / keras_update.norm()).item()
    assert len(worst) == 22 + 20  # every weight and BN scale/shift of G and D, all but the 8 pre-BN biases
    assert max(worst.values()) < 1e-3, worst  # measured: 1.1e-4 at worst (G's first BN scale)


def _close_in_norm(ours, theirs, rtol=1e-4, floor=1e-6):
    """Relative in norm, with a floor for moving means that are exactly 0 in exact arithmetic (G's start_norm
    follows a BN over the same features, so its batch means are 0): those hold rounding noise of ~1e-9."""
    return (ours - theirs).norm() <= rtol * theirs.norm() + floor


def _is_bias_before_batchnorm(net, key):
    return key.endswith(".0.bias") and key.startswith("blocks.") or (net == "G" and key == "mapping.4.bias")


def test_keras_adam_matches_keras_optimizer_exactly_with_the_seeds_epsilon():
    rng = np.random.default_rng(3)
    start = rng.standard_normal((50,)).astype(np.float32)
    gradients = [rng.standard_normal((50,)).astype(np.float32) * scale for scale in (1.0, 1e-6, 1e-8, 3.0, 1e-3)]
    variable = keras.Variable(start)
    keras_adam = keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.05)
    ours = torch.nn.Parameter(torch.from_numpy(start.copy()))
    adam = KerasAdam([ours], lr=1e-4, beta1=0.05)
    for gradient in gradients:
        keras_adam.apply([torch.from_numpy(gradient)], [variable])
        ours.grad = torch.from_numpy(gradient)
        adam.step()
        torch.testing.assert_close(ours.detach(), variable.value.detach().cpu(), rtol=1e-6, atol=1e-9)


def test_keras_adam_resumed_mid_run_still_matches_keras():
    """The step count that sets the epsilon lives on the host; a state dict with it, or one from before it (read
    once from the device), continues exactly where Keras does."""
    rng = np.random.default_rng(4)
    start = rng.standard_normal((20,)).astype(np.float32)
    gradients = [(rng.standard_normal((20,)) * 10.0 ** -rng.integers(0, 8)).astype(np.float32) for _ in range(6)]
    variable = keras.Variable(start)
    keras_adam = keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.05)
    for gradient in gradients:
        keras_adam.apply([torch.from_numpy(gradient)], [variable])
    for legacy in (False, True):
        ours = torch.nn.Parameter(torch.from_numpy(start.copy()))
        adam = KerasAdam([ours], lr=1e-3, beta1=0.05, eps=1e-7)
        for gradient in gradients[:3]:
            ours.grad = torch.from_numpy(gradient)
            adam.step()
        saved = adam.state_dict()
        assert saved["param_groups"][0]["steps_taken"] == 3
        if legacy:
            del saved["param_groups"][0]["steps_taken"]
        resumed = KerasAdam([ours], lr=1e-3, beta1=0.05, eps=1e-7)
        resumed.load_state_dict(saved)
        for gradient in gradients[3:]:
            ours.grad = torch.from_numpy(gradient)
            resumed.step()
        torch.testing.assert_close(ours.detach(), variable.value.detach().cpu(), rtol=1e-5, atol=1e-8)  # float32 rounding over 6 steps


def test_keras_adam_differs_from_torch_adam_as_documented():
    """Keras' epsilon is torch.optim.Adam's epsilon scaled by sqrt(1 - beta2^t): with tiny gradients they differ."""
    g = torch.full((3,), 1e-7)
    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(3))
    for p, opt in ((a, KerasAdam([a], lr=1.0, beta1=0.05)), (b, torch.optim.Adam([b], lr=1.0, betas=(0.05, 0.999), eps=1e-7))):
        p.grad = g.clone()
        opt.step()
    # closed form of Keras' first step: lr * sqrt(1-b2)/(1-b1) * (1-b1) g / (sqrt((1-b2) g^2) + eps)
    expected = -1.0 * np.sqrt(1e-3) * 1e-7 / (np.sqrt(1e-3) * 1e-7 + 1e-7)
    torch.testing.assert_close(a.detach(), torch.full((3,), expected), rtol=1e-5, atol=0)
    assert not torch.allclose(a, b, rtol=1e-2)


def test_keras_torch_bce_matches_keras_3_on_torch_including_clipping():
    logits = torch.tensor([[-30.0], [-3.0], [0.0], [2.5], [30.0]])
    bce = keras.losses.BinaryCrossentropy(from_logits=False)
    for label in (0.0, 1.0):
        expected = bce(np.full((5, 1), label, np.float32), torch.sigmoid(logits).numpy())
        assert keras_torch_bce(logits, label).item() == pytest.approx(float(np.asarray(expected.cpu())), rel=1e-6)
    # clipping: a saturated D gets no gradient at all on this backend (tf.keras gives -1: see logistic_bce)
    saturated = torch.tensor([[30.0]], requires_grad=True)
    keras_torch_bce(saturated, 0.0).backward()
    assert saturated.grad.item() == 0.0


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_import_round_trip_through_files_saved_by_keras(tmp_path, suffix):
    from ganforge.interop.keras import load_keras_model

    keras.utils.set_random_seed(4)
    kd, kg = ref.define_discriminator(), ref.define_generator(LATENT)
    kg(np.random.default_rng(4).standard_normal((BATCH, LATENT)).astype(np.float32), training=True)  # non-trivial BN stats
    kg.save(tmp_path / f"g{suffix}")
    kd.save(tmp_path / f"d{suffix}")
    g = generator_from_keras(load_keras_model(tmp_path / f"g{suffix}")).eval()
    d = discriminator_from_keras(load_keras_model(tmp_path / f"d{suffix}")).eval()
    z = np.random.default_rng(5).standard_normal((BATCH, LATENT)).astype(np.float32)
    with torch.no_grad():
        images = g(torch.from_numpy(z))
        np.testing.assert_allclose(images.permute(0, 2, 3, 1).numpy(), _keras_out(kg, z, False), atol=1e-4, rtol=0)
        nhwc = images.permute(0, 2, 3, 1).numpy()
        np.testing.assert_allclose(torch.sigmoid(d(images)).numpy(), _keras_out(kd, nhwc, False), atol=1e-4, rtol=0)


def test_importer_rejects_another_architecture():
    from ganforge.errors import GanforgeError

    other = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(16384), keras.layers.Reshape((16, 16, 64))])
    with pytest.raises(GanforgeError, match="not the seed's architecture"):
        copy_keras_weights(other, SeedGenerator(LATENT, 128))
    small_d = ref.define_discriminator(in_shape=(64, 64, 3), n_blocks=3)
    with pytest.raises(GanforgeError, match="not the seed's architecture"):
        copy_keras_weights(small_d, SeedDiscriminator(128))


def test_import_refuses_a_model_file_with_python_code(tmp_path):
    """safe_mode stays on: a Lambda layer's code in a .h5 file is never run (Keras' advisory CVE-2025-9905)."""
    from ganforge.errors import GanforgeError
    from ganforge.interop.keras import load_keras_model

    keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)]).save(tmp_path / "lambda.h5")
    with pytest.raises(GanforgeError, match="lambda.h5: Keras could not load it.*Lambda"):
        load_keras_model(tmp_path / "lambda.h5")
