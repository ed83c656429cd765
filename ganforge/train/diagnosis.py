"""Live diagnosis: the seed's three problems as one warning line each, with the iteration, what was seen
and what to try. The monitor only reads numbers the loop already has; it never changes the run."""
import re
from collections import deque

import numpy as np
import torch
import torch.nn.functional as F

from .objectives import make_objective

PINNED_ACCURACY = 0.99  # D is right on (nearly) every real and every fake
VANISHED_D_LOSS = 0.05  # D's loss on real + fake
# The losses whose D loss is near 0 only where D is certain of every image. Under the hinge loss it is 0 wherever D
# clears the margin, a healthy state (a hinge screen fired the stall report 4 times on a run as good as the preset's);
# the Wasserstein loss is unbounded below.
CERTAIN_AT_ZERO_LOSSES = {"logistic", "keras_torch_bce", "lsgan", "rpgan"}
G_LOSS_RISE = 0.1  # over the patience window: by a tenth of itself, or 0.1 when below 1
PATIENCE = 5  # consecutive log lines a symptom must persist before it is reported
# A pinned D wins only when G loses ground. Measured on the demo recipe (shapes, 12k iterations, D pinned in 60% of
# log lines while fd_shapes fell 1344 -> 155 and G's loss stayed 3.2-3.8): the mean G loss over 50 log lines rose at
# most 22% (36% with cutout) over the 50 before; a D that runs away (the old demo's 3 -> 12) far more than half.
LOSING_GROUND_LINES = 50
LOSING_GROUND_RISE = 0.5  # by half of itself, or 0.5 when below 1
CERTAIN_LOGIT = -9.21  # D gives fakes a probability of 1e-4 (the demo's G loss, 5-line means, stays below 5.3)
DIVERSITY_FLOOR = 0.5  # fake diversity below half the real data's: collapse under way
DIVERSITY_RISE = 0.05  # a low diversity that rose by less than this since the last check is not recovering
DIVERSITY_FEATURES = 8  # images are compared as 8x8 colour thumbnails (192 numbers)
SCORE_RISE = 0.10  # a scored FID (or fd_shapes) this far above the run's best: the run is getting worse
QUIET_ITERATIONS = 1000  # a symptom printed is not printed again for this many iterations (warnings.jsonl keeps each)


def diversity(images: torch.Tensor) -> float:
    """Mean pairwise distance between 8x8 thumbnails of a batch (B, 3, H, W): 0 for identical images."""
    thumbnails = F.adaptive_avg_pool2d(images.float(), DIVERSITY_FEATURES).flatten(1)
    distances = torch.cdist(thumbnails, thumbnails)
    n = len(thumbnails)
    return float(distances.sum() / (n * (n - 1)))


def d_wins_advice(config=None) -> tuple[str, str]:
    """What the D-wins warning says about G's loss, and what it offers to try, fitted to the run: it names the
    seed's BN mismatch only where the run has it, and offers no remedy the run already uses."""
    if config is None:
        return ("G fools the inference-mode D of its own step, not the D that judges: the seed's BN mismatch",
                "BN in training mode throughout (--preset dcgan), a lower --lr-d, or R1 (--preset stable)")
    t, r = config.train, config.remedies
    mismatch = t.frozen_d_mode == "inference" or t.fakes_g_mode == "inference"
    about = ("G fools the inference-mode D of its own step, not the D that judges: the seed's BN mismatch" if mismatch
             else "G's step sees another D than the one that judges")
    tries = (["BN in training mode throughout (--preset dcgan)"] if mismatch else []) + ["a lower --lr-d"]
    tries += [] if r.diffaugment else ["DiffAugment (--set remedies.diffaugment=translation)"]
    tries += [] if r.r1_gamma else ["R1 (--preset stable)"]
    return about, ", ".join(tries[:-1]) + (", or " if len(tries) > 1 else "") + tries[-1]


