"""`ganforge sweep`: how sensitive is a preset to its hyperparameters? A random search with Optuna on the toy2d
benchmark, stored in SQLite (rerun the same command to add trials), and a Markdown report with PNG plots:
each preset's success rate across the search and which hyperparameters matter most."""
import contextlib
import multiprocessing
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import load_config
from ..errors import GanforgeError
from .toy2d import mixture, train_one

BETA1S = [0.0, 0.05, 0.5, 0.9]
BATCHES = [32, 64, 128, 256]
LR_RANGE = (1e-5, 1e-3)


@dataclass(frozen=True)
class Success:
    """grid: >= 24 of 25 modes and >= 90% high quality (the goal docs/results.md#hyperparameter-sensitivity states); ring: all 8 modes and >= 90%."""

    min_modes: int
    min_quality: float = 0.9


SUCCESS = {"grid": Success(24), "ring": Success(8)}


def _optuna():
    try:
        import optuna
    except ImportError as exc:
        raise GanforgeError("ganforge sweep needs Optuna: pip install -e '.[sweep]' in a ganforge checkout") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


# A trial's extra hyperparameters in the extended space, and the settings they change.
EXTENDED = {"loss": "train.loss", "r1_gamma": "remedies.r1_gamma", "ema_half_life": "remedies.ema_half_life"}


@dataclass(frozen=True)
class Point:
    """One drawn trial: its hyperparameters, their search distributions and the seed its training run uses."""

    params: dict
    distributions: dict
    training_seed: int


def _suggest(trial, space: str) -> None:
    trial.suggest_float("lr", *LR_RANGE, log=True)
    trial.suggest_categorical("beta1", BETA1S)
    trial.suggest_categorical("batch", BATCHES)
    if space == "extended":  # the loss and the remedies' weights too
        trial.suggest_categorical("loss", ["keras_torch_bce", "logistic", "hinge", "lsgan"])
        trial.suggest_float("r1_gamma", 1e-3, 10.0, log=True)
        trial.suggest_categorical("ema_half_life", [0.0, 1e3, 1e4, 1e5])


def _draw(space: str, count: int, stream_seed: int) -> list[Point]:
    """`count` points from one seeded random stream, each with a training seed from the same stream: a rerun
    draws the same points and pairs each with the same seed, whichever process runs which. (run_sweep draws
    from one stream per worker's share, so --jobs does change the points after the first stream's.)"""
    optuna = _optuna()
    draws = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=stream_seed))  # in memory: draws only
    points = []
    for n in range(count):
        trial = draws.ask()
        _suggest(trial, space)
        draws.tell(trial, 0.0)
        seed = int(np.random.SeedSequence([stream_seed, n]).generate_state(1)[0])
        points.append(Point(trial.params, trial.distributions, seed))
    return points


