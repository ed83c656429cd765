"""The paired procedure and its objective: RpGAN against closed-form values, R1 and R2 against finite
differences, one paired iteration against the same step written out by hand."""
import copy
import math

import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.train.build import check_choices
from ganforge.train.objectives import make_objective, relativistic_pairing
from ganforge.train.penalties import R1, R2
from ganforge.train.procedure import GAN, paired_iteration


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_rpgan_is_softplus_of_the_fake_minus_the_real_logit_pair_by_pair():
    real, fake = torch.tensor([[2.0], [0.0], [-1.0]]), torch.tensor([[0.0], [1.0], [-3.0]])
    rp = relativistic_pairing()
    d = (_softplus(0 - 2) + _softplus(1 - 0) + _softplus(-3 + 1)) / 3
    g = (_softplus(2 - 0) + _softplus(0 - 1) + _softplus(-1 + 3)) / 3
    assert rp.d(real, fake).item() == pytest.approx(d, rel=1e-6)
    assert rp.g(real, fake).item() == pytest.approx(g, rel=1e-6)
    # relativistic: a constant added to every logit changes neither loss; pairing: the order of pairs matters
    assert rp.d(real + 5, fake + 5).item() == pytest.approx(d, rel=1e-6)
    assert rp.d(real, fake.flip(0)).item() != pytest.approx(d, rel=1e-3)


def test_a_per_batch_loss_in_the_paired_procedure_is_its_real_and_fake_losses_summed():
    real, fake = torch.randn(5, 1), torch.randn(5, 1)
    single, lifted = make_objective("hinge"), make_objective("hinge", procedure="paired")
    assert lifted.d(real, fake).item() == pytest.approx((single.d_real(real) + single.d_fake(fake)).item())
    assert lifted.g(real, fake).item() == pytest.approx(single.g(fake).item())


def test_rpgan_with_the_seeds_procedure_is_one_clear_error():
    with pytest.raises(ValueError, match="train.procedure = 'paired'"):
        make_objective("rpgan")
    config = load_config("seed", overrides={"train.loss": "rpgan"})
    with pytest.raises(GanforgeError, match="rpgan.*paired"):
        check_choices(config)


def _tiny_critic() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Softplus(), nn.Flatten(), nn.Linear(4 * 4 * 4, 1)).double()


@pytest.mark.parametrize("make, on", [(R1, "real"), (R2, "fake")], ids=["r1", "r2"])
def test_zero_centred_penalties_gradients_match_finite_differences(make, on):
    """d penalty / d weights, through the double backward, against central differences in float64; R1 looks
    at the real batch only and R2 at the fakes only."""
    critic = _tiny_critic()
    real, fake = torch.randn(3, 3, 4, 4, dtype=torch.float64), torch.randn(3, 3, 4, 4, dtype=torch.float64)
    penalty = make(gamma=0.7, interval=1)
    weight = critic[0].weight
    (analytic,) = torch.autograd.grad(penalty(critic, real, fake, 0), weight)
    numeric = torch.zeros_like(weight)
    h = 1e-6
    for index in range(weight.numel()):
        original = weight.data.view(-1)[index].item()
        values = []
        for delta in (h, -h):
            weight.data.view(-1)[index] = original + delta
            values.append(penalty(critic, real, fake, 0).item())
        weight.data.view(-1)[index] = original
        numeric.view(-1)[index] = (values[0] - values[1]) / (2 * h)
    torch.testing.assert_close(analytic, numeric, rtol=1e-5, atol=1e-8)
    value = penalty(critic, real, fake, 0).item()
    shifted_real, shifted_fake = penalty(critic, real + 1, fake, 0).item(), penalty(critic, real, fake + 1, 0).item()
    assert (shifted_real == pytest.approx(value)) == (on == "fake")  # R2 does not look at the reals ...
    assert (shifted_fake == pytest.approx(value)) == (on == "real")  # ... nor R1 at the fakes
    assert make(gamma=0.7, interval=4)(critic, real, fake, 5) == 0.0  # lazy: only every 4th step ...
    assert make(gamma=0.7, interval=4)(critic, real, fake, 8).item() == pytest.approx(4 * penalty(critic, real, fake, 0).item())


def test_one_paired_iteration_is_the_rpgan_step_written_out_by_hand():
    """D: one SGD step on softplus(D(fake) - D(real)) + R1 + R2; then G: one step on softplus(D(real) - D(G(z)))
    through the updated D, whose weights G's step leaves alone."""
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(2, 12), nn.Tanh(), nn.Unflatten(1, (3, 2, 2))).double()
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.Softplus(), nn.Linear(6, 1)).double()
    real, z_fake, z_gen = torch.randn(4, 3, 2, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    lr, gamma = 0.1, 0.5
    g_ref, d_ref = copy.deepcopy(generator), copy.deepcopy(discriminator)

    gan = GAN(generator, discriminator, torch.optim.SGD(generator.parameters(), lr), torch.optim.SGD(discriminator.parameters(), lr),
              objective=relativistic_pairing(), penalties=[R1(gamma), R2(gamma)])
    stats = paired_iteration(gan, real, z_fake, z_gen, step=0)

    fake = g_ref(z_fake).detach()
    real_in, fake_in = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    real_logits, fake_logits = d_ref(real_in), d_ref(fake_in)
    (grad_real,) = torch.autograd.grad(real_logits.sum(), real_in, create_graph=True)
    (grad_fake,) = torch.autograd.grad(fake_logits.sum(), fake_in, create_graph=True)
    d_loss = torch.nn.functional.softplus(fake_logits - real_logits).mean()
    d_total = d_loss + gamma / 2 * (grad_real.pow(2).sum((1, 2, 3)).mean() + grad_fake.pow(2).sum((1, 2, 3)).mean())
    d_grads = torch.autograd.grad(d_total, list(d_ref.parameters()))
    with torch.no_grad():
        for p, g in zip(d_ref.parameters(), d_grads):
            p -= lr * g
    g_loss = torch.nn.functional.softplus(d_ref(real).detach() - d_ref(g_ref(z_gen))).mean()
    g_grads = torch.autograd.grad(g_loss, list(g_ref.parameters()))
    with torch.no_grad():
        for p, g in zip(g_ref.parameters(), g_grads):
            p -= lr * g

    for ours, reference in ((discriminator, d_ref), (generator, g_ref)):
        for a, b in zip(ours.parameters(), reference.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert stats["g_loss"].item() == pytest.approx(g_loss.item(), rel=1e-12)
    assert (stats["d_loss_real"] + stats["d_loss_fake"]).item() == pytest.approx(d_loss.item(), rel=1e-12)
    assert stats["d_acc_real"].item() == pytest.approx((real_logits > fake_logits).double().mean().item())
    assert all(p.requires_grad for p in discriminator.parameters())  # D unfrozen again after G's step
