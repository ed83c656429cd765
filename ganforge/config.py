"""One typed config. Presets are data (presets.toml); a config file and command-line flags override them.

Layers, later wins: dataclass defaults < preset < --config FILE < flags. Unknown keys and wrong types
are errors. The resolved config is saved with every run and every checkpoint.
"""
import dataclasses
import json
import tomllib
import typing
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from .errors import GanforgeError

RESOLUTIONS = (32, 64, 128, 256)


class _Checked:
    """Range checks run when a section is built, so that load_config refuses a bad value with the valid ones named."""

    def _at_least(self, minimum, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if value < minimum:
                raise GanforgeError(f"{self._section}.{name} must be at least {minimum}, not {value}")

    def _within(self, name: str, low: float, high: float, high_open: bool = False) -> None:
        value = getattr(self, name)
        if not (low <= value < high if high_open else low <= value <= high):
            raise GanforgeError(f"{self._section}.{name} must be in [{low}, {high}{')' if high_open else ']'}, not {value}")


@dataclass(frozen=True)
class R3Config(_Checked):
    """The r3 family's own settings (ganforge/nets/r3.py)."""

    _section = "model.r3"

    width: int = 32  # channels at full resolution, doubling toward 4x4 up to 4x; R3GAN's CIFAR-10 is 768 throughout
    blocks: int = 1  # residual blocks per stage (R3GAN: 2)
    expansion: int = 2  # a block's inverted bottleneck widens its channels by this (R3GAN: 2)
    group_channels: int = 16  # channels per group of a block's 3x3 convolution (R3GAN's CIFAR-10: 16)
    shuffle: bool = False  # true: no full-resolution stage; G's last stage makes 2x2 pixels per position (pixel
    # shuffle) and D folds 2x2 pixels into channels: half the time per iteration at 32 px

    def __post_init__(self):
        self._at_least(1, "width", "blocks", "expansion", "group_channels")


@dataclass(frozen=True)
class DCGANConfig(_Checked):
    """The dcgan family's own settings (ganforge/nets/dcgan.py)."""

    _section = "model.dcgan"
    upsample: Literal["transposed", "nearest", "bilinear"] = "transposed"  # G's doublings: transposed (Radford et al.'s 4x4
    # stride-2), nearest (2x nearest upsampling then a 3x3 convolution: no checkerboard pattern; the same arithmetic,
    # 5-10% more time per G pass on a CPU) or bilinear (bilinear upsampling then a 3x3 convolution: nearest's, blurred)
    full_res_channels: int = 0  # 0: G's last doubling makes RGB (the paper's); N: it makes N channels (BN, ReLU) and
    # a 3x3 convolution makes RGB from them, so that G has one nonlinear layer at the image's own resolution

    def __post_init__(self):
        self._at_least(0, "full_res_channels")


@dataclass(frozen=True)
class FastGANConfig(_Checked):
    """The fastgan family's own settings (ganforge/nets/fastgan.py)."""

    _section = "model.fastgan"
    reconstruction: float = 1.0  # weight of D's self-supervised loss on reals: its decoder's mean absolute error
    # reconstructing each real image, at 32 px, from D's 8x8 features; 0 = off

    def __post_init__(self):
        self._at_least(0, "reconstruction")


@dataclass(frozen=True)
class SeedNetConfig(_Checked):
    """The seed family's own choices, each switchable for the seed study (ganforge study); defaults are the seed's."""

    _section = "model.seed"

    bn_momentum: float = 0.8  # every BatchNorm's, in Keras' convention (weight of the old moving value); Keras' default 0.99
    double_bn: bool = True  # G's repeated BatchNorm: a second one after the dense stem's and after the first block's
    dense_head: bool = True  # D's dense head (1024-512-128 with leaky ReLU); false: one linear layer to the logit

    def __post_init__(self):
        self._within("bn_momentum", 0.0, 1.0, high_open=True)


@dataclass(frozen=True)
class ModelConfig(_Checked):
    _section = "model"
    arch: Literal["seed", "dcgan", "r3", "fastgan", "toy2d"] = "seed"  # network family (ganforge/nets/registry.py): seed (the
    # seed's DCGAN-style pair), dcgan (Radford et al.'s), r3 (R3GAN's), fastgan (FastGAN's skip-layer excitation and
    # self-supervised D, for CPUs) or toy2d (PacGAN's MLPs of 2-D points, `ganforge bench`)
    resolution: Literal[32, 64, 128, 256] = 128  # pixels per side: 32, 64, 128 (the seed's) or 256
    latent_dim: int = 100  # size of z; the seed does not say, 100 is DCGAN's
    width: int = 64  # seed, dcgan and fastgan families: filters of D's first and G's last block, the rest in proportion; 64 is the seed
    d_width: int = 0  # seed, dcgan and fastgan families: D's own width where it differs from G's; 0 = model.width
    seed: SeedNetConfig = field(default_factory=SeedNetConfig)
    dcgan: DCGANConfig = field(default_factory=DCGANConfig)
    fastgan: FastGANConfig = field(default_factory=FastGANConfig)
    r3: R3Config = field(default_factory=R3Config)
    conditioning: Literal["auto", "embed", "batchnorm"] = "auto"  # how a conditional G takes its class: a learned
    # embedding joined to z (any family), or conditional BatchNorm, a per-class gain and shift after each of G's
    # BatchNorms (BigGAN's); auto = batchnorm where G has BatchNorm, embed where it has none (r3, g_batch_norm=false)
    class_names: tuple[str, ...] = ()  # set by the run from its data under data.conditional: G takes one of these
    # classes, D projects it; empty = unconditional

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __post_init__(self):
        self._at_least(1, "latent_dim", "width")
        self._at_least(0, "d_width")


@dataclass(frozen=True)
class OptimConfig(_Checked):
    _section = "optim"
    lr_d: float = 1e-4  # D's Adam learning rate
    lr_g: float = 1e-4  # G's Adam learning rate (the seed uses D's for the stacked model)
    beta1: float = 0.05  # the seed's (sic); DCGAN uses 0.5
    beta2: float = 0.999  # Adam's second-moment decay; the seed's (Keras' default)
    eps: float = 1e-7  # Keras' epsilon: added to sqrt(v) before v's bias correction
    lr_decay: float = 0.0  # both learning rates fall linearly to 0 over this last fraction of the run; 0 = constant

    def __post_init__(self):
        if self.lr_d <= 0 or self.lr_g <= 0:
            raise GanforgeError(f"the learning rates must be positive, not optim.lr_d {self.lr_d} and optim.lr_g {self.lr_g}")
        self._within("beta1", 0.0, 1.0, high_open=True)
        self._within("beta2", 0.0, 1.0, high_open=True)
        self._at_least(0, "eps")
        self._within("lr_decay", 0.0, 1.0)


@dataclass(frozen=True)
class DataConfig(_Checked):
    _section = "data"
    source: str = "shapes"  # a folder, a .zip, or a built-in dataset: shapes, emoji
    flip: bool = False  # random horizontal flips of real images
    shapes_size: int = 10000  # images in the built-in shapes dataset
    workers: int = 0  # processes decoding a folder the first time; 0 = one per core
    cache_dir: str = ""  # where decoded images are cached; "" = $XDG_CACHE_HOME/ganforge
    conditional: bool = False  # train with classes: a folder's first-level subfolders or its dataset.json; shapes by
    # mode, emoji by Unicode group
    class_sampling: Literal["data", "balanced"] = "data"  # the classes of G's samples in training: drawn with the data's
    # class frequencies (StyleGAN2-ADA's rule) or balanced, each class equally often

    def __post_init__(self):
        self._at_least(1, "shapes_size")
        self._at_least(0, "workers")


@dataclass(frozen=True)
class TrainConfig(_Checked):
    _section = "train"
    procedure: Literal["seed", "paired"] = "seed"  # the training iteration: seed (D-real, D-fake, G-through-frozen-D) or paired (D on real
    # and fakes in one loss, then G against the same reals)
    loss: Literal["logistic", "keras_torch_bce", "hinge", "lsgan", "wgan", "rpgan"] = "logistic"  # logistic (BCE from logits: the seed's, as tf.keras computes it), keras_torch_bce, hinge, lsgan,
    # wgan, rpgan (relativistic pairing, paired procedure only)
    fakes_g_mode: Literal["inference", "training"] = "inference"  # G's BN mode making D's fakes: inference (the seed's G.predict) or training
    frozen_d_mode: Literal["inference", "training"] = "inference"  # D's BN mode in G's step: inference (a frozen Keras BN) or training
    batch_size: int = 32  # real images per D step (and fakes per D step, and z per G step)
    iterations: int = 10000  # each is three optimizer steps
    seed: int = 0  # same seed on CPU => same run, bit for bit
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    log_every: int = 10  # iterations between metric log lines
    sample_every: int = 500  # iterations between sample grids; 0 = only at the end
    checkpoint_every: int = 1000  # iterations between checkpoints; 0 = only at the end
    keep_checkpoints: int = 3  # the last K checkpoints are kept
    best_every: int = 0  # score G every N iterations (shapes: fd_shapes; else FID when its weights are on disk) and keep
    # the best as checkpoints/best.pt; 0 = off
    best_samples: int = 1000  # samples per score
    diagnose_every: int = 500  # iterations between diversity (and, on shapes, mode-coverage) checks; 0 = off
    max_rollbacks: int = 3  # NaN/Inf rollbacks in a row before the run stops
    amp: Literal["off", "bf16", "fp16", "auto"] = "off"  # off; bf16 (autocast: GPUs, CPUs with AVX512-BF16/AMX); fp16 (autocast + loss scaling: GPUs);
    # auto (bf16 where the hardware runs it natively, else off). All but off change the seed's exact maths.
    max_minutes: float = 0.0  # stop after this much training time with a checkpoint (run again to go on); 0 = no limit
    compile: bool = False  # torch.compile the networks: pays on GPUs; on 2 CPU cores it bought ~3% after ~30 s of compiling
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch, not each process's

    def __post_init__(self):
        self._at_least(1, "batch_size", "iterations", "log_every", "keep_checkpoints", "best_samples")
        self._at_least(0, "sample_every", "checkpoint_every", "best_every", "diagnose_every", "max_rollbacks", "max_minutes")


@dataclass(frozen=True)
class RemedyConfig(_Checked):
    """The known remedies for instability and mode collapse; each default leaves the seed's GAN unchanged."""

    _section = "remedies"
    spectral_norm: Literal["none", "d", "both"] = "none"  # none, d, or both (D and G): Miyato et al. 2018
    g_batch_norm: bool = True  # false: G without BatchNorm, each sample a function of its own z alone
    r1_gamma: float = 0.0  # R1 penalty gamma/2 * |grad_x D(x)|^2 on real data (Mescheder et al. 2018); 0 = off
    r1_heuristic: bool = False  # true: R1's gamma is StyleGAN2-ADA's heuristic 0.0002 x resolution^2 / batch (0.0256 at
    # 64 px, batch 32), in place of r1_gamma
    r2_gamma: float = 0.0  # R2: the same penalty on fakes (R3GAN pairs it with R1); 0 = off
    lazy_interval: int = 16  # lazy R1 and R2: every N-th D step, weighted by N (Karras et al. 2020); was r1_interval
    gp_weight: float = 0.0  # WGAN-GP (|grad D(x_hat)| - 1)^2 on real/fake interpolates (Gulrajani et al. 2017); 0 = off
    ema_half_life: float = 0.0  # EMA of G's weights, half-life in images (StyleGAN's 10k); 0 = off
    ema_rampup: float = 0.0  # the EMA's half-life is at most this x the images seen so far (StyleGAN2-ADA's 0.05), so
    # that it does not lag in short runs; 0 = the full half-life from the start
    label_smoothing: float = 0.0  # one-sided: D's real label is 1 - this (Salimans et al. 2016)
    instance_noise: float = 0.0  # std of Gaussian noise added to D's inputs at iteration 0 ...
    instance_noise_anneal: int = 0  # ... falling linearly to 0 at this iteration (0 = constant)
    diffaugment: str = ""  # comma-separated DiffAugment policy for D's inputs: color, translation, cutout
    ada_target: float = 0.0  # adaptive augmentation (ADA, Karras et al. 2020): each diffaugment op applies with a
    # probability p that rises while E[sign D(real)] is above this target (ADA's 0.6) and falls below it; 0 = off (p = 1)
    ada_interval: int = 4  # iterations between ADA's adjustments of p
    ada_kimg: float = 100.0  # thousands of images in which ADA's p can go from 0 to 1 (StyleGAN2-ADA: 500)
    minibatch_std: int = 0  # group size of D's minibatch standard-deviation feature (Karras et al. 2018); 0 = off
    conditioning_rampin: float = 0.0  # a conditional run starts unconditional and takes its classes in linearly over
    # this many thousand images (Shahbazi et al. 2022, against collapse on small classes); 0 = classes from the start
    mode_seeking: float = 0.0  # weight of MSGAN's mode-seeking term in G's loss (Mao et al. 2019): G's batch as pairs,
    # weight / (mean |G(z1) - G(z2)| / mean |z1 - z2|), against G drawing one picture for many z (in a class); 0 = off
    pack: int = 1  # PacGAN: D judges `pack` samples at once (Lin et al. 2018)
    d_steps: int = 1  # D's real+fake steps per G step

    def __post_init__(self):
        self._at_least(1, "lazy_interval", "pack", "d_steps", "ada_interval")
        self._within("ada_target", 0.0, 1.0, high_open=True)
        if self.ada_kimg <= 0:
            raise GanforgeError(f"remedies.ada_kimg must be positive, not {self.ada_kimg}")
        self._at_least(0, "r1_gamma", "r2_gamma", "gp_weight", "ema_half_life", "ema_rampup", "instance_noise", "instance_noise_anneal",
                       "minibatch_std", "conditioning_rampin", "mode_seeking")
        self._within("label_smoothing", 0.0, 1.0, high_open=True)


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    remedies: RemedyConfig = field(default_factory=RemedyConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, where: str = "config") -> "Config":
        return _build(cls, _nest(values, where) if isinstance(values, dict) else values, where)

    def merged(self, values: dict, where: str) -> "Config":
        """A copy with `values` (nested sections, or dotted keys "train.batch_size") laid over it."""
        return _build(Config, _deep_update(self.to_dict(), _nest(values, where), where), where)


# Settings that were renamed: a run's config.json (or a config file) with the old name still loads, with a warning.
RENAMED_SETTINGS = {"remedies.r1_interval": "remedies.lazy_interval"}  # it sets R2's interval too


def _nest(values: dict, where: str, prefix: str = "") -> dict:
    nested: dict = {}
    for key, value in values.items():
        if prefix + key in RENAMED_SETTINGS:
            new = RENAMED_SETTINGS[prefix + key]
            warnings.warn(f"{where}: {prefix + key} is now called {new}", stacklevel=3)
            key = new[len(prefix):] if new.startswith(prefix) else new
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise GanforgeError(f"{where}: {key!r} mixes a section and a value")
        if isinstance(value, dict):
            node.setdefault(parts[-1], {}).update(_nest(value, where, f"{prefix}{key}."))
        else:
            node[parts[-1]] = value
    return nested


def _deep_update(base: dict, update: dict, where: str, section: str = "") -> dict:
    if not isinstance(update, dict):
        raise GanforgeError(f"{where}: {section.rstrip('.') or 'the settings'} is a section of settings ({', '.join(sorted(base))}), not the value {update!r}")
    out = dict(base)
    for key, value in update.items():
        if key not in base:
            known = ", ".join(sorted(base))
            raise GanforgeError(f"{where}: unknown setting {key!r} (known: {known})")
        if isinstance(value, dict) and not isinstance(base[key], dict):
            raise GanforgeError(f"{where}: {section + key!r} is a setting, not a section")
        out[key] = _deep_update(base[key], value, where, f"{section}{key}.") if isinstance(base[key], dict) else value
    return out


def _build(cls, values: dict, where: str, prefix: str = ""):
    if not isinstance(values, dict):
        raise GanforgeError(f"{where}: expected a table of settings for {prefix.rstrip('.') or cls.__name__}, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise GanforgeError(f"{where}: unknown setting(s) {sorted(prefix + u for u in unknown)} (known: {sorted(names)})")
    kwargs = {}
    for name, value in values.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            kwargs[name] = _build(kind, value, where, f"{prefix}{name}.")
        else:
            value = _renamed_value(f"{prefix}{name}", value)
            kwargs[name] = _coerce(value, kind, f"{where}: {prefix}{name}")
    try:
        return cls(**kwargs)
    except GanforgeError as exc:
        raise GanforgeError(f"{where}: {exc}") from None


# Values that were renamed: runs saved under the old name go on with the setting they started with. Until it was
# measured against tf.keras 2, the clipped loss was called keras_bce and taken for the seed's.
RENAMED_VALUES = {("train.loss", "keras_bce"): ("keras_torch_bce", "BCE on clipped probabilities, Keras 3's torch backend; "
                                                "the seed's loss is 'logistic'")}


def _renamed_value(setting: str, value):
    if isinstance(value, str) and (setting, value) in RENAMED_VALUES:
        new, why = RENAMED_VALUES[setting, value]
        warnings.warn(f"{setting} = {value!r} is now called {new!r} ({why})", stacklevel=4)
        return new
    return value


def _coerce(value, kind, where: str):
    if typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        for choice in choices:
            if value == choice or (isinstance(value, str) and not isinstance(choice, str) and value.strip() == str(choice)):
                return choice
        raise GanforgeError(f"{where} = {value!r} is not one of: {', '.join(map(str, choices))}")
    if typing.get_origin(kind) is tuple:  # tuple[str, ...]: a list in TOML and JSON
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise GanforgeError(f"{where} must be a list of strings, got {value!r}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, str):
            return value
    raise GanforgeError(f"{where} must be {kind.__name__}, got {value!r}")


def flatten(settings: dict, prefix: str = "") -> dict:
    """{"train": {"seed": 0}} -> {"train.seed": 0}: settings by their dotted names, as --set takes them."""
    out = {}
    for key, value in settings.items():
        out.update(flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def preset_table() -> dict[str, dict]:
    """The presets shipped in ganforge/presets.toml: name -> {"about": ..., settings...}."""
    text = resources.files("ganforge").joinpath("presets.toml").read_text()
    return tomllib.loads(text)


# What `ganforge train` runs without --preset: the recipe the real-image benchmark (emoji, FID) ranks first on CPU
# (docs/results.md); `make demo` keeps `demo`, which leads on shapes. The seed's own recipe collapses (its study), so it
# is never the default.
DEFAULT_PRESET = "images"


def preset_line(preset: str | None) -> str:
    """What `ganforge train` says first: the preset it trains (None: the default, and why)."""
    if preset == "seed":
        return "preset seed (the seed's GAN exactly)"
    if preset is None:
        return (f"preset {DEFAULT_PRESET} (the default: the best measured on real images; --preset seed is the seed's "
                "GAN exactly)")
    return f"preset {preset}"


def preset_names() -> list[str]:
    return list(preset_table())


def load_config(preset: str = "seed", config_file: str | Path | None = None, overrides: dict | None = None) -> Config:
    """The preset's settings over the defaults, then the config file's, then `overrides`. A preset's table for one
    network family (`[stable.toy2d]`) is laid over the preset where the run's model.arch is that family."""
    table = preset_table()
    if preset not in table:
        raise GanforgeError(f"unknown preset {preset!r}; choose one of: {', '.join(table)}")
    families = typing.get_args(ModelConfig.__annotations__["arch"])
    by_family = {k: v for k, v in table[preset].items() if k in families}
    settings = {k: v for k, v in table[preset].items() if k != "about" and k not in families}

    def build(family: str | None) -> Config:
        config = Config().merged(settings, f"preset {preset!r}")
        if family:
            config = config.merged(by_family[family], f"preset {preset!r}, {family}")
        if config_file is not None:
            config = config.merged(read_config_file(config_file), str(config_file))
        return config.merged(overrides, "command line") if overrides else config

    config = build(None)
    return build(config.model.arch) if config.model.arch in by_family else config


def read_config_file(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"{path}: no such config file")
    try:
        settings = json.loads(path.read_text()) if path.suffix == ".json" else tomllib.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise GanforgeError(f"{path}: not a valid {'JSON' if path.suffix == '.json' else 'TOML'} file ({exc})") from exc
    if not isinstance(settings, dict):
        raise GanforgeError(f"{path}: expected an object of settings at the top, got {type(settings).__name__}")
    return settings


def settings_reference() -> list[tuple[str, str, object, str]]:
    """Every setting as (dotted name, type, default, description), in the dataclasses' order. The descriptions are
    the comments beside each field in this file, so the reference (`--help`, docs/settings.md) cannot drift from them."""
    import ast
    import io
    import tokenize

    source = Path(__file__).read_text()
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    lines = source.splitlines()
    described: dict[tuple[str, str], str] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    line, text = statement.end_lineno, []
                    if line in comments:
                        text.append(comments[line])
                        while line + 1 in comments and lines[line].lstrip().startswith("#"):  # a comment continued below
                            line += 1
                            text.append(comments[line])
                    described[node.name, statement.target.id] = " ".join(text)
    reference = []

    def walk(cls, prefix):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = hints[f.name]
            if dataclasses.is_dataclass(kind):
                walk(kind, f"{prefix}{f.name}.")
                continue
            choices = typing.get_args(kind) if typing.get_origin(kind) is Literal else ()
            type_name = " | ".join(map(str, choices)) if choices else kind.__name__
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            reference.append((prefix + f.name, type_name, default, described.get((cls.__name__, f.name), "")))

    walk(Config, "")
    return reference
