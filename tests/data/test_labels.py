"""Conditional training's labels: subfolders (ImageFolder's convention), dataset.json (StyleGAN2-ADA's, which wins),
the built-ins' classes, and every wrong input as one line naming the file, a non-zero exit and nothing written."""
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import DataConfig
from ganforge.data import load_images
from ganforge.errors import GanforgeError
from ganforge.nets.conditional import draw_labels


def _image(path, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (20, 20), colour).save(path)


def _folder(root, counts={"cat": 3, "dog": 2}):
    for i, (name, count) in enumerate(counts.items()):
        for k in range(count):
            _image(root / name / f"{k}.png", (40 * i, 200, 10 * k))
    return root


def _load(source, tmp_path, **settings):
    return load_images(DataConfig(source=str(source), conditional=True, cache_dir=str(tmp_path / "cache"), workers=1, **settings),
                       16, log=lambda *_: None)


def test_subfolders_are_classes_sorted_by_name_and_each_image_keeps_its_own(tmp_path):
    images = _load(_folder(tmp_path / "data", {"dog": 2, "cat": 3}), tmp_path)
    assert images.classes.names == ["cat", "dog"] and images.classes.counts().tolist() == [3, 2]
    # the label follows the picture: cat's are drawn with red 40, dog's with red 0
    assert [int(p[0, 0, 0]) for p in images.pixels] == [40 * (label == 0) for label in images.classes.labels]
    again = _load(tmp_path / "data", tmp_path)  # from the cache: the same labels
    assert again.classes.labels.tolist() == images.classes.labels.tolist()


def test_dataset_json_wins_over_folders_in_a_folder_and_in_a_zip(tmp_path):
    root = _folder(tmp_path / "data")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    labels = [[name, 1 if name == "cat/0.png" else 0] for name in files]
    (root / "dataset.json").write_text(json.dumps({"labels": labels}))
    images = _load(root, tmp_path)
    assert images.classes.names == ["0", "1"] and images.classes.counts().tolist() == [4, 1]
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in files + ["dataset.json"]:
            z.write(root / name, name)
    assert _load(archive, tmp_path).classes.labels.tolist() == images.classes.labels.tolist()


def test_the_built_ins_have_classes_shapes_by_mode_emoji_by_unicode_group(tmp_path):
    from ganforge.data.shapes import NUM_MODES, describe_mode

    shapes = load_images(DataConfig(source="shapes", conditional=True, shapes_size=240, cache_dir=str(tmp_path)), 32, log=lambda *_: None)
    assert len(shapes.classes.names) == NUM_MODES and shapes.classes.names[5] == describe_mode(5)
    assert (shapes.classes.labels == shapes.labels).all()


def test_emoji_groups_come_from_unicodes_emoji_data():
    from ganforge.data.emoji import _groups_by_sequence, emoji_group_of

    groups = _groups_by_sequence()
    singles = {key[0]: group for key, group in groups.items() if len(key) == 1}
    assert emoji_group_of((0x1F600,), groups, singles) == "Smileys & Emotion"  # grinning face
    assert emoji_group_of((0x1F1EB, 0x1F1F7), groups, singles) == "Flags"  # France
    assert emoji_group_of((0x1F468, 0x200D, 0x1F373), groups, singles) == "People & Body"  # man cook, a ZWJ sequence
    assert emoji_group_of((0x1F373, 0x200D, 0x1F468), groups, singles) == "People & Body"  # its parts in the font's order
    assert emoji_group_of((0x1F3FB,), groups, singles) is None  # a skin-tone swatch is a component, not a picture


def _train(tmp_path, data, *extra):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "ganforge", "train", "--data", str(data), "--conditional", "--preset", "demo",
                           "--resolution", "32", "--batch-size", "2", "--iterations", "1", "--out", str(out), "--no-progress",
                           "--set", f"data.cache_dir={tmp_path / 'cache'}", *extra], capture_output=True, text=True, timeout=300)
    return done, out


def _json(root, payload):
    (root / "dataset.json").write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return root


WRONG = {
    "an image in no class": (lambda root: _image(root / "loose.png", (0, 0, 0)), "loose.png: an image in no class"),
    "a class folder with no readable image": (lambda root: (root / "fox").mkdir() or (root / "fox" / "a.png").write_bytes(b"not a png"),
                                               "fox: class 'fox' has no readable image"),
    "a class folder with no image file": (lambda root: (root / "owl").mkdir() or (root / "owl" / "notes.txt").write_text("hi"),
                                          "owl: a class folder with no image file"),
    "dataset.json names a missing file": (lambda root: _json(root, {"labels": [["cat/9.png", 0]]}), "names cat/9.png, which is not an image"),
    "a label out of range": (lambda root: _json(root, {"labels": [[n, 2] for n in ["cat/0.png", "cat/1.png", "cat/2.png", "dog/0.png", "dog/1.png"]],
                                                       "class_names": ["cat", "dog"]}), "out of range for its 2 class_names"),
    "a negative label": (lambda root: _json(root, {"labels": [[n, -1] for n in ["cat/0.png", "cat/1.png", "cat/2.png", "dog/0.png", "dog/1.png"]]}),
                         "labels are class indices"),
    "malformed json": (lambda root: _json(root, '{"labels": [["cat/0.png", 0],'), "dataset.json: not valid JSON"),
    "json of the wrong shape": (lambda root: _json(root, {"labels": {"cat/0.png": 0}}), "dataset.json: expected"),
}


@pytest.mark.parametrize("case", WRONG)
def test_wrong_labels_are_one_line_naming_the_file_a_non_zero_exit_and_nothing_written(case, tmp_path):
    spoil, message = WRONG[case]
    root = _folder(tmp_path / "data")
    spoil(root)
    done, out = _train(tmp_path, root)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not out.exists()


def test_conditional_on_a_folder_without_classes_is_refused(tmp_path):
    for k in range(3):
        _image(tmp_path / "flat" / f"{k}.png", (k, 0, 0))
    done, out = _train(tmp_path, tmp_path / "flat")
    assert done.returncode == 2 and "no classes" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_fakes_classes_are_drawn_with_the_datas_frequencies():
    counts = torch.tensor([1.0, 3.0, 0.0, 6.0])
    drawn = draw_labels(20000, counts, torch.Generator().manual_seed(0))
    shares = np.bincount(drawn.numpy(), minlength=4) / 20000
    np.testing.assert_allclose(shares, [0.1, 0.3, 0.0, 0.6], atol=0.015)  # 4+ binomial standard deviations
