"""Conditional training's own parts of the loop: the classes G is given, and Shahbazi et al.'s ramp-in."""
import numpy as np
import pytest
import torch

from ganforge.config import load_config
from ganforge.data import ImageSet
from ganforge.data.labels import Classes
from ganforge.errors import GanforgeError
from ganforge.nets.conditional import attach, with_label_plane
from ganforge.data.sampler import EpochSampler
from ganforge.train.build import build_gan
from ganforge.train.distributed import world_from_environment
from ganforge.train.loop import _batch

SMALL = {"model.resolution": 32, "model.latent_dim": 8, "model.width": 8, "train.batch_size": 4, "model.class_names": ["a", "b", "c"]}


@pytest.mark.parametrize("sampling, expected", [("data", [0.8, 0.15, 0.05]), ("balanced", [1 / 3, 1 / 3, 1 / 3])])
def test_gs_classes_follow_the_datas_frequencies_or_are_balanced(sampling, expected):
    labels = np.array([0] * 16 + [1] * 3 + [2] * 1)
    images = ImageSet(np.zeros((20, 32, 32, 3), np.uint8), None, "test", classes=Classes(["a", "b", "c"], labels))
    config = load_config("demo", overrides={**SMALL, "data.class_sampling": sampling, "train.batch_size": 5})
    noise, world = torch.Generator().manual_seed(0), world_from_environment("cpu")
    sampler = EpochSampler(20, 5, 0)
    drawn, real_ok = [], True
    for step in range(1200):
        real, z_fake, z_gen = _batch(step, sampler, images, noise, config, world, torch.device("cpu"))
        drawn += z_fake[:, -1].tolist() + z_gen[:, -1].tolist()
        real_ok &= bool((real[:, 3, 0, 0].long().numpy() == labels[sampler.indices(step)]).all())  # reals carry their own
    assert real_ok and real.shape[1] == 4 and z_fake.shape[1] == 9
    np.testing.assert_allclose(np.bincount(np.array(drawn, dtype=int), minlength=3) / len(drawn), expected, atol=0.02)


@pytest.mark.parametrize("how", ["embed", "batchnorm"])
def test_the_ramp_in_weighs_the_class_from_0_to_1_over_the_images_asked_for(how):
    config = load_config("demo", overrides={**SMALL, "remedies.conditioning_rampin": 0.1, "model.conditioning": how})  # 100 images: 25 steps of 4
    gan = build_gan(config, torch.device("cpu"))
    z = torch.randn(1, 8).repeat(3, 1)
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        gan.discriminator.embed.weight.normal_()
        for affine in [*gan.generator.gains.parameters(), *gan.generator.shifts.parameters()]:  # conditional BN's start at 0
            affine.normal_()
        for step, weight in ((0, 0.0), (10, 0.4), (25, 1.0), (40, 1.0)):
            gan.conditioning_ramp(step)
            assert gan.generator.conditioning.item() == gan.discriminator.conditioning.item() == pytest.approx(weight)
        gan.conditioning_ramp(0)  # unconditional at the start: the class changes nothing
        samples = gan.generator.eval()(attach(z, torch.tensor([0, 1, 2])))[:, :3]  # the picture, not its class plane
        judged = gan.discriminator.eval()(with_label_plane(images[:1].repeat(3, 1, 1, 1), torch.tensor([0, 1, 2])))
        assert torch.equal(samples[0], samples[1]) and torch.equal(judged[0], judged[2])
        gan.conditioning_ramp(25)
        samples = gan.generator(attach(z, torch.tensor([0, 1, 2])))[:, :3]
        judged = gan.discriminator(with_label_plane(images[:1].repeat(3, 1, 1, 1), torch.tensor([0, 1, 2])))
        assert not torch.equal(samples[0], samples[1]) and not torch.equal(judged[0], judged[2])
    with pytest.raises(GanforgeError, match="--conditional"):
        build_gan(load_config("demo", overrides={**SMALL, "model.class_names": [], "remedies.conditioning_rampin": 1}), torch.device("cpu"))


@pytest.mark.parametrize("arch, g_batch_norm, expected", [("dcgan", True, "batchnorm"), ("seed", True, "batchnorm"),
                                                           ("fastgan", True, "batchnorm"), ("r3", True, "embed"),
                                                           ("dcgan", False, "embed")])
def test_auto_conditioning_is_conditional_batchnorm_where_g_has_batchnorm_and_the_embedding_elsewhere(arch, g_batch_norm, expected):
    from ganforge.nets.registry import build_generator

    config = load_config("demo", overrides={**SMALL, "model.arch": arch, "remedies.g_batch_norm": g_batch_norm})
    assert config.model.conditioning == "auto"
    generator = build_generator(config)
    assert (generator.embed is None, len(generator.gains) > 0) == ((True, True) if expected == "batchnorm" else (False, False))
