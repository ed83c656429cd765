import os
import shutil

os.environ.setdefault("KERAS_BACKEND", "torch")  # the parity tests' Keras runs on PyTorch: no TensorFlow needed

import pytest  # noqa: E402
import torch  # noqa: E402


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
