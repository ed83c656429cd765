"""Which classes a conditional G is asked for: `--class NAME`, an index, `all` (a row per class), or none (drawn
with the data's class frequencies, which the G keeps). An unconditional G takes no class."""
import torch

from ..errors import GanforgeError
from ..nets.conditional import draw_labels

ALL = "all"


def class_index(class_names, asked: str | None) -> int | str | None:
    """--class NAME or index -> its index; "all" stays "all"; None stays None (drawn). One line for a wrong one."""
    if asked is None:
        return None
    if not class_names:
        raise GanforgeError(f"--class {asked}: this generator was trained without classes (train with --conditional)")
    if asked == ALL:
        return ALL
    if asked in class_names:
        return list(class_names).index(asked)
    if asked.isdigit() and int(asked) < len(class_names):
        return int(asked)
    shown = ", ".join(repr(n) for n in class_names[:20]) + (f", ... ({len(class_names) - 20} more)" if len(class_names) > 20 else "")
    raise GanforgeError(f"--class {asked!r}: no such class; the classes are {shown} (or an index 0-{len(class_names) - 1}, or all)")


def labels_for(generator, chosen: int | str | None, count: int, noise: torch.Generator, log=print) -> torch.Tensor | None:
    """The class of each of `count` samples: the one chosen, each class in turn `count // classes` times (all), or
    drawn with the data's frequencies (from `noise`, after the latents); None for an unconditional G."""
    classes = getattr(generator, "num_classes", 0)
    if not classes:
        return None
    if chosen == ALL:
        return torch.arange(classes).repeat_interleave(max(1, count // classes))
    if chosen is None:
        log("a conditional generator and no --class: classes drawn with the training data's frequencies")
        return draw_labels(count, generator.class_counts.cpu(), noise)
    return torch.full((count,), chosen, dtype=torch.int64)