def g_loss_at(fake_logit: float, config=None) -> float:
    """G's loss where D gives every fake this logit (against reals at logit 0, for a paired loss): at 0, where D
    cannot tell, log 2 under the logistic losses; at CERTAIN_LOGIT, -log(1e-4) = 9.21."""
    loss, procedure = (config.train.loss, config.train.procedure) if config is not None else ("logistic", "seed")
    objective = make_objective(loss, procedure=procedure)
    fake = torch.tensor([fake_logit])
    return float(objective.g(torch.zeros(1), fake) if procedure == "paired" else objective.g(fake)) + 0.0  # no "-0.000"


class TrainingMonitor:
    """Feed it each log line (and, every few hundred iterations, diversity and coverage); it returns the
    warnings to print. Each symptom is reported once when it starts, and again only after it has cleared."""

    def __init__(self, patience: int = PATIENCE, config=None):
        self.d_wins_about, self.d_wins_try = d_wins_advice(config)
        self.history = deque(maxlen=patience)
        self.g_losses = deque(maxlen=2 * LOSING_GROUND_LINES)
        self.boundary_g_loss, self.certain_g_loss = g_loss_at(0.0, config), g_loss_at(CERTAIN_LOGIT, config)
        self.stalls_at_zero = (config.train.loss if config is not None else "logistic") in CERTAIN_AT_ZERO_LOSSES
        self.last_diversity: float | None = None
        self.active: set[str] = set()
        self.best_coverage: int | None = None

    def _report(self, name: str, present: bool, message: str) -> list[str]:
        if not present:
            self.active.discard(name)
            return []
        if name in self.active:
            return []
        self.active.add(name)
        return [message]

    def observe_losses(self, step: int, values: dict) -> list[str]:
        self.history.append(values)
        self.g_losses.append(values["g_loss"])
        full = len(self.history) == self.history.maxlen
        pinned = full and all(min(v["d_acc_real"], v["d_acc_fake"]) >= PINNED_ACCURACY for v in self.history)
        # A pinned D wins when G's loss says so. Below its value at D's decision boundary, G's step sees another D
        # than the one that judges (the seed's BN mismatch); above its value at a fake's probability of 1e-4, D is
        # certain; in between it wins only where G's loss runs away. A pinned D with a steady G loss is the demo's
        # healthy state (G's samples improve throughout).
        g_mean = float(np.mean([v["g_loss"] for v in self.history]))
        fooled = pinned and g_mean < self.boundary_g_loss
        certain = pinned and g_mean > self.certain_g_loss
        rise = self._g_loss_rise() if pinned and not (fooled or certain) else None
        d_wins = fooled or certain or rise is not None
        why = (f"G's loss {g_mean:.3f} is below {self.boundary_g_loss:.3f}, its value where D cannot tell: {self.d_wins_about}" if fooled
               else f"G's loss {g_mean:.3f}: D gives G's samples a probability below 1e-4" if certain
               else f"G's loss rose from {rise[0]:.3f} to {rise[1]:.3f}, means over {LOSING_GROUND_LINES} log lines: D pulls away" if rise
               else "")
        first, last = self.history[0], self.history[-1]
        # "Climbs" means by a visible amount: under the seed's logistic loss G's loss against the frozen inference-mode
        # D sits near 0 while D's does too, and rounding-level rises of 0.000x made this report flap every few lines.
        climbs = last["g_loss"] - first["g_loss"] > G_LOSS_RISE * max(1.0, first["g_loss"])
        vanished = self.stalls_at_zero and full and all(v["d_loss_real"] + v["d_loss_fake"] < VANISHED_D_LOSS for v in self.history) and climbs
        return self._report(
            "pinned", d_wins,
            f"iteration {step}: D's accuracy has been >= {PINNED_ACCURACY} on real and fake for the last {len(self.history)} log lines: "
            f"D wins ({why}). Try: {self.d_wins_try}.",
        ) + self._report(
            "vanished", vanished,
            f"iteration {step}: D's loss is near 0 ({last['d_loss_real'] + last['d_loss_fake']:.4f}) while G's loss climbs "
            f"({first['g_loss']:.3f} -> {last['g_loss']:.3f}): training has stalled. Try: a lower --lr-d or a higher --lr-g.",
        )

    def observe_diversity(self, step: int, fake_diversity: float, real_diversity: float) -> list[str]:
        ratio = fake_diversity / max(real_diversity, 1e-12)
        # Low at two checks in a row and not rising: every run starts low (demo runs: 0.21 at iteration 500, 0.43 or
        # 0.61 at 1,000, on their way to 92 and 96 modes); what stays low, or falls, is a collapse.
        previous, self.last_diversity = self.last_diversity, ratio
        collapsing = ratio < DIVERSITY_FLOOR and previous is not None and previous < DIVERSITY_FLOOR and ratio < previous + DIVERSITY_RISE
        return self._report(
            "diversity", collapsing,
            f"iteration {step}: sample diversity is {ratio:.2f} of the real data's (mean pairwise thumbnail distance): "
            "the samples are collapsing onto few modes. Try: --preset dcgan, a lower learning rate, or resume an earlier checkpoint.",
        )

    def _g_loss_rise(self) -> tuple[float, float] | None:
        """(before, now): G's mean loss over the 50 log lines before the last 50 and over the last 50, where it rose by half."""
        if len(self.g_losses) < self.g_losses.maxlen:
            return None
        losses = np.array(self.g_losses)
        before, now = float(losses[:LOSING_GROUND_LINES].mean()), float(losses[LOSING_GROUND_LINES:].mean())
        return (before, now) if now - before > LOSING_GROUND_RISE * max(1.0, abs(before)) else None

    def observe_coverage(self, step: int, modes_covered: int, num_modes: int) -> list[str]:
        best = self.best_coverage = max(self.best_coverage or 0, modes_covered)
        # By a fifth, and by more than counting noise: a demo run "fell" from 2 modes to 1 at iteration 1,000.
        falling = modes_covered < 0.8 * best and best - modes_covered >= max(2, 0.05 * num_modes)
        return self._report(
            "coverage", falling,
            f"iteration {step}: mode coverage fell to {modes_covered}/{num_modes} from {best}: mode collapse. "
            "Try: a lower learning rate, --preset dcgan, or resume the checkpoint with the best coverage.",
        )


    def observe_score(self, step: int, metric: str, score: float, best: float, best_step: int) -> list[str]:
        """A best.pt score (lower is better) against the run's best so far: a run that trains on and gets worse is the
        seed's first problem, instability, seen where it matters, in the samples."""
        rising = score > (1 + SCORE_RISE) * best
        return self._report(
            "score", rising,
            f"iteration {step}: {metric} {score:.1f} is {100 * (score / best - 1):.0f}% above the run's best, {best:.1f} at "
            f"iteration {best_step}: the samples are getting worse. checkpoints/best.pt keeps the best (--which best in "
            "generate, eval and export); try a lower learning rate.",
        )