def _plan(space: str, trials: int, jobs: int, seed: int) -> list[Point]:
    """A sweep's first `trials` points: `jobs` random streams, each read in order. A larger --trials reads every
    stream further, so it keeps the points before; a killed sweep, rerun, finds the points it had not finished."""
    shares = [trials // jobs + (k < trials % jobs) for k in range(min(jobs, trials))]
    return [point for k, share in enumerate(shares) for point in _draw(space, share, seed * 1_000_003 + k)]


def _key(params: dict, training_seed: int) -> tuple:
    return tuple(sorted(params.items())), training_seed


def _train_point(preset: str, dataset: str, iterations: int, point: Point, overrides: dict) -> dict:
    """One trial's toy2d run (one CPU thread); returns what the study stores with it."""
    p = point.params
    changes = {**overrides, **{key: p[name] for name, key in EXTENDED.items() if name in p}}
    config = load_config(preset, overrides={**changes, "model.arch": "toy2d"})
    result = train_one(config, dataset, seed=point.training_seed, iterations=iterations, lr=p["lr"], beta1=p["beta1"], batch=p["batch"])
    success = SUCCESS[dataset]
    return {"training_seed": point.training_seed, "modes": result.modes_covered, "high_quality": result.high_quality,
            "reverse_kl": result.reverse_kl,
            "success": result.modes_covered >= success.min_modes and result.high_quality >= success.min_quality,
            # One number to rank trials by: the fraction of modes covered times the fraction of good samples.
            "value": result.modes_covered / result.num_modes * result.high_quality}


def _say(line: str) -> None:
    print(line, flush=True)  # progress lines as trials finish, also when stdout is a file


def _label(preset: str, overrides: dict) -> str:
    """The preset, with any --set changes: a study per variant, never two variants' trials in one."""
    return " ".join([preset, *(f"{key}={value}" for key, value in sorted(overrides.items()))])


def _study_name(preset: str, dataset: str, space: str, iterations: int, overrides: dict | None = None) -> str:
    return f"{_label(preset, overrides or {}).replace(' ', '+')}-{dataset}-{space}-{iterations}"


def run_sweep(presets: list[str], dataset: str, trials: int, iterations: int, storage: Path, out_dir: Path,
              space: str = "goal", seed: int = 0, jobs: int = 1, log=_say, overrides: dict | None = None) -> Path:
    """Bring each preset's study to `trials` finished trials (resuming what the storage holds), then write the report.
    jobs > 1: that many worker processes, one CPU thread each, take the drawn trials largest batch first (a
    batch-256 trial costs about 4x a batch-32 one), and this process stores each as it finishes.
    overrides: settings laid over every preset (`--set`), in a study of their own."""
    optuna = _optuna()
    if dataset not in SUCCESS:
        raise GanforgeError(f"unknown toy dataset {dataset!r}; choose one of: {', '.join(SUCCESS)}")
    if space not in ("goal", "extended"):
        raise GanforgeError(f"search space {space!r}: choose goal (lr, beta1, batch) or extended (also loss and remedy weights)")
    if jobs < 1:
        raise GanforgeError("jobs must be at least 1")
    mixture(dataset)
    storage.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{storage.resolve()}"
    studies = {}
    for preset in presets:
        overrides = overrides or {}
        load_config(preset, overrides={**overrides, "model.arch": "toy2d"})  # unknown presets and settings fail before any work
        study = optuna.create_study(study_name=_study_name(preset, dataset, space, iterations, overrides), storage=url, load_if_exists=True,
                                    direction="maximize")
        finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        needed = trials - len(finished)
        if needed > 0:
            log(f"{_label(preset, overrides)}: {len(finished)} trials stored, running {needed} more ({iterations} iterations each"
                f"{f', {jobs} processes' if jobs > 1 else ''})")
            stored = {_key(t.params, t.user_attrs["training_seed"]) for t in finished}
            points = [p for p in _plan(space, trials, jobs, seed) if _key(p.params, p.training_seed) not in stored][:needed]
            points.sort(key=lambda point: -point.params["batch"])
            runs = [(preset, dataset, iterations, point, overrides) for point in points]
            with multiprocessing.get_context("spawn").Pool(min(jobs, len(runs))) if jobs > 1 else contextlib.nullcontext() as pool:
                outcomes = pool.imap_unordered(_train_point_star, runs) if pool else map(_train_point_star, runs)
                for point, attrs in outcomes:
                    value = attrs.pop("value")
                    study.add_trial(optuna.trial.create_trial(params=point.params, distributions=point.distributions,
                                                              value=value, user_attrs=attrs))
                    log(f"{_label(preset, overrides)} trial {len(study.trials) - 1}: {point.params} -> {attrs['modes']} modes, "
                        f"{100 * attrs['high_quality']:.1f}% high quality{' (success)' if attrs['success'] else ''}")
        studies[_label(preset, overrides)] = study
    return write_report(studies, dataset, iterations, out_dir)


def _train_point_star(run: tuple) -> tuple[Point, dict]:
    return run[3], _train_point(*run)


def _importances(study) -> dict[str, float]:
    optuna = _optuna()
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(finished) < 4 or len({t.value for t in finished}) < 2:
        return {}
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return optuna.importance.get_param_importances(study, evaluator=evaluator)
    except ImportError:  # fANOVA needs scikit-learn; PED-ANOVA does not
        return optuna.importance.get_param_importances(study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())


def _trial_table(preset: str, finished: list) -> list[str]:
    """Every trial, by learning rate: where in the space a preset fails is what a rate alone hides."""
    lines = [f"## {preset}: every trial, by learning rate", "", "| lr | beta1 | batch | modes | high quality | reverse KL | success |",
             "|---|---|---|---|---|---|---|"]
    for t in sorted(finished, key=lambda t: t.params["lr"]):
        a = t.user_attrs
        lines.append(f"| {t.params['lr']:.2e} | {t.params['beta1']} | {t.params['batch']} | {a['modes']} | {100 * a['high_quality']:.1f}% "
                     f"| {a['reverse_kl']:.3f} | {'yes' if a['success'] else 'no'} |")
    return [*lines, ""]


def write_report(studies: dict, dataset: str, iterations: int, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    optuna = _optuna()
    out_dir.mkdir(parents=True, exist_ok=True)
    rule = SUCCESS[dataset]
    lines = [f"# Hyperparameter sensitivity on toy2d {dataset}", "",
             f"Random search: lr log-uniform in [{LR_RANGE[0]:g}, {LR_RANGE[1]:g}], beta1 in {BETA1S}, batch in {BATCHES}. "
             f"{iterations:,} training iterations per trial. "
             f"Success: >= {rule.min_modes} modes and >= {100 * rule.min_quality:.0f}% high-quality samples.", "",
             f"| preset | trials | success rate | >= {rule.min_modes} modes | median high quality | best trial (modes, high quality) "
             "| hyperparameters that matter most |", "|---|---|---|---|---|---|---|"]
    fig, axes = plt.subplots(1, len(studies), figsize=(5 * len(studies), 4), squeeze=False)
    for ax, (preset, study) in zip(axes[0], studies.items()):
        finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        wins = sum(bool(t.user_attrs.get("success")) for t in finished)
        best = max(finished, key=lambda t: t.value) if finished else None
        ranked = _importances(study)
        matter = ", ".join(f"{name} {share:.2f}" for name, share in ranked.items()) or "too few trials"
        best_text = f"{best.user_attrs['modes']}, {100 * best.user_attrs['high_quality']:.1f}% ({best.params})" if best else "-"
        rate = f"{wins}/{len(finished)} = {wins / len(finished):.0%}" if finished else "-"
        covering = sum(t.user_attrs["modes"] >= rule.min_modes for t in finished)
        covering_rate = f"{covering}/{len(finished)} = {covering / len(finished):.0%}" if finished else "-"
        median_quality = f"{100 * statistics.median(t.user_attrs['high_quality'] for t in finished):.1f}%" if finished else "-"
        lines.append(f"| {preset} | {len(finished)} | {rate} | {covering_rate} | {median_quality} | {best_text} | {matter} |")
        for t in finished:
            ax.scatter(t.params["lr"], t.user_attrs["modes"], c="tab:green" if t.user_attrs["success"] else "tab:red",
                       s=12 + 40 * t.user_attrs["high_quality"], alpha=0.7)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("modes covered")
        ax.set_title(f"{preset}: green = success, size = % high quality")
        ax.axhline(rule.min_modes, color="gray", lw=0.5)
    fig.tight_layout()
    fig.savefig(out_dir / "sweep.png", dpi=100)
    plt.close(fig)
    lines += ["", "![modes covered against learning rate, per trial](sweep.png)", ""]
    for preset, study in studies.items():
        lines += _trial_table(preset, [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE])
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    return report
