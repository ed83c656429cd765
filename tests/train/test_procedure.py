"""The iteration's structure, independent of Keras: which mode each network is in at each step."""
import copy

import pytest
import torch

from ganforge.nets import SeedDiscriminator, SeedGenerator
from ganforge.train.objectives import keras_torch_bce, logistic_bce
from ganforge.train.optim import KerasAdam
from ganforge.train.procedure import GAN, seed_iteration

B, LATENT = 4, 8


def _gan(**variant):
    torch.manual_seed(0)
    g, d = SeedGenerator(LATENT, 32), SeedDiscriminator(32)
    return GAN(g, d, KerasAdam(g.parameters(), 1e-4, 0.05), KerasAdam(d.parameters(), 1e-4, 0.05), **variant)


def _inputs():
    gen = torch.Generator().manual_seed(1)
    return torch.rand(B, 3, 32, 32, generator=gen) * 2 - 1, torch.randn(B, LATENT, generator=gen), torch.randn(B, LATENT, generator=gen)


def _running_stats(module):
    return {k: v.clone() for k, v in module.state_dict().items() if "running" in k}


@pytest.mark.parametrize("fakes_g_training", [False, True])
def test_d_sees_real_then_fakes_from_g_in_the_chosen_mode(fakes_g_training):
    gan = _gan(fakes_g_training=fakes_g_training)
    real, z_fake, z_gen = _inputs()
    reference_g = copy.deepcopy(gan.generator).train(fakes_g_training)
    with torch.no_grad():
        expected_fakes = reference_g(z_fake)
    seen = []
    hook = gan.discriminator.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    seed_iteration(gan, real, z_fake, z_gen)
    hook.remove()
    assert len(seen) == 3  # real, fakes, then G's step
    torch.testing.assert_close(seen[0], real)
    torch.testing.assert_close(seen[1], expected_fakes)


@pytest.mark.parametrize("frozen_d_training", [False, True])
def test_g_step_leaves_d_weights_alone_and_its_bn_statistics_only_in_training_mode(frozen_d_training):
    gan = _gan(frozen_d_training=frozen_d_training)
    real, z_fake, z_gen = _inputs()
    snapshot = {}

    def before_g_step(module, args):
        if len(snapshot) == 2:  # the third call of D is G's step
            snapshot["weights"] = {k: v.clone() for k, v in module.state_dict().items() if "running" not in k}
            snapshot["stats"] = _running_stats(module)
        snapshot[len(snapshot)] = True

    gan.discriminator.register_forward_pre_hook(before_g_step)
    stats = seed_iteration(gan, real, z_fake, z_gen)
    after = gan.discriminator.state_dict()
    for k, v in snapshot["weights"].items():
        assert torch.equal(after[k], v), f"G's step changed D's {k}"
    stats_changed = any(not torch.equal(after[k], v) for k, v in snapshot["stats"].items())
    assert stats_changed == frozen_d_training
    assert all(p.requires_grad for p in gan.discriminator.parameters())  # unfrozen again for the next D step
    assert set(stats) == {"d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake"}


def test_each_iteration_takes_two_d_steps_and_one_g_step():
    gan = _gan()
    seed_iteration(gan, *_inputs())
    d_steps = {int(s["step"].item()) for s in gan.opt_d.state.values()}
    g_steps = {int(s["step"].item()) for s in gan.opt_g.state.values()}
    assert d_steps == {2} and g_steps == {1}


def test_the_seeds_loss_keeps_a_gradient_where_the_clipped_one_has_none():
    """tf.keras' BCE on a sigmoid output is BCE from logits: a certain D still gives a gradient of 1 (closed
    form: d softplus(l) / dl = sigmoid(l)); Keras 3's torch backend clips p to [1e-7, 1 - 1e-7] and gives 0."""
    logits = torch.tensor([[40.0]], requires_grad=True)
    logistic_bce(logits, 0.0).backward()
    assert logits.grad.item() == pytest.approx(1.0)
    assert logistic_bce(logits.detach(), 0.0).item() == pytest.approx(40.0)  # not -log(1e-7) = 16.12
    logits.grad = None
    keras_torch_bce(logits, 0.0).backward()
    assert logits.grad.item() == 0.0
    x = torch.tensor([[-1.3], [0.2]])
    for label in (0.0, 1.0):  # away from the clip both are the same BCE
        assert logistic_bce(x, label).item() == pytest.approx(keras_torch_bce(x, label).item(), rel=1e-5)


def test_the_old_name_of_the_clipped_loss_still_loads_with_a_warning():
    from ganforge.config import Config

    saved = Config().to_dict()
    saved["train"]["loss"] = "keras_bce"  # a run's config.json from before the rename
    with pytest.warns(UserWarning, match="now called 'keras_torch_bce'"):
        config = Config.from_dict(saved)
    assert config.train.loss == "keras_torch_bce"


def test_the_seed_presets_loss_is_tf_keras_bce_from_logits_never_clipped():
    """tf.keras 2 computes the seed's BCE from the sigmoid's cached logits: at logit -30 with label 1 the loss is
    softplus(30) = 30.0000000000000935... and its gradient -sigmoid(30) - 1 + 1 = -1 (closed form, not clipped at 1e-7)."""
    from ganforge.config import load_config
    from ganforge.train.objectives import make_objective

    config = load_config("seed")
    objective = make_objective(config.train.loss, config.remedies.label_smoothing, config.train.procedure)
    logits = torch.tensor([[-30.0], [30.0]], dtype=torch.float64, requires_grad=True)
    g_loss = objective.g(logits[:1])
    (gradient,) = torch.autograd.grad(g_loss, logits)
    assert g_loss.item() == pytest.approx(30.0, abs=1e-12) and gradient[0, 0].item() == pytest.approx(-1.0, abs=1e-12)
    assert objective.d_fake(logits[1:]).item() == pytest.approx(30.0, abs=1e-12)  # label 0 at logit 30: softplus(30)


def test_a_run_saved_with_r1_interval_loads_it_as_lazy_interval():
    from ganforge.config import Config

    saved = Config().to_dict()
    saved["remedies"]["r1_interval"] = saved["remedies"].pop("lazy_interval") // 4  # config.json before the rename
    with pytest.warns(UserWarning, match="remedies.r1_interval is now called remedies.lazy_interval"):
        config = Config.from_dict(saved)
    assert config.remedies.lazy_interval == 4
