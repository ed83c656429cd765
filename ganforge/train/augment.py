"""What D sees: its inputs, real and fake alike, may be augmented or noised first. Differentiable, so
G's gradients pass through it; random draws come from torch's global generator (saved in checkpoints)."""
import torch


def _colour(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5), as DiffAugment's `color`."""
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to `ratio` of its size in each direction; uncovered pixels are zero."""
    b, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy  # source row of each output row
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(b, 1, h * w).expand(-1, x.shape[1], -1)
    shifted = x.flatten(2).gather(2, index).view_as(x)
    return shifted * inside.to(x.dtype)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of side `ratio` x size at a random place in each image."""
    b, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + 1 - size_y % 2, (b, 1, 1), device=x.device) - size_y // 2
    left = torch.randint(0, w + 1 - size_x % 2, (b, 1, 1), device=x.device) - size_x // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    cut = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~cut).unsqueeze(1).to(x.dtype)


DIFFAUGMENT = {"color": _colour, "translation": _translation, "cutout": _cutout}


def _sometimes(op, images: torch.Tensor, probability: float) -> torch.Tensor:
    """`op` on each image with `probability`, the image itself otherwise. At 0 nothing is drawn and the input is
    returned as it is."""
    if probability <= 0:
        return images
    chosen = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < probability
    return torch.where(chosen, op(images), images)


class DInput:
    """The transform before D: the DiffAugment policy's ops in order (Zhao et al. 2020), then instance noise
    whose std falls linearly from `noise_std` at iteration 0 to 0 at `noise_anneal` (Sønderby et al. 2017).

    `probability` is each op's chance to apply to each image: 1 is DiffAugment's (every op on every image); ADA's
    controller (ada.py) moves it while the run trains."""

    def __init__(self, diffaugment: str = "", noise_std: float = 0.0, noise_anneal: int = 0, probability: float = 1.0):
        names = [n.strip() for n in diffaugment.split(",") if n.strip()]
        unknown = [n for n in names if n not in DIFFAUGMENT]
        if unknown:
            raise ValueError(f"remedies.diffaugment: unknown op(s) {unknown}; choose from {', '.join(DIFFAUGMENT)}")
        if noise_std < 0 or noise_anneal < 0:
            raise ValueError("remedies.instance_noise and instance_noise_anneal must be >= 0")
        self.ops = [DIFFAUGMENT[n] for n in names]
        self.noise_std, self.noise_anneal = noise_std, noise_anneal
        self.probability = probability

    def noise_at(self, step: int) -> float:
        if self.noise_anneal == 0:
            return self.noise_std
        return self.noise_std * max(0.0, 1.0 - step / self.noise_anneal)

    def __call__(self, images: torch.Tensor, step: int) -> torch.Tensor:
        if images.shape[1] > 3:  # a conditional batch's class plane (nets/conditional.py) is no picture: left as it is
            return torch.cat([self(images[:, :3], step), images[:, 3:]], 1)
        for op in self.ops:
            images = op(images) if self.probability >= 1 else _sometimes(op, images, self.probability)
        std = self.noise_at(step)
        return images + std * torch.randn_like(images) if std > 0 else images
