"""Every wrong invocation a new user might type: one line naming the file or setting and what is wrong, exit code 2,
no traceback, and nothing written where the output would have gone."""
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import GanforgeError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("wrong")
    run = root / "run"
    assert main(["train", "--data", "shapes", "--out", str(run), "--resolution", "32", "--iterations", "2", "--batch-size", "4",
                 "--no-progress", "--set", "model.width=4", "--set", "model.latent_dim=8", "--set", "data.shapes_size=16",
                 "--set", "train.diagnose_every=0", "--set", "train.sample_every=0"]) == 0
    (root / "empty").mkdir()
    (root / "broken").mkdir()
    (root / "broken" / "a.png").write_bytes(b"not a png at all")
    (root / "text.txt").write_text("hello\n")
    (root / "fake.zip").write_bytes(b"PK not really")
    with zipfile.ZipFile(root / "noimages.zip", "w") as archive:
        archive.writestr("readme.txt", "no images here")
    (root / "bad.toml").write_text("[train\nbatch_size = 4\n")
    (root / "unknown.toml").write_text("[train]\nbach_size = 4\n")
    (root / "wrongtype.toml").write_text("[train]\nbatch_size = \"four\"\n")
    (root / "bad.json").write_text("{\"train\": ")
    return root


def _cases():
    T = ["train", "--out", "{out}"]
    G = ["generate", "--checkpoint", "{run}", "--out", "{out}"]
    return [
        # train: data
        (T + ["--data", "/no/such/folder"], "/no/such/folder"),
        (T + ["--data", "{root}/empty"], "empty"),
        (T + ["--data", "{root}/broken"], "broken"),
        (T + ["--data", "{root}/text.txt"], "text.txt"),
        (T + ["--data", "{root}/fake.zip"], "fake.zip"),
        (T + ["--data", "{root}/noimages.zip"], "noimages.zip"),
        # train: presets and config files
        (T + ["--preset", "nope"], "nope"),
        (T + ["--config", "{root}/missing.toml"], "missing.toml"),
        (T + ["--config", "{root}/bad.toml"], "bad.toml"),
        (T + ["--config", "{root}/unknown.toml"], "bach_size"),
        (T + ["--config", "{root}/wrongtype.toml"], "batch_size"),
        (T + ["--config", "{root}/bad.json"], "bad.json"),
        (T + ["--config", "{root}/text.txt"], "text.txt"),
        # train: --set
        (T + ["--set", "nokey=1"], "nokey"),
        (T + ["--set", "train.batch_size=abc"], "train.batch_size"),
        (T + ["--set", "train.batch_size"], "KEY=VALUE"),
        (T + ["--set", "train.loss=nope"], "train.loss"),
        (T + ["--set", "model.arch=nope"], "model.arch"),
        (T + ["--set", "train.amp=nope"], "train.amp"),
        (T + ["--set", "remedies.spectral_norm=g"], "remedies.spectral_norm"),
        # train: counts and sizes
        (T + ["--batch-size", "0"], "train.batch_size"),
        (T + ["--batch-size", "-3"], "train.batch_size"),
        (T + ["--iterations", "-1"], "train.iterations"),
        (T + ["--lr", "0"], "learning rates"),
        (T + ["--latent-dim", "0"], "model.latent_dim"),
        (T + ["--log-every", "0"], "train.log_every"),
        (T + ["--resolution", "48"], "resolution"),
        (T + ["--device", "banana"], "banana"),
        (T + ["--batch-size", "x"], "--batch-size"),
        (["train"], "--out"),
        (["train", "--out", "/proc/nope", "--data", "shapes"], "/proc/nope"),
        # generate
        (["generate", "--checkpoint", "/no/such/run", "-n", "1", "--out", "{out}"], "/no/such/run"),
        (["generate", "--checkpoint", "/etc/passwd", "-n", "1", "--out", "{out}"], "/etc/passwd"),
        (["generate", "--checkpoint", "{root}/text.txt", "-n", "1", "--out", "{out}"], "text.txt"),
        (["generate", "--checkpoint", "{root}/empty", "-n", "1", "--out", "{out}"], "empty"),
        (G + ["-n", "0"], "-n"),
        (G + ["-n", "-5"], "-n"),
        (["generate", "--checkpoint", "{run}", "-n", "1", "--out", "/proc/nope"], "/proc/nope"),
        (["generate", "--model", "{root}/text.txt", "-n", "1", "--out", "{out}"], "text.txt"),
        (G + ["--which", "nope"], "--which"),
        (["generate", "--timelapse", "--out", "{out}"], "needs a RUN"),
        (G + ["--frames", "0", "--interpolate", "3"], "--frames"),
        # export
        (["export", "{run}", "--format", "nope", "--out", "{out}"], "--format"),
        (["export", "{run}", "--format", "onnx", "--out", "/proc/nope"], "/proc/nope"),
        (["export", "/no/such/run", "--format", "onnx", "--out", "{out}"], "/no/such/run"),
        (["export", "{root}/text.txt", "--format", "safetensors", "--out", "{out}"], "text.txt"),
        # report, watch, eval, summary
        (["report", "/no/such/run"], "/no/such/run"),
        (["report", "{root}/empty"], "empty"),
        (["watch", "/no/such/run"], "/no/such/run"),
        (["eval", "--checkpoint", "/no/such/run"], "/no/such/run"),
        (["eval", "--checkpoint", "{run}", "--metrics", "nope", "-n", "10", "--out", "{out}"], "nope"),
        (["eval", "--checkpoint", "{run}", "-n", "0", "--out", "{out}"], "-n"),
        (["eval", "--checkpoint", "{run}", "--data", "/no/such/data", "-n", "10", "--out", "{out}"], "/no/such/data"),
        (["summary", "--preset", "nope"], "nope"),
        (["summary", "--resolution", "48"], "48"),
        (["summary", "--set", "model.arch=nope"], "model.arch"),
        # benchmarks, sweeps, the study, import
        (["bench", "toy2d", "--dataset", "moon"], "toy2d datasets: ring, grid or both, not moon"),
        (["bench", "toy2d", "--jobs", "0"], "--jobs: must be at least 1"),
        (["bench", "toy2d", "--set", "remedies.minibatch_std=4"], "not available for toy2d's networks"),
        (["bench", "nope"], "nope"),
        (["sweep", "--dataset", "moon", "--out", "{out}"], "moon"),
        (["sweep", "--trials", "0", "--out", "{out}"], "--trials"),
        (["study", "--data", "moon", "--out", "{out}"], "moon"),
        (["import-keras", "--generator", "/no/such/g.keras", "--out", "{out}"], "/no/such/g.keras"),
        (["import-keras", "--generator", "{root}/text.txt", "--out", "{out}"], "text.txt"),
        (["nope"], "nope"),
        # arguments checked before any work
        (T + ["--iterations", "0"], "train.iterations must be at least 1"),
        (T + ["--set", "train.amp=bf17"], "train.amp = 'bf17' is not one of: off, bf16, fp16, auto"),
        (T + ["--set", "optim.beta1=1.5"], "optim.beta1 must be in [0.0, 1.0)"),
        (T + ["--set", "remedies.r1_gamma=-1"], "remedies.r1_gamma must be at least 0"),
        (T + ["--set", "remedies.label_smoothing=1"], "remedies.label_smoothing"),
        (T + ["--set", "model.dcgan.upsample=bicubic"], "model.dcgan.upsample"),
        (T + ["--set", "train.procedure=nope"], "train.procedure"),
        (T + ["--set", "train.max_minutes=-1"], "train.max_minutes"),
        (T + ["--set", "data.workers=-2"], "data.workers"),
        (T + ["--set", "optim.lr_decay=2"], "optim.lr_decay"),
        (G + ["-n", "10000000000"], "GiB free"),
        (G + ["-n", "5000", "--grid"], "--grid"),
        (["watch", "{run}", "--port", "99999"], "argument --port: a port is a number from 0 to 65535"),
        (["watch", "{run}", "--port", "-1"], "argument --port: must be at least 0"),
        (["watch", "{run}", "--host", "localhots.invalid"], "host localhots.invalid"),
        (["report", "{run}", "--out", "{root}"], "a folder"),
        (["report", "{run}", "--out", "/proc/nope/report.html"], "/proc/nope"),
        (["report", "{run}", "--which", "best"], "no best checkpoint"),
        (["eval", "--checkpoint", "{run}", "-n", "10", "--out", "{root}"], "a folder"),
        (["eval", "--checkpoint", "{run}", "-n", "10", "--out", "/proc/nope/e.json"], "/proc/nope"),
        (["eval", "--checkpoint", "{run}", "--which", "best", "-n", "10", "--out", "{out}/e.json"], "no best checkpoint"),
        (["export", "{run}", "--which", "best", "--format", "onnx", "--out", "{out}"], "no best checkpoint"),
        (["summary", "--set", "optim.beta2=1"], "optim.beta2"),
    ]


