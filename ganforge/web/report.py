"""`ganforge report RUN`: one self-contained HTML page of a run, finished or not. Scripts, styles, images and data
are inlined, so the file opens offline in any browser and makes no network request.

It shows the run summary (closest preset and the settings that differ from it), the loss, accuracy, learning-rate
and live-check curves (zoom: drag; reset: double-click) with the diagnosis warnings marked at their steps, the
fixed-noise grids under a slider (a time-lapse of the run), and the latest eval results."""
import base64
import io
import json
from importlib import resources
from pathlib import Path

from PIL import Image

from ..config import flatten, load_config, preset_names
from ..errors import GanforgeError, output_file
from .. import run_folder as folder
from ..run_folder import read_log

MAX_POINTS = 2000  # per curve: a run of a million steps still gives a page of a few MB
MAX_FRAMES = 60  # sample grids, evenly spread over the run, the last always among them
FRAME_QUALITY = 85  # JPEG: a grid of 64 samples in ~30-80 kB instead of ~150-400 kB as PNG


def write_report(run_dir: str | Path, out: str | Path | None = None, which: str = "last") -> Path:
    """which: the checkpoint whose eval results the page shows, the latest one or best.pt (see train/best.py)."""
    run_dir = Path(run_dir)
    if not (run_dir / folder.CONFIG).is_file():
        raise GanforgeError(f"{run_dir}: not a ganforge run folder (no {folder.CONFIG})")
    if which == "best" and not (folder.checkpoint_dir(run_dir) / folder.BEST).is_file():
        raise GanforgeError(f"{run_dir}: no best checkpoint ({folder.checkpoint_dir(run_dir) / folder.BEST}); "
                            "runs keep one when trained with --set train.best_every=N")
    out = output_file(out, example="report.html") if out else run_dir / "report.html"
    page = render(run_data(run_dir, which=which))
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_text(page, encoding="utf-8")
        partial.replace(out)  # a browser reloading the page never sees half of it
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise GanforgeError(f"{out}: cannot be written ({exc.strerror or exc})") from exc
    return out


def run_data(run_dir: Path, frame_source=None, which: str = "last") -> dict:
    """Everything the page shows, as plain JSON. `frame_source(path)` gives a grid's URL; default: inlined JPEG."""
    config = json.loads((run_dir / folder.CONFIG).read_text())
    preset, differences = closest_preset(config)
    metrics = read_log(run_dir / folder.METRICS)
    info = json.loads((run_dir / folder.RUN_INFO).read_text()) if (run_dir / folder.RUN_INFO).is_file() else {}
    last = metrics[-1] if metrics else {}
    return {
        "name": run_dir.resolve().name,
        "summary": {
            "preset": preset, "differences": differences, "step": last.get("step", 0),
            "iterations": config["train"]["iterations"], "time_s": last.get("time_s"), "img_per_s": last.get("img_per_s"),
            "device": info.get("device"), "processes": info.get("processes"), "data": f"toy2d {info['toy2d']}" if "toy2d" in info else config["data"]["source"],
            "resolution": None if "toy2d" in info else config["model"]["resolution"], "batch_size": config["train"]["batch_size"],
            "best": best_checkpoint(run_dir),
        },
        "metrics": thin(metrics, MAX_POINTS),
        "diagnostics": thin(read_log(run_dir / folder.DIAGNOSTICS), MAX_POINTS),
        "warnings": read_log(run_dir / folder.WARNINGS),
        "frames": frames(folder.sample_grids(run_dir), MAX_FRAMES, frame_source or image_data_uri),
        "evaluation": evaluation(run_dir, which),
    }


def closest_preset(config: dict) -> tuple[str, dict]:
    """The shipped preset that differs from the run's settings in the fewest places, and those differences. A run
    does not record which preset it was started from; its settings are the preset's plus the flags."""
    mine = flatten(config)
    best = None
    for name in preset_names():
        theirs = flatten(load_config(name).to_dict())
        differences = {k: _shown(v) for k, v in mine.items() if theirs.get(k, v) != v and not (v == [] and theirs.get(k) == ())}
        if best is None or len(differences) < len(best[1]):
            best = (name, differences)
    return best


def _shown(value):
    """A long list (a conditional run's class names) as its first few and its length."""
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{', '.join(map(str, value[:5]))}, ... ({len(value)} in all)"
    return value


def thin(rows: list[dict], most: int) -> list[dict]:
    """At most `most` rows, evenly spread, the first and last kept: a curve's shape without every logged step."""
    if len(rows) <= most:
        return rows
    keep = sorted({round(i * (len(rows) - 1) / (most - 1)) for i in range(most)})
    return [rows[i] for i in keep]


def frames(grids: list[Path], most: int, source) -> list[dict]:
    return [{"step": int(path.stem.split("-")[1]), "src": source(path)} for path in thin(grids, most)]


def image_data_uri(path: Path, quality: int = FRAME_QUALITY) -> str:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def best_checkpoint(run_dir: Path) -> dict | None:
    """best.pt's step and score ({"metric", "score", "step"}) from the diagnostics log (cheap: `watch` asks each
    second), or None for a run that keeps none."""
    for row in reversed(read_log(run_dir / folder.DIAGNOSTICS)):
        if row.get("best"):
            metric = "fd_shapes" if "fd_shapes" in row else "fid"
            return {"metric": metric, "score": row[metric], "step": row["step"]}
    return None


def evaluation(run_dir: Path, which: str) -> dict | None:
    """The latest eval-STEP.json, or with which="best" the one of best.pt's step."""
    evaluations = folder.evaluations(run_dir)
    if which == "best":
        best = best_checkpoint(run_dir)
        evaluations = [p for p in evaluations if best and p == folder.evaluation_path(run_dir, best["step"])]
    if not evaluations:
        return None
    return {"file": evaluations[-1].name, "results": json.loads(evaluations[-1].read_text())}


def render(data: dict, extra_script: str = "", with_data: bool = True) -> str:
    """The page; `ganforge watch` serves it without data (`with_data=False`) and streams the data to it instead."""
    assets = resources.files("ganforge.web")
    text = {name: assets.joinpath(name).read_text(encoding="utf-8") for name in
            ("report.html", "report.js", "report.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css")}
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")  # nothing in the data can close the script tag
    return (text["report.html"]
            .replace("{{title}}", _escape(f"ganforge report: {data['name']}"))
            .replace("{{styles}}", text["vendor/uPlot.min.css"] + "\n" + text["report.css"])
            .replace("{{scripts}}", text["vendor/uPlot.iife.min.js"] + "\n" + text["report.js"] + "\n" + extra_script)
            .replace("{{data}}", blob if with_data else ""))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
