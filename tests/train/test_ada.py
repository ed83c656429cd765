"""ADA's controller against its rule (Karras et al. 2020, stylegan2-ada-pytorch's training loop): every `interval`
iterations p moves by sign(E[sign D(real)] - target) x batch x interval / images, clamped to [0, 1]."""
import pytest
import torch

from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.train.ada import AdaptiveAugmentation
from ganforge.train.augment import DInput
from ganforge.train.build import build_gan

pytestmark = pytest.mark.unit

BATCH, INTERVAL, IMAGES = 32, 4, 1280  # one adjustment moves p by 32 x 4 / 1280 = 0.1


def controller(target=0.6) -> AdaptiveAugmentation:
    return AdaptiveAugmentation(DInput("translation"), target, INTERVAL, IMAGES, BATCH)


def feed(ada: AdaptiveAugmentation, accuracies: list[float], first_step: int = 1) -> list[float]:
    """p after each iteration, D's accuracy on reals as given."""
    seen = []
    for step, accuracy in enumerate(accuracies, first_step):
        ada.observe(torch.tensor(accuracy), step)
        seen.append(ada.probability)
    return seen


def test_p_rises_by_the_documented_amount_while_d_is_certain_on_reals_and_falls_when_it_is_not():
    ada = controller()
    assert ada.probability == 0.0 and ada.d_input.probability == 0.0  # starts unaugmented
    # Certain: every real logit positive, E[sign] = 1 > 0.6. p moves only at every 4th iteration.
    assert feed(ada, [1.0] * 8) == pytest.approx([0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.2])
    # Accuracy 0.75: E[sign] = 0.5 < 0.6, down by the same amount.
    assert feed(ada, [0.75] * 4, first_step=9) == pytest.approx([0.2, 0.2, 0.2, 0.1])
    # The interval's mean decides, not its last iteration: 1, 1, 0.5, 1 -> accuracy 0.875 -> E[sign] 0.75: up;
    # 1, 0.5, 0.5, 1 -> 0.75 -> E[sign] 0.5: down.
    assert feed(ada, [1.0, 1.0, 0.5, 1.0], first_step=13)[-1] == pytest.approx(0.2)
    assert feed(ada, [1.0, 0.5, 0.5, 1.0], first_step=13)[-1] == pytest.approx(0.1)
    # Clamped at 0 and at 1.
    assert feed(ada, [0.0] * 12, first_step=17)[-1] == 0.0
    assert feed(ada, [1.0] * 4 * 15, first_step=29)[-1] == 1.0
    assert ada.d_input.probability == 1.0  # the controller moves the very p that D's input applies


def test_state_round_trips_mid_interval():
    a, b = controller(), controller()
    feed(a, [1.0] * 6)
    b.load_state_dict(a.state_dict())
    assert feed(a, [0.9, 0.2], first_step=7) == feed(b, [0.9, 0.2], first_step=7)
    assert a.state_dict() == b.state_dict()


def test_p_zero_leaves_ds_input_bitwise_unchanged_and_draws_nothing():
    d_input = DInput("color,translation,cutout", probability=0.0)
    x = torch.rand(16, 3, 32, 32) * 2 - 1
    state = torch.get_rng_state()
    out = d_input(x, step=0)
    assert torch.equal(out, x)
    assert torch.equal(torch.get_rng_state(), state)


def test_p_applies_each_op_to_about_that_share_of_images_and_leaves_the_rest_bitwise():
    torch.manual_seed(0)
    x = torch.rand(4000, 3, 8, 8) + 0.1  # cutout zeroes a square; these images have no zero of their own
    out = DInput("cutout", probability=0.3)(x, step=0)
    changed = (out != x).flatten(1).any(1)
    assert changed.float().mean().item() == pytest.approx(0.3, abs=0.03)
    assert torch.equal(out[~changed], x[~changed])


def test_ada_is_built_from_the_settings_and_refuses_nothing_to_adapt():
    config = load_config("demo", overrides={"model.resolution": 32, "model.width": 8, "remedies.ada_target": 0.6,
                                            "remedies.ada_kimg": 50.0})
    gan = build_gan(config, torch.device("cpu"))
    assert gan.augment.adaptive and gan.augment.d_input is gan.d_input and gan.d_input.probability == 0.0
    assert gan.augment.adjustment == pytest.approx(32 * 4 / 50_000)
    assert not build_gan(load_config("demo", overrides={"model.resolution": 32, "model.width": 8}), torch.device("cpu")).augment.adaptive
    with pytest.raises(GanforgeError, match="remedies.diffaugment"):
        build_gan(load_config("dcgan", overrides={"model.resolution": 32, "model.width": 8, "remedies.ada_target": 0.6}),
                  torch.device("cpu"))
    with pytest.raises(GanforgeError, match="ada_target"):
        load_config("demo", overrides={"remedies.ada_target": 1.5})
