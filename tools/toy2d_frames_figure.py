"""The README's toy2d picture: frames of `bench toy2d --record` runs side by side, one row per run folder.

    ganforge bench toy2d --dataset grid --preset seed --seeds 1 --iterations 10000 --record runs/frames-seed --frame-every 1000
    ganforge bench toy2d --dataset grid --preset stable --seeds 1 --iterations 10000 --record runs/frames-stable --frame-every 1000
    python tools/toy2d_frames_figure.py runs/frames-seed/grid-seed0 runs/frames-stable/grid-seed0 --steps 0,2000,4000,6000,8000,10000 --out docs/toy2d-frames/seed-vs-stable.png
"""
import argparse
from pathlib import Path

from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", help="run folders written by bench toy2d --record, one row each")
    parser.add_argument("--steps", required=True, help="comma-separated steps, one column each")
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    rows = [[Image.open(Path(run) / "samples" / f"step-{s:08d}.png").convert("RGB") for s in steps] for run in args.runs]
    width, height = (round(side * args.scale) for side in rows[0][0].size)
    figure = Image.new("RGB", (width * len(steps), height * len(rows)), "white")
    for r, row in enumerate(rows):
        for c, frame in enumerate(row):
            figure.paste(frame.resize((width, height), Image.LANCZOS), (c * width, r * height))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.quantize(256).save(args.out, optimize=True)  # a palette: a third of the size, the same picture to the eye
    print(f"{args.out}: {figure.size[0]}x{figure.size[1]}, {Path(args.out).stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
