"""Class-conditional networks for every family: a wrapper around the family's own G and D.

G: R3GAN's and StyleGAN2-ADA's way in, a learned embedding of the class joined to z (the family's G is built for
latent_dim + embed inputs). D: Miyato & Koyama's projection, the family's logit plus <embed(y), phi(x)>, where phi(x)
is what D's last layer (the one that makes the logit) reads; the embedding starts at zero, so a fresh conditional D
judges as the unconditional one does and learns the classes from there.

The class travels with the data, so that the training procedure stays the unconditional one, line for line:
- G's input is z with the class index as one more column;
- G's output, like the real batch the loop hands over, carries its class as a fourth image plane (constant over the
  image), which the augmentation leaves alone and D's wrapper reads and drops.
`images_of(G, z, labels)` is how anything outside training samples a G, conditional or not.
"""
import functools

import torch
from torch import nn


def attach(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, latent) noise and (B,) class indices -> G's input (B, latent + 1)."""
    return torch.cat([z, labels.to(z.dtype)[:, None]], 1)


def with_label_plane(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 4, H, W): the class index as a constant fourth plane, in float32 (exact for any class count)."""
    plane = labels.to(torch.float32)[:, None, None, None].expand(-1, 1, *images.shape[2:])
    return torch.cat([images.float(), plane], 1)


def split_label_plane(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 4, H, W) -> the (B, 3, H, W) picture and the (B,) class indices."""
    return images[:, :3], images[:, 3, 0, 0].detach().round().long()


def rgb(images: torch.Tensor) -> torch.Tensor:
    """The picture of a batch, with or without its label plane."""
    return images if images.shape[1] == 3 else images[:, :3]


