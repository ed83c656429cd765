"""A run folder's files, named in this one place. RUN/ holds:

    config.json, run.json                  the run's settings; its device, process count and MKL mode (rewritten at every start)
    metrics.jsonl, diagnostics.jsonl, warnings.jsonl   logs, appended a whole line at a time
    samples/step-NNNNNNNN.png, samples/latest.png      sample grids
    checkpoints/checkpoint-NNNNNNNN.pt, checkpoints/best.pt
    eval-NNNNNNNN.json                     `ganforge eval`'s results for the checkpoint of that step
    loss_curve.png, report.html, tensorboard/

The trainer writes the logs while resume, `report` and `watch` may be reading them."""
import json
import re
from pathlib import Path

CONFIG, RUN_INFO = "config.json", "run.json"
METRICS, DIAGNOSTICS, WARNINGS = "metrics.jsonl", "diagnostics.jsonl", "warnings.jsonl"
LOGS = (METRICS, DIAGNOSTICS, WARNINGS)
SAMPLES, CHECKPOINTS = "samples", "checkpoints"
GRID_NAME = re.compile(r"^step-\d{8}\.png$")
CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d{8})\.pt$")
BEST = "best.pt"  # beside the numbered checkpoints; never pruned, never resumed from


def write_config(run_dir: Path, config) -> None:
    """config.json: what `report`, `watch` and a resume's same-run check read back."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    (Path(run_dir) / CONFIG).write_text(json.dumps(config.to_dict(), indent=2) + "\n")


def sample_grid(run_dir: Path, step: int | None = None) -> Path:
    """The grid of `step`, or samples/latest.png."""
    return Path(run_dir) / SAMPLES / (f"step-{step:08d}.png" if step is not None else "latest.png")


def sample_grids(run_dir: Path) -> list[Path]:
    folder = Path(run_dir) / SAMPLES
    return sorted(p for p in folder.iterdir() if GRID_NAME.match(p.name)) if folder.is_dir() else []


def evaluation_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / f"eval-{step:08d}.json"


def evaluations(run_dir: Path) -> list[Path]:
    return sorted(Path(run_dir).glob("eval-*.json"))


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINTS


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"checkpoint-{step:08d}.pt"


def run_dir_of(path: Path) -> Path:
    """The run folder of a checkpoint file (RUN/checkpoints/NAME.pt, or a file elsewhere: its folder); any other
    path is taken to be a run folder."""
    path = Path(path)
    if not path.is_file():
        return path
    return path.parent.parent if path.parent.name == CHECKPOINTS else path.parent


def append_row(path: Path, row: dict) -> None:
    """One whole line per write: a reader polling the file sees the line or nothing new."""
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def read_log(path: Path) -> list[dict]:
    """The log's rows; a torn last line (the run is writing, or was killed mid-write) is left out."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows
