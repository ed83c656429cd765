"""`ganforge eval`: sample a checkpoint's generator, compare with real data, print a table, write JSON."""
import json
from pathlib import Path

import numpy as np
import torch

from .config import DataConfig
from .data import check_source, load_images
from .data.sampler import to_training_tensor
from .errors import GanforgeError
from .sampling.load import load_generator
from .viz import to_uint8
from .metrics import density_coverage, frechet_distance_from_features, kernel_inception_distance, precision_recall
from .metrics.modes import confidence_threshold, mode_coverage, reverse_kl_to_uniform

METRICS = ("fid", "fd", "kid", "pr", "dc", "modes")
SHAPES_DEFAULT = ("fd", "kid", "pr", "dc", "modes")  # all offline: the shipped shapes classifier's features
INCEPTION_DEFAULT = ("fid", "kid", "pr", "dc")  # other data: Inception features (needs the weights file)


@torch.no_grad()
def _classify(images: torch.Tensor, classifier, device, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    features, probabilities = [], []
    for chunk in images.split(batch):
        f, logits = classifier(chunk.to(device))
        features.append(f.cpu())
        probabilities.append(logits.softmax(1).cpu())
    return torch.cat(features).numpy(), torch.cat(probabilities).numpy()


@torch.no_grad()
def _generate(generator, latent_dim: int, count: int, seed: int, device, batch: int = 250) -> np.ndarray:
    """G's samples as the uint8 pixels `generate` writes to PNG: real images are uint8 too, and an image scored here
    scores the same when saved and scored with --samples (StyleGAN2-ADA's metrics quantize the same way)."""
    z = torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(seed))
    return np.ascontiguousarray(np.concatenate([to_uint8(generator(chunk.to(device))) for chunk in z.split(batch)]))  # as a loaded folder is laid out


def _feature_metrics(real: np.ndarray, fake: np.ndarray, metrics, suffix: str, count: int) -> dict:
    """KID, precision/recall and density/coverage on one kind of features; keys name the features."""
    results = {}
    if "kid" in metrics:
        results[f"kid{suffix}"], results[f"kid{suffix}_std"] = kernel_inception_distance(real, fake, subsets=50, subset_size=min(1000, count))
    if "pr" in metrics:
        results[f"precision{suffix}"], results[f"recall{suffix}"] = precision_recall(real[:5000], fake[:5000])
    if "dc" in metrics:
        results[f"density{suffix}"], results[f"coverage{suffix}"] = density_coverage(real[:5000], fake[:5000])
    return results


def evaluate(checkpoint, data: str | None = None, metrics=None, count: int = 10000, seed: int = 0, device="cpu",
             inception_weights: str | None = None, log=print) -> dict:
    """On `shapes`: the shipped classifier's metrics (fd_shapes, mode coverage, ...), and FID when asked for.
    On any other data (a folder, a zip, emoji): FID, KID, precision/recall, density/coverage on Inception features."""
    generator, config, step = load_generator(checkpoint, device)
    source = data or config.data.source
    metrics = _check(source, metrics, inception_weights, device)
    fake = _generate(generator, config.model.latent_dim, count, seed, device)
    return {"checkpoint_step": step, **score(fake, source, metrics, count, device, inception_weights, log)}


def evaluate_samples(folder, data: str, metrics=None, count: int = 10000, device="cpu", inception_weights: str | None = None,
                     log=print) -> dict:
    """A folder of images made by anything, scored against `data` as a checkpoint's samples are: the same metrics, the
    same real images, at the samples' own resolution."""
    from PIL import Image

    from .data.images import list_folder_images

    folder = Path(folder)
    if not folder.is_dir():
        raise GanforgeError(f"--samples {folder}: not a folder of images")
    files = list_folder_images(folder)
    if not files:
        raise GanforgeError(f"--samples {folder}: no images in it")
    metrics = _check(data, metrics, inception_weights, device)
    with Image.open(files[0]) as first:
        resolution = min(first.size)
    samples = load_images(DataConfig(source=str(folder)), resolution, log=log)
    if len(samples) < count:
        log(f"--samples {folder}: {len(samples)} images, fewer than -n {count}; scoring all of them")
        count = len(samples)
    return {"samples_folder": str(folder), **score(samples.pixels[:count], data, metrics, count, device, inception_weights, log)}


