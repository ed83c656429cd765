"""Keep the best: every `train.best_every` iterations, score G's samples against real data and write
checkpoints/best.pt when the score is the best so far. A run's last iterate is not its best one (FID swings during
training); `generate`, `eval`, `export` and `report` take `--which best`.

The score is a Fréchet distance, lower is better: on `shapes` in the shipped classifier's feature space
(fd_shapes, offline), elsewhere FID when the Inception weights are on disk (make install puts them there; never downloaded mid-run),
with the real images' features read from the cache when they were embedded before.
Scoring draws its noise from its own generator and runs G under no_grad, so it changes nothing in the run."""
import torch

from ..config import Config
from ..data.sampler import to_training_tensor
from ..errors import GanforgeError
from ..metrics import frechet_distance_from_features
from ..metrics.features import INCEPTION, load_space, space_of
from ..nets.conditional import rgb, with_drawn_labels
from .. import checkpoint as ckpt


class BestKeeper:
    def __init__(self, config: Config, images, device: torch.device, run_dir, log=print):
        self.run_dir, self.device, self.count = run_dir, device, config.train.best_samples
        self.seed = config.train.seed + 3
        self.noise = torch.randn(self.count, config.model.latent_dim, generator=torch.Generator().manual_seed(self.seed))
        self.space = _space(config, device, log)
        self.enabled = self.space is not None
        if not self.enabled:
            return
        self.metric = self.space.fd_key
        pixels = images.pixels[: self.count]
        self.real = self.space.embed_real(pixels, to_training_tensor(pixels), log=log)[0]
        previous = self._previous_best()
        self.best = previous["score"] if previous else float("inf")
        self.best_step = previous["step"] if previous else 0

    def _previous_best(self) -> dict | None:
        """A resumed run keeps its best score, so best.pt is only replaced by a better one."""
        try:
            return ckpt.load_checkpoint(self.run_dir, which="best").get("best")
        except Exception:  # none yet, or unreadable: start afresh
            return None

    @torch.no_grad()
    def __call__(self, generator: torch.nn.Module, step: int, state) -> dict | None:
        """Score G; if it is the best so far, write best.pt from `state()` (the run state). Returns the score row."""
        if not self.enabled:
            return None
        generator.eval()
        z = with_drawn_labels(generator, self.noise, torch.Generator().manual_seed(self.seed))  # a conditional G: the data's classes
        fake = torch.cat([rgb(generator(chunk.to(self.device))).cpu() for chunk in z.split(250)])
        score = frechet_distance_from_features(self.real, self.space.embed(fake)[0])
        improved = score < self.best
        if improved:
            self.best, self.best_step = score, step
            ckpt.save_checkpoint(self.run_dir, {**state(), "best": {"metric": self.metric, "score": score, "step": step}},
                                 keep=0, name=ckpt.BEST)
        return {self.metric: round(float(score), 4), "best": improved, "best_score": round(float(self.best), 4),
                "best_step": self.best_step}


def _space(config: Config, device, log):
    """The data's feature space; None (no best.pt) when it is Inception's and its weights are not on disk: a run
    never downloads them."""
    try:
        return load_space(space_of(config.data.source), device, download=False)
    except GanforgeError:
        if space_of(config.data.source) != INCEPTION:
            raise
        log("train.best_every: no best checkpoint kept: FID's Inception weights are not on disk "
            "(ganforge eval --metrics fid fetches them once)")
        return None
