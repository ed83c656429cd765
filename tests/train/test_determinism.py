"""The same --seed on a CPU gives the same run in every fresh process, however busy the machine is."""
import json
import os
import subprocess
import sys

import pytest
import torch

from ganforge import checkpoint as ckpt

TINY_RUN = ["--resolution", "32", "--latent-dim", "8", "--batch-size", "4", "--iterations", "3", "--sample-every", "0",
            "--no-progress", "--set", "model.width=16", "--set", "data.shapes_size=24", "--set", "train.log_every=1",
            "--set", "train.diagnose_every=0"]

MKL_MODE = """
import torch
from ganforge.determinism import reproducible_mkl, strict_mkl_branch
{before}
print(reproducible_mkl())
print(torch.ones(8, 8) @ torch.ones(8, 8) is not None, strict_mkl_branch())
"""


def _environment_without_mkl_settings() -> dict:
    return {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}


def _mkl_mode(before: str = "") -> tuple[list[str], str]:
    done = subprocess.run([sys.executable, "-c", MKL_MODE.format(before=before)], env=_environment_without_mkl_settings(),
                          capture_output=True, text=True, check=True)
    return done.stdout.split(), done.stderr


def _cpu_vendor() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        return next((line.split(":")[1].strip() for line in cpuinfo if line.startswith("vendor_id")), "unknown")


def test_mkl_takes_strict_mode_only_when_set_before_it_first_runs():
    """On a CPU that MKL dispatches to its AVX2 branch or above (Intel's with AVX2), every command runs MKL strict on
    AVX2; elsewhere (AMD's CPUs, whatever their AVX) MKL has no strict mode, ganforge leaves it as it is and says so
    in run.json (null), and the four-process test below is what checks that runs still repeat there."""
    from ganforge.determinism import BRANCHES, mkl_auto_branch

    if not torch.backends.mkl.is_available():
        pytest.skip("this PyTorch has no MKL")
    first, said = _mkl_mode()
    if _cpu_vendor() != "GenuineIntel" or mkl_auto_branch() < BRANCHES["AVX2"]:
        assert first == ["None", "True", "None"] and "MKL already ran" not in said  # left alone, and no false alarm
        return
    assert first == ["AVX2", "True", "AVX2"] and "MKL already ran" not in said
    late, said = _mkl_mode(before="torch.ones(8, 8) @ torch.ones(8, 8)")
    assert late == ["None", "True", "None"]
    assert "MKL already ran in this process" in said  # a library user who computed first is told, not left to find out


def test_four_fresh_processes_beside_a_busy_core_train_bitwise_the_same_run(tmp_path):
    """Left to itself, MKL gave 3 different runs in 10 of these on a 2-core Xeon (ganforge/determinism.py)."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for name in "abcd":
            subprocess.run([sys.executable, "-m", "ganforge", "train", *TINY_RUN, "--out", str(tmp_path / name)],
                           env=_environment_without_mkl_settings(), check=True, capture_output=True)
    finally:
        busy.kill()
    losses = {name: (tmp_path / name / "metrics.jsonl").read_text().splitlines() for name in "abcd"}
    first = [{k: v for k, v in json.loads(line).items() if k not in ("img_per_s", "time_s")} for line in losses["a"]]
    states = {name: ckpt.load_checkpoint(tmp_path / name) for name in "abcd"}
    if _mkl_mode()[0][0] == "AVX2":  # the run says which mode it ran in
        assert json.loads((tmp_path / "a" / "run.json").read_text())["mkl_strict_branch"] == "AVX2"
    for name in "bcd":
        assert [{k: v for k, v in json.loads(line).items() if k not in ("img_per_s", "time_s")} for line in losses[name]] == first
        for part in ("generator", "discriminator"):
            for key, value in states["a"][part].items():
                assert torch.equal(value, states[name][part][key]), f"run {name}: {part}.{key}"
