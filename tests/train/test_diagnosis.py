"""Each symptom built on purpose, and the diagnosis it must produce."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge import checkpoint as ckpt
from ganforge.train.diagnosis import TrainingMonitor, diversity
from ganforge.train.loop import train
from ganforge.train.procedure import seed_iteration

TINY = {
    "model.resolution": 32, "model.latent_dim": 8, "model.width": 16, "train.batch_size": 4, "train.iterations": 12,
    "train.log_every": 1, "train.sample_every": 0, "train.checkpoint_every": 2, "data.shapes_size": 24,
    "train.diagnose_every": 0,
}


def _config(**changes):
    return load_config("seed", overrides={**TINY, **changes})


def _line(acc_real=0.6, acc_fake=0.6, d_real=0.6, d_fake=0.6, g=0.8):
    return {"d_acc_real": acc_real, "d_acc_fake": acc_fake, "d_loss_real": d_real, "d_loss_fake": d_fake, "g_loss": g}


FOOLED = 0.1  # G's loss below log 2 while D is right on every fake: G's step sees another D (the seed's mismatch)


def test_pinned_accuracy_is_reported_once_per_episode():
    monitor = TrainingMonitor(patience=3)
    reports = [monitor.observe_losses(10 * i, _line(1.0, 1.0, g=FOOLED)) for i in range(1, 6)]
    assert [len(r) for r in reports] == [0, 0, 1, 0, 0]
    assert "iteration 30" in reports[2][0] and "D's accuracy" in reports[2][0] and "Try" in reports[2][0]
    monitor.observe_losses(60, _line(g=FOOLED))  # cleared
    again = [monitor.observe_losses(70 + i, _line(0.995, 1.0, g=FOOLED)) for i in range(3)]
    assert sum(map(len, again)) == 1


def _pinned_run(g_losses, config=None):
    monitor = TrainingMonitor(config=config)
    return [(10 * i, m) for i, g in enumerate(g_losses) for m in monitor.observe_losses(10 * i, _line(1.0, 1.0, 0.3, 0.02, g=g))]


def test_a_pinned_d_wins_only_where_g_loss_says_so():
    """The logistic loss at D's boundary is log 2 and at a fake's probability of 1e-4 it is -log(1e-4): a pinned D
    with G's loss between them and steady (the demo's state, samples improving throughout) is no warning."""
    rng = np.random.default_rng(0)
    steady = 3.6 + 0.6 * rng.standard_normal(1200)  # the demo's G loss: mean 3.6, log lines 1.9..6.6
    assert _pinned_run(steady) == []
    assert [m for _, m in _pinned_run(np.full(10, math.log(2) - 0.01))][0].count("below 0.693") == 1
    assert "below 1e-4" in _pinned_run(np.full(10, -math.log(1e-4) + 0.01))[0][1]
    assert _pinned_run(np.full(10, -math.log(1e-4) - 0.01)) == []
    runaway = np.concatenate([steady[:300], np.linspace(3.6, 12, 70)])  # the old demo's late collapse: 3 -> 12
    (step, message), = _pinned_run(runaway)
    assert 3000 < step < 3700 and "D pulls away" in message and "rose from 3." in message
    hinge = load_config("dcgan", overrides={"train.loss": "hinge"})
    assert "below 0.000" in _pinned_run(np.full(10, -0.5), hinge)[0][1] and _pinned_run(np.full(10, 0.5), hinge) == []


def test_the_d_wins_advice_fits_the_run_and_offers_nothing_it_already_uses():
    from ganforge.config import load_config

    seed = TrainingMonitor(patience=1, config=load_config("seed")).observe_losses(1, _line(1.0, 1.0, g=FOOLED))[0]
    assert "inference-mode D" in seed and "--preset dcgan" in seed and "R1 (--preset stable)" in seed
    dcgan = TrainingMonitor(patience=1, config=load_config("dcgan")).observe_losses(1, _line(1.0, 1.0, g=FOOLED))[0]
    assert "inference-mode" not in dcgan and "--preset dcgan" not in dcgan and "DiffAugment" in dcgan
    modern = TrainingMonitor(patience=1, config=load_config("modern", overrides={"remedies.diffaugment": "translation"}))
    message = modern.observe_losses(1, _line(1.0, 1.0, g=FOOLED))[0]
    assert "R1" not in message and "DiffAugment" not in message and "Try: a lower --lr-d." in message


def test_d_loss_near_zero_while_g_loss_climbs():
    monitor = TrainingMonitor(patience=4)
    reports = [monitor.observe_losses(i, _line(0.9, 0.9, 0.001, 0.002, g=5 + i)) for i in range(4)]
    assert any("G's loss climbs" in r for rs in reports for r in rs)
    flat = TrainingMonitor(patience=4)
    assert not any(flat.observe_losses(i, _line(0.9, 0.9, 0.001, 0.002, g=5)) for i in range(4))
    # the seed under its logistic loss: G's loss near 0 against the frozen inference-mode D, rising by rounding
    fooled = TrainingMonitor(patience=4)
    reports = [r for i in range(4) for r in fooled.observe_losses(i, _line(1.0, 1.0, 0.0001, 0.0001, g=0.0001 * (1 + i)))]
    assert not any("climbs" in r for r in reports) and any("D's accuracy" in r for r in reports)  # pinned, not stalled
    # the same lines under the hinge loss (D's loss is 0 past the margin) and the Wasserstein loss (unbounded): no stall
    for loss in ("hinge", "wgan"):
        other = TrainingMonitor(patience=4, config=load_config("dcgan", overrides={"train.loss": loss}))
        assert not any("climbs" in r for i in range(4) for r in other.observe_losses(i, _line(0.9, 0.9, 0.001, 0.002, g=5 + i)))


def test_diversity_of_identical_images_is_zero_and_collapse_is_reported():
    constant = torch.zeros(16, 3, 32, 32)
    varied = torch.rand(16, 3, 32, 32) * 2 - 1
    assert diversity(constant) == 0.0 and diversity(varied) > 0.5
    monitor = TrainingMonitor()
    assert monitor.observe_diversity(100, diversity(varied), diversity(varied)) == []
    assert monitor.observe_diversity(200, diversity(constant), diversity(varied)) == []  # every run starts low
    assert monitor.observe_diversity(300, diversity(varied), diversity(varied)) == []
    assert monitor.observe_diversity(400, diversity(constant), diversity(varied)) == []
    report = monitor.observe_diversity(500, diversity(constant), diversity(varied))  # low twice in a row: collapse
    assert len(report) == 1 and "iteration 500" in report[0] and "diversity is 0.00" in report[0]
    rising = TrainingMonitor()  # a demo run's start: low, then higher but still low, then on its way
    assert [rising.observe_diversity(500 * i, r, 1.0) for i, r in enumerate((0.21, 0.43, 0.61), 1)] == [[], [], []]
    falling = TrainingMonitor()
    assert [len(falling.observe_diversity(500 * i, r, 1.0)) for i, r in enumerate((0.45, 0.3, 0.35, 0.2), 1)] == [0, 1, 0, 1]


def test_falling_mode_coverage_is_reported():
    monitor = TrainingMonitor()
    assert monitor.observe_coverage(500, 100, 120) == []
    assert monitor.observe_coverage(1000, 95, 120) == []
    assert "fell to 60/120 from 100" in monitor.observe_coverage(1500, 60, 120)[0]
    early = TrainingMonitor()  # counting noise at the start of a demo run is no collapse
    assert early.observe_coverage(500, 2, 120) == [] and early.observe_coverage(1000, 1, 120) == []
    ring = TrainingMonitor()  # 8 modes: losing 2 is a collapse
    assert ring.observe_coverage(500, 8, 8) == [] and "fell to 6/8" in ring.observe_coverage(1000, 6, 8)[0]


def test_a_score_more_than_a_tenth_above_the_runs_best_is_reported_once_until_it_recovers():
    monitor = TrainingMonitor()
    assert monitor.observe_score(2000, "fid", 110.0, 100.0, 1000) == []  # exactly 10% above: within the band
    message = monitor.observe_score(3000, "fid", 110.5, 100.0, 1000)
    assert len(message) == 1 and "fid 110.5 is 10% above the run's best, 100.0 at iteration 1000" in message[0]
    assert monitor.observe_score(4000, "fid", 130.0, 100.0, 1000) == []  # still worse: said once
    assert monitor.observe_score(5000, "fid", 104.0, 100.0, 1000) == []  # recovered
    assert len(monitor.observe_score(6000, "fid", 120.0, 100.0, 1000)) == 1  # a new episode


def test_a_generator_that_outputs_a_constant_image_is_diagnosed_live(tmp_path, capsys):
    def constant_generator(gan, *args):
        stats = seed_iteration(gan, *args)
        with torch.no_grad():  # G's last conv ignores its input from now on: every sample is tanh(bias)
            gan.generator.to_rgb.weight.zero_()
        return stats

    train(_config(**{"train.diagnose_every": 4}), tmp_path, progress=False, log=lambda *_: None, procedure=constant_generator)
    err = capsys.readouterr().err
    assert "warning: iteration 8: sample diversity is 0.00" in err  # the second check in a row
    assert "mode coverage" not in err or "fell" in err
    assert (tmp_path / "diagnostics.jsonl").read_text().count("diversity_ratio") == 3


class OracleDiscriminator(nn.Module):
    """A D that always wins: real images sit exactly on the 8-bit grid, G's tanh outputs never do."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, images):
        on_grid = ((images + 1) * 127.5 - ((images + 1) * 127.5).round()).abs().amax(dim=(1, 2, 3)) < 1e-3
        return torch.where(on_grid, 20.0, -20.0)[:, None] + 0 * images.mean() + 0 * self.unused


