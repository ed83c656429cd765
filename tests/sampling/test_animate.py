"""Latent walks and time-lapses: slerp against its closed form, the walk's frames against G on the same z."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from ganforge.sampling.animate import slerp, walk_latents
from ganforge.config import load_config
from ganforge.sampling.load import load_generator
from ganforge.train.loop import train
from ganforge.viz import to_uint8

TINY = {"model.resolution": 32, "model.latent_dim": 8, "model.width": 8, "train.batch_size": 4, "train.iterations": 6,
        "train.sample_every": 2, "train.checkpoint_every": 3, "data.shapes_size": 24, "train.diagnose_every": 0}


def test_slerp_follows_the_great_circle():
    a, b = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 2.0, 0.0], dtype=torch.float64)
    t = torch.tensor([0.0, 0.5, 1.0])
    path = slerp(a, b, t)
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[2], b)
    # 90 degrees apart: half way is sin(45)/sin(90) of each, (a + b) / sqrt(2)
    torch.testing.assert_close(path[1], (a + b) / math.sqrt(2))
    # between unit vectors, the angle to a at t is t times the angle between them
    for s, point in zip(torch.linspace(0, 1, 7), slerp(a, b / 2, torch.linspace(0, 1, 7))):
        angle = torch.arccos(torch.dot(point, a) / point.norm())
        assert angle.item() == pytest.approx(s.item() * math.pi / 2, abs=1e-9)
    torch.testing.assert_close(slerp(a, 3 * a, t)[1], 2 * a)  # parallel: the straight line


def test_a_walk_visits_each_latent_and_loops_back():
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(5))
    walk = walk_latents(8, 3, 4, seed=5)
    assert walk.shape == (12, 8)
    for leg in range(3):
        torch.testing.assert_close(walk[4 * leg], z[leg])  # each leg starts at its latent ...
    torch.testing.assert_close(slerp(z[2], z[0], torch.tensor([1.0]))[0], z[0])  # ... and the last returns to the first


def test_interpolate_and_timelapse_write_what_g_and_the_run_made(tmp_path):
    run = train(load_config("dcgan", overrides=TINY), tmp_path / "run", progress=False, log=lambda *_: None)
    out = tmp_path / "walk"
    result = subprocess.run([sys.executable, "-m", "ganforge", "generate", "--checkpoint", str(run.run_dir), "--interpolate", "3",
                             "--frames", "4", "--seed", "5", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    generator, _, _ = load_generator(run.run_dir)
    with torch.no_grad():
        expected = to_uint8(generator(walk_latents(8, 3, 4, seed=5)))
    gif = Image.open(out / "interpolation.gif")
    frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
    assert gif.info["loop"] == 0 and frames[0].shape == (128, 128, 3)  # 32 px enlarged 4x
    # GIF holds 256 colours: the first frame, shrunk back, is G's first image to within the palette's rounding
    first = frames[0][::4, ::4].astype(int)
    assert np.abs(first - expected[0].astype(int)).mean() < 8
    grid = np.asarray(Image.open(out / "interpolation.png"))
    assert grid.shape == (3 * 34 + 2, 4 * 34 + 2, 3)  # 3 legs x 4 frames of 32 px, 2 px apart
    np.testing.assert_array_equal(grid[2:34, 2:34], expected[0])  # the grid is lossless

    result = subprocess.run([sys.executable, "-m", "ganforge", "generate", "--checkpoint", str(run.run_dir), "--timelapse",
                             "--out", str(tmp_path / "lapse")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lapse = Image.open(tmp_path / "lapse" / "timelapse.gif")
    steps = sorted(run.run_dir.glob("samples/step-*.png"))
    assert lapse.n_frames <= len(steps) == 3 and lapse.size == Image.open(steps[0]).size
