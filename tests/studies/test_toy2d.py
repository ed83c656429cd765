"""The toy benchmark's protocol: its data, its scoring, and a short deterministic training run."""
import json
import math

import numpy as np
import pytest
import torch

from ganforge.config import load_config
from ganforge.nets.toy import Maxout, ToyDiscriminator, ToyGenerator
from ganforge.studies.toy2d import LR, mixture, real_floor, score, toy_gan, train_one


def test_mixtures_have_pacgans_means_and_spreads():
    ring, grid = mixture("ring"), mixture("grid")
    assert len(ring.means) == 8 and np.allclose(np.linalg.norm(ring.means, axis=1), 1) and ring.std == 0.01
    assert len(grid.means) == 25 and set(grid.means[:, 0]) == {-4, -2, 0, 2, 4} and grid.std == 0.05


def test_scoring_on_point_sets_with_known_answers():
    grid = mixture("grid")
    exact = score(np.repeat(grid.means, 4, axis=0), grid)
    assert (exact.modes_covered, exact.high_quality) == (25, 1.0) and exact.reverse_kl == pytest.approx(0, abs=1e-12)
    collapsed = score(np.zeros((100, 2)) + grid.means[3], grid)
    assert collapsed.modes_covered == 1 and collapsed.reverse_kl == pytest.approx(math.log(25))
    off = score(grid.means + [0, 4 * grid.std], grid)  # 4 standard deviations away: assigned, but not high quality
    assert off.modes_covered == 0 and off.high_quality == 0.0 and off.reverse_kl == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("name", ["ring", "grid"])
def test_real_data_floor_matches_the_closed_form(name):
    floor = real_floor(name)
    # P(|x - mu| < 3 sigma) for an isotropic 2-D Gaussian is 1 - exp(-9 / 2) = 98.89%
    assert floor.modes_covered == len(mixture(name).means)
    assert floor.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert floor.reverse_kl < 0.01


def test_networks_have_pacgans_shapes():
    g, d = ToyGenerator(), ToyDiscriminator(pack=4)
    assert g(torch.randn(5, 2)).shape == (5, 2) and d(torch.randn(20, 2)).shape == (5, 1)  # 4 points judged as one
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in g.modules()) == 4
    maxout = Maxout(3, 2, pieces=5)
    x = torch.randn(4, 3)
    assert torch.equal(maxout(x), maxout.linear(x).view(4, 2, 5).amax(-1))


@pytest.mark.slow  # two 300-iteration runs
def test_a_short_run_is_deterministic_and_learns_something():
    config = load_config("dcgan")
    first = train_one(config, "ring", seed=0, iterations=300)
    again = train_one(config, "ring", seed=0, iterations=300)
    assert first == again
    untrained = train_one(config, "ring", seed=0, iterations=0)
    assert first.reverse_kl < untrained.reverse_kl or first.high_quality > untrained.high_quality


def test_d_learns_at_the_presets_ratio_to_gs_rate():
    gan = toy_gan(load_config("stable", overrides={"optim.lr_g": 2e-4, "optim.lr_d": 8e-4}), LR, beta1=0.8)
    assert gan.opt_g.param_groups[0]["lr"] == LR and gan.opt_d.param_groups[0]["lr"] == pytest.approx(4 * LR)
    assert gan.opt_d.param_groups[0]["betas"][0] == 0.8


@pytest.mark.slow  # worker processes, each training
def test_two_worker_processes_give_the_same_table_as_one():
    from ganforge.studies.toy2d import run_benchmark

    config = load_config("stable")
    alone = run_benchmark(config, "stable", ["ring", "grid"], seeds=2, iterations=40, log=lambda *_: None)
    lines = []
    shared = run_benchmark(config, "stable", ["ring", "grid"], seeds=2, iterations=40, log=lines.append, jobs=2)
    assert shared == alone
    assert [line.split(":")[0] for line in lines] == ["ring seed 0", "ring seed 1", "grid seed 0", "grid seed 1"]


def test_a_toy2d_run_uses_one_cpu_thread_and_gives_the_callers_back(monkeypatch):
    # Two threads round a split sum differently and a GAN amplifies it, so the result would depend on the cores.
    from ganforge.studies import toy2d

    seen = []
    real_score = toy2d.score
    monkeypatch.setattr(toy2d, "score", lambda points, data: seen.append((torch.get_num_threads(), points)) or real_score(points, data))
    threads = torch.get_num_threads()
    try:
        for callers in (2, 1):
            torch.set_num_threads(callers)
            train_one(load_config("seed"), "grid", seed=0, iterations=20, batch=32)
            assert torch.get_num_threads() == callers
    finally:
        torch.set_num_threads(threads)
    assert [count for count, _ in seen] == [1, 1]
    assert np.array_equal(seen[0][1], seen[1][1])  # the same points, whatever threads the caller had


