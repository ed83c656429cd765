"""A run's FID over training, from what best.pt's machinery logged (train.best_every): a table and a picture.

    python bench/fid_curve.py runs/long/images runs/long/images-ada --out docs/quality/long-run.png

For each run: every scored iteration, the wall-clock minutes at it (training and scoring together, from
metrics.jsonl), its FID, the best so far, and how far above that best it is (the live diagnosis warns past 10%)."""
import argparse
import bisect
from pathlib import Path

from ganforge.run_folder import DIAGNOSTICS, METRICS, read_log


def curve(run: Path) -> list[dict]:
    times = [(row["step"], row["time_s"]) for row in read_log(run / METRICS)]
    steps = [s for s, _ in times]
    rows, best = [], float("inf")
    for row in read_log(run / DIAGNOSTICS):
        score = row.get("fid", row.get("fd_shapes"))
        if score is None:
            continue
        best = min(best, score)
        at = times[min(bisect.bisect_left(steps, row["step"]), len(times) - 1)][1]
        rows.append({"step": row["step"], "minutes": at / 60, "score": score, "best": best, "above": score / best - 1})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="a PNG of the curves")
    args = parser.parse_args()
    curves = {run.name: curve(run) for run in args.runs}
    for name, rows in curves.items():
        print(f"\n{name}\n| iteration | minutes | FID | best so far | above the best |\n|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['step']:,} | {r['minutes']:.0f} | {r['score']:.1f} | {r['best']:.1f} | {100 * r['above']:.0f}% |")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(figsize=(7, 4))
        for name, rows in curves.items():
            axes.plot([r["minutes"] for r in rows], [r["score"] for r in rows], marker="o", label=name)
        axes.set_xlabel("wall-clock minutes (training and scoring)")
        axes.set_ylabel("FID, 2,000 samples")
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        figure.savefig(args.out, dpi=100)
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
