import numpy as np
import pytest

from ganforge.metrics.spectrum import lattice_peaks

pytestmark = pytest.mark.unit


def test_a_checkerboard_shows_at_the_two_pixel_period_and_nowhere_else():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, (256, 32, 32, 3))
    flat = lattice_peaks(noise)
    assert all(0.8 < value < 1.25 for value in flat.values())  # white noise: every frequency alike
    rows, cols = np.indices((32, 32))
    checkerboard = ((rows + cols) % 2 * 2 - 1)[None, :, :, None] * 0.5  # period 2 along both axes: the (16, 16) frequency
    dotted = lattice_peaks(noise + checkerboard)
    assert dotted[2] > 5 * flat[2]
    assert dotted[4] == pytest.approx(flat[4]) and dotted[8] == pytest.approx(flat[8])
    # a 4-pixel stripe shows at period 4: (8, 0) alone is a third of the mean over the lattice's three points
    stripes = np.cos(2 * np.pi * cols / 4)[None, :, :, None]
    assert lattice_peaks(noise + stripes)[4] > 5 * flat[4]
