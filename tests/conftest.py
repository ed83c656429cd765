import os
import shutil
import subprocess
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")  # the parity tests' Keras runs on PyTorch: no TensorFlow needed

import pytest  # noqa: E402
import torch  # noqa: E402

from ganforge.determinism import reproducible_mkl  # noqa: E402

reproducible_mkl()  # before any test computes: in-process runs take the MKL mode the CLI's runs take


def missing(reason: str):
    """Skip a test whose reference or dependency is absent; under CI=true fail instead, so that CI never
    passes by skipping what it was meant to check."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def require_module(name: str):
    """The module, or missing(...) when it cannot be imported (at module level: the whole file)."""
    try:
        return __import__(name)
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"CI=true: {name} cannot be imported ({exc})") from exc
        pytest.skip(f"{name} cannot be imported ({exc})", allow_module_level=True)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own decoded-image cache, so no test sees another's entries; removed afterwards
    (the emoji cache alone is hundreds of megabytes)."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    yield
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


# The tf.keras 2 reference (tests/tf_keras_reference.py) takes about two minutes in TensorFlow. It starts in the
# background as soon as the parity tests are collected, on one thread, and the rest of the suite runs meanwhile:
# the parity tests are moved to the end, so that their `cases` fixture seldom has to wait for it.
TF_REFERENCE = Path(__file__).with_name("tf_keras_reference.py")


def tf_python() -> Path | None:
    path = Path(os.environ.get("GANFORGE_TF_PYTHON", Path(__file__).resolve().parents[1] / ".venv-tf" / "bin" / "python"))
    return path if path.is_file() else None


WRITES_FILES = {"tmp_path", "tmp_path_factory"}


def _writes_files(item) -> bool:
    """Whether the test, or a fixture it asks for (not this file's autouse ones), wants a folder to write in."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return True
    seen, todo = set(), list(info.argnames)
    while todo:
        name = todo.pop()
        if name in WRITES_FILES:
            return True
        if name in seen:
            continue
        seen.add(name)
        for definition in info.name2fixturedefs.get(name, ()):
            todo += list(definition.argnames)
    return False


@pytest.hookimpl(tryfirst=True)  # before -m selects: the unit marker is set here
def pytest_collection_modifyitems(session, config, items):
    # The unit lane (`make unit`, `pytest -m unit`): tests that write no files, so train no run and start no
    # subprocess worth the name; about a minute on 2 cores.
    for item in items:
        if "slow" not in item.keywords and not _writes_files(item):
            item.add_marker(pytest.mark.unit)
    if "unit" in (config.getoption("markexpr") or ""):
        return  # no TensorFlow reference in the background for the unit lane
    python = tf_python()
    parity = [item for item in items if item.nodeid.startswith("tests/interop/test_tf_keras_parity.py")]
    if python is None or not parity:
        return
    items[:] = [item for item in items if item not in parity] + parity
    out = Path(tempfile.mkdtemp(prefix="tf_keras_cases_"))
    threads = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}
    log = open(out / "reference.log", "w")
    process = subprocess.Popen([str(python), "-W", "ignore", str(TF_REFERENCE), str(out / "cases")],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **threads})
    config.stash[TF_REFERENCE_KEY] = (process, out)


TF_REFERENCE_KEY = pytest.StashKey[tuple]()


def tf_reference_cases(config, timeout: float = 1200) -> Path:
    """The reference's case folder: from the background run when one was started, else run now."""
    if TF_REFERENCE_KEY not in config.stash:
        python = tf_python()
        out = Path(tempfile.mkdtemp(prefix="tf_keras_cases_"))
        result = subprocess.run([str(python), "-W", "ignore", str(TF_REFERENCE), str(out / "cases")], capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, result.stderr[-3000:]
        return out / "cases"
    process, out = config.stash[TF_REFERENCE_KEY]
    returncode = process.wait(timeout=timeout)
    assert returncode == 0, (out / "reference.log").read_text()[-3000:]
    return out / "cases"


def pytest_unconfigure(config):
    if TF_REFERENCE_KEY in config.stash:
        process, out = config.stash[TF_REFERENCE_KEY]
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(out, ignore_errors=True)  # about 3.7 GB of float64 models


def colour_pixels(path, rgb, tolerance: int = 12) -> int:
    """How many pixels of a PNG are within `tolerance` of an RGB colour (a plot's lines and markers, counted)."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int((np.abs(pixels - np.array(rgb)).max(axis=-1) <= tolerance).sum())


TAB10 = {"blue": (31, 119, 180), "orange": (255, 127, 14), "green": (44, 160, 44), "red": (214, 39, 40), "purple": (148, 103, 189)}
