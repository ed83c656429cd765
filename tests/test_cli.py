"""The command line: error paths give one line and exit code 2; the happy paths write what they say."""
import subprocess
import sys

import pytest

from conftest import require_module
from ganforge.cli import main

TINY = ["--resolution", "32", "--latent-dim", "8", "--batch-size", "4", "--iterations", "2", "--set", "data.shapes_size=8", "--no-progress"]


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--data", "/no/such/folder", "--out", "OUT"], "/no/such/folder: no such folder"),
        (["train", "--preset", "nope", "--out", "OUT"], "unknown preset 'nope'"),
        (["train", "--resolution", "48", "--out", "OUT"], "model.resolution = 48 is not one of: 32, 64, 128, 256"),
        (["train", "--set", "train.bogus=1", "--out", "OUT"], "unknown setting"),
        (["train", "--set", "train.batch_size=many", "--out", "OUT"], "batch_size must be int"),
        (["train", "--config", "/no/such.toml", "--out", "OUT"], "no such config file"),
        (["generate", "--checkpoint", "/no/such/run", "--out", "OUT"], "no such checkpoint"),
        (["summary", "--resolution", "100"], "model.resolution = 100 is not one of"),
        (["train", "--set", "model.width=0", "--out", "OUT"], "model.width must be at least 1"),
        # choices are checked before any data is read: the typo is reported, not the missing folder
        (["train", "--data", "/no/such/folder", "--set", "train.loss=logistc", "--out", "OUT"], "train.loss = 'logistc' is not one of"),
        (["train", "--data", "/no/such/folder", "--set", "train.amp=fp8", "--out", "OUT"], "train.amp = 'fp8' is not one of"),
        (["train", "--data", "/no/such/folder", "--set", "remedies.diffaugment=colour", "--out", "OUT"], "unknown op(s) ['colour']"),
        (["train", "--data", "/no/such/folder", "--set", "remedies.spectral_norm=g", "--out", "OUT"], "remedies.spectral_norm = 'g'"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2(tmp_path, capsys, args, message):
    args = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    code, _, err = _run(args, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("ganforge: error:") and message in err
    assert "Traceback" not in err


def test_corrupt_checkpoint_is_a_clear_error_and_debug_shows_the_traceback(tmp_path, capsys):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a checkpoint at all")
    code, _, err = _run(["generate", "--checkpoint", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and ("not a readable checkpoint" in err or "refused" in err) and err.count("\n") == 1
    from ganforge.errors import GanforgeError

    with pytest.raises(GanforgeError):
        main(["--debug", "generate", "--checkpoint", str(bad), "--out", str(tmp_path / "o")])


def test_train_then_resume_then_generate(tmp_path, capsys):
    run = str(tmp_path / "run")
    code, out, _ = _run(["train", "--out", run, *TINY], capsys)
    assert code == 0 and "sample grid:" in out and "loss plot:" in out
    assert f"report:      {run}/report.html" in out and "ganforge report: run" in (tmp_path / "run" / "report.html").read_text()
    code, out, _ = _run(["train", "--out", run, *TINY[:-3], "--iterations", "3", *TINY[-3:]], capsys)
    assert code == 0 and "resuming" in out and "from step 2" in out
    code, out, _ = _run(["generate", "--checkpoint", run, "-n", "5", "--out", str(tmp_path / "gen")], capsys)
    assert code == 0 and len(list((tmp_path / "gen").glob("sample-*.png"))) == 5
    code, out, _ = _run(["generate", "--checkpoint", run, "-n", "9", "--grid", "--out", str(tmp_path / "grid")], capsys)
    assert code == 0 and (tmp_path / "grid" / "grid.png").is_file()
    # written a chunk at a time: 300 crosses a chunk, and the first images of any n are the same images
    code, out, _ = _run(["generate", "--checkpoint", run, "-n", "300", "--out", str(tmp_path / "many")], capsys)
    names = sorted(p.name for p in (tmp_path / "many").glob("sample-*.png"))
    assert code == 0 and names[0] == "sample-00000.png" and names[-1] == "sample-00299.png" and len(names) == 300
    for name in ("sample-00000.png", "sample-00004.png"):
        assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "gen" / name).read_bytes()


def test_sample_names_sort_as_numbers_past_a_hundred_thousand():
    from ganforge.sampling.generate import sample_name

    assert sample_name(7, 10) == "sample-00007.png" and sample_name(99_999, 100_000) == "sample-99999.png"
    assert sample_name(7, 100_001) == "sample-000007.png" and sample_name(100_000, 100_001) == "sample-100000.png"
    indices = [0, 9, 10, 99_999, 100_000, 1_234_567]
    assert sorted(sample_name(i, 2_000_000) for i in indices) == [sample_name(i, 2_000_000) for i in indices]


def test_a_narrower_network_trains_and_its_checkpoint_generates(tmp_path, capsys):
    """model.width is saved with the run, so generate rebuilds the same narrow G (else its weights would not fit)."""
    run = str(tmp_path / "run")
    code, _, _ = _run(["train", "--out", run, *TINY, "--set", "model.width=8"], capsys)
    assert code == 0
    code, _, err = _run(["generate", "--checkpoint", run, "-n", "2", "--out", str(tmp_path / "gen")], capsys)
    assert code == 0, err
    assert len(list((tmp_path / "gen").glob("sample-*.png"))) == 2


def test_config_file_and_flags_override_the_preset(tmp_path, capsys):
    config = tmp_path / "settings.toml"
    config.write_text("[optim]\nbeta1 = 0.5\n[train]\nbatch_size = 2\n")
    run = tmp_path / "run"
    code, _, _ = _run(["train", "--config", str(config), "--out", str(run), *TINY], capsys)
    import json

    saved = json.loads((run / "config.json").read_text())
    assert code == 0 and saved["optim"]["beta1"] == 0.5 and saved["train"]["batch_size"] == 4  # the flag wins


def test_summary_prints_the_seeds_counts(capsys):
    code, out, _ = _run(["summary", "--preset", "seed"], capsys)
    assert code == 0 and "Total params: 9,952,195" in out and "Total params: 38,456,449" in out
    assert "(512, 8, 8)" in out and "(3, 128, 128)" in out


def test_console_entry_point_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "ganforge", "presets"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("seed")


def test_import_keras_then_generate_then_train_on(tmp_path, capsys):
    keras = require_module("keras")
    import keras_reference as ref

    keras.utils.set_random_seed(0)
    ref.define_generator(100).save(tmp_path / "g.keras")
    ref.define_discriminator().save(tmp_path / "d.h5")
    run = str(tmp_path / "imported")
    code, out, err = _run(["import-keras", "--generator", str(tmp_path / "g.keras"), "--discriminator", str(tmp_path / "d.h5"), "--out", run], capsys)
    assert code == 0, err
    code, _, _ = _run(["generate", "--checkpoint", run, "-n", "2", "--out", str(tmp_path / "gen")], capsys)
    assert code == 0 and len(list((tmp_path / "gen").glob("*.png"))) == 2
    code, out, err = _run(["train", "--preset", "seed", "--out", run, "--resolution", "128", "--batch-size", "2", "--iterations", "1", "--set", "data.shapes_size=4", "--no-progress"], capsys)
    assert code == 0, err
    assert "from step 0" in out
    code, _, err = _run(["import-keras", "--generator", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "missing.h5: no such file" in err


def test_train_without_a_preset_runs_the_default_and_says_so(tmp_path, capsys):
    from ganforge.config import DEFAULT_PRESET, load_config

    code, out, err = _run(["train", "--out", str(tmp_path / "run"), *TINY], capsys)
    assert code == 0 and DEFAULT_PRESET != "seed"
    assert out.splitlines()[0].startswith(f"preset {DEFAULT_PRESET} (the default") and "--preset seed is the seed's GAN exactly" in out
    assert "device cpu" in out and "precision float32 (train.amp=off)" in out
    import json

    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"]["arch"] == load_config(DEFAULT_PRESET).model.arch != load_config("seed").model.arch


def test_the_first_estimate_says_how_long_and_how_to_bound_it(monkeypatch):
    from ganforge.train import time_limit

    clock = iter(range(100))  # one second per call: one per iteration
    monkeypatch.setattr(time_limit.time, "perf_counter", lambda: float(next(clock)))
    said = []
    estimate = time_limit.FirstEstimate(10_000, 0, 0.0, said.append, warmup=3, measure=20)
    for step in range(1, 30):
        estimate.update(step)
    # timed from iteration 3 to 23: 20 iterations in 20 s, so 9,977 left take 9,977 s = 2.8 h
    assert said == ["1.0 iterations/s: the 10,000 iterations asked for end in about 2.8 h; to bound it, add "
                    "--set train.max_minutes=MINUTES (the same command later goes on from there)"]
    said.clear()
    bounded = time_limit.FirstEstimate(10_000, 0, 30.0, said.append, warmup=3, measure=20)
    for step in range(1, 30):
        bounded.update(step)
    assert said[0].endswith("2.8 h, but train.max_minutes=30 stops the run first")


def _commands():
    import argparse

    from ganforge.cli import _parser

    parser = _parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, subparsers.choices


def test_every_flag_has_help_and_every_default_shows():
    import argparse

    parser, commands = _commands()
    for name, command in [("ganforge", parser), *commands.items()]:
        formatter = command._get_formatter()
        for action in command._actions:
            if action.help == argparse.SUPPRESS:  # an older spelling, kept working
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
            meaningful = action.default is not None and action.default is not False and action.default not in ([], "")
            if meaningful and action.default != argparse.SUPPRESS:
                assert "default" in formatter._get_help_string(action), f"{name} {action.option_strings}: default not shown"


def test_a_flag_means_one_kind_of_thing_in_every_command():
    """-n is a count everywhere, --samples a folder, --frames a count; a run is RUN, positional, everywhere."""
    import argparse

    _, commands = _commands()
    kinds: dict[str, set] = {}
    for name, command in commands.items():
        for action in command._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            kind = "number" if action.type in (int, float) or getattr(action.type, "__name__", "") in ("count", "_port") else \
                "switch" if action.nargs == 0 else "text"
            for option in action.option_strings or [action.metavar or action.dest]:
                kinds.setdefault(option, set()).add(kind)
    assert {option: k for option, k in kinds.items() if len(k) > 1} == {}
    assert kinds["-n"] == {"number"} and kinds["--samples"] == {"text"} and kinds["--frames"] == {"number"}
    for name in ("generate", "eval", "export", "report", "watch"):
        assert "RUN" in commands[name].format_usage()


def test_older_spellings_still_work(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert _run(["train", "--out", run, *TINY], capsys)[0] == 0
    code, _, err = _run(["generate", "--checkpoint", run, "-n", "2", "--out", str(tmp_path / "old")], capsys)
    assert code == 0, err
    code, _, err = _run(["generate", run, "-n", "2", "--out", str(tmp_path / "new")], capsys)
    assert code == 0, err
    assert (tmp_path / "old" / "sample-00001.png").read_bytes() == (tmp_path / "new" / "sample-00001.png").read_bytes()
    code, _, err = _run(["generate", run, "--checkpoint", run, "-n", "2", "--out", str(tmp_path / "both")], capsys)
    assert code == 2 and "two runs given" in err


def test_the_default_preset_is_demo_with_bilinear_upsampling_alone():
    from ganforge.config import DEFAULT_PRESET, flatten, load_config

    default, demo = flatten(load_config(DEFAULT_PRESET).to_dict()), flatten(load_config("demo").to_dict())
    assert {k: (demo[k], v) for k, v in default.items() if demo[k] != v} == {"model.dcgan.upsample": ("nearest", "bilinear")}
