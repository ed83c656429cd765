"""The same --seed on a CPU gives the same run, bit for bit, in every fresh process, however busy the machine is.

PyTorch sends a CPU's matrix products to MKL, which settles how it runs them when a process starts: left as
shipped, on a 2-core Xeon with AVX-512, one 3-iteration command gave 2 or 3 different runs in 10 fresh processes
beside a busy core, and a resumed run parted from an uninterrupted one in the sixth digit of its first loss.
bench/mkl_modes.py, 10 processes per mode: MKL as shipped, its AUTO mode and AVX512,STRICT each gave 2 different
runs; AVX2,STRICT gave one (and one in 86 more runs of the same check), as fast as the default (alternated three times: demo at
32 px 760 against 738 img/s, seed at 64 px 24.3 against 23.7); one MKL thread gave one, 40% slower.

MKL reads MKL_CBWR when it first runs in a process, so this sets it when a command starts, before any
computation; a user's own MKL_CBWR is kept.
"""
import ctypes
import os
import warnings
from pathlib import Path

import torch

STRICT = 0x10000  # mkl_cbwr.h: MKL_CBWR_STRICT
BRANCHES = {"AVX512": 12, "AVX2": 10}  # mkl_cbwr.h's codes of the two branches with a strict mode
ALL_SETTINGS = ~0  # mkl_cbwr_get(MKL_CBWR_ALL): the branch and its flags


def _mkl() -> ctypes.CDLL | None:
    """PyTorch's own copy of MKL (linked into libtorch_cpu), or None where this build has none."""
    if not torch.backends.mkl.is_available():
        return None
    for library in sorted((Path(torch.__file__).parent / "lib").glob("libtorch_cpu.*")):
        try:
            mkl = ctypes.CDLL(str(library))
            mkl.mkl_serv_cbwr_get, mkl.mkl_serv_cbwr_get_auto_branch  # noqa: B018  (both present, or AttributeError)
            return mkl
        except (OSError, AttributeError):
            continue
    return None


def strict_mkl_branch() -> str | None:
    """The branch MKL's strict mode runs on in this process, or None (no MKL, or not strict)."""
    mkl = _mkl()
    settings = mkl.mkl_serv_cbwr_get(ALL_SETTINGS) if mkl else 0
    if not settings & STRICT:
        return None
    return next((name for name, code in BRANCHES.items() if settings & ~STRICT == code), f"branch {settings & ~STRICT}")


def mkl_auto_branch() -> int | None:
    """The code of the branch MKL dispatches to on this CPU (mkl_cbwr.h; AVX2 is 10), or None without MKL. MKL sends
    non-Intel CPUs (AMD's, AVX2 and AVX-512 or not) to a branch below AVX2, which has no strict mode."""
    mkl = _mkl()
    return mkl.mkl_serv_cbwr_get_auto_branch() if mkl else None


def reproducible_mkl() -> str | None:
    """Put MKL in strict mode on its AVX2 branch; returns the strict branch MKL runs, or None where it cannot (no
    MKL, a CPU MKL does not dispatch to AVX2, as AMD's, or MKL already run in this process). A user's own MKL_CBWR is kept.

    Through the environment rather than mkl_cbwr_set(), which took the same mode but left 3 runs in 30 apart."""
    mkl = _mkl()
    if mkl is None:
        return None
    if "MKL_CBWR" not in os.environ:
        auto = mkl.mkl_serv_cbwr_get_auto_branch()  # what MKL would dispatch to; reading it does not fix the mode
        if auto >= BRANCHES["AVX2"]:
            os.environ["MKL_CBWR"] = "AVX2,STRICT"  # child processes (torchrun's, a sweep's) inherit it
            if strict_mkl_branch() is None:
                warnings.warn(TOO_LATE, stacklevel=2)
    return strict_mkl_branch()


TOO_LATE = ("MKL already ran in this process, so it keeps its default mode: the same --seed may give different runs in "
            "different processes. For bitwise repeatable CPU runs, call ganforge.determinism.reproducible_mkl() (or set "
            "MKL_CBWR=AVX2,STRICT) before computing anything.")
