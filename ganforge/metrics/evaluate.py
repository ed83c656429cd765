"""`ganforge eval`: sample a checkpoint's generator (or read a folder of samples), compare with real data, print a
table, write JSON. Each metric is a small function registered under its name with the feature space it needs
(features.py chooses the space: the shapes classifier's on `shapes`, Inception's elsewhere)."""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import DataConfig
from ..data import check_source, load_images
from ..data.sampler import to_training_tensor
from ..errors import GanforgeError
from ..nets.conditional import draw_labels, images_of
from ..sampling.load import load_generator
from ..viz import to_uint8
from . import density_coverage, frechet_distance_from_features, kernel_inception_distance, precision_recall
from .features import INCEPTION, SHAPES, FeatureSpace, load_space, space_of
from .modes import confidence_threshold, mode_coverage, reverse_kl_to_uniform, shape_breakdown


@dataclass(frozen=True)
class Features:
    """What a metric reads: the real and fake images in one feature space."""
    space: FeatureSpace
    real: np.ndarray
    fake: np.ndarray
    real_probabilities: np.ndarray | None
    fake_probabilities: np.ndarray | None
    count: int  # -n
    real_labels: np.ndarray | None  # the real images' modes where the data knows them (shapes)


@dataclass(frozen=True)
class Metric:
    compute: Callable[[Features], dict]
    space: str | None  # the feature space it needs; None: the data's own (features.space_of)


METRICS: dict[str, Metric] = {}  # in the order results are reported


def register(name: str, space: str | None = None):
    def add(compute):
        METRICS[name] = Metric(compute, space)
        return compute
    return add


@register("fid", INCEPTION)
def fid(f: Features) -> dict:
    return {"fid": frechet_distance_from_features(f.real, f.fake)}


@register("fd", SHAPES)
def fd_shapes(f: Features) -> dict:
    return {"fd_shapes": frechet_distance_from_features(f.real, f.fake)}


@register("kid")
def kid(f: Features) -> dict:
    mean, std = kernel_inception_distance(f.real, f.fake, subsets=50, subset_size=min(1000, f.count))
    return {f"kid{f.space.suffix}": mean, f"kid{f.space.suffix}_std": std}


@register("pr")
def precision_and_recall(f: Features) -> dict:
    precision, recall = precision_recall(f.real[:5000], f.fake[:5000])
    return {f"precision{f.space.suffix}": precision, f"recall{f.space.suffix}": recall}


@register("dc")
def density_and_coverage(f: Features) -> dict:
    density, coverage = density_coverage(f.real[:5000], f.fake[:5000])
    return {f"density{f.space.suffix}": density, f"coverage{f.space.suffix}": coverage}


@register("modes", SHAPES)
def modes(f: Features) -> dict:
    """Each sample's mode is the classifier's class; it is high quality when the classifier is as sure of it as it is
    of most real images (modes.confidence_threshold)."""
    from ..data.shapes import NUM_MODES

    bar = confidence_threshold(f.real_probabilities.max(1))
    fake_modes, fake_high_quality = f.fake_probabilities.argmax(1), f.fake_probabilities.max(1) >= bar
    fake = mode_coverage(fake_modes, fake_high_quality, NUM_MODES)
    real = mode_coverage(f.real_probabilities.argmax(1), f.real_probabilities.max(1) >= bar, NUM_MODES)
    return {**fake.as_dict(), "real_modes_covered": real.modes_covered, "real_high_quality": real.high_quality,
            "real_reverse_kl_floor": real.reverse_kl,
            "real_label_reverse_kl": reverse_kl_to_uniform(f.real_labels, NUM_MODES) if f.real_labels is not None else None,
            "confidence_threshold": bar, **shape_breakdown(fake_modes, fake_high_quality)}


SHAPES_DEFAULT = ("fd", "kid", "pr", "dc", "modes")  # all offline: the shipped shapes classifier's features
INCEPTION_DEFAULT = ("fid", "kid", "pr", "dc")  # other data: Inception features (needs the weights file)


@torch.no_grad()
def _generate(generator, latent_dim: int, count: int, seed: int, device, batch: int = 250) -> tuple[np.ndarray, np.ndarray | None]:
    """G's samples as the uint8 pixels `generate` writes to PNG: real images are uint8 too, and an image scored here
    scores the same when saved and scored with --samples (StyleGAN2-ADA's metrics quantize the same way). A
    conditional G's classes are drawn with the data's frequencies (StyleGAN2-ADA's rule); returned beside them."""
    noise = torch.Generator().manual_seed(seed)
    z = torch.randn(count, latent_dim, generator=noise)
    labels = draw_labels(count, generator.class_counts.cpu(), noise) if getattr(generator, "num_classes", 0) else None
    pixels = [to_uint8(images_of(generator, chunk.to(device), None if labels is None else labels[i * batch: i * batch + len(chunk)]))
              for i, chunk in enumerate(z.split(batch))]
    return np.ascontiguousarray(np.concatenate(pixels)), None if labels is None else labels.numpy()  # as a loaded folder is laid out


