"""Ctrl-C during training: the iteration under way ends before the run stops, so a checkpoint never holds a
half-stepped state (D updated, G not, noise drawn). A second Ctrl-C stops at once, without a checkpoint."""
import signal
import threading


class ForcedInterrupt(KeyboardInterrupt):
    """The second Ctrl-C: stop now; the state may be mid-iteration, so nothing is saved."""


class DeferredInterrupts:
    """While installed, Ctrl-C only sets a flag that `check()`, called between iterations, turns into
    KeyboardInterrupt. Only the main thread receives signals; elsewhere it changes nothing."""

    def __init__(self):
        self.requested = False
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum, frame):
        if self.requested:
            raise ForcedInterrupt
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None
