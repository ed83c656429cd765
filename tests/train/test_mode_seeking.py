"""MSGAN's mode-seeking term: its closed form, what its gradient does to a collapsed G, and the classes it pairs."""
import numpy as np
import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.data import ImageSet
from ganforge.data.labels import Classes
from ganforge.data.sampler import EpochSampler
from ganforge.nets.conditional import with_label_plane
from ganforge.train.build import build_gan
from ganforge.train.distributed import world_from_environment
from ganforge.train.loop import _batch
from ganforge.train.mode_seeking import EPS, ModeSeeking
from ganforge.train.procedure import seed_iteration


def test_the_term_is_the_weight_over_the_pictures_distance_per_unit_of_noise_distance():
    z = torch.zeros(4, 3)
    z[2:] = 2.0  # |z1 - z2| = 2 in every coordinate
    fakes = torch.zeros(4, 3, 8, 8)
    fakes[2:, 0] = 1.5  # one plane of three differs by 1.5: mean |G(z1) - G(z2)| = 0.5
    assert ModeSeeking(3.0)(z, fakes).item() == pytest.approx(3.0 / (0.5 / 2.0 + EPS))
    # the class column is not noise, and the class plane is not picture: a conditional G's pairs give the same term
    labels = torch.tensor([5, 7, 5, 7])
    labelled = ModeSeeking(3.0, labelled=True)(torch.cat([z, labels[:, None].float()], 1), with_label_plane(fakes, labels))
    assert labelled.item() == pytest.approx(3.0 / (0.5 / 2.0 + EPS))
    with pytest.raises(ValueError, match="batch of 2"):
        ModeSeeking(1.0)(z[:1], fakes[:1])


def test_its_gradient_spreads_a_collapsed_generators_pictures_apart():
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(8, 3 * 4 * 4), nn.Tanh(), nn.Unflatten(1, (3, 4, 4)))
    generator[0].weight.data *= 0.01  # nearly one picture for every z
    term, optimizer = ModeSeeking(1.0), torch.optim.SGD(generator.parameters(), lr=1e-3)
    z = torch.randn(64, 8)
    spread = lambda: (generator(z) - generator(z).mean(0)).abs().mean().item()  # noqa: E731
    before = spread()
    for _ in range(20):
        optimizer.zero_grad()
        term(z, generator(z)).backward()
        optimizer.step()
    assert spread() > 3 * before


def test_a_conditional_runs_pairs_share_their_class_and_the_term_enters_gs_step():
    labels = np.arange(40) % 5
    images = ImageSet(np.zeros((40, 32, 32, 3), np.uint8), None, "test", classes=Classes(list("abcde"), labels))
    overrides = {"model.resolution": 32, "model.latent_dim": 8, "model.width": 8, "train.batch_size": 8,
                 "model.class_names": list("abcde")}
    noise, world = torch.Generator().manual_seed(0), world_from_environment("cpu")
    config = load_config("demo", overrides={**overrides, "remedies.mode_seeking": 1.0})
    real, z_fake, z_gen = _batch(0, EpochSampler(40, 8, 0), images, noise, config, world, torch.device("cpu"))
    assert torch.equal(z_gen[:4, -1], z_gen[4:, -1]) and len(set(z_gen[:, -1].tolist())) > 1
    # G's step differs from the same step without the term, and only through G's loss: D's steps are the same
    steps = {}
    for weight in (0.0, 1.0):
        gan = build_gan(load_config("demo", overrides={**overrides, "remedies.mode_seeking": weight}), torch.device("cpu"))
        torch.manual_seed(1)
        stats = seed_iteration(gan, real, z_fake, z_gen)
        steps[weight] = (stats, [p.detach().clone() for p in gan.generator.parameters()])
    (plain, g_plain), (seeking, g_seeking) = steps[0.0], steps[1.0]
    assert torch.equal(plain["d_loss_fake"], seeking["d_loss_fake"]) and torch.equal(plain["g_loss"], seeking["g_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(g_plain, g_seeking))