def images_of(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """G's pictures (B, 3, H, W) for noise z and, for a conditional G, the classes asked for."""
    if getattr(generator, "num_classes", 0):
        if labels is None:
            raise ValueError("a conditional generator needs a class per sample")
        return rgb(generator(attach(z, labels.to(z.device))))
    return generator(z)


def draw_labels(count: int, weights: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
    """`count` class indices drawn with replacement in proportion to `weights` (the data's class counts, or ones)."""
    return torch.multinomial(weights.double(), count, replacement=True, generator=noise)


def with_drawn_labels(generator: nn.Module, z: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
    """G's input for noise z: z itself, or for a conditional G z with classes drawn by the data's frequencies."""
    if not getattr(generator, "num_classes", 0):
        return z
    return attach(z, draw_labels(len(z), generator.class_counts.cpu(), noise).to(z.device))


class ConditionalGenerator(nn.Module):
    """`how`: "embed", the class's embedding joined to z (the family's G built for the wider input); or "batchnorm",
    BigGAN's conditional BatchNorm: after each of G's normalization layers, a per-class gain and shift
    (x (1 + gain[y]) + shift[y], both starting at zero, so a fresh G is the unconditional one)."""

    def __init__(self, inner: nn.Module, num_classes: int, latent_dim: int, class_counts=None, how: str = "embed",
                 norms: tuple = ()):
        super().__init__()
        self.inner, self.num_classes, self.latent_dim, self.resolution = inner, num_classes, latent_dim, inner.resolution
        self.embed = nn.Embedding(num_classes, inner.latent_dim - latent_dim) if how == "embed" else None
        layers = [m for m in inner.modules() if isinstance(m, norms)] if how == "batchnorm" else []
        if how == "batchnorm" and not layers:
            raise ValueError("model.conditioning = batchnorm needs a G with BatchNorm; this family has none (use embed)")
        self.gains = nn.ModuleList(_zero_embedding(num_classes, m.weight.numel()) for m in layers)
        self.shifts = nn.ModuleList(_zero_embedding(num_classes, m.weight.numel()) for m in layers)
        for index, layer in enumerate(layers):
            layer.register_forward_hook(functools.partial(self._class_affine, index))
        self._labels = None
        # the data's class frequencies, kept with the weights: a sample drawn without a class is drawn by them
        self.register_buffer("class_counts", torch.ones(num_classes) if class_counts is None else torch.as_tensor(class_counts).float())
        self.register_buffer("conditioning", torch.ones(()))  # the class's weight: below 1 while a ramp-in takes it in

    def forward(self, z_and_label: torch.Tensor) -> torch.Tensor:
        z, labels = z_and_label[:, :-1].contiguous(), z_and_label[:, -1].round().long()
        if self.embed is not None:
            z = torch.cat([z, (self.conditioning * self.embed(labels)).to(z.dtype)], 1)
        self._labels = labels  # for the normalization layers' hooks (conditional BatchNorm)
        images = self.inner(z)
        self._labels = None
        return with_label_plane(images, labels)

    def _class_affine(self, index: int, _layer, _inputs, output: torch.Tensor) -> torch.Tensor:
        if self._labels is None:  # the family's G called on its own: no class
            return output
        spread = (1,) * (output.dim() - 2)  # (B, C) -> (B, C, 1, 1), with no batch size fixed (ONNX's export keeps it free)
        gain = self.conditioning * self.gains[index](self._labels).unflatten(1, (-1, *spread))
        shift = self.conditioning * self.shifts[index](self._labels).unflatten(1, (-1, *spread))
        return output * (1 + gain.to(output.dtype)) + shift.to(output.dtype)


def _zero_embedding(num_classes: int, width: int) -> nn.Embedding:
    embedding = nn.Embedding(num_classes, width)
    nn.init.zeros_(embedding.weight)
    return embedding


def logit_layer(discriminator: nn.Module) -> nn.Module:
    """D's last layer with one output: the one that makes the logit from D's features (every family has one)."""
    layers = [m for m in discriminator.modules() if (isinstance(m, nn.Linear) and m.out_features == 1)
              or (isinstance(m, nn.Conv2d) and m.out_channels == 1)]
    if not layers:
        raise ValueError(f"{type(discriminator).__name__} has no layer making a single logit to project a class onto")
    return layers[-1]


def _feature_size(layer: nn.Module) -> int:
    if isinstance(layer, nn.Linear):
        return layer.in_features
    return layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]  # D's last convolution covers its last map


class ProjectionDiscriminator(nn.Module):
    def __init__(self, inner: nn.Module, num_classes: int):
        super().__init__()
        self.inner, self.num_classes, self.resolution = inner, num_classes, inner.resolution
        layer = logit_layer(inner)
        self.embed = nn.Embedding(num_classes, _feature_size(layer))
        nn.init.zeros_(self.embed.weight)
        self.register_buffer("conditioning", torch.ones(()))  # the projection's weight: below 1 while a ramp-in takes it in
        self._features = None
        layer.register_forward_pre_hook(self._keep_features)

    def _keep_features(self, _layer, inputs) -> None:
        self._features = inputs[0]

    def forward(self, images: torch.Tensor, **options):
        picture, labels = split_label_plane(images)
        out = self.inner(picture, **options)
        logits, rest = (out[0], out[1:]) if isinstance(out, tuple) else (out, ())
        features, self._features = self._features.flatten(1), None
        projected = logits + (self.conditioning * (self.embed(labels).to(features.dtype) * features).sum(1, keepdim=True)).to(logits.dtype)
        return (projected, *rest) if rest else projected


class ConditioningRampIn:
    """Shahbazi et al.'s transition (ICLR 2022): the class's weight in G's input and D's projection rises linearly
    from 0 to 1 over the first `images` images, so a run on few images per class starts as an unconditional one, which
    does not collapse, and takes the classes in. A function of the step alone: resuming needs no state."""

    def __init__(self, networks: list[nn.Module], images: float, batch_size: int):
        self.networks, self.images, self.batch_size = networks, images, batch_size

    def __call__(self, step: int) -> None:
        weight = min(1.0, step * self.batch_size / self.images)
        for network in self.networks:
            network.conditioning.fill_(weight)


def no_ramp_in(step: int) -> None:
    """Classes at full weight from the start (and no classes at all in an unconditional run)."""
