"""The seed's networks: exact parameter counts, shapes at every resolution, Keras BN and init semantics."""
import math

import pytest
import torch

from ganforge.nets import SUPPORTED_RESOLUTIONS, SeedDiscriminator, SeedGenerator, count_parameters
from ganforge.nets.layers import KerasBatchNorm


def test_parameter_counts_are_the_seeds():
    assert count_parameters(SeedDiscriminator(128)) == 38_456_449
    assert count_parameters(SeedGenerator(100, 128)) == 9_952_195
    d = SeedDiscriminator(128)
    assert sum(p.numel() for p in d.parameters()) == 38_454_529  # trainable; the other 1,920 are BN moving stats


@pytest.mark.parametrize("resolution", SUPPORTED_RESOLUTIONS)
def test_every_resolution_maps_noise_to_images_to_one_logit(resolution):
    g, d = SeedGenerator(16, resolution).eval(), SeedDiscriminator(resolution).eval()
    with torch.no_grad():
        images = g(torch.randn(2, 16))
        logits = d(images)
    assert images.shape == (2, 3, resolution, resolution) and logits.shape == (2, 1)
    assert images.abs().max() <= 1.0


@pytest.mark.parametrize("width", [16, 64])
def test_width_scales_every_convolution_and_64_is_the_seed(width):
    g, d = SeedGenerator(100, 128, width), SeedDiscriminator(128, width=width)
    convs = lambda net: [m.out_channels for m in net.modules() if isinstance(m, torch.nn.Conv2d)]  # noqa: E731
    assert convs(g) == [4 * width, 2 * width, width, 3]  # the seed: 256, 128, 64, then RGB
    assert convs(d) == [width, 2 * width, 4 * width, 8 * width]  # the seed: 64 .. 512
    with torch.no_grad():
        assert d(g.eval()(torch.randn(2, 100))).shape == (2, 1)
    if width == 64:
        assert count_parameters(g) == count_parameters(SeedGenerator(100, 128)) == 9_952_195


def test_unsupported_resolution_is_refused():
    with pytest.raises(ValueError, match="resolution 48"):
        SeedGenerator(100, 48)


def test_keras_batchnorm_uses_biased_variance_and_keras_momentum():
    bn = KerasBatchNorm(3, momentum=0.8)
    x = torch.randn(5, 3, 4, 4) * 3 + 1
    out = bn(x)
    mean = x.mean(dim=(0, 2, 3))
    biased_var = x.var(dim=(0, 2, 3), unbiased=False)
    expected = (x - mean[None, :, None, None]) / torch.sqrt(biased_var[None, :, None, None] + 1e-3)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bn.running_mean, 0.2 * mean)
    torch.testing.assert_close(bn.running_var, 0.8 * 1.0 + 0.2 * biased_var)
    bn.eval()
    torch.testing.assert_close(bn(x), (x - bn.running_mean[None, :, None, None]) / torch.sqrt(bn.running_var[None, :, None, None] + 1e-3))


def test_initializers_are_keras_defaults():
    torch.manual_seed(0)
    d = SeedDiscriminator(128)
    conv = d.blocks[3][0].weight
    assert conv.std().item() == pytest.approx(0.02, rel=0.02) and conv.mean().abs() < 1e-3
    dense = d.classifier[1].weight  # glorot uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out))
    limit = math.sqrt(6 / (32768 + 1024))
    assert dense.abs().max() <= limit and dense.abs().max() > 0.99 * limit
    assert all(m.bias.abs().max() == 0 for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_phase_decomposed_upsampling_computes_what_upsample_then_conv_computes(resolution):
    from ganforge.nets.upsample_conv import phase_kernels

    torch.manual_seed(0)
    # float64: in float32 the 128 px gradients differ by 1e-3 relative on some CPUs (CI's), from summation order alone
    g = SeedGenerator(16, resolution).double().train()
    z = torch.randn(3, 16, dtype=torch.float64)
    fused = g(z)
    fused_grads = torch.autograd.grad(fused.square().sum(), list(g.parameters()))
    g.fused_upsampling = False  # the layers as written: nn.Upsample, then the 5x5 conv
    plain = g(z)
    plain_grads = torch.autograd.grad(plain.square().sum(), list(g.parameters()))
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-12)
    names = [name for name, _ in g.named_parameters()]
    for name, a, b in zip(names, fused_grads, plain_grads):  # in norm: BN over 3 samples makes single entries ill-conditioned
        if name == "mapping.4.bias" or (name.startswith("blocks.") and name.endswith(".0.bias")):
            continue  # biases feeding a BN: their exact gradient is 0, both sides hold rounding noise
        assert (a - b).norm() <= 1e-9 * b.norm() + 1e-12, name
    assert phase_kernels(torch.ones(1, 1, 5, 5)).sum().item() == 4 * 25  # every tap lands in each phase once
