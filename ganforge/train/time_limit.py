"""`train.max_minutes`: when a run stops on the clock, and how a learning-rate decay is fitted to the time.

Under torchrun every process stops at the same step: the first process's clock decides, asked on the same steps by
all (they share the step), so no process waits on a peer that has left."""
import time

import torch

from ..config import Config
from .distributed import World
from .optim import DecaySchedule

# A time-limited run with optim.lr_decay fits its decay to the time once the decay's share of the time is left, at the
# speed measured so far, with this share of the time spare so that the decay's end, not the clock, ends the run.
TIME_FIT_SPARE = 0.02
TIME_CHECK_EVERY = 10  # under torchrun: the clock's all-reduce waits for the GPU, so not every iteration


def fit_to_time(schedule: DecaySchedule, config: Config, world: World, step: int, started_step: int, started: float, log) -> DecaySchedule:
    """The schedule, its decay moved to end where the time limit will stop the run when that comes first."""
    minutes, decay = config.train.max_minutes, config.optim.lr_decay
    end = _end_within_time(world, step, started_step, started, minutes, decay)
    if not 0 < end < schedule.end:
        return schedule
    log(f"\nat this speed the run's {minutes:g} min reach step {end}, not {config.train.iterations}: "
        f"the learning rates now fall to 0 there (optim.lr_decay={decay:g} of the time)")
    return schedule.fitted_to(end, step)


def _end_within_time(world: World, step: int, started_step: int, started: float, minutes: float, fraction: float) -> int:
    """The step the run will reach when its time is up, once `fraction` of the time is left (0 before, and on the
    steps other processes do not ask on)."""
    if world.size > 1 and step % TIME_CHECK_EVERY:
        return 0
    elapsed, budget = time.perf_counter() - started, 60 * minutes
    end = 0
    if elapsed >= (1 - fraction) * budget and step > started_step:
        rate = (step - started_step) / elapsed
        end = step + max(1, int(rate * (budget * (1 - TIME_FIT_SPARE) - elapsed)))
    return world.first_process_value(end)


def steps_within_time(step: int, started_step: int, elapsed: float, minutes: float, end: int) -> int:
    """Where a run under a time limit will stop at its speed so far (the progress bar's total, so that its ETA is
    the clock's, not that of train.iterations the limit will never reach)."""
    if step <= started_step or elapsed <= 0:
        return end
    rate = (step - started_step) / elapsed
    return min(end, step + int(rate * max(0.0, 60 * minutes - elapsed)))


def time_is_up(world: World, step: int, started: float, minutes: float, device: torch.device) -> bool:
    if world.size == 1:  # no tensor, so no wait on the GPU
        return time.perf_counter() - started > 60 * minutes
    if step % TIME_CHECK_EVERY:
        return False
    late = torch.tensor([float(time.perf_counter() - started > 60 * minutes and world.is_main)], device=device)
    return world.mean({"late": late})["late"].item() > 0


class FirstEstimate:
    """Said once, early: how long the iterations asked for take at the speed of the first ones (after `warmup`
    iterations, which pay for allocation and kernel choice), and how to bound a run that would take hours."""

    def __init__(self, end: int, step: int, max_minutes: float, say, warmup: int = 3, measure: int = 20, seconds: float = 20.0):
        self.end, self.max_minutes, self.say = end, max_minutes, say
        self.warmup_end, self.measure, self.seconds = step + warmup, measure, seconds
        self.start: tuple[int, float] | None = None
        self.done = end - step <= warmup + measure  # a run this short is over before an estimate would help

    def update(self, step: int) -> None:
        if self.done:
            return
        now = time.perf_counter()
        if self.start is None:
            if step >= self.warmup_end:
                self.start = (step, now)
            return
        counted, elapsed = step - self.start[0], now - self.start[1]
        if counted < self.measure and elapsed < self.seconds:
            return
        self.done = True
        left = (self.end - step) * elapsed / counted
        text = f"{counted / elapsed:.1f} iterations/s: the {self.end:,} iterations asked for end in about {duration(left)}"
        if self.max_minutes and self.max_minutes * 60 < left:
            text += f", but train.max_minutes={self.max_minutes:g} stops the run first"
        elif left > 3600:
            text += "; to bound it, add --set train.max_minutes=MINUTES (the same command later goes on from there)"
        self.say(text)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
