"""The command line: parsing only. Each command calls one function of the package."""
import argparse
import os
import sys
import time
from pathlib import Path

from .errors import GanforgeError, output_file

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
EXIT_BROKEN_PIPE = 141  # what a shell reports for a program ended by SIGPIPE

# flag -> dotted config key; None means the flag is not set
TRAIN_FLAGS = {
    "data": "data.source",
    "resolution": "model.resolution",
    "latent_dim": "model.latent_dim",
    "batch_size": "train.batch_size",
    "iterations": "train.iterations",
    "lr_d": "optim.lr_d",
    "lr_g": "optim.lr_g",
    "beta1": "optim.beta1",
    "seed": "train.seed",
    "device": "train.device",
    "sample_every": "train.sample_every",
    "checkpoint_every": "train.checkpoint_every",
    "log_every": "train.log_every",
    "keep_checkpoints": "train.keep_checkpoints",
    "workers": "data.workers",
    "cache_dir": "data.cache_dir",
}


class _Parser(argparse.ArgumentParser):
    """argparse's errors as every other ganforge error: one line, exit code 2 (its usage block is one --help away)."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"ganforge: error: {message} (see {self.prog} --help)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ganforge")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ganforge", description="Train, evaluate and diagnose image GANs.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks (in any position)")
    parser.add_argument("--version", action="version", version=f"ganforge {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a GAN (rerun the same command to resume)")
    train.add_argument("--data", help="a folder of images, a .zip, or a built-in dataset: shapes (default), emoji")
    train.add_argument("--preset", help="named settings (see `ganforge presets`); default: demo, the best measured "
                       "(seed: the seed's GAN exactly)")
    train.add_argument("--config", help="a TOML or JSON file of settings laid over the preset")
    train.add_argument("--out", required=True, help="run folder; an existing run there is resumed")
    train.add_argument("--resolution", type=int, help="32, 64, 128 (the seed's) or 256")
    train.add_argument("--latent-dim", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--iterations", type=int)
    train.add_argument("--lr", type=float, help="both learning rates")
    train.add_argument("--lr-d", type=float)
    train.add_argument("--lr-g", type=float)
    train.add_argument("--beta1", type=float)
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    train.add_argument("--flip", action="store_true", default=None, help="random horizontal flips")
    train.add_argument("--sample-every", type=int)
    train.add_argument("--checkpoint-every", type=int)
    train.add_argument("--log-every", type=int)
    train.add_argument("--keep-checkpoints", type=int)
    train.add_argument("--workers", type=int, help="decode processes for a folder's first pass (0 = all cores)")
    train.add_argument("--cache-dir")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any setting, e.g. --set optim.beta2=0.99")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    gen = commands.add_parser("generate", help="sample images from a checkpoint")
    source = gen.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a run folder (its latest checkpoint) or a checkpoint file")
    source.add_argument("--model", help="a generator exported with `ganforge export --format safetensors`")
    gen.add_argument("-n", type=int, default=64, help="how many images")
    gen.add_argument("--out", required=True, help="folder for the PNGs")
    gen.add_argument("--grid", action="store_true", help="one grid.png instead of one file per image")
    gen.add_argument("--which", default="last", choices=["last", "best"], help="a run folder's latest checkpoint or its best.pt (train.best_every)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--device", default="auto")
    gen.add_argument("--interpolate", type=int, metavar="K", help="a latent walk through K random z (spherical interpolation): "
                                                                   "interpolation.png and interpolation.gif")
    gen.add_argument("--frames", type=int, default=16, help="frames between two z of --interpolate")
    gen.add_argument("--timelapse", action="store_true", help="the run's fixed-noise grids as timelapse.gif")

    export = commands.add_parser("export", help="write a run's generator as safetensors or ONNX, for use without ganforge")
    export.add_argument("run", help="a run folder (its latest checkpoint) or a checkpoint file")
    export.add_argument("--format", required=True, help="safetensors or onnx")
    export.add_argument("--which", default="last", choices=["last", "best"], help="a run folder's latest checkpoint or its best.pt (train.best_every)")
    export.add_argument("--out", required=True, help="folder for generator.safetensors / generator.onnx")

    report = commands.add_parser("report", help="write RUN/report.html: one self-contained page of a run, finished or not")
    report.add_argument("run", help="a run folder")
    report.add_argument("--which", default="last", choices=["last", "best"], help="a run folder's latest checkpoint or its best.pt (train.best_every)")
    report.add_argument("--out", help="the HTML file; default RUN/report.html")

    watch = commands.add_parser("watch", help="show a run in the browser while it trains (a local page, updated live)")
    watch.add_argument("run", help="a run folder")
    watch.add_argument("--port", type=int, default=8000)
    watch.add_argument("--host", default="127.0.0.1", help="127.0.0.1: this machine only; 0.0.0.0 exposes it to the network")

    summary = commands.add_parser("summary", help="print the networks' layers, output shapes and parameter counts")
    summary.add_argument("--preset", default="seed")
    summary.add_argument("--resolution", type=int)
    summary.add_argument("--latent-dim", type=int)
    summary.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any setting, e.g. --set model.arch=r3")

    imp = commands.add_parser("import-keras", help="turn a seed user's Keras models into a ganforge run")
    imp.add_argument("--generator", required=True, help="G saved by Keras (.keras or .h5)")
    imp.add_argument("--discriminator", help="D saved by Keras (.keras or .h5); a fresh D if left out")
    imp.add_argument("--out", required=True, help="run folder to create")

    ev = commands.add_parser("eval", help="score a checkpoint's samples against real data")
    scored = ev.add_mutually_exclusive_group(required=True)
    scored.add_argument("--checkpoint", help="a run folder (its latest checkpoint) or a checkpoint file")
    scored.add_argument("--samples", help="a folder of images made by anything, scored as a checkpoint's samples are (needs --data)")
    ev.add_argument("--data", help="real data to compare with; default: the run's own")
    ev.add_argument("--metrics", help="comma-separated from fid, fd, kid, pr, dc, modes; default: fd,kid,pr,dc,modes on shapes, "
                                      "fid,kid,pr,dc elsewhere")
    ev.add_argument("--inception-weights", help="the FID Inception weights file (pt_inception-2015-12-05-6726825d.pth); "
                                                "default: the torch hub cache, else a download")
    ev.add_argument("--which", default="last", choices=["last", "best"], help="a run folder's latest checkpoint or its best.pt (train.best_every)")
    ev.add_argument("-n", type=int, default=10000, help="generated (and real) samples")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="auto")
    ev.add_argument("--out", help="JSON file for the results; default RUN/eval-STEP.json")

    bench = commands.add_parser("bench", help="benchmarks with ground truth")
    bench.add_argument("name", choices=["toy2d"], help="toy2d: PacGAN's 2-D mode-collapse benchmark")
    bench.add_argument("--dataset", default="ring,grid", help="ring, grid, or both comma-separated")
    bench.add_argument("--preset", default="seed")
    bench.add_argument("--seeds", type=int, default=5)
    bench.add_argument("--iterations", type=int, default=10000)
    bench.add_argument("--jobs", type=int, default=1, help="worker processes sharing the runs, one CPU thread each")
    bench.add_argument("--frames", metavar="DIR", help="record GAN Lab-style frames: one run folder per dataset and seed, "
                                                      "each with report.html (ganforge watch DIR/grid-seed0 shows one live)")
    bench.add_argument("--frame-every", type=int, default=500, help="iterations between frames")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting laid over the preset, e.g. --set optim.lr_decay=0")

    sweep = commands.add_parser("sweep", help="hyperparameter sensitivity: a random search on toy2d, with a report")
    sweep.add_argument("--preset", default="seed", help="one preset or several, comma-separated (e.g. seed,stable)")
    sweep.add_argument("--dataset", default="grid", help="ring or grid")
    sweep.add_argument("--trials", type=int, default=20, help="finished trials per preset (stored ones count)")
    sweep.add_argument("--iterations", type=int, default=5000, help="training iterations per trial")
    sweep.add_argument("--space", default="goal", help="goal: lr, beta1, batch; extended: also loss, R1 gamma, EMA")
    sweep.add_argument("--out", default="runs/sweep", help="folder for sweep.db, report.md and sweep.png")
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--jobs", type=int, default=1, help="worker processes sharing the trials, one CPU thread each "
                       "(the points are drawn from one random stream per worker: keep --jobs to repeat a sweep)")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting laid over every preset (its own study)")

    from .bench.study import Budget

    study = commands.add_parser("study", help="the seed's study: which of its choices causes which of its problems")
    study.add_argument("--out", default="runs/seed-study", help="folder for cells/, runs/, study.md and study.html")
    study.add_argument("--jobs", type=int, default=1, help="worker processes, one CPU thread each")
    study.add_argument("--data", default="grid,ring,shapes", help="comma-separated from grid, ring, shapes")
    study.add_argument("--variants", default="", help="semicolon-separated variant names (default: all; each switch brings its base)")
    study.add_argument("--toy-iterations", type=int, default=Budget.toy_iterations)
    study.add_argument("--toy-seeds", type=int, default=Budget.toy_seeds)
    study.add_argument("--shapes-iterations", type=int, default=Budget.shapes_iterations)
    study.add_argument("--shapes-seeds", type=int, default=Budget.shapes_seeds)
    study.add_argument("--shapes-size", type=int, default=Budget.shapes_size, help="images in the shapes dataset")
    study.add_argument("-n", "--samples", type=int, default=Budget.samples, help="samples scored per shapes run")
    study.add_argument("--no-sensitivity", action="store_true", help="skip the lr x beta1 grid on toy2d")

    commands.add_parser("presets", help="list the presets")
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    values = {key: getattr(args, flag) for flag, key in TRAIN_FLAGS.items() if getattr(args, flag, None) is not None}
    if getattr(args, "lr", None) is not None:
        values.setdefault("optim.lr_d", args.lr)
        values.setdefault("optim.lr_g", args.lr)
    if getattr(args, "flip", None):
        values["data.flip"] = True
    return {**values, **_set_items(getattr(args, "set", []))}


def _set_items(items: list[str]) -> dict:
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise GanforgeError(f"--set {item!r}: expected KEY=VALUE")
        values[key.strip()] = value.strip()
    return values


def cmd_train(args) -> None:
    from .config import load_config
    from .train.loop import train
    from .web.report import write_report

    from .config import DEFAULT_PRESET

    preset = args.preset or DEFAULT_PRESET
    config = load_config(preset, args.config, _overrides(args))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, the first process talks
        print(f"preset {preset}" + (" (the seed's GAN exactly)" if preset == "seed" else
                                    "" if args.preset else " (the default: the best measured on real images; "
                                    "--preset seed is the seed's GAN exactly)"), flush=True)
    started = time.perf_counter()
    result = train(config, args.out, progress=not args.no_progress)
    if not result.main_process:
        return  # under torchrun, the first process reports
    print(f"done: {result.step} iterations in {time.perf_counter() - started:.0f} s; skipped images: {result.skipped_images}")
    print(f"checkpoint:  {result.last_checkpoint}")
    print(f"sample grid: {result.sample_grid}")
    if result.loss_plot:
        print(f"loss plot:   {result.loss_plot}")
    print(f"report:      {write_report(result.run_dir)} (open it in a browser)")


def cmd_generate(args) -> None:
    from .sampling.generate import generate
    from .device import resolve_device

    if args.timelapse:
        from .sampling.animate import timelapse

        if not args.checkpoint:
            raise GanforgeError("--timelapse needs --checkpoint RUN: the grids are the run's")
        from .run_folder import run_dir_of

        print(f"wrote {timelapse(run_dir_of(Path(args.checkpoint)), Path(args.out) / 'timelapse.gif')}")
        return
    if args.interpolate is not None:
        from .sampling.animate import interpolate

        paths = interpolate(_generator_source(args), args.interpolate, args.out, args.frames, args.seed, resolve_device(args.device))
        print("wrote " + " and ".join(map(str, paths)))
        return
    path = generate(_generator_source(args), args.n, args.out, seed=args.seed, grid=args.grid, device=resolve_device(args.device))
    print(f"wrote {path}" if args.grid or args.n == 1 else f"wrote {args.n} images to {args.out} ({path.name} ...)")


def _generator_source(args) -> Path:
    from .checkpoint import resolve_checkpoint

    if args.model:
        if args.which != "last":
            raise GanforgeError("--which picks a run folder's checkpoint; --model is one exported generator")
        return Path(args.model)
    return resolve_checkpoint(args.checkpoint, args.which)


def cmd_export(args) -> None:
    from .sampling.export import export

    from .checkpoint import resolve_checkpoint

    path = export(resolve_checkpoint(args.run, args.which), args.format, args.out)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def cmd_report(args) -> None:
    from .web.report import write_report

    path = write_report(args.run, args.out, args.which)
    print(f"wrote {path} ({path.stat().st_size / 2**10:.0f} kB; it opens offline in any browser)")


def cmd_watch(args) -> None:
    from .web.watch import make_server

    server = make_server(args.run, args.host, args.port)
    host, port = server.server_address[:2]
    print(f"watching {args.run} at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def cmd_summary(args) -> None:
    import torch

    from .config import load_config
    from .summary import layer_table
    from .nets.registry import build_discriminator, build_generator

    values = {"model.resolution": args.resolution, "model.latent_dim": args.latent_dim}
    config = load_config(args.preset, overrides={**{k: v for k, v in values.items() if v is not None}, **_set_items(args.set)})
    generator, discriminator = build_generator(config), build_discriminator(config)
    r = config.model.resolution
    print(layer_table(generator, torch.zeros(2, config.model.latent_dim)))
    print()
    print(layer_table(discriminator, torch.zeros(2, 3, r, r)))


def cmd_import_keras(args) -> None:
    from .interop.keras import discriminator_from_keras, generator_from_keras, load_keras_model
    from .train.run_state import save_imported_run

    generator = generator_from_keras(load_keras_model(args.generator))
    discriminator = discriminator_from_keras(load_keras_model(args.discriminator)) if args.discriminator else None
    path = save_imported_run(Path(args.out), generator, discriminator)
    print(f"wrote {path}; `ganforge generate --checkpoint {args.out}` samples from it, `ganforge train --preset seed --out {args.out} ...` goes on training it with the seed's recipe")


def cmd_eval(args) -> None:
    from .metrics.evaluate import evaluate, format_table, write_json
    from .run_folder import evaluation_path, run_dir_of
    from .checkpoint import resolve_checkpoint
    from .device import resolve_device

    if args.n < 10:
        raise GanforgeError("-n must be at least 10")
    if args.out:
        output_file(args.out)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.samples:
        from .metrics.evaluate import evaluate_samples

        if not args.data:
            raise GanforgeError("--samples needs --data: the real images to compare them with (e.g. --data shapes)")
        results = evaluate_samples(args.samples, args.data, metrics, args.n, resolve_device(args.device), args.inception_weights)
        print(format_table(results))
        if args.out:
            print(f"wrote {write_json(results, Path(args.out))}")
        return
    checkpoint = resolve_checkpoint(args.checkpoint, args.which)
    results = evaluate(checkpoint, args.data, metrics, args.n, args.seed, resolve_device(args.device), args.inception_weights)
    print(format_table(results))
    out = Path(args.out) if args.out else evaluation_path(run_dir_of(checkpoint), results["checkpoint_step"])
    print(f"wrote {write_json(results, out)}")


def cmd_bench(args) -> None:
    from .config import load_config
    from .bench.toy2d import frame_folder, run_benchmark

    datasets = [d.strip() for d in args.dataset.split(",") if d.strip()]
    bad = [d for d in datasets if d not in ("ring", "grid")]
    if bad or not datasets:
        raise GanforgeError(f"--dataset must be ring, grid or both, not {args.dataset!r}")
    if args.seeds < 1 or args.iterations < 1:
        raise GanforgeError("--seeds and --iterations must be at least 1")
    overrides = _set_items(args.set)
    label = " ".join([args.preset, *(f"{k}={v}" for k, v in overrides.items())])
    frames = Path(args.frames) if args.frames else None
    print(run_benchmark(load_config(args.preset, toy2d=True, overrides=overrides), label, datasets, args.seeds, args.iterations, jobs=args.jobs,
                        frames=frames, frame_every=args.frame_every))
    if frames:
        from .web.report import write_report

        for dataset in datasets:
            for seed in range(args.seeds):
                write_report(frame_folder(frames, dataset, seed))
        print(f"frames and report.html: one run folder per dataset and seed in {frames}")


def cmd_sweep(args) -> None:
    from .bench.sweep import run_sweep

    if args.trials < 1 or args.iterations < 1:
        raise GanforgeError("--trials and --iterations must be at least 1")
    out = Path(args.out)
    presets = [p.strip() for p in args.preset.split(",") if p.strip()]
    report = run_sweep(presets, args.dataset, args.trials, args.iterations, out / "sweep.db", out, args.space, args.seed, args.jobs,
                        overrides=_set_items(args.set))
    print(report.read_text())
    print(f"report: {report}")


def cmd_study(args) -> None:
    from .bench.study import Budget, run_study
    from .bench.study_report import write_study

    counts = {"--toy-iterations": args.toy_iterations, "--toy-seeds": args.toy_seeds, "--shapes-iterations": args.shapes_iterations,
              "--shapes-seeds": args.shapes_seeds, "--shapes-size": args.shapes_size, "-n": args.samples}
    for flag, value in counts.items():
        if value < 1:
            raise GanforgeError(f"{flag} must be at least 1, not {value}")
    budget = Budget(args.toy_iterations, args.toy_seeds, args.shapes_iterations, args.shapes_seeds, args.shapes_size, args.samples,
                    datasets=tuple(d.strip() for d in args.data.split(",") if d.strip()),
                    **({"sensitivity": ()} if args.no_sensitivity else {}))
    only = [v.strip() for v in args.variants.split(";") if v.strip()] or None
    chosen, results = run_study(Path(args.out), budget, args.jobs, only)
    page = write_study(Path(args.out), budget, chosen, results)
    print((page.parent / "study.md").read_text())
    print(f"page: {page}")


def cmd_presets(args) -> None:
    from .config import preset_table

    table = preset_table()
    width = max(map(len, table))
    for name, settings in table.items():
        print(f"{name:<{width}}  {settings.get('about', '')}")


READ_ONLY_COMMANDS = {"presets", "report", "watch"}  # they read files and never import torch
COMMANDS = {"train": cmd_train, "generate": cmd_generate, "export": cmd_export, "report": cmd_report, "watch": cmd_watch, "eval": cmd_eval, "bench": cmd_bench, "summary": cmd_summary, "import-keras": cmd_import_keras, "sweep": cmd_sweep, "study": cmd_study, "presets": cmd_presets}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # in any position: before the command or after it
    args = _parser().parse_args([a for a in argv if a != "--debug"])
    if args.command not in READ_ONLY_COMMANDS:  # the others compute: MKL's mode is set before it first runs
        from .determinism import reproducible_mkl
        reproducible_mkl()
    try:
        COMMANDS[args.command](args)
    except GanforgeError as exc:
        if debug:
            raise
        print(f"ganforge: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `ganforge summary | head`: the reader has gone, and so has anyone to tell
        try:  # Python's own flush at exit must not fail on the closed pipe
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # a stdout with no descriptor (captured, replaced): nothing to flush into a pipe
            pass
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # a path the checks above did not foresee: still one line naming it
        if debug:
            raise
        if exc.filename is None:
            return _internal_error(exc)
        print(f"ganforge: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line, and the traceback one flag away
        if debug:
            raise
        return _internal_error(exc)
    return 0


def _internal_error(exc: Exception) -> int:
    first = (str(exc).splitlines() or [""])[0]
    print(f"ganforge: internal error: {type(exc).__name__}: {first} (rerun with --debug for the traceback)", file=sys.stderr)
    return EXIT_INTERNAL_ERROR
