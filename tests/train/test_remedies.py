"""Each remedy does what it says, checked against closed forms; the seed's iteration stays the seed's."""
import copy
import itertools
import math

import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.nets import SeedDiscriminator
from ganforge.nets.layers import KerasBatchNorm, MinibatchStd, with_spectral_norm
from ganforge.nets.toy import ToyDiscriminator
from ganforge import checkpoint as ckpt
from ganforge.train.augment import DInput, _colour, _cutout, _translation
from ganforge.train.ema import GeneratorEMA
from ganforge.train.build import build_gan
from ganforge.train.loop import train
from ganforge.train.objectives import logistic_bce, make_objective
from ganforge.train.optim import KerasAdam
from ganforge.train.penalties import R1, GradientPenalty
from ganforge.train.procedure import GAN, seed_iteration

B, LATENT = 4, 8
TINY = {"model.resolution": 32, "model.latent_dim": LATENT, "model.width": 16, "train.batch_size": B}


def _linear_critic(w: torch.Tensor) -> nn.Module:
    critic = nn.Linear(w.numel(), 1, bias=False)
    critic.weight.data = w.view(1, -1).clone()
    return nn.Sequential(nn.Flatten(), critic)


# --- objectives ---------------------------------------------------------------------------------------

def test_hinge_lsgan_and_wgan_against_their_formulas():
    logits = torch.tensor([[-2.0], [-0.5], [0.3], [1.7]])
    hinge, lsgan, wgan = (make_objective(n) for n in ("hinge", "lsgan", "wgan"))
    assert hinge.d_real(logits).item() == pytest.approx((3 + 1.5 + 0.7 + 0) / 4)
    assert hinge.d_fake(logits).item() == pytest.approx((0 + 0.5 + 1.3 + 2.7) / 4)
    assert hinge.g(logits).item() == pytest.approx(-(-2 - 0.5 + 0.3 + 1.7) / 4)
    assert lsgan.d_real(logits).item() == pytest.approx(0.5 * (9 + 2.25 + 0.49 + 0.49) / 4)
    assert lsgan.d_fake(logits).item() == pytest.approx(0.5 * (4 + 0.25 + 0.09 + 2.89) / 4)
    assert wgan.d_real(logits).item() == pytest.approx(-wgan.d_fake(logits).item())


def test_one_sided_label_smoothing_moves_only_the_real_target():
    smoothed = make_objective("logistic", label_smoothing=0.1)
    logit = torch.tensor([[math.log(9.0)]], requires_grad=True)  # sigmoid = 0.9: the smoothed optimum
    smoothed.d_real(logit).backward()
    assert abs(logit.grad.item()) < 1e-6
    x = torch.tensor([[0.4]])
    assert smoothed.d_fake(x).item() == pytest.approx(logistic_bce(x, 0.0).item())
    assert smoothed.g(x).item() == pytest.approx(logistic_bce(x, 1.0).item())  # G still aims at 1
    with pytest.raises(ValueError, match="label smoothing"):
        make_objective("hinge", label_smoothing=0.1)


# --- penalties ----------------------------------------------------------------------------------------

def test_r1_is_half_gamma_squared_gradient_norm_and_lazy():
    w = torch.tensor([0.3, -1.2, 2.0, 0.5])
    critic, real = _linear_critic(w), torch.randn(6, 4)
    r1 = R1(gamma=10.0, interval=4)
    assert r1(critic, real, real, step=8).item() == pytest.approx(10.0 / 2 * 4 * w.pow(2).sum().item(), rel=1e-6)
    assert r1(critic, real, real, step=9) == 0.0
    (gradient,) = torch.autograd.grad(R1(2.0)(critic, real, real, 0), critic[1].weight)  # d/dw of |w|^2 = 2w
    torch.testing.assert_close(gradient.view(-1), 2.0 * w)