class ConsoleThrottle:
    """A symptom that comes and goes is one console line at most every `quiet` iterations, with the count of its
    returns in between; the run's warnings.jsonl and its report keep every one. (The old demo printed 16 warnings
    in 40 seconds, most of them one symptom flapping.)"""

    def __init__(self, quiet: int = QUIET_ITERATIONS):
        self.quiet = quiet
        self.printed: dict[str, int] = {}  # symptom -> the iteration it was last printed at
        self.held: dict[str, int] = {}  # symptom -> returns not printed since

    @staticmethod
    def symptom(message: str) -> str:
        """What a warning is about, its numbers left out: 'iteration 330: D's accuracy has been >= 0.99 ...'."""
        return re.sub(r"\d[\d.,]*", "#", message.split(": ", 1)[-1])[:40]

    def line(self, step: int, message: str) -> str | None:
        """The console line for this warning, or None while its symptom is quiet."""
        kind = self.symptom(message)
        if kind in self.printed and step - self.printed[kind] < self.quiet:
            self.held[kind] = self.held.get(kind, 0) + 1
            return None
        held = self.held.pop(kind, 0)
        since = self.printed.get(kind)
        self.printed[kind] = step
        return message + (f" (seen {held} more time{'s' if held > 1 else ''} since iteration {since}: see warnings.jsonl)" if held else "")


def all_finite(values: dict, *modules: torch.nn.Module) -> bool:
    if not all(np.isfinite(v) for v in values.values()):
        return False
    return all(torch.isfinite(t).all() for m in modules for t in m.state_dict().values() if t.is_floating_point())
