"""Train the `shapes` mode classifier shipped as ganforge/metrics/shapes_classifier.pt.

Deterministic (fixed seeds, one thread order on CPU), a few minutes on 2 cores:
    python tools/train_shapes_classifier.py [--out ganforge/metrics/shapes_classifier.pt]
Trains on images rendered at 32, 64 and 128 px (so the classifier sees every scale it will be fed),
and prints its accuracy on held-out images rendered from another seed.
"""
import argparse
import time

import torch
import torch.nn.functional as F

from ganforge.data.sampler import to_training_tensor
from ganforge.data.shapes import NUM_MODES, make_shapes
from ganforge.metrics.shapes_classifier import INPUT_RESOLUTION, ShapesClassifier


def rendered(seed: int, per_resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for resolution in (32, 64, 128):
        pixels, modes = make_shapes(resolution, per_resolution, seed=seed * 10 + resolution)
        tensor = to_training_tensor(pixels)
        images.append(F.adaptive_avg_pool2d(tensor, INPUT_RESOLUTION) if resolution != INPUT_RESOLUTION else tensor)
        labels.append(torch.from_numpy(modes))
    return torch.cat(images), torch.cat(labels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="ganforge/metrics/shapes_classifier.pt")
    parser.add_argument("--per-resolution", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    torch.manual_seed(0)
    started = time.perf_counter()
    train_x, train_y = rendered(1, args.per_resolution)
    test_x, test_y = rendered(2, 1200)
    model = ShapesClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    order = torch.Generator().manual_seed(0)
    steps = args.epochs * (len(train_x) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    for epoch in range(args.epochs):
        model.train()
        permutation = torch.randperm(len(train_x), generator=order)
        for batch in permutation[: len(permutation) // 128 * 128].view(-1, 128):
            images = train_x[batch]
            # small noise and brightness jitter: generated samples are never as clean as the renders
            images = (images + 0.05 * torch.randn(images.shape, generator=order)).clamp(-1, 1)
            loss = F.cross_entropy(model(images)[1], train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(test_x)[1].argmax(1) == test_y).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, held-out accuracy {accuracy:.4f} ({time.perf_counter() - started:.0f} s)")
    torch.save(model.state_dict(), args.out)
    size = sum(p.numel() for p in model.state_dict().values()) * 4 / 1e6
    print(f"wrote {args.out} ({size:.2f} MB of weights); {NUM_MODES} classes")


if __name__ == "__main__":
    main()
