"""Pictures: sample grids people can see."""
import numpy as np
import torch
from PIL import Image

from ganforge.viz import save_grid, to_uint8


def test_small_samples_are_enlarged_pixel_for_pixel_and_large_ones_kept(tmp_path):
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    grid = np.asarray(Image.open(save_grid(images, tmp_path / "small.png")))
    assert grid.shape == (2 * (64 + 2) + 2, 2 * (64 + 2) + 2, 3)  # 2x2 tiles of 64 px, 2 px padding
    first = grid[2:66, 2:66]
    np.testing.assert_array_equal(first, np.repeat(np.repeat(to_uint8(images)[0], 2, axis=0), 2, axis=1))
    large = np.asarray(Image.open(save_grid(images[:, :, :16, :16].repeat(1, 1, 8, 8), tmp_path / "large.png")))
    assert large.shape == (2 * (128 + 2) + 2, 2 * (128 + 2) + 2, 3)