def evaluate(checkpoint, data: str | None = None, metrics=None, count: int = 10000, seed: int = 0, device="cpu",
             inception_weights: str | None = None, log=print, average: bool = True) -> dict:
    """On `shapes`: the shipped classifier's metrics (fd_shapes, mode coverage, ...), and FID when asked for.
    On any other data (a folder, a zip, emoji): FID, KID, precision/recall, density/coverage on Inception features.
    `average`: score G's weight average (EMA) where the run keeps one, as `generate` samples; else the live G."""
    generator, config, step = load_generator(checkpoint, device, average)
    source = data or config.data.source
    metrics = _check(source, metrics, inception_weights, device)
    fake, labels = _generate(generator, config.model.latent_dim, count, seed, device)
    return {"checkpoint_step": step, **score(fake, source, metrics, count, device, inception_weights, log,
                                             fake_labels=labels, class_names=config.model.class_names)}


def evaluate_samples(folder, data: str, metrics=None, count: int = 10000, device="cpu", inception_weights: str | None = None,
                     log=print) -> dict:
    """A folder of images made by anything, scored against `data` as a checkpoint's samples are: the same metrics, the
    same real images, at the samples' own resolution."""
    from PIL import Image

    from ..data.images import list_folder_images

    folder = Path(folder)
    if not folder.is_dir():
        raise GanforgeError(f"{folder}: not a folder of images (the samples to score)")
    files = list_folder_images(folder)
    if not files:
        raise GanforgeError(f"{folder}: no images in it (the samples to score)")
    metrics = _check(data, metrics, inception_weights, device)
    with Image.open(files[0]) as first:
        resolution = min(first.size)
    samples = load_images(DataConfig(source=str(folder)), resolution, log=log)
    if len(samples) < count:
        log(f"{folder}: {len(samples)} images, fewer than the {count} asked for; scoring all of them")
        count = len(samples)
    return {"samples_folder": str(folder), **score(samples.pixels[:count], data, metrics, count, device, inception_weights, log)}


def evaluate_and_record(run=None, samples=None, data: str | None = None, metrics=None, count: int = 10000, seed: int = 0,
                        device="cpu", inception_weights: str | None = None, out=None, which: str = "last") -> tuple[dict, Path | None]:
    """`ganforge eval`: a run's checkpoint (`run`, `which` one) or a folder of images made by anything (`samples`, scored
    against `data`), then the results written to `out`; a run's also beside its checkpoints when no `out` is given.
    Every argument is checked before any sampling. Returns the results and the file written (None: none)."""
    from ..checkpoint import resolve_checkpoint
    from ..errors import output_file
    from ..run_folder import evaluation_path, run_dir_of

    if bool(run) == bool(samples):
        raise GanforgeError("give a run (a run folder or checkpoint) or a folder of samples (images to score), one of the two")
    if samples and not data:
        raise GanforgeError("a folder of samples needs the real images to compare them with (e.g. data shapes)")
    out = output_file(out) if out else None
    if samples:
        results = evaluate_samples(samples, data, metrics, count, device, inception_weights)
        return results, write_json(results, out) if out else None
    checkpoint = resolve_checkpoint(run, which)
    results = evaluate(checkpoint, data, metrics, count, seed, device, inception_weights)
    return results, write_json(results, out or evaluation_path(run_dir_of(checkpoint), results["checkpoint_step"]))


def _check(source: str, metrics, inception_weights, device) -> tuple:
    """The metrics asked for, checked against the data, before any sampling or loading."""
    metrics = tuple(metrics or (SHAPES_DEFAULT if source == "shapes" else INCEPTION_DEFAULT))
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise GanforgeError(f"unknown metric(s) {sorted(unknown)}; choose from {', '.join(METRICS)}")
    if source != "shapes" and {"fd", "modes"} & set(metrics):
        raise GanforgeError(f"fd and modes use the shapes classifier and need --data shapes; on {source!r} use fid, kid, pr, dc")
    check_source(source)
    if INCEPTION in _spaces(source, metrics):
        from .inception import load_inception

        load_inception(inception_weights, device)  # fails early, before any sampling, when the weights are missing
    return metrics