def test_a_discriminator_that_always_wins_is_diagnosed(tmp_path, capsys):
    oracle = OracleDiscriminator()

    def with_oracle(gan, *args):
        gan.discriminator = oracle
        return seed_iteration(gan, *args)

    train(_config(**{"train.diagnose_every": 100}), tmp_path, progress=False, log=lambda *_: None, procedure=with_oracle)
    err = capsys.readouterr().err
    assert "warning: iteration 5: D's accuracy has been >= 0.99" in err
    assert err.count("D's accuracy has been") == 1  # once per episode, not every line


def test_an_injected_nan_rolls_back_to_the_last_good_checkpoint(tmp_path):
    injected = []

    def nan_once(gan, *args):
        stats = seed_iteration(gan, *args)
        if gan.opt_g.state and not injected and int(next(iter(gan.opt_g.state.values()))["step"]) == 5:
            injected.append(True)
            with torch.no_grad():
                gan.generator.to_rgb.weight[0, 0, 0, 0] = float("nan")
        return stats

    messages = []
    result = train(_config(), tmp_path, progress=False, log=messages.append, procedure=nan_once)
    assert injected and any("rolled back to step 4" in m for m in messages)
    state = ckpt.load_checkpoint(tmp_path)
    assert result.step == 12 and all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())


