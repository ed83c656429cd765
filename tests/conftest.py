import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # the parity tests' Keras runs on PyTorch: no TensorFlow needed

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own decoded-image cache, so no test sees another's entries."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
