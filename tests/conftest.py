import os
import shutil

os.environ.setdefault("KERAS_BACKEND", "torch")  # the parity tests' Keras runs on PyTorch: no TensorFlow needed

import pytest  # noqa: E402
import torch  # noqa: E402


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
