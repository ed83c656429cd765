"""GAN Lab's picture of a 2-D GAN learning (Kahng et al. 2018), recorded every N iterations of a toy2d run into a
run folder that `ganforge report` plays back and `ganforge watch` shows live: the real points, G's samples from
fixed noise, D's output as a heatmap over the plane, and the gradient G receives at its samples as arrows, with
mode coverage, high quality and reverse KL as curves (diagnostics.jsonl) and the losses (metrics.jsonl).

Recording changes nothing in the run: frames use copies of the networks, their own random generators, and
no-grad passes except the input gradient for the arrows, which touches no weight's gradient."""
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..config import Config
from .. import run_folder as folder
from ..run_folder import append_row
from ..train.procedure import GAN

FRAME_POINTS = 512  # G's samples and real points drawn per frame
HEATMAP_CELLS = 120  # per side


class Toy2DRecorder:
    def __init__(self, run_dir: str | Path, config: Config, data, dataset: str, seed: int, eval_samples: int):
        self.run_dir, self.data = Path(run_dir), data  # data: a toy2d.Mixture
        (self.run_dir / folder.SAMPLES).mkdir(parents=True, exist_ok=True)
        folder.write_config(self.run_dir, config)
        (self.run_dir / folder.RUN_INFO).write_text(json.dumps({"device": "cpu", "processes": 1, "toy2d": dataset, "seed": seed}) + "\n")
        for name in (folder.METRICS, folder.DIAGNOSTICS):
            (self.run_dir / name).write_text("")
        frames_rng = torch.Generator().manual_seed(seed + 7)  # the run's own generators are never touched
        self.noise = torch.randn(FRAME_POINTS, 2, generator=frames_rng)
        self.eval_noise = torch.randn(eval_samples, 2, generator=frames_rng)
        self.real = data.sample(FRAME_POINTS, frames_rng).numpy()
        reach = float(np.abs(data.means).max()) * 1.5 + 0.5
        self.extent = (-reach, reach)
        self.batch, self.started = config.train.batch_size, time.perf_counter()

    def losses(self, step: int, stats: dict) -> None:
        seconds = time.perf_counter() - self.started  # frames included: what the run took
        append_row(self.run_dir / folder.METRICS, {"step": step, **{k: round(v.item(), 6) for k, v in stats.items()},
                                                 "time_s": round(seconds, 2), "img_per_s": round(step * self.batch / seconds, 1)})

    def __call__(self, gan: GAN, step: int) -> Path:
        view = frame_data(gan, self.noise, self.extent)
        with torch.no_grad():
            points = copy.deepcopy(gan.ema.module).eval()(self.eval_noise).numpy()
        coverage = self.data.coverage(points)
        append_row(self.run_dir / folder.DIAGNOSTICS, {"step": step, "modes_covered": coverage.modes_covered,
                                                      "high_quality": round(coverage.high_quality, 4),
                                                      "reverse_kl": round(coverage.reverse_kl, 4)})
        return draw(view, self.real, self.extent, step, coverage, folder.sample_grid(self.run_dir, step))


def frame_data(gan: GAN, noise: torch.Tensor, extent: tuple[float, float]) -> dict:
    """G's samples, D's output on a grid over the plane (sigmoid of its logit) and the arrows: minus the gradient
    of G's loss at each sample, the way gradient descent moves it. On copies of the networks, D in the mode of G's step."""
    generator = copy.deepcopy(gan.ema.module).eval()
    discriminator = copy.deepcopy(gan.discriminator_local).train(gan.frozen_d_training).requires_grad_(False)
    pack = discriminator.pack.pack  # D judges `pack` points at once: each cell is repeated to fill its pack
    with torch.no_grad():
        fake = generator(noise)
        axis = torch.linspace(*extent, HEATMAP_CELLS)
        ys, xs = torch.meshgrid(axis, axis, indexing="ij")
        cells = torch.stack([xs.flatten(), ys.flatten()], 1)
        heat = torch.sigmoid(discriminator(cells.repeat_interleave(pack, 0))).reshape(HEATMAP_CELLS, HEATMAP_CELLS)
    points = fake.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(gan.objective.g(discriminator(points)), points)
    return {"fake": fake.numpy(), "heat": heat.numpy(), "arrows": -gradient.numpy()}


def draw(view: dict, real: np.ndarray, extent, step: int, coverage, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 5), dpi=100)
    heat = ax.imshow(view["heat"], origin="lower", extent=(*extent, *extent), cmap="RdBu", vmin=0, vmax=1, alpha=0.55)
    fig.colorbar(heat, ax=ax, fraction=0.046, pad=0.02).set_label("D(x): 0 fake, 1 real", fontsize=8)
    ax.scatter(real[:, 0], real[:, 1], s=3, c="#1a9641", label="real")
    ax.scatter(view["fake"][:, 0], view["fake"][:, 1], s=3, c="#7b3294", label="G's samples")
    arrows = view["arrows"]
    scale = np.percentile(np.linalg.norm(arrows, axis=1), 95) + 1e-12  # the longest 5% are clipped to one length
    shown = arrows / scale * (extent[1] - extent[0]) * 0.04
    ax.quiver(view["fake"][::4, 0], view["fake"][::4, 1], shown[::4, 0], shown[::4, 1], angles="xy", scale_units="xy",
              scale=1, width=0.003, color="#333333", alpha=0.8)
    ax.set_xlim(*extent)
    ax.set_ylim(*extent)
    ax.set_aspect("equal")
    ax.set_title(f"step {step}: {coverage.modes_covered}/{coverage.num_modes} modes, {100 * coverage.high_quality:.1f}% high quality",
                 fontsize=10)
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
