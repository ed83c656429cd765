"""Class labels of a folder or .zip of images, for conditional training.

Two conventions, the ones the anchors read:
- `dataset.json` at the root (StyleGAN2-ADA's): {"labels": [["00000/img00000000.png", 6], ...]}, a class index per
  file, paths relative to the root with forward slashes; optional "class_names": ["cat", "dog", ...]. It wins where
  both exist.
- Otherwise the root's first-level subfolders (ImageFolder's): train/cat/1.png is class "cat"; classes sorted by name.

Every image must be in a class and every class must hold an image; anything else is one GanforgeError naming the file.
"""
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GanforgeError

DATASET_JSON = "dataset.json"


@dataclass(frozen=True)
class Classes:
    names: list[str]  # class index -> name
    labels: np.ndarray  # (N,) int64, one per image, in the order the images were listed

    def counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.names))


def label_files(source: Path, names: list[str]) -> Classes:
    """The class of each of `names` (image paths relative to `source`, '/'-separated, as listed for decoding)."""
    json_text = _read_dataset_json(source)
    if json_text is not None:
        return _from_dataset_json(source / DATASET_JSON if source.is_dir() else f"{source}:{DATASET_JSON}", json_text, names)
    return _from_folders(source, names)


def _read_dataset_json(source: Path) -> str | None:
    if source.is_dir():
        path = source / DATASET_JSON
        return path.read_text(encoding="utf-8") if path.is_file() else None
    with zipfile.ZipFile(source) as archive:
        return archive.read(DATASET_JSON).decode("utf-8") if DATASET_JSON in archive.namelist() else None


def _from_dataset_json(where, text: str, names: list[str]) -> Classes:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GanforgeError(f"{where}: not valid JSON ({exc})") from None
    entries = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) for e in entries):
        raise GanforgeError(f'{where}: expected {{"labels": [["path/in/dataset.png", class index], ...]}}')
    by_path = {}
    for path, label in entries:
        if isinstance(label, bool) or not isinstance(label, int) or label < 0:
            raise GanforgeError(f"{where}: the label of {path} is {label!r}; labels are class indices 0, 1, 2, ...")
        by_path[path] = label
    count = max(by_path.values(), default=-1) + 1
    class_names = data.get("class_names", [str(i) for i in range(count)])
    if not (isinstance(class_names, list) and all(isinstance(n, str) for n in class_names)) or len(set(class_names)) != len(class_names):
        raise GanforgeError(f"{where}: class_names must be a list of distinct strings")
    if count > len(class_names):
        path = next(p for p, label in by_path.items() if label >= len(class_names))
        raise GanforgeError(f"{where}: the label of {path} is {by_path[path]}, out of range for its {len(class_names)} class_names")
    listed = set(names)
    missing = sorted(set(by_path) - listed)
    if missing:
        raise GanforgeError(f"{where}: names {missing[0]}, which is not an image file in the dataset"
                            + (f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""))
    unlabelled = [n for n in names if n not in by_path]
    if unlabelled:
        raise GanforgeError(f"{where}: gives no label for {unlabelled[0]}" + (f" ({len(unlabelled) - 1} more)" if len(unlabelled) > 1 else "")
                            + "; every image needs one")
    return _checked(Classes(list(class_names), np.array([by_path[n] for n in names], dtype=np.int64)), where)


def _from_folders(source: Path, names: list[str]) -> Classes:
    if source.is_dir():  # a class folder holding no image file at all
        holding = {n.split("/", 1)[0] for n in names}
        for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if folder.name not in holding:
                raise GanforgeError(f"{folder}: a class folder with no image file")
    loose = [n for n in names if "/" not in n]
    folders = sorted({n.split("/", 1)[0] for n in names if "/" in n})
    if not folders:
        raise GanforgeError(f"{source}: no classes (conditional training takes a class per first-level subfolder, "
                            f"or a {DATASET_JSON} at the root)")
    if loose:
        raise GanforgeError(f"{source / loose[0] if source.is_dir() else f'{source}:{loose[0]}'}: an image in no class "
                            f"(conditional training takes a class per first-level subfolder: {', '.join(folders[:5])}"
                            + (", ..." if len(folders) > 5 else "") + ")")
    index = {folder: i for i, folder in enumerate(folders)}
    return Classes(folders, np.array([index[n.split("/", 1)[0]] for n in names], dtype=np.int64))


def _checked(classes: Classes, where) -> Classes:
    empty = np.flatnonzero(classes.counts() == 0)
    if len(empty):
        raise GanforgeError(f"{where}: class {classes.names[empty[0]]!r} has no image")
    return classes


def keep_decoded(classes: Classes, kept: np.ndarray, source: Path) -> Classes:
    """The classes of the images that decoded; a class left with none is an error naming its folder."""
    labels = classes.labels[kept]
    counts = np.bincount(labels, minlength=len(classes.names))
    if (counts == 0).any():
        name = classes.names[int(np.flatnonzero(counts == 0)[0])]
        raise GanforgeError(f"{source / name if source.is_dir() else source}: class {name!r} has no readable image")
    return Classes(classes.names, labels)


def class_line(classes: Classes) -> str:
    """'3 classes: cat 120, dog 98, fox 40' (the first 12, then a count), for a run's first lines."""
    counts = classes.counts()
    shown = ", ".join(f"{name} {count}" for name, count in list(zip(classes.names, counts))[:12])
    more = f", ... ({len(classes.names) - 12} more)" if len(classes.names) > 12 else ""
    return f"{len(classes.names)} classes: {shown}{more}"
