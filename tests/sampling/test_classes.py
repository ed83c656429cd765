"""`generate --class`: by name or index, a row per class, a latent walk within one; wrong classes are one line."""
import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.train.loop import train

SMALL = {"model.resolution": 32, "model.latent_dim": 8, "model.width": 8, "train.batch_size": 4, "train.iterations": 2,
         "train.sample_every": 0, "train.diagnose_every": 0, "data.shapes_size": 240, "data.conditional": True,
         "model.conditioning": "embed"}  # the embedding: two iterations move it enough for classes to differ in uint8


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("conditional") / "run"
    train(load_config("demo", overrides=SMALL), out, progress=False, log=lambda *_: None)
    return out


def _pixels(path):
    return np.asarray(Image.open(path))


def test_a_class_by_name_equals_it_by_index_and_others_differ(run, tmp_path):
    assert main(["generate", str(run), "--class", "blue star on grey", "-n", "3", "--grid", "--out", str(tmp_path / "name")]) == 0
    from ganforge.data.shapes import describe_mode

    index = next(i for i in range(120) if describe_mode(i) == "blue star on grey")
    assert main(["generate", str(run), "--class", str(index), "-n", "3", "--grid", "--out", str(tmp_path / "index")]) == 0
    assert main(["generate", str(run), "--class", "0", "-n", "3", "--grid", "--out", str(tmp_path / "other")]) == 0
    assert np.array_equal(_pixels(tmp_path / "name" / "grid.png"), _pixels(tmp_path / "index" / "grid.png"))
    assert not np.array_equal(_pixels(tmp_path / "name" / "grid.png"), _pixels(tmp_path / "other" / "grid.png"))


def test_class_all_is_a_grid_with_a_row_per_class(run, tmp_path):
    assert main(["generate", str(run), "--class", "all", "-n", "2", "--out", str(tmp_path)]) == 0
    grid = _pixels(tmp_path / "grid.png")
    tile = 64 + 2  # 32 px tiles enlarged to 64, 2 px apart
    assert grid.shape[:2] == (120 * tile + 2, 2 * tile + 2)


def test_without_a_class_the_classes_are_drawn_and_it_says_so(run, tmp_path, capsys):
    assert main(["generate", str(run), "-n", "2", "--out", str(tmp_path)]) == 0
    assert "classes drawn with the training data's frequencies" in capsys.readouterr().out


def test_a_walk_stays_in_the_class_asked(run, tmp_path):
    from ganforge.data.shapes import describe_mode

    for name, asked in (("index", "3"), ("name", describe_mode(3)), ("other", "4")):
        assert main(["generate", str(run), "--class", asked, "--interpolate", "2", "--frames", "2", "--out", str(tmp_path / name)]) == 0
    walk = _pixels(tmp_path / "index" / "interpolation.png")
    assert np.array_equal(walk, _pixels(tmp_path / "name" / "interpolation.png"))
    assert not np.array_equal(walk, _pixels(tmp_path / "other" / "interpolation.png"))


@pytest.mark.parametrize("asked, message", [("zebra", "no such class; the classes are 'red circle on black'"),
                                            ("120", "no such class")])
def test_an_unknown_class_is_one_line_listing_the_valid_ones_and_nothing_written(run, tmp_path, capsys, asked, message):
    assert main(["generate", str(run), "--class", asked, "-n", "2", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_an_unconditional_run_refuses_a_class(tmp_path, capsys):
    out = tmp_path / "plain"
    train(load_config("demo", overrides={**SMALL, "data.conditional": False}), out, progress=False, log=lambda *_: None)
    assert main(["generate", str(out), "--class", "0", "-n", "2", "--out", str(tmp_path / "x")]) == 2
    assert "trained without classes" in capsys.readouterr().err