def test_repeated_nans_stop_the_run_with_the_last_good_checkpoint_intact(tmp_path):
    def always_nan_after_4(gan, *args):
        stats = seed_iteration(gan, *args)
        if int(next(iter(gan.opt_g.state.values()))["step"]) > 4:
            stats["g_loss"] = torch.tensor(float("nan"))
        return stats

    with pytest.raises(GanforgeError, match="after 3 rollbacks in a row; stopped.*checkpoint-00000004.pt"):
        train(_config(), tmp_path, progress=False, log=lambda *_: None, procedure=always_nan_after_4)
    assert ckpt.load_checkpoint(tmp_path)["step"] == 4


def test_a_flapping_symptom_prints_once_per_quiet_window_with_a_count_and_the_log_keeps_every_one(tmp_path):
    from ganforge.run_folder import read_log
    from ganforge.train.recorder import RunRecorder

    recorder = RunRecorder(_config(), tmp_path, None, torch.device("cpu"))
    printed = []
    recorder.console = printed.append
    monitor = TrainingMonitor(patience=1)
    for step in range(10, 2600, 10):  # D pinned on every other log line: the symptom starts 130 times
        for message in monitor.observe_losses(step, _line(1.0, 1.0, g=FOOLED) if step % 20 else _line()):
            recorder.warn(step, message)
    recorder.warn(2600, "iteration 2600: sample diversity is 0.40 of the real data's")  # another symptom is not held back
    logged = read_log(tmp_path / "warnings.jsonl")
    assert len(logged) == 131
    assert [line.split(":")[1] for line in printed] == [" iteration 10", " iteration 1010", " iteration 2010", " iteration 2600"]
    assert printed[1].endswith("(seen 49 more times since iteration 10: see warnings.jsonl)")
    assert printed[2].endswith("(seen 49 more times since iteration 1010: see warnings.jsonl)")
