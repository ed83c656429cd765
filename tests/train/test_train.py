"""The run around the procedure: bitwise resume, safe checkpoints, the files a run writes."""
import json
import math
import pickle

import pytest
import torch

from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge import checkpoint as ckpt
from ganforge.train.loop import train

TINY = {
    "model.resolution": 32,
    "model.latent_dim": 8,
    "model.width": 16,  # narrow: small checkpoints and quick steps; nothing here needs the seed's widths
    "train.batch_size": 4,
    "train.iterations": 6,
    "train.log_every": 1,
    "train.sample_every": 3,
    "train.checkpoint_every": 2,
    "data.shapes_size": 24,  # 6 batches an epoch: a resume crosses an epoch boundary at step 6 or later
    "data.flip": True,
    "train.diagnose_every": 2,  # live checks run too, and must not disturb the run's random streams
}


def _config(**changes):
    return load_config("seed", overrides={**TINY, **changes})


class Killed(Exception):
    """Stands for a hard kill: nothing is saved on the way out."""


def _kill_at(step_to_die):
    def on_step(step):
        if step == step_to_die:
            raise Killed

    return on_step


def _final_state(run_dir):
    return ckpt.load_checkpoint(run_dir)


@pytest.mark.parametrize("kill_at", [1, 3, 4])
def test_interrupted_and_resumed_run_is_bitwise_identical(tmp_path, kill_at):
    config = _config(**{"train.iterations": 8})
    straight = train(config, tmp_path / "straight", progress=False, log=lambda *_: None)
    with pytest.raises(Killed):
        train(config, tmp_path / "resumed", progress=False, log=lambda *_: None, on_step=_kill_at(kill_at))
    messages = []
    resumed = train(config, tmp_path / "resumed", progress=False, log=messages.append)
    last_saved = (kill_at // 2) * 2
    if last_saved:
        assert any(f"from step {last_saved}" in m for m in messages)
    assert straight.step == resumed.step == 8
    a, b = _final_state(tmp_path / "straight"), _final_state(tmp_path / "resumed")
    for part in ("generator", "discriminator"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after resume"
    for part in ("opt_g", "opt_d"):
        for index, state in a[part]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, b[part]["state"][index][key])
    assert torch.equal(a["rng"]["noise"], b["rng"]["noise"])
    # the log has each step once, as if never interrupted
    steps = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))
    checks = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "diagnostics.jsonl").read_text().splitlines()]
    assert checks == [2, 4, 6, 8]


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    train(_config(), tmp_path / "a", progress=False, log=lambda *_: None)
    train(_config(), tmp_path / "b", progress=False, log=lambda *_: None)
    train(_config(**{"train.seed": 1}), tmp_path / "c", progress=False, log=lambda *_: None)
    a, b, c = (_final_state(tmp_path / n)["generator"]["to_rgb.weight"] for n in "abc")
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_a_run_writes_config_metrics_grids_plot_and_keeps_last_k(tmp_path):
    result = train(_config(**{"train.keep_checkpoints": 2}), tmp_path, progress=False, log=lambda *_: None)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model"]["resolution"] == 32 and saved["train"]["batch_size"] == 4
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {"d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake", "img_per_s"} <= set(rows[0])
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["checkpoint-00000004.pt", "checkpoint-00000006.pt"]
    assert (tmp_path / "samples" / "step-00000003.png").is_file() and result.sample_grid.is_file()
    # the plot draws its curves in matplotlib's colour cycle: the three losses blue, orange and green
    from conftest import TAB10, colour_pixels

    assert all(colour_pixels(result.loss_plot, TAB10[name]) > 20 for name in ("blue", "orange", "green"))


def test_resume_with_other_settings_is_refused(tmp_path):
    train(_config(), tmp_path, progress=False, log=lambda *_: None)
    with pytest.raises(GanforgeError, match="other settings.*optim.lr_d"):
        train(_config(**{"optim.lr_d": 1e-3}), tmp_path, progress=False, log=lambda *_: None)
    longer = train(_config(**{"train.iterations": 8}), tmp_path, progress=False, log=lambda *_: None)
    assert longer.step == 8  # more iterations is a continuation, not another experiment