def test_gradient_penalty_is_squared_distance_of_the_gradient_norm_from_one():
    w = torch.tensor([0.6, 0.8, 1.0])  # |w| = sqrt(2)
    critic = _linear_critic(w)
    penalty = GradientPenalty(10.0)(critic, torch.randn(5, 3), torch.randn(5, 3), 0)
    assert penalty.item() == pytest.approx(10.0 * (math.sqrt(2) - 1) ** 2, rel=1e-6)
    unit = _linear_critic(w / w.norm())
    assert GradientPenalty(10.0)(unit, torch.randn(5, 3), torch.randn(5, 3), 0).item() < 1e-10


@pytest.mark.parametrize("penalty", [R1(gamma=1.0, interval=1), GradientPenalty(10.0)], ids=["r1", "wgan-gp"])
def test_penalties_use_batch_statistics_but_leave_the_moving_statistics(penalty):
    """A penalty's pass through D is not another batch for D's BatchNorm: without the fix, each R1 or GP step
    moved D's moving statistics a second time per D step."""
    from ganforge.nets import SeedDiscriminator

    d = SeedDiscriminator(32, width=4).train()
    real, fake = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    d(real)  # moving statistics away from their initial 0 and 1
    before = {k: v.clone() for k, v in d.state_dict().items()}
    torch.manual_seed(1)
    value = penalty(d, real, fake, 0)
    for key, tensor in d.state_dict().items():
        assert torch.equal(tensor, before[key]), key
    # batch statistics, as in D's own step: the value of a training-mode copy, not of an inference-mode one
    for mode, same in ((True, True), (False, False)):
        torch.manual_seed(1)
        other = penalty(copy.deepcopy(d).train(mode), real, fake, 0).item()
        assert (other == pytest.approx(value.item(), rel=1e-6)) == same


# --- spectral norm, minibatch std, packing --------------------------------------------------------------

def test_spectral_norm_keeps_each_layers_largest_singular_value_near_one():
    torch.manual_seed(0)
    d = with_spectral_norm(SeedDiscriminator(32))
    for layer in d.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            layer.parametrizations.weight.original.data.mul_(7.0)  # far from 1 before normalisation
    d.train()
    for _ in range(30):  # each training forward runs one power iteration
        d(torch.randn(2, 3, 32, 32))
    sigmas = [torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2).item()
              for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(sigmas) == 6 and all(abs(s - 1) < 0.02 for s in sigmas), sigmas


def test_minibatch_std_is_zero_for_identical_samples_and_matches_its_definition():
    layer = MinibatchStd(group_size=2)
    same = torch.randn(1, 3, 4, 4).expand(4, -1, -1, -1)
    assert layer(same)[:, 3].abs().max().item() < 1e-3
    x = torch.randn(4, 3, 4, 4)
    out = layer(x)
    torch.testing.assert_close(out[:, :3], x)
    for i in range(4):  # groups {0, 2} and {1, 3}
        pair = x[[i % 2, i % 2 + 2]]
        expected = (pair.var(0, unbiased=False) + 1e-8).sqrt().mean()
        torch.testing.assert_close(out[i, 3], torch.full((4, 4), expected.item()))


def test_packed_discriminator_judges_consecutive_samples_together():
    torch.manual_seed(0)
    d = SeedDiscriminator(32, pack=2).eval()
    x = torch.randn(4, 3, 32, 32)
    together = torch.cat([torch.cat([x[0], x[1]]), torch.cat([x[2], x[3]])]).view(2, 6, 32, 32)
    torch.testing.assert_close(d(x), d.classifier(d.blocks(together)))
    toy = ToyDiscriminator(pack=4)
    assert toy(torch.randn(100, 2)).shape == (25, 1)


def test_g_without_batch_norm_makes_each_sample_a_function_of_its_own_z():
    from ganforge.nets.registry import build_generator

    torch.manual_seed(0)
    z_image, z_toy = torch.randn(6, LATENT), torch.randn(6, 2)
    for g_batch_norm in (True, False):
        image_g = build_gan(load_config("seed", overrides={**TINY, "remedies.g_batch_norm": g_batch_norm}), torch.device("cpu")).generator
        toy_g = build_generator(load_config("stable", overrides={"model.arch": "toy2d", "remedies.g_batch_norm": g_batch_norm}))
        for g, z in ((image_g, z_image), (toy_g, z_toy)):
            norms = [m for m in g.modules() if isinstance(m, (KerasBatchNorm, nn.BatchNorm1d))]
            g.train()  # batch statistics: with BN, a sample's output depends on the rest of its batch
            alone_equals_in_batch = torch.allclose(g(z)[:3], g(z[:3]), atol=1e-6)
            assert (len(norms) > 0, alone_equals_in_batch) == (g_batch_norm, not g_batch_norm)


