"""Every data case of the foundation issue, on files the tests make."""
import io
import os
import struct
import zipfile
import zlib

import numpy as np
import torch
import pytest
from PIL import Image

from ganforge.config import DataConfig
from ganforge.data import load_images
from ganforge.data.images import decode, fit, to_rgb
from ganforge.data.sampler import EpochSampler, to_training_tensor
from ganforge.data.shapes import NUM_MODES, make_shapes
from ganforge.errors import GanforgeError

RES = 16


def _solid(mode, colour, size=(40, 30)):
    return Image.new(mode, size, colour)


def test_every_suffix_in_any_case_is_found_recursively(tmp_path):
    names = ["a.jpg", "b.JPEG", "c.png", "d.webp", "e.BMP", "f.gif", "g.tif", "h.TIFF"]
    for i, name in enumerate(names):
        folder = tmp_path / f"sub{i % 3}" / "deeper"
        folder.mkdir(parents=True, exist_ok=True)
        _solid("RGB", (200, 10, 10)).save(folder / name, format={"jpg": "JPEG", "jpeg": "JPEG", "tif": "TIFF", "tiff": "TIFF"}.get(name.split(".")[1].lower()))
    (tmp_path / "notes.txt").write_text("not an image")
    images = load_images(DataConfig(source=str(tmp_path), workers=1), RES, log=lambda *_: None)
    assert len(images) == len(names) and images.skipped == 0
    assert images.pixels.shape == (len(names), RES, RES, 3) and images.pixels.dtype == np.uint8
    # every format decodes to (nearly, for lossy ones) the same red
    np.testing.assert_allclose(images.pixels[..., 0].mean(axis=(1, 2)), 200, atol=6)