def test_interrupted_checkpoint_write_leaves_previous_loadable(tmp_path, monkeypatch):
    train(_config(**{"train.iterations": 2}), tmp_path, progress=False, log=lambda *_: None)
    before = ckpt.list_checkpoints(tmp_path)
    real_save = torch.save

    def dies_halfway(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise Killed

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(Killed):
        train(_config(**{"train.iterations": 4}), tmp_path, progress=False, log=lambda *_: None)
    monkeypatch.setattr(torch, "save", real_save)
    assert ckpt.list_checkpoints(tmp_path) == before  # the half-written file is a temporary, never a checkpoint
    assert ckpt.load_checkpoint(tmp_path)["step"] == 2 and ckpt.load_checkpoint(before[-1])["step"] == 2
    resumed = train(_config(**{"train.iterations": 4}), tmp_path, progress=False, log=lambda *_: None)
    assert resumed.step == 4


class _RunsCode:
    def __reduce__(self):
        return (print, ("this ran while loading",))


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": ckpt.FORMAT, "payload": _RunsCode()}, f)
    with pytest.raises(GanforgeError, match="refused"):
        ckpt.load_checkpoint(path)
    torch.save({"format": ckpt.FORMAT, "payload": _RunsCode()}, path)
    with pytest.raises(GanforgeError, match="refused"):
        ckpt.load_checkpoint(path)


def test_corrupt_or_foreign_checkpoints_are_clear_errors(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(GanforgeError, match="not a readable checkpoint|refused"):
        ckpt.load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(GanforgeError, match="not a ganforge checkpoint"):
        ckpt.load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(GanforgeError, match="no checkpoint"):
        ckpt.load_checkpoint(tmp_path)


def test_bf16_autocast_trains_the_same_run_within_bf16_rounding(tmp_path):
    exact = train(_config(**{"train.iterations": 1, "train.diagnose_every": 0}), tmp_path / "fp32", progress=False, log=lambda *_: None)
    mixed = train(_config(**{"train.iterations": 1, "train.diagnose_every": 0, "train.amp": "bf16"}), tmp_path / "bf16", progress=False, log=lambda *_: None)
    a, b = (json.loads((r.run_dir / "metrics.jsonl").read_text().splitlines()[0]) for r in (exact, mixed))
    # D's loss on the first real batch comes before any update: the same up to bf16 rounding (and bf16 really ran).
    # Later losses differ more: Adam's first step with the seed's epsilon is lr * sign(gradient), and bf16 rounding
    # flips the sign of the smallest gradients.
    assert a["d_loss_real"] == pytest.approx(b["d_loss_real"], rel=1e-2) and a["d_loss_real"] != b["d_loss_real"]
    assert all(math.isfinite(b[k]) for k in ("d_loss_fake", "g_loss"))
    with pytest.raises(GanforgeError, match="train.amp"):
        train(_config(**{"train.amp": "fp8"}), tmp_path / "bad", progress=False, log=lambda *_: None)


def test_fp16_autocast_with_loss_scaling_trains_and_checkpoints_its_scalers(tmp_path):
    exact = train(_config(**{"train.iterations": 1, "train.diagnose_every": 0}), tmp_path / "fp32", progress=False, log=lambda *_: None)
    mixed = train(_config(**{"train.iterations": 2, "train.diagnose_every": 0, "train.amp": "fp16"}), tmp_path / "fp16", progress=False, log=lambda *_: None)
    a, b = (json.loads((r.run_dir / "metrics.jsonl").read_text().splitlines()[0]) for r in (exact, mixed))
    assert a["d_loss_real"] == pytest.approx(b["d_loss_real"], rel=1e-2) and a["d_loss_real"] != b["d_loss_real"]
    state = ckpt.load_checkpoint(mixed.last_checkpoint)
    assert state["scaler_d"]["scale"] > 1 and state["scaler_g"]["scale"] > 1  # the scalers ran and were saved
    for name in ("generator", "discriminator"):
        assert all(torch.isfinite(v).all() for v in state[name].values())
    assert ckpt.load_checkpoint(exact.last_checkpoint)["scaler_d"] == {}  # off without fp16


def test_loss_scaling_keeps_a_gradient_that_fp16_would_flush_to_zero():
    from ganforge.train.procedure import _backward_and_step, no_loss_scaling

    def update(scaler):
        weight = torch.nn.Parameter(torch.ones(4))
        optimizer = torch.optim.SGD([weight], lr=1.0)
        with torch.autocast("cpu", dtype=torch.float16):
            loss = (weight.half() * 1e-4).sum() * 1e-4  # d loss / d weight = 1e-8: below fp16's smallest subnormal
        _backward_and_step(scaler, loss, optimizer)
        return 1.0 - weight.detach()

    assert torch.equal(update(no_loss_scaling()), torch.zeros(4))
    assert torch.allclose(update(torch.amp.GradScaler("cpu")), torch.full((4,), 1e-8), rtol=1e-2)


def test_compiled_networks_train_the_same_run_and_save_plain_state_dicts(tmp_path):
    settings = {"train.iterations": 2, "train.diagnose_every": 0, "train.sample_every": 0}
    eager = train(_config(**settings), tmp_path / "eager", progress=False, log=lambda *_: None)
    compiled = train(_config(**settings, **{"train.compile": True}), tmp_path / "compiled", progress=False, log=lambda *_: None)
    a, b = (ckpt.load_checkpoint(r.last_checkpoint) for r in (eager, compiled))
    for name in ("generator", "discriminator"):
        assert a[name].keys() == b[name].keys()  # no "_orig_mod." prefixes: checkpoints stay interchangeable
    # Compiled kernels sum in another order. The first loss comes before any update: equal to float rounding.
    # Later ones drift: Adam's first steps with the seed's epsilon are lr * sign(gradient), and the sign of a
    # gradient near zero can flip; the losses still agree to 1e-3.
    la, lb = ([json.loads(line) for line in (r.run_dir / "metrics.jsonl").read_text().splitlines()] for r in (eager, compiled))
    assert la[0]["d_loss_real"] == pytest.approx(lb[0]["d_loss_real"], rel=1e-5)
    for key in ("d_loss_real", "d_loss_fake", "g_loss"):
        assert la[1][key] == pytest.approx(lb[1][key], rel=1e-3, abs=1e-4), key


def test_a_time_limit_stops_with_a_checkpoint_and_the_same_command_goes_on(tmp_path):
    lines = []
    limited = _config(**{"train.max_minutes": 1e-9, "train.diagnose_every": 0})  # up after the first iteration
    first = train(limited, tmp_path, progress=False, log=lines.append)
    assert first.step == 1 and first.last_checkpoint.name == "checkpoint-00000001.pt" and first.sample_grid.is_file()
    assert any("time limit" in line and "step 1 of 6" in line for line in lines)
    assert train(limited, tmp_path, progress=False, log=lines.append).step == 2  # resumed, one more iteration
    assert train(_config(**{"train.diagnose_every": 0}), tmp_path, progress=False, log=lines.append).step == 6  # limit lifted


def test_learning_rates_decay_linearly_to_zero_over_the_runs_last_fraction(tmp_path):
    from ganforge.train.optim import DecaySchedule

    assert [DecaySchedule.fresh(10, 0.4).factor(s) for s in range(10)] == pytest.approx([1, 1, 1, 1, 1, 1, 1.0, 0.75, 0.5, 0.25])
    assert {DecaySchedule.fresh(10, 0.0).factor(s) for s in range(10)} == {1.0}
    run = train(_config(**{"optim.lr_decay": 0.5, "train.diagnose_every": 0}), tmp_path, progress=False, log=lambda *_: None)
    state = ckpt.load_checkpoint(run.last_checkpoint)
    lr = load_config("seed").optim.lr_g
    # The last iteration (step 5 of 6) ran at lr * (6 - 5) / 3.
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(lr / 3)
    assert state["opt_d"]["param_groups"][0]["lr"] == pytest.approx(lr / 3)


def test_a_longer_or_shorter_run_on_resume_never_makes_the_learning_rate_jump():
    from ganforge.train.optim import DecaySchedule

    def factors(schedule, steps):
        return [schedule.factor(s) for s in steps]

    # Mid-decay (step 4 of 6, decay over the last 3): from 2/3 at step 4 straight on to 0 at the new end, 10.
    longer = DecaySchedule.fresh(6, 0.5).extended_to(10, 0.5, 4)
    assert factors(longer, range(4, 10)) == pytest.approx([2 / 3 * (10 - s) / 6 for s in range(4, 10)])
    # Before the decay (step 2): the new run's own decay, over its last 5 of 10.
    assert factors(DecaySchedule.fresh(6, 0.5).extended_to(10, 0.5, 2), range(2, 10)) == pytest.approx([1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    # Shorter, where the new run's decay should already have begun (20 -> 12 at step 8): from 1 at step 8 to 0 at 12.
    assert factors(DecaySchedule.fresh(20, 0.5).extended_to(12, 0.5, 8), range(8, 12)) == pytest.approx([1, 0.75, 0.5, 0.25])
    with pytest.raises(ValueError, match="reached 0 at step 6"):  # a finished decay cannot be lengthened
        DecaySchedule.fresh(6, 0.5).extended_to(10, 0.5, 6)


def test_resume_with_more_iterations_continues_the_decay_from_where_it_was(tmp_path):
    lr = load_config("seed").optim.lr_g
    config = _config(**{"optim.lr_decay": 0.5, "train.diagnose_every": 0})
    with pytest.raises(Killed):
        train(config, tmp_path, progress=False, log=lambda *_: None, on_step=_kill_at(5))  # checkpoint at step 4
    lines = []
    longer = train(_config(**{"optim.lr_decay": 0.5, "train.diagnose_every": 0, "train.iterations": 10}), tmp_path,
                   progress=False, log=lines.append)
    assert longer.step == 10 and any("reach 0 at step 10" in line for line in lines)
    rates = [json.loads(line)["lr_g"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    # iterations 0-3 as in the 6-iteration run (its decay: 1 at 3, 2/3 at 4), then from 2/3 at 4 down to 0 at 10
    assert rates == pytest.approx([lr] * 4 + [lr * 2 / 3 * (10 - s) / 6 for s in range(4, 10)])
    with pytest.raises(GanforgeError, match="reached 0 at step 10"):
        train(_config(**{"optim.lr_decay": 0.5, "train.diagnose_every": 0, "train.iterations": 20}), tmp_path,
              progress=False, log=lambda *_: None)


def test_a_time_limit_that_ends_the_run_first_gets_the_decay_fitted_to_it(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from ganforge.train import loop, time_limit

    clock = [0.0]
    for module in (loop, time_limit):  # the loop starts the clock, time_limit reads it
        monkeypatch.setattr(module, "time", SimpleNamespace(perf_counter=lambda: clock[0]))

    def one_second_per_step(step):
        clock[0] = float(step)

    lr = load_config("seed").optim.lr_g
    config = _config(**{"optim.lr_decay": 0.3, "train.max_minutes": 0.5, "train.iterations": 100, "train.diagnose_every": 0,
                        "train.sample_every": 0, "train.checkpoint_every": 10})
    lines = []
    run = train(config, tmp_path, progress=False, log=lines.append, on_step=one_second_per_step)
    # 30 s at 1 step/s; at 70% of it (step 21) the run will reach step 21 + 0.98 * 30 - 21 = 29: the decay ends there
    assert run.step == 29 and any("finished at step 29 of 100" in line for line in lines)
    rates = [json.loads(line)["lr_g"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rates == pytest.approx([lr] * 22 + [lr * (29 - s) / 8 for s in range(22, 29)])
    assert ckpt.load_checkpoint(run.last_checkpoint)["lr_schedule"] == {"end": 29, "length": 8, "start_factor": 1.0, "fitted": True}
    clock[0] = 0.0
    assert train(config, tmp_path, progress=False, log=lines.append, on_step=one_second_per_step).step == 29  # done: no more steps


def _interrupt_during(step_to_interrupt):
    """An iteration that is hit by Ctrl-C (a real SIGINT to this process) after D's steps, before G's."""
    import os
    import signal

    from ganforge.train.procedure import seed_iteration

    def iteration(gan, real, z_fake, z_gen, step):
        if step == step_to_interrupt:
            gan.opt_g.step = _signal_first(gan.opt_g.step, lambda: os.kill(os.getpid(), signal.SIGINT))
        return seed_iteration(gan, real, z_fake, z_gen, step)

    return iteration


def _signal_first(step, send):
    def wrapped(*args, **kwargs):
        send()
        return step(*args, **kwargs)

    return wrapped


def test_ctrl_c_mid_iteration_finishes_it_and_saves_a_whole_step(tmp_path):
    config = _config(**{"train.iterations": 6})
    straight = train(config, tmp_path / "straight", progress=False, log=lambda *_: None)
    messages = []
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "interrupted", progress=False, log=messages.append, procedure=_interrupt_during(2))
    assert any("interrupted at step 3" in m for m in messages), messages  # iteration 3 (step index 2) was finished
    saved = ckpt.load_checkpoint(tmp_path / "interrupted")
    assert saved["step"] == 3
    resumed = train(config, tmp_path / "interrupted", progress=False, log=lambda *_: None)
    a, b = _final_state(straight.run_dir), _final_state(resumed.run_dir)
    for part in ("generator", "discriminator"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after a Ctrl-C and a resume"


def test_a_broken_state_is_never_saved_on_ctrl_c(tmp_path):
    from ganforge.train.procedure import seed_iteration

    def breaks_then_interrupted(gan, real, z_fake, z_gen, step):
        stats = seed_iteration(gan, real, z_fake, z_gen, step)
        if step == 2:
            with torch.no_grad():
                next(gan.generator.parameters()).fill_(float("nan"))
            raise KeyboardInterrupt
        return stats

    messages = []
    with pytest.raises(KeyboardInterrupt):
        train(_config(), tmp_path / "run", progress=False, log=messages.append, procedure=breaks_then_interrupted)
    assert any("NaN or Inf in the weights: not saved" in m for m in messages), messages
    assert [ckpt.checkpoint_step(p) for p in ckpt.list_checkpoints(tmp_path / "run")] == [0, 2]


def test_a_torn_last_log_line_does_not_block_a_resume(tmp_path):
    config = _config(**{"train.iterations": 4})
    with pytest.raises(Killed):
        train(config, tmp_path / "run", progress=False, log=lambda *_: None, on_step=_kill_at(3))
    with open(tmp_path / "run" / "metrics.jsonl", "a") as log_file:
        log_file.write('{"step": 4, "d_loss_re')  # a kill mid-write
    resumed = train(config, tmp_path / "run", progress=False, log=lambda *_: None)
    assert resumed.step == 4
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_an_imported_run_trains_on_under_another_preset_with_that_presets_settings(tmp_path):
    """The Keras import fixes the networks only: `stable` on it gets its own beta1 and an EMA starting from G."""
    from ganforge.nets import SeedDiscriminator, SeedGenerator
    from ganforge.train.run_state import save_imported_run

    torch.manual_seed(5)
    generator, discriminator = SeedGenerator(8, 32), SeedDiscriminator(32)
    save_imported_run(tmp_path / "run", generator, discriminator)
    # without the EMA's ramp-up, whose first update copies G: the average must visibly lag behind G from its start
    settings = {"model.resolution": 32, "model.latent_dim": 8, "train.batch_size": 2, "train.iterations": 1,
                "data.shapes_size": 4, "train.diagnose_every": 0, "train.sample_every": 0, "remedies.ema_rampup": 0.0}
    train(load_config("stable", overrides=settings), tmp_path / "run", progress=False, log=lambda *_: None)
    state = ckpt.load_checkpoint(tmp_path / "run")
    assert state["step"] == 1
    assert {g["betas"][0] for g in state["opt_g"]["param_groups"] + state["opt_d"]["param_groups"]} == {0.5}
    ema_first = state["generator_ema"]["mapping.0.weight"]
    start = generator.state_dict()["mapping.0.weight"]
    assert not torch.equal(state["generator"]["mapping.0.weight"], start)  # G trained ...
    assert (ema_first - start).abs().max() < (state["generator"]["mapping.0.weight"] - start).abs().max()  # ... its average started at G
    with pytest.raises(GanforgeError, match="do not fit this run's settings"):
        save_imported_run(tmp_path / "other", generator, discriminator)
        train(load_config("seed", overrides={**settings, "remedies.spectral_norm": "d"}), tmp_path / "other", progress=False, log=lambda *_: None)


def test_a_full_disk_during_a_checkpoint_is_one_clear_error_and_the_run_resumes_later(tmp_path):
    """A real write limit (RLIMIT_FSIZE, what `ulimit -f` sets; Python ignores SIGXFSZ, so writes fail with EFBIG)."""
    import resource

    config = _config(**{"train.iterations": 4, "train.sample_every": 0, "train.diagnose_every": 0})
    with pytest.raises(Killed):
        train(config, tmp_path, progress=False, log=lambda *_: None, on_step=_kill_at(3))
    before = ckpt.list_checkpoints(tmp_path)
    assert [ckpt.checkpoint_step(p) for p in before] == [0, 2]
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (before[-1].stat().st_size // 2, limits[1]))
    try:
        with pytest.raises(GanforgeError, match=r"checkpoint-00000004.pt: could not be written .*checkpoint-00000002.pt, is intact"):
            train(config, tmp_path, progress=False, log=lambda *_: None)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    assert ckpt.list_checkpoints(tmp_path) == before and not list((tmp_path / "checkpoints").glob(".*tmp*"))
    assert ckpt.load_checkpoint(tmp_path)["step"] == 2
    assert train(config, tmp_path, progress=False, log=lambda *_: None).step == 4  # space again: it goes on


def test_a_truncated_newest_checkpoint_falls_back_to_the_one_before(tmp_path):
    config = _config(**{"train.iterations": 6})
    straight = train(config, tmp_path / "straight", progress=False, log=lambda *_: None)
    with pytest.raises(Killed):
        train(config, tmp_path / "run", progress=False, log=lambda *_: None, on_step=_kill_at(5))
    newest = ckpt.list_checkpoints(tmp_path / "run")[-1]
    assert ckpt.checkpoint_step(newest) == 4
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 3])  # truncated by hand
    messages = []
    resumed = train(config, tmp_path / "run", progress=False, log=messages.append)
    assert any("warning:" in m and "checkpoint-00000004.pt" in m for m in messages), messages
    assert any("from step 2" in m for m in messages)
    a, b = _final_state(straight.run_dir), _final_state(resumed.run_dir)
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])
    for path in ckpt.list_checkpoints(tmp_path / "run"):
        path.write_bytes(b"")
    with pytest.raises(GanforgeError, match="none of its 3 checkpoints can be read"):
        train(config, tmp_path / "run", progress=False, log=lambda *_: None)


def test_ten_sigkills_then_the_same_command_end_bitwise_equal_to_an_uninterrupted_run(tmp_path):
    """`kill -9` at 10 random points of one run (mid-iteration, mid-checkpoint, mid-log line: wherever the
    process is when its log reaches the drawn step), each followed by the same command."""
    import random
    import signal
    import subprocess
    import sys
    import time

    args = ["--resolution", "32", "--latent-dim", "8", "--batch-size", "4", "--iterations", "30", "--sample-every", "0",
            "--no-progress", "--set", "model.width=16", "--set", "data.shapes_size=24", "--set", "train.checkpoint_every=3",
            "--set", "train.log_every=1", "--set", "train.diagnose_every=0"]

    def command(out):
        return [sys.executable, "-m", "ganforge", "train", *args, "--out", str(out)]

    def logged_step(out):
        try:
            lines = (out / "metrics.jsonl").read_text().splitlines()
            return json.loads(lines[-1])["step"] if lines else 0
        except (OSError, ValueError):
            return 0

    subprocess.run(command(tmp_path / "straight"), check=True, capture_output=True)
    run = tmp_path / "killed"
    kills = sorted(random.Random(7).sample(range(1, 30), 10))
    for target in kills:
        process = subprocess.Popen(command(run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while logged_step(run) < target and process.poll() is None:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL, f"the run ended before its kill at step {target}"
    subprocess.run(command(run), check=True, capture_output=True)
    a, b = _final_state(tmp_path / "straight"), _final_state(run)
    assert a["step"] == b["step"] == 30
    for part in ("generator", "discriminator"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after 10 kills"
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 31))


def test_under_a_time_limit_the_progress_bar_ends_where_the_clock_will_stop_the_run():
    from ganforge.train.time_limit import steps_within_time

    # 100 steps in the first 30 s of a 2-minute limit: 300 more in the 90 s left, long before 30,000 iterations
    assert steps_within_time(100, 0, 30.0, 2.0, 30000) == 400
    assert steps_within_time(150, 50, 30.0, 2.0, 30000) == 450  # a resumed run's speed counts from where it started
    assert steps_within_time(100, 0, 30.0, 2.0, 250) == 250  # the iterations come first
    assert steps_within_time(100, 0, 200.0, 2.0, 30000) == 100  # over time: it stops here
    assert steps_within_time(0, 0, 0.0, 2.0, 30000) == 30000  # no speed yet: the iterations
