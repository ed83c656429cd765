"""A run folder's JSONL logs (metrics, diagnostics, warnings): written a whole line at a time by the trainer,
read by resume, `report` and `watch` while it may still be writing."""
import json
from pathlib import Path


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
