"""`ganforge sweep`: how sensitive is a preset to its hyperparameters? A random search with Optuna on the toy2d
benchmark, stored in SQLite (rerun the same command to add trials), and a Markdown report with PNG plots:
each preset's success rate across the search and which hyperparameters matter most."""
import itertools
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import load_config
from .errors import GanforgeError
from .toy2d import mixture, train_one

BETA1S = [0.0, 0.05, 0.5, 0.9]
BATCHES = [32, 64, 128, 256]
LR_RANGE = (1e-5, 1e-3)


@dataclass(frozen=True)
class Success:
    """grid: >= 24 of 25 modes and >= 90% high quality (issue 4); ring: all 8 modes and >= 90%."""

    min_modes: int
    min_quality: float = 0.9


SUCCESS = {"grid": Success(24), "ring": Success(8)}


def _optuna():
    try:
        import optuna
    except ImportError as exc:
        raise GanforgeError("ganforge sweep needs Optuna: pip install 'ganforge[sweep]'") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _objective(preset: str, dataset: str, iterations: int, space: str, stream_seed: int):
    """Trials drawn from one worker's stream. Each trial's training seed comes from the same stream (not from
    the trial's number, which parallel workers take in whatever order they finish), so a rerun pairs each
    point with the same seed."""
    base = load_config(preset, toy2d=True)
    success = SUCCESS[dataset]
    drawn = itertools.count()

    def objective(trial) -> float:
        training_seed = int(np.random.SeedSequence([stream_seed, next(drawn)]).generate_state(1)[0])
        lr = trial.suggest_float("lr", *LR_RANGE, log=True)
        beta1 = trial.suggest_categorical("beta1", BETA1S)
        batch = trial.suggest_categorical("batch", BATCHES)
        changes = {}
        if space == "extended":  # the loss and the remedies' weights too
            changes["train.loss"] = trial.suggest_categorical("loss", ["keras_bce", "logistic", "hinge", "lsgan"])
            changes["remedies.r1_gamma"] = trial.suggest_float("r1_gamma", 1e-3, 10.0, log=True)
            changes["remedies.ema_half_life"] = trial.suggest_categorical("ema_half_life", [0.0, 1e3, 1e4, 1e5])
        config = base.merged(changes, "sweep") if changes else base
        result = train_one(config, dataset, seed=training_seed, iterations=iterations, lr=lr, beta1=beta1, batch=batch)
        trial.set_user_attr("training_seed", training_seed)
        ok = result.modes_covered >= success.min_modes and result.high_quality >= success.min_quality
        trial.set_user_attr("modes", result.modes_covered)
        trial.set_user_attr("high_quality", result.high_quality)
        trial.set_user_attr("reverse_kl", result.reverse_kl)
        trial.set_user_attr("success", ok)
        # One number to rank trials by: the fraction of modes covered times the fraction of good samples.
        return result.modes_covered / result.num_modes * result.high_quality

    return objective


def _study_name(preset: str, dataset: str, space: str, iterations: int) -> str:
    return f"{preset}-{dataset}-{space}-{iterations}"


def _run_trials(preset: str, dataset: str, iterations: int, space: str, url: str, count: int, sampler_seed: int, threads: int) -> None:
    """One worker: `count` more trials of the preset's study. Workers share the study through its SQLite storage.
    threads: PyTorch's CPU threads in this worker (0: leave as is)."""
    import torch

    optuna = _optuna()
    if threads:
        torch.set_num_threads(threads)
    study = optuna.load_study(study_name=_study_name(preset, dataset, space, iterations), storage=url,
                              sampler=optuna.samplers.RandomSampler(seed=sampler_seed))

    def report(study, trial):
        a = trial.user_attrs
        print(f"{preset} trial {trial.number}: {trial.params} -> {a['modes']} modes, {100 * a['high_quality']:.1f}% high quality"
              f"{' (success)' if a['success'] else ''}", flush=True)

    study.optimize(_objective(preset, dataset, iterations, space, sampler_seed), n_trials=count, callbacks=[report])


def run_sweep(presets: list[str], dataset: str, trials: int, iterations: int, storage: Path, out_dir: Path,
              space: str = "goal", seed: int = 0, jobs: int = 1, log=print) -> Path:
    """Bring each preset's study to `trials` finished trials (resuming what the storage holds), then write the report.
    jobs > 1: that many worker processes, one CPU thread each, share the trials."""
    optuna = _optuna()
    if dataset not in SUCCESS:
        raise GanforgeError(f"unknown toy dataset {dataset!r}; choose one of: {', '.join(SUCCESS)}")
    if space not in ("goal", "extended"):
        raise GanforgeError(f"--space {space!r}: choose goal (lr, beta1, batch) or extended (also loss and remedy weights)")
    if jobs < 1:
        raise GanforgeError("--jobs must be at least 1")
    mixture(dataset)
    storage.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{storage.resolve()}"
    studies = {}
    for preset in presets:
        load_config(preset)  # unknown presets fail before any work
        study = optuna.create_study(study_name=_study_name(preset, dataset, space, iterations), storage=url, load_if_exists=True,
                                    direction="maximize")
        finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        needed = trials - len(finished)
        if needed > 0:
            log(f"{preset}: {len(finished)} trials stored, running {needed} more ({iterations} iterations each"
                f"{f', {jobs} processes' if jobs > 1 else ''})")
            # Each worker's random stream is new: seeded by the trials already stored, so a resumed search
            # does not draw its first trials' hyperparameters again.
            shares = [needed // jobs + (k < needed % jobs) for k in range(min(jobs, needed))]
            runs = [(preset, dataset, iterations, space, url, share, seed * 1_000_003 + len(study.trials) * 1009 + k, 1 if jobs > 1 else 0)
                    for k, share in enumerate(shares)]
            if len(runs) == 1:
                _run_trials(*runs[0])
            else:
                import multiprocessing

                with multiprocessing.get_context("spawn").Pool(len(runs)) as pool:
                    pool.starmap(_run_trials, runs)
            study = optuna.load_study(study_name=study.study_name, storage=url)
        studies[preset] = study
    return write_report(studies, dataset, iterations, out_dir)


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