CASES = _cases()


def test_the_table_has_at_least_forty_wrong_invocations():
    assert len(CASES) >= 40


@pytest.mark.parametrize("argv, names", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_wrong_invocation_is_one_line_exit_2_and_writes_nothing(argv, names, files, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [a.format(root=files, run=files / "run", out=out) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("ganforge: error: "), err
    assert names.format(root=files) in lines[0], err
    assert not out.exists() or not any(out.rglob("*")), f"{out} has {list(out.rglob('*'))}"
    assert not [p for p in files.rglob("*") if "partial" in p.name or ".tmp" in p.name]  # no stray half-written file


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(["train.batch_size", "optim.lr_d", "train.loss", "model.r3.width", "remedies.ema_half_life", "nope.x",
                            "train", "model.seed.double_bn"]) | st.text(max_size=20),
       value=st.text(max_size=20))
def test_any_set_text_gives_a_valid_config_or_a_clear_error(key, value):
    try:
        config = load_config("seed", overrides={key: value})
    except GanforgeError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return
    assert config.train.batch_size >= 0  # a config came back


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200), suffix=st.sampled_from([".toml", ".json"]))
def test_any_config_file_text_gives_a_valid_config_or_a_clear_error(text, suffix, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / f"settings{suffix}"
    path.write_text(text)
    try:
        load_config("seed", config_file=path)
    except GanforgeError as exc:
        assert path.name in str(exc)


def test_a_bug_is_one_line_naming_it_and_debug_in_any_position_shows_the_traceback(monkeypatch, capsys):
    import ganforge.cli as cli

    def broken(args):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setitem(cli.COMMANDS, "presets", broken)
    assert main(["presets"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ganforge: internal error: ZeroDivisionError: division by zero (rerun with --debug for the traceback)"]
    for argv in (["--debug", "presets"], ["presets", "--debug"]):
        with pytest.raises(ZeroDivisionError):
            main(argv)


def test_a_closed_pipe_ends_quietly():
    """`ganforge summary | head -c 10`: the reader leaves early; no BrokenPipeError traceback, SIGPIPE's exit status."""
    import subprocess
    import sys

    run = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m ganforge summary | head -c 10"],
                         capture_output=True, text=True, timeout=120)
    assert run.stdout and run.stderr == "" and run.returncode == 141


def test_version_names_the_installed_package(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"ganforge {version('ganforge')}"