# --- EMA ----------------------------------------------------------------------------------------------

def test_ema_equals_the_closed_form_average_and_its_half_life_is_in_images():
    g = nn.Linear(1, 1, bias=False)
    ema = GeneratorEMA(g, half_life_images=40, batch_size=10)
    assert ema.beta ** 4 == pytest.approx(0.5)  # 40 images = 4 steps of 10
    values = [3.0, -1.0, 2.5, 0.0, 7.0]
    start = g.weight.item()
    for step, v in enumerate(values):
        g.weight.data.fill_(v)
        ema.update(step)
    beta = ema.beta
    expected = beta ** len(values) * start + sum((1 - beta) * beta ** (len(values) - 1 - k) * v for k, v in enumerate(values))
    assert ema.module.weight.item() == pytest.approx(expected, rel=1e-6)
    off = GeneratorEMA(g, 0, 10)
    assert off.module is g and off.state_dict() is None


def test_ema_rampup_follows_stylegan2_adas_rule():
    # StyleGAN2-ADA (training_loop.py): ema_nimg = min(ema_kimg * 1000, cur_nimg * ema_rampup),
    # ema_beta = 0.5 ** (batch / max(ema_nimg, 1e-8)), cur_nimg the images seen before the update.
    half_life, batch, rampup = 10_000.0, 32, 0.05
    ema = GeneratorEMA(nn.Linear(1, 1), half_life, batch, rampup)
    for step in (0, 1, 10, 100, 6249, 6250, 6251, 50_000):
        seen = step * batch
        expected = 0.5 ** (batch / max(min(half_life, seen * rampup), 1e-8))
        assert ema.beta_at(step) == pytest.approx(expected, rel=1e-12, abs=1e-300), step
    assert ema.beta_at(0) == 0.0  # the first update copies the live G
    assert ema.beta_at(100) == pytest.approx(0.5 ** (1 / 5))  # 3,200 images seen: a half-life of 160 images, 5 steps
    assert ema.beta_at(50_000) == ema.beta == pytest.approx(0.5 ** (batch / half_life))  # ramped up: the full half-life
    assert GeneratorEMA(nn.Linear(1, 1), half_life, batch).beta_at(0) == ema.beta  # no ramp-up: constant
    # The average after a few updates is the closed form with each step's own beta.
    g = nn.Linear(1, 1, bias=False)
    ema = GeneratorEMA(g, 40, 10, rampup=0.5)
    average = g.weight.item()
    for step, v in enumerate([3.0, -1.0, 2.5, 0.0, 7.0, 1.0, 4.0, -2.0, 5.0, 6.0]):
        g.weight.data.fill_(v)
        ema.update(step)
        beta = 0.5 ** (10 / min(40, 0.5 * step * 10)) if step else 0.0
        average = beta * average + (1 - beta) * v
    assert ema.module.weight.item() == pytest.approx(average, rel=1e-6)


# --- what D sees --------------------------------------------------------------------------------------

def _zero_padded_shift(x, dy, dx):
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = x[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def test_translation_is_a_zero_padded_shift_of_at_most_an_eighth():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 16, 16) + 0.1  # no zeros of its own
    out = _translation(x)
    for image, shifted in zip(x, out):
        matches = [(dy, dx) for dy, dx in itertools.product(range(-2, 3), repeat=2) if torch.equal(_zero_padded_shift(image, dy, dx), shifted)]
        assert len(matches) == 1