def _spaces(source: str, metrics: tuple) -> list[str]:
    return sorted({METRICS[name].space or space_of(source) for name in metrics}, key=[INCEPTION, SHAPES].index)


def score(fake_pixels: np.ndarray, source: str, metrics: tuple, count: int, device, inception_weights=None, log=print,
          fake_labels: np.ndarray | None = None, class_names=()) -> dict:
    """Fakes as (N, H, W, 3) uint8 against `count` real images of `source` at the fakes' resolution. On shapes the real
    images are the dataset drawn at size `count` (every mode equally often), whatever a run trained on, so that every
    score at one -n compares with the same reals. With the fakes' classes (a conditional G's), also a score per class
    (per_class)."""
    real_set = load_images(DataConfig(source=source, shapes_size=count), fake_pixels.shape[1], log=log)
    if len(real_set) < count:
        log(f"{source}: {len(real_set)} real images, fewer than the {count} asked for; comparing with all of them")
    real_images = to_training_tensor(real_set.pixels[:count])
    fake_images = to_training_tensor(fake_pixels)
    results: dict = {"samples": len(fake_images), "real_samples": len(real_images)}
    labels = real_set.labels[:count] if real_set.labels is not None else None
    features = {}
    for name in _spaces(source, metrics):
        space = load_space(name, device, inception_weights, progress=True)
        real, real_probabilities = space.embed_real(real_set.pixels[:count], real_images, log=log)
        fake, fake_probabilities = space.embed(fake_images)
        features[name] = Features(space, real, fake, real_probabilities, fake_probabilities, count, labels)
    if SHAPES in features:
        results["features"] = "shapes classifier (128-d)"
    if INCEPTION in features:
        results["fid_features"] = features[INCEPTION].space.description
    for name, metric in METRICS.items():
        if name in metrics:
            results.update(metric.compute(features[metric.space or space_of(source)]))
    if fake_labels is not None:
        space = features[space_of(source)]
        if space_of(source) == SHAPES:
            results.update(conditional_accuracy(space, fake_labels))
        else:
            real_set = load_images(DataConfig(source=source, conditional=True), fake_pixels.shape[1], log=log)
            real, _ = space.space.embed_real(real_set.pixels, to_training_tensor(real_set.pixels), log=log)
            results["per_class"] = per_class_distances(real, real_set.classes.labels, space.fake, fake_labels, list(class_names))
    return results


def conditional_accuracy(f: Features, asked: np.ndarray) -> dict:
    """On shapes, a class is a mode: the share of samples the shipped classifier reads as the mode asked for, and the
    classes of which at least one sample is read so with the confidence of most real images (modes.confidence_threshold)."""
    bar = confidence_threshold(f.real_probabilities.max(1))
    read, sure = f.fake_probabilities.argmax(1), f.fake_probabilities.max(1) >= bar
    right = read == asked
    return {"conditional_accuracy": float(right.mean()), "classes_hit": int(len(np.unique(asked[right & sure]))),
            "classes_asked": int(len(np.unique(asked)))}


def per_class_distances(real: np.ndarray, real_labels: np.ndarray, fake: np.ndarray, fake_labels: np.ndarray,
                        names: list[str]) -> dict:
    """Intra-class FID and KID: each class's samples against that class's real images, in one feature space."""
    table = {}
    for index, name in enumerate(names):
        r, g = real[real_labels == index], fake[fake_labels == index]
        row = {"real": int(len(r)), "samples": int(len(g))}
        if min(len(r), len(g)) >= 2:
            row["fid"] = frechet_distance_from_features(r, g)
            row["kid"] = kernel_inception_distance(r, g, subsets=50, subset_size=min(1000, len(r), len(g)))[0]
        table[name] = row
    return table


def format_table(results: dict) -> str:
    width = max(map(len, results))
    lines = []
    for key, value in results.items():
        if key == "per_class":
            continue
        if isinstance(value, dict):  # per shape
            text = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items())
        else:
            text = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<{width}}  {text}")
    if "per_class" in results:
        rows = results["per_class"]
        name_width = max(map(len, rows))
        lines += ["", f"{'class':<{name_width}}  {'real':>6}  {'samples':>7}  {'FID':>8}  {'KID x 1000':>10}"]
        lines += [f"{name:<{name_width}}  {row['real']:>6}  {row['samples']:>7}  " + (f"{row['fid']:>8.1f}  {1000 * row['kid']:>10.1f}" if "fid" in row else f"{'-':>8}  {'-':>10}")
                  for name, row in rows.items()]
    return "\n".join(lines)


def write_json(results: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
