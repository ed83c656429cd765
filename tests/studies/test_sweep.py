"""ganforge sweep: a random search that resumes from its SQLite storage and reports success rates."""
from conftest import require_module

require_module("optuna")

from ganforge.cli import main  # noqa: E402


def test_sweep_resumes_from_storage_and_reports_each_preset(tmp_path, capsys):
    args = ["sweep", "--preset", "seed,dcgan", "--dataset", "ring", "--iterations", "20", "--out", str(tmp_path)]
    assert main([*args, "--trials", "2"]) == 0
    assert main([*args, "--trials", "3"]) == 0  # one more per preset; the first two come from sweep.db
    out = capsys.readouterr().out
    assert out.count("running 2 more") == 2 and out.count("running 1 more") == 2
    import optuna

    summaries = optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'sweep.db'}")
    assert sorted(s.n_trials for s in summaries) == [3, 3]
    for summary in summaries:  # a random search inside the goal's space
        study = optuna.load_study(study_name=summary.study_name, storage=f"sqlite:///{tmp_path / 'sweep.db'}")
        for trial in study.trials:
            assert 1e-5 <= trial.params["lr"] <= 1e-3 and trial.params["batch"] in (32, 64, 128, 256)
            assert trial.params["beta1"] in (0.0, 0.05, 0.5, 0.9) and trial.user_attrs["success"] is False  # 20 iterations learn nothing
    report = (tmp_path / "report.md").read_text()
    assert "| seed | 3 | 0/3 = 0% |" in report and "| dcgan | 3 | 0/3 = 0% |" in report
    assert "20 training iterations per trial" in report
    seed_rows = report.split("## seed: every trial, by learning rate")[1].split("##")[0].strip().splitlines()[2:]
    assert len(seed_rows) == 3 and all(row.endswith("| no |") for row in seed_rows)
    rates = [float(row.split("|")[1]) for row in seed_rows]
    assert rates == sorted(rates)
    # one panel per preset, every trial a red dot (none succeeds) and no green one
    from conftest import colour_pixels

    assert colour_pixels(tmp_path / "sweep.png", (214, 39, 40), tolerance=40) > 50
    assert colour_pixels(tmp_path / "sweep.png", (44, 160, 44), tolerance=40) == 0


def test_sweep_errors_are_one_line(tmp_path, capsys):
    assert main(["sweep", "--dataset", "moons", "--out", str(tmp_path)]) == 2
    assert "unknown toy dataset 'moons'" in capsys.readouterr().err
    assert main(["sweep", "--preset", "nope", "--out", str(tmp_path), "--trials", "1", "--iterations", "1"]) == 2


def test_parallel_workers_share_the_trials_and_a_resumed_search_draws_new_points(tmp_path, capsys):
    args = ["sweep", "--preset", "seed", "--dataset", "ring", "--iterations", "5", "--out", str(tmp_path)]
    assert main([*args, "--trials", "3", "--jobs", "2"]) == 0  # 2 processes: 2 trials + 1
    assert main([*args, "--trials", "5"]) == 0  # one process, 2 more
    assert "running 3 more (5 iterations each, 2 processes)" in capsys.readouterr().out
    import optuna

    study = optuna.load_study(study_name="seed-ring-goal-5", storage=f"sqlite:///{tmp_path / 'sweep.db'}")
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.trials) == len(finished) == 5
    assert len({t.params["lr"] for t in finished}) == 5  # no worker, and no resumed run, repeats another's draws
    # A rerun pairs each drawn point with the same training seed, whichever worker finishes first.
    assert main([*args[:-1], str(tmp_path / "again"), "--trials", "3", "--jobs", "2"]) == 0
    again = optuna.load_study(study_name="seed-ring-goal-5", storage=f"sqlite:///{tmp_path / 'again' / 'sweep.db'}")
    pairs = lambda trials: {(t.params["lr"], t.user_attrs["training_seed"]) for t in trials}  # noqa: E731
    assert pairs(again.trials) == pairs(finished[:3]) and len({seed for _, seed in pairs(finished)}) == 5
    # --jobs 2 drew 2 points from the first stream and 1 from a second: --jobs 1's third point is another one.
    from ganforge.studies.sweep import _draw

    points = lambda draws: {(p.params["lr"], p.training_seed) for p in draws}  # noqa: E731
    assert pairs(finished[:3]) == points(_draw("goal", 2, 0) + _draw("goal", 1, 1)) != points(_draw("goal", 3, 0))