def test_modes_are_converted_to_rgb():
    grey = to_rgb(_solid("L", 77))
    assert grey.mode == "RGB" and grey.getpixel((0, 0)) == (77, 77, 77)
    half_transparent_red = to_rgb(_solid("RGBA", (255, 0, 0, 128)))
    r, g, b = half_transparent_red.getpixel((0, 0))
    assert r == 255 and abs(g - 127) <= 1 and abs(b - 127) <= 1  # composited onto white
    palette = _solid("P", 3)
    palette.putpalette([0, 0, 0] * 3 + [10, 20, 30] + [0, 0, 0] * 252)
    assert to_rgb(palette).getpixel((0, 0)) == (10, 20, 30)
    transparent_palette = palette.copy()
    transparent_palette.info["transparency"] = 3
    assert to_rgb(transparent_palette).getpixel((0, 0)) == (255, 255, 255)
    cmyk = to_rgb(_solid("CMYK", (0, 255, 255, 0)))
    assert cmyk.getpixel((0, 0)) == (255, 0, 0)
    sixteen = Image.fromarray(np.full((4, 4), 65535 // 2, dtype=np.uint16))
    level = round((65535 // 2) / 65535 * 255)  # 127: rescaled from 16 bits, not clipped at 255
    assert to_rgb(sixteen).getpixel((0, 0)) == (level,) * 3
    la = to_rgb(_solid("LA", (0, 0)))
    assert la.getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: a viewer turns it 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    pixels = decode(path, 20)  # after rotating, the red half is on top
    assert pixels[:8, :, 0].mean() > 200 and pixels[-8:, :, 2].mean() > 200


def test_shorter_side_resized_then_centre_cropped():
    image = Image.new("RGB", (300, 100), (0, 0, 0))
    image.paste((255, 255, 255), (100, 0, 200, 100))  # the middle third is white
    out = fit(image, 50)
    assert out.size == (50, 50)
    assert np.asarray(out)[:, 3:-3].min() > 240  # the crop is the centre: all white


def test_unreadable_files_are_skipped_and_counted(tmp_path, capsys):
    for i in range(3):
        _solid("RGB", (i * 50, 0, 0)).save(tmp_path / f"good{i}.png")
    good = io.BytesIO()
    _solid("RGB", (9, 9, 9), (64, 64)).save(good, format="PNG")
    (tmp_path / "truncated.png").write_bytes(good.getvalue()[:60])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("definitely not a png")
    (tmp_path / "bomb.png").write_bytes(_png_header_claiming(100_000, 100_000))
    lines = []
    images = load_images(DataConfig(source=str(tmp_path), workers=1), RES, log=lines.append)
    assert len(images) == 3 and images.skipped == 4
    skipped_names = sorted(line.removeprefix("warning: skipping ").split(":")[0].rsplit("/", 1)[-1] for line in lines if line.startswith("warning: skipping"))
    assert skipped_names == ["bomb.png", "empty.jpg", "text.png", "truncated.png"]
    # a second run reads the cache and still reports the skips
    again = []
    cached = load_images(DataConfig(source=str(tmp_path), workers=1), RES, log=again.append)
    assert cached.skipped == 4 and any("4 file(s)" in line for line in again)


def _png_header_claiming(width, height):
    """A PNG whose header claims width x height: Pillow refuses it before decoding anything."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


def test_folder_without_usable_images_is_an_error(tmp_path):
    (tmp_path / "a.png").write_text("broken")
    with pytest.raises(GanforgeError, match="none of its 1 image files"):
        load_images(DataConfig(source=str(tmp_path), workers=1), RES, log=lambda *_: None)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GanforgeError, match="no image files found"):
        load_images(DataConfig(source=str(empty)), RES)
    with pytest.raises(GanforgeError, match="no such folder"):
        load_images(DataConfig(source=str(tmp_path / "missing")), RES)


def test_symlink_loop_does_not_hang(tmp_path):
    (tmp_path / "inner").mkdir()
    _solid("RGB", (1, 2, 3)).save(tmp_path / "inner" / "x.png")
    os.symlink(tmp_path, tmp_path / "inner" / "loop")
    images = load_images(DataConfig(source=str(tmp_path), workers=1), RES, log=lambda *_: None)
    assert len(images) == 1


def test_zip_source_and_parallel_decode_match_folder(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    rng = np.random.default_rng(0)
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(70):  # >= 64 images: the parallel path
            image = Image.fromarray(rng.integers(0, 255, (24, 20, 3), dtype=np.uint8))
            image.save(folder / f"{i:03d}.png")
            z.write(folder / f"{i:03d}.png", f"nested/{i:03d}.PNG")
    serial = load_images(DataConfig(source=str(folder), workers=1, cache_dir=str(tmp_path / "c1")), RES)
    parallel = load_images(DataConfig(source=str(folder), workers=2, cache_dir=str(tmp_path / "c2")), RES)
    zipped = load_images(DataConfig(source=str(archive), workers=2, cache_dir=str(tmp_path / "c3")), RES)
    np.testing.assert_array_equal(serial.pixels, parallel.pixels)
    np.testing.assert_array_equal(serial.pixels, zipped.pixels)


def test_cache_is_reused_and_invalidated_by_changes(tmp_path, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        _solid("RGB", (i, 0, 0)).save(folder / f"{i}.png")
    config = DataConfig(source=str(folder), workers=1)
    first = load_images(config, RES)
    calls = []
    import ganforge.data as data_module

    real_decode_all = data_module._decode_all
    monkeypatch.setattr(data_module, "_decode_all", lambda *a: calls.append(1) or real_decode_all(*a))
    second = load_images(config, RES)
    assert calls == [] and isinstance(second.pixels, np.memmap)  # read back from the cache, not decoded
    np.testing.assert_array_equal(first.pixels, second.pixels)
    load_images(config, RES * 2)  # another resolution is another entry
    _solid("RGB", (0, 255, 0)).save(folder / "3.png")  # a new file changes the key
    third = load_images(config, RES)
    assert len(calls) == 2 and len(third) == 4


def test_shapes_are_deterministic_balanced_and_labelled():
    pixels, labels = make_shapes(32, 2 * NUM_MODES, seed=3)
    again, labels_again = make_shapes(32, 2 * NUM_MODES, seed=3)
    np.testing.assert_array_equal(pixels, again)
    np.testing.assert_array_equal(labels, labels_again)
    assert NUM_MODES >= 100
    assert np.bincount(labels, minlength=NUM_MODES).tolist() == [2] * NUM_MODES
    other, _ = make_shapes(32, 2 * NUM_MODES, seed=4)
    assert not np.array_equal(pixels, other)
    # the same mode looks alike (same background corner colour), different modes differ
    from ganforge.data.shapes import BACKGROUNDS

    for image, label in zip(pixels, labels):
        corner = image[0, 0].astype(int)
        expected = np.array(list(BACKGROUNDS.values())[label % len(BACKGROUNDS)])
        assert np.abs(corner - expected).max() <= 2
    for resolution in (32, 64, 128, 256):
        assert make_shapes(resolution, 2)[0].shape == (2, resolution, resolution, 3)


def test_sampler_is_a_function_of_step_and_covers_each_epoch():
    sampler = EpochSampler(num_images=10, batch_size=3, seed=1)
    epoch0 = np.concatenate([sampler.indices(s) for s in range(3)])
    assert len(set(epoch0.tolist())) == 9  # no repeats within an epoch; the partial batch is dropped
    fresh = EpochSampler(num_images=10, batch_size=3, seed=1)
    np.testing.assert_array_equal(fresh.indices(4), sampler.indices(4))
    from ganforge.train.distributed import World

    global_batch = torch.as_tensor(EpochSampler(10, 4, seed=1).indices(0))
    shards = [World(rank=r, size=2).shard(global_batch) for r in (0, 1)]  # torchrun: each process its half
    assert not set(shards[0].tolist()) & set(shards[1].tolist()) and torch.equal(torch.cat(shards), global_batch)
    two_d_steps = torch.arange(8)  # two D steps' batches of 4, each split over 2 processes
    assert World(rank=1, size=2).shard(two_d_steps, chunks=2).tolist() == [2, 3, 6, 7]


def test_training_tensor_scaling():
    pixels = np.array([[[[0, 255, 127]]]], dtype=np.uint8)
    tensor = to_training_tensor(pixels)
    assert tensor.shape == (1, 3, 1, 1)
    np.testing.assert_allclose(tensor.flatten().numpy(), [-1.0, 1.0, 127 / 127.5 - 1], atol=1e-6)


def _decoded_unless_it_kills_its_process(item):
    """A decoder that dies like a process taken by the out-of-memory killer, on one file."""
    import signal

    from ganforge.data.images import decode_item

    if item[0].endswith("image-0040.png"):
        os.kill(os.getpid(), signal.SIGKILL)
    return decode_item(item)


def test_a_decoding_worker_killed_mid_way_is_a_clear_error_not_a_hang(tmp_path, monkeypatch):
    import ganforge.data as data

    for i in range(80):  # enough for worker processes (64 or more)
        _solid("RGB", (i, 10, 10)).save(tmp_path / f"image-{i:04d}.png")
    monkeypatch.setattr(data, "decode_item", _decoded_unless_it_kills_its_process)
    with pytest.raises(GanforgeError, match="a process decoding its images died .* data.workers=1"):
        load_images(DataConfig(source=str(tmp_path), workers=2), RES, log=lambda *_: None)