def test_cutout_zeroes_one_square_of_half_the_side_and_nothing_else():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 16, 16) + 0.1
    out = _cutout(x)
    for image, cut in zip(x, out):
        zero = (cut == 0).all(0)
        assert torch.equal(cut[:, ~zero], image[:, ~zero])
        rows, cols = zero.any(1).nonzero().view(-1), zero.any(0).nonzero().view(-1)
        assert zero.sum() == len(rows) * len(cols) and len(rows) <= 8 and len(cols) <= 8  # a rectangle, clipped at the edge
    assert (out == 0).all(1).sum((1, 2)).float().mean() > 40  # mostly whole 8x8 squares


def test_colour_is_one_affine_map_per_grey_image():
    torch.manual_seed(0)
    grey = torch.rand(4, 1, 8, 8).expand(-1, 3, -1, -1)  # saturation cannot change a grey image
    out = _colour(grey)
    for x, y in zip(grey, out):
        design = torch.stack([x.flatten(), torch.ones(x.numel())], 1).double()
        coefficients = torch.linalg.lstsq(design, y.flatten().double().unsqueeze(1)).solution
        assert (design @ coefficients - y.flatten().double().unsqueeze(1)).abs().max() < 1e-5


def test_instance_noise_anneals_linearly_to_zero():
    d_input = DInput(noise_std=0.4, noise_anneal=100)
    assert [d_input.noise_at(s) for s in (0, 50, 100, 500)] == pytest.approx([0.4, 0.2, 0.0, 0.0])
    torch.manual_seed(0)
    x = torch.zeros(64, 3, 32, 32)
    assert (d_input(x, 50) - x).std().item() == pytest.approx(0.2, rel=0.02)
    assert torch.equal(d_input(x, 100), x)
    with pytest.raises(ValueError, match="unknown op"):
        DInput("colour,zoom")


# --- the procedure with remedies ------------------------------------------------------------------------