def test_a_killed_sweep_rerun_finishes_the_points_it_had_not_run(tmp_path, monkeypatch):
    import optuna

    import ganforge.studies.sweep as sweep

    def run(out, trials=4):
        sweep.run_sweep(["seed"], "ring", trials=trials, iterations=2, storage=out / "sweep.db", out_dir=out, log=lambda _: None)
        study = optuna.load_study(study_name="seed-ring-goal-2", storage=f"sqlite:///{out / 'sweep.db'}")
        return {sweep._key(t.params, t.user_attrs["training_seed"]) for t in study.trials}

    uninterrupted = run(tmp_path / "whole")
    real, calls = sweep._train_point_star, []

    def killed_after_two(job):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the sweep is killed while its third trial trains
        calls.append(job)
        return real(job)

    monkeypatch.setattr(sweep, "_train_point_star", killed_after_two)
    try:
        run(tmp_path / "killed")
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(sweep, "_train_point_star", real)
    assert len(run_stored := run(tmp_path / "killed")) == 4 and run_stored == uninterrupted
    # A larger --trials reads each worker's stream further: it keeps every point of the smaller sweep.
    plan = lambda trials: {sweep._key(p.params, p.training_seed) for p in sweep._plan("goal", trials, 2, 0)}  # noqa: E731
    assert plan(4) < plan(7) and len(plan(7)) == 7


def test_drawn_points_are_optunas_own_draws_and_run_largest_batch_first(tmp_path):
    import optuna

    from ganforge.studies.sweep import _draw, _suggest, run_sweep

    seen = []

    def objective(trial):
        _suggest(trial, "extended")
        seen.append(trial.params)
        return 0.0

    optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7)).optimize(objective, n_trials=4)
    points = _draw("extended", 4, stream_seed=7)
    assert [p.params for p in points] == seen  # the same stream as Optuna's optimize loop with that seed
    assert len({p.training_seed for p in points}) == 4

    lines = []
    run_sweep(["seed"], "ring", trials=4, iterations=2, storage=tmp_path / "sweep.db", out_dir=tmp_path, log=lines.append)
    batches = [int(line.split("'batch': ")[1].split("}")[0]) for line in lines[1:]]
    assert len(batches) == 4 and batches == sorted(batches, reverse=True)  # the costliest trials start first


def test_set_lays_a_setting_over_every_trial_in_a_study_of_its_own(tmp_path, monkeypatch, capsys):
    import optuna

    import ganforge.studies.sweep as sweep
    from ganforge.studies.toy2d import train_one

    decays = []

    def recording(config, *args, **kwargs):
        decays.append(config.optim.lr_decay)
        return train_one(config, *args, **kwargs)

    monkeypatch.setattr(sweep, "train_one", recording)
    args = ["sweep", "--preset", "seed", "--dataset", "ring", "--iterations", "2", "--trials", "2", "--out", str(tmp_path)]
    assert main([*args, "--set", "optim.lr_decay=0.5"]) == 0 and decays == [0.5, 0.5]
    assert main(args) == 0 and decays[2:] == [0.0, 0.0]  # the plain preset: a separate study, not the variant's
    names = {s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'sweep.db'}")}
    assert names == {"seed+optim.lr_decay=0.5-ring-goal-2", "seed-ring-goal-2"}
    assert "| seed optim.lr_decay=0.5 | 2 |" in capsys.readouterr().out
    assert main([*args, "--set", "optim.no_such=1"]) == 2 and len(decays) == 4  # refused before any training