def test_a_presets_toy2d_table_applies_on_toy2d_alone():
    images, toy = load_config("stable"), load_config("stable", overrides={"model.arch": "toy2d"})
    assert images.remedies.g_batch_norm and images.optim.lr_d == images.optim.lr_g
    assert not toy.remedies.g_batch_norm and toy.optim.lr_d == 8 * toy.optim.lr_g
    assert toy.remedies.r1_gamma == images.remedies.r1_gamma and toy.train.loss == images.train.loss  # the rest is the preset's
    assert toy.model.arch == "toy2d" and images.model.arch == "seed"
    # the family's table sits under the command line: a setting given there wins over it
    assert load_config("stable", overrides={"model.arch": "toy2d", "optim.lr_d": 3e-4}).optim.lr_d == 3e-4


def test_toy2d_runs_decay_both_rates_as_the_preset_says(monkeypatch):
    import ganforge.studies.toy2d as toy2d

    rates = []
    monkeypatch.setattr(toy2d, "set_learning_rate", lambda optimizer, lr: rates.append(lr))
    config = load_config("stable", overrides={"model.arch": "toy2d"})
    assert config.optim.lr_decay == 0.5
    train_one(config, "ring", seed=0, iterations=4, lr=1e-4, batch=8)
    g_rates, d_rates = rates[0::2], rates[1::2]  # G's optimizer, then D's, each step
    assert g_rates == pytest.approx([1e-4, 1e-4, 1e-4, 0.5e-4])  # the last half falls linearly: 4-3 of 2 steps left
    assert d_rates == pytest.approx([8 * r for r in g_rates])


def test_bench_set_lays_a_setting_over_the_preset(monkeypatch, capsys):
    import ganforge.studies.toy2d as toy2d
    from ganforge.cli import main

    decays = []
    real = toy2d.train_one
    monkeypatch.setattr(toy2d, "train_one", lambda config, *a, **k: decays.append(config.optim.lr_decay) or real(config, *a, **k))
    assert main(["bench", "toy2d", "--dataset", "ring", "--preset", "stable", "--seeds", "1", "--iterations", "3",
                 "--set", "optim.lr_decay=0.25"]) == 0
    assert decays == [0.25] and "ganforge stable optim.lr_decay=0.25 (3 it)" in capsys.readouterr().out


def test_recording_frames_changes_nothing_and_writes_a_run_folder(tmp_path):
    config = load_config("seed")
    plain = train_one(config, "grid", seed=3, iterations=60)
    recorded = train_one(config, "grid", seed=3, iterations=60, frames=tmp_path / "run", frame_every=20)
    assert recorded == plain  # the same final G, scored on the same noise: the frames drew on their own RNG

    run = tmp_path / "run"
    rows = [json.loads(line) for line in (run / "diagnostics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 20, 40, 60]
    assert rows[-1]["modes_covered"] <= 25 and 0 <= rows[-1]["high_quality"] <= 1
    assert sorted(p.name for p in (run / "samples").iterdir()) == [f"step-{s:08d}.png" for s in (0, 20, 40, 60)]
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [50]
    from ganforge.web.report import run_data, write_report

    assert write_report(run).read_text().count("data:image/jpeg;base64,") == 4  # the frames, played back

    summary = run_data(run)["summary"]
    assert (summary["data"], summary["resolution"], summary["step"]) == ("toy2d grid", None, 50) and summary["time_s"] > 0


def test_frame_heatmap_is_d_over_the_plane_and_arrows_raise_ds_score():
    from ganforge.studies.toy2d_frames import HEATMAP_CELLS, frame_data

    torch.manual_seed(0)
    gan = toy_gan(load_config("seed"), LR, beta1=0.5)
    noise = torch.randn(400, 2, generator=torch.Generator().manual_seed(1))
    view = frame_data(gan, noise, (-6.0, 6.0))
    D = gan.discriminator_local.train(gan.frozen_d_training)
    # heat[row, column] is D at (x = column's, y = row's), rows going up: the picture is drawn with origin="lower"
    axis = np.linspace(-6, 6, HEATMAP_CELLS)
    for row, column in [(0, 0), (0, HEATMAP_CELLS - 1), (HEATMAP_CELLS - 1, 7), (40, 90)]:
        with torch.no_grad():
            expected = torch.sigmoid(D(torch.tensor([[axis[column], axis[row]]], dtype=torch.float32))).item()
        assert view["heat"][row, column] == pytest.approx(expected, abs=1e-6)
    # G's loss is -log D(G(z)): following the arrows a small way raises D's logit at (almost) every sample
    fake, arrows = torch.from_numpy(view["fake"]), torch.from_numpy(view["arrows"])
    step = 1e-3 / arrows.norm(dim=1, keepdim=True).clamp_min(1e-12)
    with torch.no_grad():
        gain = (D(fake + step * arrows) - D(fake)).squeeze(1)
    assert (gain > 0).float().mean() > 0.95