def test_seed_preset_builds_the_exact_seed_iteration():
    config = load_config("seed", overrides={**TINY, "model.width": 64})  # the seed's own widths
    built = build_gan(config, torch.device("cpu"))
    torch.manual_seed(config.train.seed)
    g, d = type(built.generator)(LATENT, 32), SeedDiscriminator(32)
    g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)  # as build_gan lays them out
    plain = GAN(g, d, KerasAdam(g.parameters(), 1e-4, 0.05), KerasAdam(d.parameters(), 1e-4, 0.05))
    inputs = (torch.rand(B, 3, 32, 32) * 2 - 1, torch.randn(B, LATENT), torch.randn(B, LATENT))
    a, b = seed_iteration(built, *inputs, step=0), seed_iteration(plain, *inputs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    for x, y in zip(built.generator.state_dict().values(), plain.generator.state_dict().values()):
        assert torch.equal(x, y)


def test_d_steps_take_that_many_d_steps_on_consecutive_chunks():
    config = load_config("seed", overrides={**TINY, "remedies.d_steps": 3})
    gan = build_gan(config, torch.device("cpu"))
    real = torch.rand(3 * B, 3, 32, 32) * 2 - 1
    seen = []
    gan.discriminator.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    seed_iteration(gan, real, torch.randn(3 * B, LATENT), torch.randn(B, LATENT))
    assert len(seen) == 7  # (real, fake) x 3, then G's step
    for i in range(3):
        torch.testing.assert_close(seen[2 * i], real[i * B:(i + 1) * B])
    assert {int(s["step"].item()) for s in gan.opt_d.state.values()} == {6}


def test_bad_remedy_settings_are_clear_errors():
    for changes, message in [({"remedies.pack": 3}, "multiple of it"), ({"remedies.spectral_norm": "g"}, "spectral_norm"),
                             ({"remedies.diffaugment": "zoom"}, "unknown op"), ({"train.loss": "hinge", "remedies.label_smoothing": 0.1}, "label smoothing")]:
        with pytest.raises(GanforgeError, match=message):
            build_gan(load_config("seed", overrides={**TINY, **changes}), torch.device("cpu"))


ALL_REMEDIES = {
    "train.loss": "hinge", "remedies.spectral_norm": "both", "remedies.r1_gamma": 1.0, "remedies.lazy_interval": 3,
    "remedies.ema_half_life": 20.0, "remedies.ema_rampup": 0.05, "remedies.instance_noise": 0.1, "remedies.instance_noise_anneal": 5,
    "remedies.diffaugment": "color,translation,cutout", "remedies.ada_target": 0.3, "remedies.ada_interval": 3,
    "remedies.ada_kimg": 0.012, "remedies.minibatch_std": 2, "remedies.pack": 2, "remedies.d_steps": 2,
    "remedies.g_batch_norm": False,
}


def test_every_remedy_at_once_resumes_bitwise_and_generate_uses_the_average(tmp_path):
    from ganforge.sampling.load import load_generator

    config = load_config("seed", overrides={**TINY, **ALL_REMEDIES, "train.iterations": 6, "train.checkpoint_every": 2,
                                            "train.sample_every": 0, "train.diagnose_every": 0, "data.shapes_size": 24})

    class Killed(Exception):
        pass

    def kill_at_3(step):
        if step == 3:
            raise Killed

    train(config, tmp_path / "straight", progress=False, log=lambda *_: None)
    with pytest.raises(Killed):
        train(config, tmp_path / "resumed", progress=False, log=lambda *_: None, on_step=kill_at_3)
    train(config, tmp_path / "resumed", progress=False, log=lambda *_: None)
    a, b = ckpt.load_checkpoint(tmp_path / "straight"), ckpt.load_checkpoint(tmp_path / "resumed")
    for part in ("generator", "discriminator", "generator_ema"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"
    assert a["augment"] == b["augment"]  # ADA's p and the accuracy it had gathered when killed mid-interval
    assert not torch.equal(a["generator_ema"]["to_rgb.parametrizations.weight.original"], a["generator"]["to_rgb.parametrizations.weight.original"])
    generator, _, _ = load_generator(tmp_path / "straight")
    assert torch.equal(generator.state_dict()["to_rgb.parametrizations.weight.original"], a["generator_ema"]["to_rgb.parametrizations.weight.original"])


@pytest.mark.parametrize("norm", ["keras", "torch"])
def test_ema_recomputes_batch_norm_statistics_for_the_averaged_weights(norm):
    from ganforge.nets.layers import KerasBatchNorm

    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(3, 5), KerasBatchNorm(5) if norm == "keras" else nn.BatchNorm1d(5))
    g.latent_dim = 3
    ema = GeneratorEMA(g, half_life_images=10, batch_size=10)
    for step in range(3):
        g[0].weight.data.add_(torch.randn_like(g[0].weight))
        g(torch.randn(10, 3) * 3 + 1)  # the live BN's statistics: of other inputs and other weights
        ema.update(step)
    average = ema.module
    noise = torch.Generator().manual_seed(0)
    batches = [average[0](torch.randn(GeneratorEMA.CALIBRATION_BATCH, 3, generator=noise)) for _ in range(GeneratorEMA.CALIBRATION_BATCHES)]
    expected_mean = torch.stack([b.mean(0) for b in batches]).mean(0)  # the mean of the batch means
    expected_var = torch.stack([b.var(0, unbiased=norm == "torch") for b in batches]).mean(0)
    torch.testing.assert_close(average[1].running_mean, expected_mean.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(average[1].running_var, expected_var.detach(), rtol=1e-5, atol=1e-6)
    assert not average.training and average[1].momentum == g[1].momentum  # restored after calibration


@pytest.mark.parametrize("resolution, batch, gamma", [(32, 32, 0.0064), (64, 32, 0.0256), (128, 64, 0.0512), (128, 16, 0.2048)])
def test_r1_heuristic_is_stylegan2_adas_formula(resolution, batch, gamma):
    # stylegan2-ada-pytorch's train.py, cfg "auto": spec.gamma = 0.0002 * (res ** 2) / spec.mb
    config = load_config("stable", overrides={"model.resolution": resolution, "model.width": 8, "train.batch_size": batch,
                                              "remedies.r1_heuristic": True})
    (r1,) = [p for p in build_gan(config, torch.device("cpu")).penalties if p.on == "real"]
    assert r1.gamma == pytest.approx(gamma) and r1.interval == config.remedies.lazy_interval
