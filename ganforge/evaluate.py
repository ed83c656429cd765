"""`ganforge eval`: sample a checkpoint's generator, compare with real data, print a table, write JSON."""
import json
from pathlib import Path

import numpy as np
import torch

from .config import DataConfig
from .data import load_images
from .data.sampler import to_training_tensor
from .errors import GanforgeError
from .generate import load_generator
from .metrics import density_coverage, frechet_distance_from_features, kernel_inception_distance, precision_recall
from .metrics.modes import confidence_threshold, mode_coverage, reverse_kl_to_uniform

METRICS = ("fd", "kid", "pr", "dc", "modes")


@torch.no_grad()
def _classify(images: torch.Tensor, classifier, device, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    features, probabilities = [], []
    for chunk in images.split(batch):
        f, logits = classifier(chunk.to(device))
        features.append(f.cpu())
        probabilities.append(logits.softmax(1).cpu())
    return torch.cat(features).numpy(), torch.cat(probabilities).numpy()


@torch.no_grad()
def _generate(generator, latent_dim: int, count: int, seed: int, device, batch: int = 250) -> torch.Tensor:
    z = torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(seed))
    return torch.cat([generator(chunk.to(device)).cpu() for chunk in z.split(batch)])


def evaluate(checkpoint, data: str | None = None, metrics=METRICS, count: int = 10000, seed: int = 0, device="cpu", log=print) -> dict:
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise GanforgeError(f"unknown metric(s) {sorted(unknown)}; choose from {', '.join(METRICS)}")
    generator, config, step = load_generator(checkpoint, device)
    source = data or config.data.source
    if source != "shapes":
        raise GanforgeError(
            f"evaluating on {source!r} needs Inception features, which are not built yet; "
            "`--data shapes` uses the shipped shapes classifier"
        )
    from .data.shapes import NUM_MODES
    from .metrics.shapes_classifier import load_shapes_classifier

    classifier = load_shapes_classifier(device)
    real_set = load_images(DataConfig(source="shapes", shapes_size=max(count, config.data.shapes_size)), config.model.resolution, log=log)
    real_images = to_training_tensor(real_set.pixels[:count])
    real_features, real_probabilities = _classify(real_images, classifier, device)
    fake_features, fake_probabilities = _classify(_generate(generator, config.model.latent_dim, count, seed, device), classifier, device)

    results: dict = {"checkpoint_step": step, "samples": count, "features": "shapes classifier (128-d)"}
    if "fd" in metrics:
        results["fd_shapes"] = frechet_distance_from_features(real_features, fake_features)
    if "kid" in metrics:
        results["kid_shapes"], results["kid_shapes_std"] = kernel_inception_distance(real_features, fake_features, subsets=50, subset_size=min(1000, count))
    if "pr" in metrics:
        results["precision"], results["recall"] = precision_recall(real_features[:5000], fake_features[:5000])
    if "dc" in metrics:
        results["density"], results["coverage"] = density_coverage(real_features[:5000], fake_features[:5000])
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
