"""Keeping the best checkpoint: it is the run's state at its best-scored step, and scoring changes nothing."""
import json
import subprocess
import sys

import torch

from ganforge.config import load_config
from ganforge import checkpoint as ckpt
from ganforge.train.loop import train

TINY = {"model.resolution": 32, "model.latent_dim": 8, "model.width": 8, "train.batch_size": 4, "train.iterations": 8,
        "train.sample_every": 0, "train.checkpoint_every": 4, "data.shapes_size": 60, "train.diagnose_every": 0,
        "optim.lr_g": 2e-3, "optim.lr_d": 2e-3}


def _quiet(*_):
    pass


def _equal(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


def test_best_pt_is_the_state_at_the_best_scored_step_and_scoring_changes_nothing(tmp_path):
    scored = train(load_config("dcgan", overrides={**TINY, "train.best_every": 1, "train.best_samples": 60}), tmp_path / "scored",
                   progress=False, log=_quiet)
    plain = train(load_config("dcgan", overrides=TINY), tmp_path / "plain", progress=False, log=_quiet)
    last_scored, last_plain = ckpt.load_checkpoint(scored.last_checkpoint), ckpt.load_checkpoint(plain.last_checkpoint)
    assert _equal(last_scored["generator"], last_plain["generator"]) and torch.equal(last_scored["rng"]["noise"], last_plain["rng"]["noise"])

    rows = [json.loads(line) for line in (scored.run_dir / "diagnostics.jsonl").read_text().splitlines()]
    scores = {row["step"]: row["fd_shapes"] for row in rows}
    assert sorted(scores) == list(range(1, 9)) and len(set(scores.values())) > 1
    # Each row carries the best so far, which the live diagnosis compares the score with.
    assert all(row["best_score"] == min(scores[s] for s in scores if s <= row["step"]) for row in rows)
    best = ckpt.load_checkpoint(scored.run_dir, which="best")
    best_step = min(scores, key=scores.get)
    assert best["best"]["metric"] == "fd_shapes" and best["best"]["step"] == best["step"] == best_step
    assert abs(best["best"]["score"] - scores[best_step]) < 1e-3  # the log rounds to 4 decimals
    # The same run stopped at that step is bitwise the state best.pt holds.
    short = train(load_config("dcgan", overrides={**TINY, "train.iterations": best_step}), tmp_path / "short", progress=False, log=_quiet)
    assert _equal(ckpt.load_checkpoint(short.last_checkpoint)["generator"], best["generator"])
    assert all(path.name != "best.pt" for path in ckpt.list_checkpoints(scored.run_dir))  # never resumed from, never pruned

    # --which best reaches it from the command line; a run without one is one clear line.
    out = subprocess.run([sys.executable, "-m", "ganforge", "generate", "--checkpoint", str(scored.run_dir), "--which", "best",
                          "-n", "4", "--grid", "--out", str(tmp_path / "samples")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([sys.executable, "-m", "ganforge", "export", str(plain.run_dir), "--which", "best", "--format", "safetensors",
                          "--out", str(tmp_path / "exported")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no best checkpoint" in out.stderr and len(out.stderr.strip().splitlines()) == 1