def _check(source: str, metrics, inception_weights, device) -> tuple:
    """The metrics asked for, checked against the data, before any sampling or loading."""
    metrics = tuple(metrics or (SHAPES_DEFAULT if source == "shapes" else INCEPTION_DEFAULT))
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise GanforgeError(f"unknown metric(s) {sorted(unknown)}; choose from {', '.join(METRICS)}")
    if source != "shapes" and {"fd", "modes"} & set(metrics):
        raise GanforgeError(f"fd and modes use the shapes classifier and need --data shapes; on {source!r} use fid, kid, pr, dc")
    check_source(source)
    if "fid" in metrics or source != "shapes":
        from .metrics.inception import load_inception

        load_inception(inception_weights, device)  # fails early, before any sampling, when the weights are missing
    return metrics


def score(fake_pixels: np.ndarray, source: str, metrics: tuple, count: int, device, inception_weights=None, log=print) -> dict:
    """Fakes as (N, H, W, 3) uint8 against `count` real images of `source` at the fakes' resolution. On shapes the real
    images are the dataset drawn at size `count` (every mode equally often), whatever a run trained on, so that every
    score at one -n compares with the same reals."""
    inception = None
    if "fid" in metrics or source != "shapes":
        from .metrics.inception import load_inception

        inception = load_inception(inception_weights, device)
    real_set = load_images(DataConfig(source=source, shapes_size=count), fake_pixels.shape[1], log=log)
    if len(real_set) < count:
        log(f"{source}: {len(real_set)} real images, fewer than -n {count}; comparing with all of them")
    real_images = to_training_tensor(real_set.pixels[:count])
    fake_images = to_training_tensor(fake_pixels)
    results: dict = {"samples": len(fake_images), "real_samples": len(real_images)}

    if inception is not None:
        from .metrics.inception import inception_features

        real_features, fake_features = (inception_features(inception, x, device).numpy() for x in (real_images, fake_images))
        if "fid" in metrics:
            results["fid"] = frechet_distance_from_features(real_features, fake_features)
        if source != "shapes":
            results.update(_feature_metrics(real_features, fake_features, metrics, "", count))
    if source != "shapes":
        return results

    from .data.shapes import NUM_MODES
    from .metrics.shapes_classifier import load_shapes_classifier

    classifier = load_shapes_classifier(device)
    real_features, real_probabilities = _classify(real_images, classifier, device)
    fake_features, fake_probabilities = _classify(fake_images, classifier, device)
    results["features"] = "shapes classifier (128-d)"
    if "fd" in metrics:
        results["fd_shapes"] = frechet_distance_from_features(real_features, fake_features)
    results.update(_feature_metrics(real_features, fake_features, metrics, "_shapes", count))
    if "modes" in metrics:
        bar = confidence_threshold(real_probabilities.max(1))
        fake = mode_coverage(fake_probabilities.argmax(1), fake_probabilities.max(1) >= bar, NUM_MODES)
        real = mode_coverage(real_probabilities.argmax(1), real_probabilities.max(1) >= bar, NUM_MODES)
        results.update(fake.as_dict())
        results.update({"real_modes_covered": real.modes_covered, "real_high_quality": real.high_quality, "real_reverse_kl_floor": real.reverse_kl})
        results["real_label_reverse_kl"] = reverse_kl_to_uniform(real_set.labels[:count], NUM_MODES) if real_set.labels is not None else None
        results["confidence_threshold"] = bar
    return results


def format_table(results: dict) -> str:
    width = max(map(len, results))
    lines = []
    for key, value in results.items():
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<{width}}  {text}")
    return "\n".join(lines)


def write_json(results: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
