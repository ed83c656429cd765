"""Mode seeking (Mao et al., CVPR 2019), a term in G's loss against collapse, and against collapse within a class in a
conditional run (G ignoring z and drawing one picture per class).

G's batch is read as two halves, sample i beside sample i + B/2 (in a conditional run the loop gives both halves
the same classes). The ratio of the pictures' distance to their noises' distance,
    r = mean |G(z1) - G(z2)| / mean |z1 - z2|,
is small when different z make the same picture; G's loss gains weight / (r + 1e-5), MSGAN's own form.
"""
import torch

from ..nets.conditional import rgb

EPS = 1e-5  # MSGAN's


class ModeSeeking:
    def __init__(self, weight: float, labelled: bool = False):
        if weight < 0:
            raise ValueError(f"remedies.mode_seeking must be >= 0, not {weight}")
        self.weight, self.labelled = weight, labelled

    def __call__(self, z: torch.Tensor, fakes: torch.Tensor) -> torch.Tensor:
        """z: G's input (B, latent), with the class as a last column when `labelled`; fakes: G's output."""
        if self.labelled:
            z = z[:, :-1]
        half = len(z) // 2
        if half == 0:
            raise ValueError("remedies.mode_seeking pairs the samples of G's batch: it needs a batch of 2 or more")
        pictures = rgb(fakes).float()
        ratio = ((pictures[:half] - pictures[half:2 * half]).abs().mean()
                 / (z[:half] - z[half:2 * half]).abs().mean())
        return self.weight / (ratio + EPS)


def same_classes_in_halves(labels: torch.Tensor) -> torch.Tensor:
    """A batch's classes with the second half made equal to the first, so that mode seeking's pairs share a class."""
    half = len(labels) // 2
    return torch.cat([labels[:half], labels[:half], labels[2 * half:]])
