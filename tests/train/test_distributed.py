"""torchrun + DDP on CPU with gloo: 2 processes train what 1 process with the same global batch trains,
a killed 2-process run resumes to the same end, and a time limit stops both processes at one step. (Runs
`torchrun`'s module, as users do.)"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganforge.config import load_config
from ganforge import checkpoint as ckpt
from ganforge.train.loop import train

pytestmark = pytest.mark.slow  # torchrun or TensorFlow subprocesses: left out by -m "not slow"

PER_RANK_BATCH = 2
SETTINGS = {
    "model.resolution": 32, "model.latent_dim": 8, "model.width": 16, "data.shapes_size": 24, "train.diagnose_every": 0,
    "train.log_every": 1, "train.sample_every": 0,
    "optim.eps": 1e-2,  # a smooth Adam: with Keras' 1e-7, rounding-level gradient differences flip tiny updates' signs
}


def _torchrun(out, iterations, extra=(), wait=True):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", "-m", "ganforge",
               "train", "--preset", "seed", "--out", str(out), "--batch-size", str(PER_RANK_BATCH), "--iterations", str(iterations),
               "--checkpoint-every", "2", "--no-progress", *extra]
    for key, value in SETTINGS.items():
        command += ["--set", f"{key}={value}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _children(pid):
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def _update_gap(before_a, after_a, before_b, after_b):
    """|update_a - update_b| / |update_a| over all of a network's weights. Conv and Dense biases that feed a
    BatchNorm are left out: their exact gradient is 0, so what moves them is rounding noise alone."""
    a, b = [], []
    for key, value in after_a.items():
        if "running" in key or (after_a[key] - before_a[key]).norm() < 1e-6:
            continue
        a.append((value - before_a[key]).flatten())
        b.append((after_b[key] - before_b[key]).flatten())
    a, b = torch.cat(a), torch.cat(b)
    return ((a - b).norm() / a.norm()).item()


def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    """Same images and noise on 1 process (batch 4) and 2 (batch 2 each). With SyncBatchNorm the two runs compute
    the same maths, up to summation order: measured 1e-4 relative after one iteration, 2e-3 after two (GAN
    training with 4-sample BatchNorm amplifies rounding). Without it, each process normalises by its own two
    samples' statistics: a different computation, and the gap is far larger."""
    iterations = 2
    single = load_config("seed", overrides={**SETTINGS, "train.batch_size": 2 * PER_RANK_BATCH, "train.iterations": iterations,
                                            "train.checkpoint_every": 2, "train.sync_bn": True})
    train(single, tmp_path / "one", progress=False, log=lambda *_: None)
    _torchrun(tmp_path / "synced", iterations, ["--set", "train.sync_bn=true"])
    _torchrun(tmp_path / "per_process", iterations)
    one, synced, per_process = ([ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path / name, s)) for s in (0, iterations)]
                                for name in ("one", "synced", "per_process"))
    for net in ("generator", "discriminator"):
        for key, value in one[0][net].items():  # the same start
            assert torch.equal(value, synced[0][net][key]) and torch.equal(value, per_process[0][net][key])
        gap_synced = _update_gap(one[0][net], one[1][net], synced[0][net], synced[1][net])
        gap_per_process = _update_gap(one[0][net], one[1][net], per_process[0][net], per_process[1][net])
        assert gap_synced < 1e-2 and gap_per_process > 10 * gap_synced, (net, gap_synced, gap_per_process)
        for key in one[1][net]:
            if "running" in key:
                torch.testing.assert_close(one[1][net][key], synced[1][net][key], rtol=1e-4, atol=1e-6)
    log_one = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    log_two = [json.loads(line) for line in (tmp_path / "synced" / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(log_one, log_two, strict=True):  # losses averaged over processes = the global batch's loss
        assert a["step"] == b["step"] and a["d_loss_real"] == pytest.approx(b["d_loss_real"], rel=1e-4, abs=1e-6)
        assert a["d_acc_fake"] == b["d_acc_fake"]


def test_killed_two_process_run_resumes_to_the_same_end(tmp_path):
    iterations = 30
    _torchrun(tmp_path / "straight", iterations)
    victim = _torchrun(tmp_path / "killed", iterations, wait=False)
    deadline = time.time() + 300
    fourth = ckpt.checkpoint_path(tmp_path / "killed", 4).name
    while not any(p.name >= fourth for p in ckpt.list_checkpoints(tmp_path / "killed")):  # step 4 or later
        assert victim.poll() is None and time.time() < deadline, victim.stdout.read() if victim.poll() is not None else "timeout"
        time.sleep(0.02)
    workers = _children(victim.pid)
    assert len(workers) == 2, workers
    os.killpg(victim.pid, signal.SIGKILL)  # torchrun alone: its workers live in sessions of their own
    victim.wait()
    while any(_alive(pid) for pid in workers):  # ganforge asked Linux to kill them with their launcher
        assert time.time() < deadline, "workers outlived torchrun"
        time.sleep(0.02)
    assert not ckpt.checkpoint_path(tmp_path / "killed", iterations).exists(), "the run ended before the kill"
    output = _torchrun(tmp_path / "killed", iterations)
    assert "resuming" in output
    a, b = ckpt.load_checkpoint(tmp_path / "straight"), ckpt.load_checkpoint(tmp_path / "killed")
    assert a["step"] == b["step"] == iterations
    for net in ("generator", "discriminator", "opt_g", "opt_d"):
        flat_a, flat_b = _tensors(a[net]), _tensors(b[net])
        assert flat_a.keys() == flat_b.keys()
        for key in flat_a:
            assert torch.equal(flat_a[key], flat_b[key]), f"{net} {key}"


def test_time_limit_stops_both_processes_at_the_same_checked_step(tmp_path):
    """Under torchrun the clock is asked every TIME_CHECK_EVERY steps, by all processes at once: a limit already
    passed stops both at the first such step, with a checkpoint there."""
    from ganforge.train.time_limit import TIME_CHECK_EVERY

    output = _torchrun(tmp_path / "limited", 4 * TIME_CHECK_EVERY, ["--set", "train.max_minutes=1e-9"])
    assert f"time limit of 1e-09 min reached at step {TIME_CHECK_EVERY} of {4 * TIME_CHECK_EVERY}" in output
    assert ckpt.load_checkpoint(tmp_path / "limited")["step"] == TIME_CHECK_EVERY


def _tensors(tree, prefix=""):
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in _tensors(value, f"{prefix}.{key}").items()}
    return {}
