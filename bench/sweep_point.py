"""One point of a sensitivity sweep trained again, with its beta1 or its training seed changed: what made a trial
fail? The point is found by its learning rate among the sweep's own draws (the same --trials, --jobs and --seed as the
sweep), and trained by the sweep's own trial function, one CPU thread, so the unchanged point repeats its stored trial.

    python bench/sweep_point.py --preset modern --lr 7.75e-4 [--beta1 0.0] [--seed-offset 1] [--iterations 30000]

docs/results.md ("`modern`'s objective on the same points"): lr 7.75e-4, beta1 0.9, batch 256 collapses at seed
offsets 0 and 1, and does not with beta1 0.
"""
import argparse
import dataclasses
import json
import math

from ganforge.studies.sweep import _plan, _train_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="modern")
    parser.add_argument("--dataset", default="grid")
    parser.add_argument("--lr", type=float, required=True, help="the point's learning rate, as the report prints it")
    parser.add_argument("--beta1", type=float, help="instead of the point's")
    parser.add_argument("--seed-offset", type=int, default=0, help="added to the point's training seed")
    parser.add_argument("--iterations", type=int, default=30000)
    parser.add_argument("--trials", type=int, default=14)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    matches = [p for p in _plan("goal", args.trials, args.jobs, args.seed) if math.isclose(p.params["lr"], args.lr, rel_tol=0.01)]
    if len(matches) != 1:
        raise SystemExit(f"--lr {args.lr:g}: {len(matches)} of the sweep's points have that learning rate (within 1%); "
                         "give it to 3 significant digits, as the sweep's report prints it")
    point = matches[0]
    params = {**point.params, **({"beta1": args.beta1} if args.beta1 is not None else {})}
    variant = dataclasses.replace(point, params=params, training_seed=point.training_seed + args.seed_offset)
    result = _train_point(args.preset, args.dataset, args.iterations, variant, {})
    print(json.dumps({"preset": args.preset, **params, "seed_offset": args.seed_offset, "modes": result["modes"],
                      "high_quality": round(result["high_quality"], 4), "reverse_kl": round(result["reverse_kl"], 4),
                      "success": result["success"]}))


if __name__ == "__main__":
    main()
